//! A shard: the state folded from one partition number of every source topic (workers are
//! keyed by `worker_id`, so a worker's events and master record share a partition number), the
//! offsets it has consumed up to, and which workers changed since they were last calculated.
//!
//! This is the checkpoint protocol as pure logic: the consumer feeds it messages in offset
//! order, asks it for the next checkpoint's bytes, and tells it when those are durable. The
//! object store and the broker stay outside.

use std::collections::{BTreeMap, HashSet};

use foldhash::fast::RandomState;
use payroll_rules::vocabulary::PayPeriod;

use crate::archive::{PeriodEvents, WorkerPeriod};
use crate::checkpoint::Checkpoint;
use crate::error::Invalid;
use crate::event::Event;
use crate::master::Worker;
use crate::state::Ledger;

/// Workers a shard keeps events for before their master record arrives. The feeds are
/// independent, so a worker's punches may come first; but ids that never get a master (a
/// device's typo, a worker of another company) would otherwise be kept for ever. Beyond this,
/// an event for yet another unknown worker is refused to the dead letters, naming the limit.
pub const MAX_WAITING: usize = 50_000;

/// A decoded message of a source topic.
#[derive(Debug)]
pub enum Record {
    Event(Event),
    /// Boxed: master records are rare, and events are decoded by the batch.
    Worker(Box<Worker>),
}

#[derive(Debug)]
pub struct Shard {
    pub id: u32,
    /// The sequence number of the latest durable checkpoint (0: none yet).
    seq: u64,
    /// Per topic, the next offset to consume.
    offsets: BTreeMap<String, i64>,
    ledger: Ledger,
    /// Workers whose inputs may have changed since their pay was last calculated.
    dirty: HashSet<Box<str>, RandomState>,
    /// Whether anything was consumed since the latest durable checkpoint.
    unsaved: bool,
    /// Workers with events and no master record yet (at most [`MAX_WAITING`]).
    waiting: usize,
}

impl Shard {
    /// A shard with no checkpoint: everything from the start of its partitions.
    pub fn new(id: u32, sites: &Ledger) -> Shard {
        Shard {
            id,
            seq: 0,
            offsets: BTreeMap::new(),
            ledger: sites.empty_like(),
            dirty: HashSet::default(),
            unsaved: false,
            waiting: 0,
        }
    }

    /// A shard resumed from its checkpoint; every worker in it is due for calculation, since
    /// a restarted engine has no live results of its own yet.
    pub fn restore(checkpoint: Checkpoint) -> Shard {
        let dirty = checkpoint.ledger.worker_ids().map(Into::into).collect();
        let waiting = checkpoint.ledger.waiting_count();
        Shard {
            id: checkpoint.shard,
            seq: checkpoint.seq,
            offsets: checkpoint.offsets,
            ledger: checkpoint.ledger,
            dirty,
            unsaved: false,
            waiting,
        }
    }

    /// The next offset to consume from `topic`, if anything was consumed from it.
    pub fn offset(&self, topic: &str) -> Option<i64> {
        self.offsets.get(topic).copied()
    }

    /// Folds the message at `offset` of `topic`. A message before the shard's position is a
    /// redelivery: the fold is idempotent, but it is skipped all the same. An invalid record
    /// (or a worker at an unknown site) is refused with its reason; the offset moves past it
    /// either way, so the caller must have dead-lettered it before the next checkpoint.
    pub fn fold(&mut self, topic: &str, offset: i64, record: Result<Record, Invalid>) -> Result<(), Invalid> {
        match self.offsets.get_mut(topic) {
            Some(next) if offset < *next => return Ok(()),
            Some(next) => *next = offset + 1,
            None => {
                self.offsets.insert(topic.to_string(), offset + 1);
            }
        }
        self.unsaved = true;
        match record? {
            Record::Event(event) => {
                self.ledger.check_org(&event)?;
                let worker_id = event.worker_id();
                if !self.ledger.knows(worker_id) {
                    if self.waiting >= MAX_WAITING {
                        return Err(Invalid::field(
                            "worker_id",
                            format!(
                                "unknown worker `{worker_id}`: {MAX_WAITING} workers already wait for their master record in this shard (the limit); send the master record first"
                            ),
                        ));
                    }
                    self.waiting += 1;
                }
                // Allocate the id only for a worker not yet marked: most events are not the first.
                let unmarked = (!self.dirty.contains(event.worker_id())).then(|| Box::from(event.worker_id()));
                if self.ledger.apply(event) {
                    self.dirty.extend(unmarked);
                }
            }
            Record::Worker(worker) => {
                let worker_id: Box<str> = worker.worker_id.as_str().into();
                let was_waiting = self.ledger.is_waiting(&worker_id);
                self.ledger.upsert_worker(*worker)?;
                if was_waiting {
                    self.waiting -= 1;
                }
                self.dirty.insert(worker_id);
            }
        }
        Ok(())
    }

    /// Closes `org`'s locked `period` once the events [`Ledger::closing`] gave are archived;
    /// returns how many events left the state.
    pub fn close(&mut self, org: &str, period: PayPeriod) -> usize {
        self.unsaved = true;
        self.ledger.close(org, period)
    }

    /// Loads a worker's archived events of a closed period back, as a late event asked.
    pub fn reopen(&mut self, worker_period: &WorkerPeriod, events: PeriodEvents) {
        self.unsaved = true;
        self.ledger.reopen(worker_period, events);
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Workers with events and no master record yet.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn has_unsaved(&self) -> bool {
        self.unsaved
    }

    /// The next checkpoint: its sequence number, its offsets and its bytes.
    pub fn next_checkpoint(&self) -> (u64, BTreeMap<String, i64>, Vec<u8>) {
        let seq = self.seq + 1;
        let bytes = Checkpoint::encode_parts(self.id, seq, &self.offsets, &self.ledger);
        (seq, self.offsets.clone(), bytes)
    }

    /// Checkpoint `seq` is durable: what it holds need not be consumed again.
    pub fn saved(&mut self, seq: u64, offsets: &BTreeMap<String, i64>) {
        self.seq = seq;
        // Messages folded while the checkpoint was written keep the shard unsaved.
        self.unsaved = &self.offsets != offsets;
    }

    /// The workers changed since the last call, in id order.
    pub fn take_dirty(&mut self) -> Vec<Box<str>> {
        let mut ids: Vec<Box<str>> = self.dirty.drain().collect();
        ids.sort_unstable();
        ids
    }

    /// Marks workers for calculation again (their last one did not land).
    pub fn mark_dirty(&mut self, worker_ids: impl IntoIterator<Item = Box<str>>) {
        self.dirty.extend(worker_ids);
    }

    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Feed;
    use crate::master::Site;

    fn sites() -> Ledger {
        let site = [
            ("site_id", "S1"),
            ("org_id", "ORG1"),
            ("name", "Pune"),
            ("state", "MH"),
            ("timezone", "Asia/Kolkata"),
            ("weekly_off", "SUN"),
        ];
        Ledger::new([Site::decode(|f| site.iter().find(|(k, _)| *k == f).map(|(_, v)| *v)).unwrap()])
    }

    fn punch(id: &str) -> Result<Record, Invalid> {
        let json =
            format!(r#"{{"event_id": "{id}", "worker_id": "W1", "ts": "2026-10-01T03:30:00Z", "direction": "in"}}"#);
        Feed::Attendance.decode(json.as_bytes()).map(Record::Event)
    }

    #[test]
    fn offsets_move_past_refused_messages_and_redeliveries_are_skipped() {
        let mut shard = Shard::new(3, &sites());
        shard.fold("attendance", 0, punch("e1")).unwrap();
        assert!(shard.fold("attendance", 1, Err(Invalid::record("bad"))).is_err());
        shard.fold("attendance", 0, punch("e1")).unwrap();
        assert_eq!(shard.offset("attendance"), Some(2));
        assert_eq!(shard.take_dirty(), vec![Box::from("W1")]);
        assert!(!shard.has_dirty());
    }

    fn punch_of(worker: &str) -> Result<Record, Invalid> {
        let json = format!(
            r#"{{"event_id": "{worker}-1", "worker_id": "{worker}", "ts": "2026-10-01T03:30:00Z", "direction": "in"}}"#
        );
        Feed::Attendance.decode(json.as_bytes()).map(Record::Event)
    }

    fn master(worker: &str) -> Result<Record, Invalid> {
        let json = format!(
            r#"{{"worker_id": "{worker}", "org_id": "ORG1", "site_id": "S1", "name": "A", "gender": "F", "state": "MH",
            "skill": "skilled", "pay_basis": "daily", "rate": "700.00", "pf_applicable": "true",
            "esi_applicable": "true", "joined_on": "2025-01-01"}}"#
        );
        Worker::decode_json(json.as_bytes()).map(|w| Record::Worker(Box::new(w)))
    }

    fn adjustment_from(org: &str) -> Result<Record, Invalid> {
        let json = format!(
            r#"{{"event_id": "a-{org}", "adjustment_id": "A-{org}", "worker_id": "W1", "org_id": "{org}", "period": "2026-10",
            "kind": "earning", "code": "bonus", "amount": "50000.00", "status": "approved", "version": 2,
            "requested_by": "maker", "approved_by": "checker"}}"#
        );
        Feed::Adjustments.decode(json.as_bytes()).map(Record::Event)
    }

    #[test]
    fn a_worker_belongs_to_one_org() {
        let mut shard = Shard::new(0, &sites());
        shard.fold("workers", 0, master("W1")).unwrap();
        // Another org's adjustment for the worker is refused; their own org's is folded.
        let refused = shard.fold("adjustments", 0, adjustment_from("ORG2")).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "field `worker_id`: `W1` is not a worker of org `ORG2`"
        );
        assert!(shard.ledger.state("W1").is_none_or(|s| s.adjustments.is_empty()));
        shard.fold("adjustments", 1, adjustment_from("ORG1")).unwrap();
        assert_eq!(shard.ledger.state("W1").map(|s| s.adjustments.len()), Some(1));
        // A master record moving the worker to another org (and its site) is refused.
        let site = |id: &str, org: &str| {
            let fields = [
                ("site_id", id),
                ("org_id", org),
                ("name", "Pune"),
                ("state", "MH"),
                ("timezone", "Asia/Kolkata"),
                ("weekly_off", "SUN"),
            ];
            Site::decode(|f| fields.iter().find(|(k, _)| *k == f).map(|(_, v)| *v)).unwrap()
        };
        let sites = Ledger::new([site("S1", "ORG1"), site("S2", "ORG2")]);
        let mut shard2 = Shard::new(0, &sites);
        shard2.fold("workers", 0, master("W1")).unwrap();
        let json = r#"{"worker_id": "W1", "org_id": "ORG2", "site_id": "S2", "name": "A", "gender": "F", "state": "MH",
            "skill": "skilled", "pay_basis": "daily", "rate": "700.00", "pf_applicable": "true",
            "esi_applicable": "true", "joined_on": "2025-01-01", "bank_account": "999999999999"}"#;
        let takeover = Worker::decode_json(json.as_bytes()).map(|w| Record::Worker(Box::new(w)));
        let refused = shard2.fold("workers", 1, takeover).unwrap_err();
        assert!(
            refused.to_string().contains("`W1` is a worker of another org"),
            "{refused}"
        );
        assert_eq!(shard2.ledger.worker("W1").map(|w| w.org_id.as_str()), Some("ORG1"));
    }

    #[test]
    fn workers_waiting_for_their_master_are_bounded() {
        let mut shard = Shard::new(0, &sites());
        let mut offset = 0;
        let mut fold = |shard: &mut Shard, record| {
            offset += 1;
            shard.fold("attendance", offset, record)
        };
        for n in 0..MAX_WAITING {
            fold(&mut shard, punch_of(&format!("U{n}"))).unwrap();
        }
        // More events of a waiting worker are kept; a new unknown worker is refused.
        fold(&mut shard, punch_of("U0")).unwrap();
        let refused = fold(&mut shard, punch_of("X1")).unwrap_err();
        assert!(refused.reason.contains("50000 workers already wait"), "{refused}");
        assert_eq!(shard.waiting(), MAX_WAITING);
        // A master record that arrives makes room, and is counted once.
        fold(&mut shard, master("U0")).unwrap();
        fold(&mut shard, master("U0")).unwrap();
        assert_eq!(shard.waiting(), MAX_WAITING - 1);
        fold(&mut shard, punch_of("X1")).unwrap();
        // A known worker's events never count.
        fold(&mut shard, master("K1")).unwrap();
        fold(&mut shard, punch_of("K1")).unwrap();
        assert_eq!(shard.waiting(), MAX_WAITING);
        let (_, _, bytes) = shard.next_checkpoint();
        let restored = Shard::restore(Checkpoint::decode(&bytes, &sites()).unwrap());
        assert_eq!(restored.waiting(), MAX_WAITING);
    }

    #[test]
    fn a_checkpoint_restores_offsets_state_and_sequence() {
        let sites = sites();
        let mut shard = Shard::new(3, &sites);
        shard.fold("attendance", 5, punch("e1")).unwrap();
        let (seq, offsets, bytes) = shard.next_checkpoint();
        shard.fold("attendance", 6, punch("e2")).unwrap();
        shard.saved(seq, &offsets);
        assert!(shard.has_unsaved(), "e2 came after the checkpoint");

        let restored = Shard::restore(Checkpoint::decode(&bytes, &sites).unwrap());
        assert_eq!((restored.id, restored.seq), (3, 1));
        assert_eq!(restored.offset("attendance"), Some(6));
        assert_eq!(restored.ledger().state("W1").unwrap().punch_count(), 1);
        assert_eq!(restored.next_checkpoint().0, 2);
    }
}
