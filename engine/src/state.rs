//! The fold: per-worker state built from events, order-free and idempotent. The same multiset
//! of events in any order, with any repeats, gives the same state: punches are a set keyed by
//! event id, and of each leave or adjustment only the highest version is kept.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::sync::Arc;

use compact_str::CompactString;
use hashbrown::HashTable;
use payroll_rules::vocabulary::PayPeriod;
use serde::{Deserialize, Serialize};

use crate::archive::{Closing, PeriodEvents, WorkerPeriod, closed_periods_of};
use crate::attendance::StoredPunch;
use crate::days::{AttendanceDay, employment_in};
use crate::error::Invalid;
use crate::event::{AdjustmentVersion, Event, EventId, LeaveVersion, PunchRef};
use crate::inputs::{Attendance, PeriodInputs, leaver_inputs, period_inputs, period_inputs_and_days};
use crate::master::{Site, Worker};
use crate::parallel::{map_in_order, map_shares};
use crate::vec_map::VecMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerState {
    /// A set by event id; of two different punches under one id (which should not happen) the
    /// smaller is kept, so the outcome does not depend on arrival order all the same.
    pub(crate) punches: VecMap<EventId, StoredPunch>,
    pub(crate) leaves: VecMap<Box<str>, LeaveVersion>,
    pub(crate) adjustments: VecMap<Box<str>, AdjustmentVersion>,
    /// Periods whose attendance came aggregated (an upload), standing in for punches and leave.
    pub(crate) summaries: BTreeMap<PayPeriod, Attendance>,
}

impl WorkerState {
    /// Folds one event in; returns whether the state changed (a repeat changes nothing).
    pub fn apply(&mut self, event: Event) -> bool {
        match event {
            Event::Punch(p) => {
                let punch = StoredPunch::new(p.at_ms, p.direction);
                self.punches.keep(p.event_id, punch, smaller)
            }
            Event::Leave(l) => self.leaves.keep(l.leave_id.clone(), *l, |new, old| {
                later((new.version, new), (old.version, old))
            }),
            Event::Adjustment(mut a) => {
                // The sender's org was checked on the way in; the state is the same whoever
                // sent it.
                a.org_id = None;
                self.adjustments.keep(a.adjustment_id.clone(), *a, |new, old| {
                    later((new.version, new), (old.version, old))
                })
            }
        }
    }

    /// Folds in everything `other` has seen: the state of the union of both event sets.
    pub fn merge(&mut self, other: WorkerState) {
        for (id, punch) in other.punches {
            self.punches.keep(id, punch, smaller);
        }
        for (id, leave) in other.leaves {
            self.leaves
                .keep(id, leave, |new, old| later((new.version, new), (old.version, old)));
        }
        for (id, adjustment) in other.adjustments {
            self.adjustments
                .keep(id, adjustment, |new, old| later((new.version, new), (old.version, old)));
        }
        // Uploads are keyed by period and come from files, never from two shards.
        self.summaries.extend(other.summaries);
    }

    pub fn punch_count(&self) -> usize {
        self.punches.len()
    }
}

fn smaller<T: Ord>(new: &T, old: &T) -> bool {
    new < old
}

/// The highest version wins. Two events claiming the same version (a producer's fault) are
/// ranked by their whole content, so the outcome does not depend on which came first.
fn later<T: Ord>(new: (u64, &T), old: (u64, &T)) -> bool {
    new > old
}

/// Hash maps keyed by worker or event id: looked up once per event, so a fast hash pays (ids
/// come from the company's own master and devices, not from an adversary).
type ById<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Some workers' states, taken from a ledger to be folded on a core of its own
/// ([`Ledger::take_states`]): a table found by the workers' [`StatePart::hash`], which a file's
/// reader computes once per event, for the part it goes to and the lookup in it (hashed twice,
/// an event's worker id was a twentieth of reading a month).
#[derive(Debug, Default)]
pub struct StatePart(HashTable<(CompactString, Folding)>);

/// A worker's state while a part folds it. An input file gives a worker's month at once, in no
/// order of event id: its punches are appended as they come and sorted in once, when the part
/// is put back ([`Ledger::put_states`]). Inserted one by one, in order, each shifted all those
/// after it: a tenth of a million workers' run.
#[derive(Debug, Default)]
struct Folding {
    state: Box<WorkerState>,
    punches: Vec<(EventId, StoredPunch)>,
}

impl Folding {
    /// Sorts the punches appended while folding into the state's.
    fn settle(&mut self) {
        let punches = std::mem::take(&mut self.punches);
        self.state.punches.keep_all(punches, smaller);
    }
}

impl StatePart {
    /// A worker id's hash: fixed, so a worker is folded in the same part in every wave of a
    /// file ([`StatePart::part_of`]).
    pub fn hash(worker_id: &str) -> u64 {
        foldhash::fast::FixedState::default().hash_one(worker_id)
    }

    /// Which of `parts` folds the worker of `hash`: taken from bits the table neither places
    /// nor tags entries by (its low bits and its top seven), so each part's table is filled
    /// evenly.
    pub fn part_of(hash: u64, parts: usize) -> usize {
        ((hash >> 32) % parts.max(1) as u64) as usize
    }

    fn folding(&mut self, hash: u64, worker_id: &str) -> Option<&mut Folding> {
        self.0
            .find_mut(hash, |(id, _)| id.as_str() == worker_id)
            .map(|(_, folding)| folding)
    }

    /// [`Ledger::apply`], for a worker of this part; an event of a worker the master does not
    /// have is handed back, folding nothing, as [`StatePart::apply_punch`] refuses a punch.
    pub fn apply(&mut self, event: Event) -> Result<(), Event> {
        let Some(folding) = self.folding(StatePart::hash(event.worker_id()), event.worker_id()) else {
            return Err(event);
        };
        folding.state.apply(event);
        Ok(())
    }

    /// Folds a punch still in its message's bytes, with no allocation; returns false, folding
    /// nothing, for a worker the master does not have. A part has every worker of the master
    /// its ledger had ([`Ledger::take_states`]), so this one lookup is also the master's check.
    /// `hash` is the [`StatePart::hash`] of the punch's worker.
    #[must_use]
    pub fn apply_punch(&mut self, hash: u64, punch: &PunchRef) -> bool {
        debug_assert_eq!(hash, StatePart::hash(&punch.worker_id));
        let Some(folding) = self.folding(hash, &punch.worker_id) else {
            return false;
        };
        folding
            .punches
            .push((punch.event_id, StoredPunch::new(punch.at_ms, punch.direction)));
        true
    }
}

/// Every worker's master record and folded state. Events may come before their worker's
/// master record (the feeds are independent): they are folded all the same and wait; only
/// workers with a master record are paid.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ledger {
    /// Configuration, not state: checkpoints leave it out and restore it from the sites file.
    #[serde(skip)]
    sites: Arc<ById<CompactString, Site>>,
    /// Boxed: a table keeps about twice its entries' room, and a million workers' records
    /// inline in it were 0.9 GB, half of it empty buckets; boxed, the empty ones are 8 bytes.
    workers: ById<CompactString, Box<Worker>>,
    /// Boxed for the same reason; and a part folds into the same boxes it is put back with
    /// ([`Ledger::put_states`]), so putting a million states back makes a table of pointers.
    states: ById<CompactString, Box<WorkerState>>,
    /// Orgs' locked periods whose raw events went to the archive (`archive`): a stream's state
    /// keeps only what the open periods need.
    closed: BTreeSet<WorkerPeriod>,
    /// Workers' closed periods a late event fell in, whose archived events are to be loaded
    /// back into the state.
    to_reopen: BTreeSet<WorkerPeriod>,
    /// Workers' closed periods loaded back: complete in the state again, to be recomputed.
    reopened: BTreeSet<WorkerPeriod>,
}

impl Ledger {
    pub fn new(sites: impl IntoIterator<Item = Site>) -> Self {
        Ledger {
            sites: Arc::new(sites.into_iter().map(|s| (s.site_id.clone(), s)).collect()),
            ..Ledger::default()
        }
    }

    /// An empty ledger over the same sites.
    pub fn empty_like(&self) -> Self {
        Ledger {
            sites: Arc::clone(&self.sites),
            ..Ledger::default()
        }
    }

    /// Gives a restored ledger its sites; every worker's site must be among them.
    pub fn with_sites_of(mut self, other: &Ledger) -> Result<Self, Invalid> {
        self.sites = Arc::clone(&other.sites);
        for worker in self.workers.values() {
            self.check_site(worker)?;
        }
        Ok(self)
    }

    fn check_site(&self, worker: &Worker) -> Result<(), Invalid> {
        let Some(site) = self.sites.get(&worker.site_id) else {
            return Err(Invalid::field(
                "site_id",
                format!("worker `{}`: unknown site `{}`", worker.worker_id, worker.site_id),
            ));
        };
        if site.org_id != worker.org_id {
            return Err(Invalid::field(
                "org_id",
                format!(
                    "`{}` but site `{}` belongs to `{}`",
                    worker.org_id, site.site_id, site.org_id
                ),
            ));
        }
        Ok(())
    }

    /// Adds or replaces a worker's master record; its site must be known, and a worker stays
    /// in the org they belong to: a record moving them to another org is refused (one org
    /// must not take over another's worker, bank account and all).
    pub fn upsert_worker(&mut self, worker: impl Into<Box<Worker>>) -> Result<(), Invalid> {
        let worker: Box<Worker> = worker.into();
        self.check_site(&worker)?;
        match self.workers.entry(worker.worker_id.clone()) {
            Entry::Occupied(known) if known.get().org_id != worker.org_id => Err(Invalid::field(
                "org_id",
                format!(
                    "`{}` is a worker of another org: a worker belongs to one org, and an org cannot take over another's worker",
                    worker.worker_id
                ),
            )),
            Entry::Occupied(mut known) => {
                known.insert(worker);
                Ok(())
            }
            Entry::Vacant(new) => {
                new.insert(worker);
                Ok(())
            }
        }
    }

    /// Refuses an event that names an org other than its worker's (an adjustment sent for
    /// another org's worker). A worker whose master is not known yet cannot be checked here.
    pub fn check_org(&self, event: &Event) -> Result<(), Invalid> {
        let Event::Adjustment(a) = event else {
            return Ok(());
        };
        match &a.org_id {
            Some(org) => self.check_worker_org(&a.worker_id, org),
            None => Ok(()),
        }
    }

    /// Refuses input that `org` sent for a worker of another org (an adjustment, an attendance
    /// summary row). A worker whose master is not known yet cannot be checked here.
    pub fn check_worker_org(&self, worker_id: &str, org: &str) -> Result<(), Invalid> {
        match self.workers.get(worker_id) {
            Some(worker) if worker.org_id != org => Err(Invalid::field(
                "worker_id",
                format!("`{worker_id}` is not a worker of org `{org}`"),
            )),
            _ => Ok(()),
        }
    }

    /// Refuses a worker id not in the master (a folder's master is complete, unlike a topic's).
    fn check_worker(&self, worker_id: &str) -> Result<(), Invalid> {
        match self.workers.contains_key(worker_id) {
            true => Ok(()),
            false => Err(Invalid::unknown_worker(worker_id)),
        }
    }

    /// Folds an event into its worker's state; returns whether the state changed. An event
    /// of a closed period asks for its worker's archived events of it ([`Ledger::to_reopen`]).
    pub fn apply(&mut self, event: Event) -> bool {
        if !self.closed.is_empty() {
            self.note_late(&event);
        }
        self.fold(event)
    }

    fn fold(&mut self, event: Event) -> bool {
        let worker_id = event.worker_id();
        let state = match self.states.get_mut(worker_id) {
            Some(state) => state,
            None => self.states.entry(worker_id.into()).or_default(),
        };
        state.apply(event)
    }

    /// A worker whose master is not known yet has no org, so nothing of theirs is closed.
    fn note_late(&mut self, event: &Event) {
        let Some(worker) = self.workers.get(event.worker_id()) else {
            return;
        };
        let tz = self.sites[&worker.site_id].timezone;
        for period in closed_periods_of(event, &worker.org_id, tz, &self.closed) {
            let key: WorkerPeriod = (event.worker_id().into(), period);
            if !self.reopened.contains(&key) {
                self.to_reopen.insert(key);
            }
        }
    }

    pub fn is_closed(&self, org: &str, period: PayPeriod) -> bool {
        self.closed.contains(&(org.into(), period))
    }

    /// Every org's closed periods.
    pub fn closed(&self) -> impl Iterator<Item = &WorkerPeriod> {
        self.closed.iter()
    }

    /// A copy of the events closing `org`'s `period` takes out of the state: what goes to the
    /// archive before [`Ledger::close`] drops them.
    pub fn closing(&self, org: &str, period: PayPeriod) -> PeriodEvents {
        let mut events = PeriodEvents::default();
        let mut workers: Vec<&Worker> = self.workers().filter(|w| w.org_id == org).collect();
        workers.sort_unstable_by(|a, b| a.worker_id.cmp(&b.worker_id));
        for worker in workers {
            if let Some(state) = self.states.get(worker.worker_id.as_str()) {
                let closing = Closing::new(period, self.sites[&worker.site_id].timezone);
                closing.copy(&worker.worker_id, state, &mut events);
            }
        }
        events
    }

    /// Drops the events [`Ledger::closing`] gives and records the period closed; returns how
    /// many events were dropped.
    pub fn close(&mut self, org: &str, period: PayPeriod) -> usize {
        let mut dropped = 0;
        for worker in self.workers.values().filter(|w| w.org_id == org) {
            if let Some(state) = self.states.get_mut(worker.worker_id.as_str()) {
                let closing = Closing::new(period, self.sites[&worker.site_id].timezone);
                dropped += closing.drop_from(state);
            }
        }
        self.closed.insert((org.into(), period));
        dropped
    }

    /// Workers' closed periods a late event fell in, waiting for their archived events.
    pub fn to_reopen(&self) -> &BTreeSet<WorkerPeriod> {
        &self.to_reopen
    }

    /// Workers' closed periods loaded back from the archive.
    pub fn reopened(&self) -> impl Iterator<Item = &WorkerPeriod> {
        self.reopened.iter()
    }

    /// Loads a worker's archived events of a closed period back: `events` are theirs, read
    /// from the archive.
    pub fn reopen(&mut self, worker_period: &WorkerPeriod, events: PeriodEvents) {
        self.to_reopen.remove(worker_period);
        self.reopened.insert(worker_period.clone());
        self.fold_archived(events);
    }

    /// Folds archived events in as they were before their period closed, without asking for
    /// them again (a run over the state reads a closed period's events back this way).
    pub fn fold_archived(&mut self, events: PeriodEvents) {
        for event in events.into_events() {
            self.fold(event);
        }
    }

    /// Records a worker's aggregated attendance for a period; the latest upload wins.
    pub fn apply_summary(&mut self, worker_id: &str, period: PayPeriod, summary: Attendance) -> Result<(), Invalid> {
        self.check_worker(worker_id)?;
        self.states
            .entry(worker_id.into())
            .or_default()
            .summaries
            .insert(period, summary);
        Ok(())
    }

    /// The worker states split into `parts` by their workers' [`StatePart::part_of`], to be
    /// folded on a core each while every core reads the master (leave and adjustments are
    /// checked against it, [`Ledger::check_worker`]; a part checks punches itself,
    /// [`StatePart::apply_punch`]), then put back ([`Ledger::put_states`]). Only a ledger with
    /// no closed period and no events waiting for their worker's master (an input folder's): a
    /// part folds without noting late events, and takes every worker it has a state for to be
    /// of the master.
    pub fn take_states(&mut self, parts: usize) -> Result<Vec<StatePart>, Invalid> {
        if !self.closed.is_empty() {
            return Err(Invalid::record("a ledger with closed periods is folded whole"));
        }
        // A part takes any worker it has an entry for to be one of the master's.
        if let Some(waiting) = self.states.keys().find(|id| !self.workers.contains_key(&***id)) {
            return Err(Invalid::record(format!(
                "a ledger with events waiting for their worker's master (`{waiting}`) is folded whole"
            )));
        }
        let parts = parts.max(1);
        let share = self.workers.len().max(self.states.len()) / parts;
        let mut states: Vec<Vec<(CompactString, Box<WorkerState>)>> = (0..parts).map(|_| Vec::new()).collect();
        for (id, state) in std::mem::take(&mut self.states) {
            states[StatePart::part_of(StatePart::hash(&id), parts)].push((id, state));
        }
        // Each part is made on a core of its own, with an entry for every worker of the master
        // it holds, which [`StatePart::apply_punch`] checks punches against (those still empty
        // when put back are dropped): a million workers' entries made on one core kept the
        // other waiting. Each core hashes every id to find its own, twice the hashing of one
        // pass that hands ids out, and no queue between the cores.
        let workers = &self.workers;
        let rehash = |(id, _): &(CompactString, Folding)| StatePart::hash(id);
        Ok(map_in_order(states.into_iter().enumerate(), |(index, states)| {
            let mut part = HashTable::with_capacity(share + share / 10);
            for (id, state) in states {
                let folding = Folding {
                    state,
                    punches: Vec::new(),
                };
                part.insert_unique(StatePart::hash(&id), (id, folding), rehash);
            }
            for id in workers.keys() {
                let hash = StatePart::hash(id);
                if StatePart::part_of(hash, parts) == index {
                    part.entry(hash, |(known, _)| known == id, rehash)
                        .or_insert_with(|| (id.clone(), Folding::default()));
                }
            }
            StatePart(part)
        }))
    }

    /// Puts back the states [`Ledger::take_states`] took, folded since (the master's workers
    /// with no event left out again): each part's punches sorted in on a core of its own.
    pub fn put_states(&mut self, mut parts: Vec<StatePart>) {
        map_in_order(parts.iter_mut(), |part| {
            part.0.iter_mut().for_each(|(_, folding)| folding.settle());
        });
        // Moved straight from each part's table, which is freed before the next is moved: the
        // states of a million workers copied to a vector on the way were 0.1 GB more at the
        // run's peak.
        self.states.reserve(parts.iter().map(|part| part.0.len()).sum());
        for part in parts {
            let folded = part
                .0
                .into_iter()
                .filter(|(_, folding)| *folding.state != WorkerState::default());
            self.states.extend(folded.map(|(id, folding)| (id, folding.state)));
        }
    }

    /// Room for `workers` more master records: a master read in one go is then never moved to
    /// a larger table (each move rehashes a million entries into fresh memory, and fresh memory
    /// is cleared page by page). States are sized where they are folded
    /// ([`Ledger::take_states`], [`Ledger::put_states`]).
    pub fn reserve_workers(&mut self, workers: usize) {
        self.workers.reserve(workers);
    }

    /// Takes in another ledger's workers and states (another shard's): master records replace,
    /// states are merged.
    pub fn merge(&mut self, other: Ledger) {
        self.closed.extend(other.closed);
        self.to_reopen.extend(other.to_reopen);
        self.reopened.extend(other.reopened);
        self.workers.extend(other.workers);
        for (worker_id, state) in other.states {
            match self.states.get_mut(&worker_id) {
                Some(mine) => mine.merge(*state),
                None => {
                    self.states.insert(worker_id, state);
                }
            }
        }
    }

    /// The ledger split into `parts` by `part_of` a worker id: what the shards of a stream over
    /// `parts` partitions hold (for benchmarks and tools; the stream folds its shards itself).
    pub fn split(self, parts: usize, part_of: impl Fn(&str) -> usize) -> Vec<Ledger> {
        let mut split: Vec<Ledger> = (0..parts.max(1)).map(|_| self.empty_like()).collect();
        let last = split.len() - 1;
        for (id, worker) in self.workers {
            split[part_of(&id).min(last)].workers.insert(id, worker);
        }
        for (id, state) in self.states {
            split[part_of(&id).min(last)].states.insert(id, state);
        }
        for part in &mut split {
            part.closed.clone_from(&self.closed);
        }
        for key in self.to_reopen {
            split[part_of(&key.0).min(last)].to_reopen.insert(key);
        }
        for key in self.reopened {
            split[part_of(&key.0).min(last)].reopened.insert(key);
        }
        split
    }

    /// Gives back the room kept for events still to come: for a ledger that is complete, like
    /// a run's over its input files (a million workers' spare room is a gigabyte).
    pub fn shrink_to_fit(&mut self) {
        for state in self.states.values_mut() {
            state.punches.shrink_to_fit();
            state.leaves.shrink_to_fit();
            state.adjustments.shrink_to_fit();
        }
        self.states.shrink_to_fit();
        self.workers.shrink_to_fit();
    }

    /// Every punch's instant is one a date can be taken of: what a stored ledger (a checkpoint)
    /// is checked for, since punches decoded from feeds always are.
    pub(crate) fn check_punch_times(&self) -> Result<(), Invalid> {
        for (worker, state) in &self.states {
            if let Some(punch) = state
                .punches
                .values()
                .find(|p| chrono::DateTime::from_timestamp_millis(p.at_ms()).is_none())
            {
                return Err(Invalid::record(format!(
                    "worker {worker}: a punch at {} ms since 1970 is no instant a date can be taken of",
                    punch.at_ms()
                )));
            }
        }
        Ok(())
    }

    /// Every worker with a master record or events.
    pub fn worker_ids(&self) -> impl Iterator<Item = &str> {
        let waiting = self.states.keys().filter(|id| !self.workers.contains_key(&***id));
        self.workers.keys().chain(waiting).map(CompactString::as_str)
    }

    /// Every master record, in no order.
    pub fn workers(&self) -> impl Iterator<Item = &Worker> {
        self.workers.values().map(Box::as_ref)
    }

    pub fn worker(&self, worker_id: &str) -> Option<&Worker> {
        self.workers.get(worker_id).map(Box::as_ref)
    }

    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// Workers with events but no master record yet: their events wait for it.
    /// Whether the ledger has the worker's master record or any event of theirs.
    pub fn knows(&self, worker_id: &str) -> bool {
        self.workers.contains_key(worker_id) || self.states.contains_key(worker_id)
    }

    /// Whether the worker has events and no master record yet.
    pub fn is_waiting(&self, worker_id: &str) -> bool {
        !self.workers.contains_key(worker_id) && self.states.contains_key(worker_id)
    }

    pub fn waiting_count(&self) -> usize {
        self.states
            .keys()
            .filter(|id| !self.workers.contains_key(&***id))
            .count()
    }

    pub fn state(&self, worker_id: &str) -> Option<&WorkerState> {
        self.states.get(worker_id).map(Box::as_ref)
    }

    /// The period inputs of every worker employed during `period`, with their site, ordered by
    /// org and worker.
    pub fn period_inputs(&self, period: PayPeriod) -> Vec<(&Worker, &Site, PeriodInputs)> {
        self.inputs_of(self.workers(), period)
    }

    /// As [`Ledger::period_inputs`], for the named workers only (those changed since the last
    /// calculation); unknown ids and workers not employed in `period` are left out.
    pub fn period_inputs_of<'a>(
        &self,
        worker_ids: impl IntoIterator<Item = &'a str>,
        period: PayPeriod,
    ) -> Vec<(&Worker, &Site, PeriodInputs)> {
        self.inputs_of(worker_ids.into_iter().filter_map(|id| self.worker(id)), period)
    }

    /// As [`Ledger::period_inputs_of`], each with the days its inputs are the sum of (what the
    /// live board shows), counted once for both.
    pub fn period_inputs_and_days_of<'a>(
        &self,
        worker_ids: impl IntoIterator<Item = &'a str>,
        period: PayPeriod,
    ) -> Vec<CountedWorker<'_>> {
        let workers = worker_ids.into_iter().filter_map(|id| self.worker(id));
        let mut rows = self.each_of(workers, |worker, site, state| {
            let mut days = Vec::new();
            period_inputs_and_days(worker, site, state, period, &mut days).map(|inputs| ((worker, site, inputs), days))
        });
        rows.sort_unstable_by(|((a, ..), _), ((b, ..), _)| run_order(a, b));
        rows
    }

    /// The workers a run of `period` pays (of `org`, or of every org), with their site, ordered
    /// by org and worker: those employed during it, and of `owed` (workers owed arrears) those
    /// who left before it, whom no later run would pay. [`Ledger::run_inputs`] gives their inputs.
    pub fn payable<'a>(
        &self,
        period: PayPeriod,
        org: Option<&str>,
        owed: impl IntoIterator<Item = &'a str>,
    ) -> Vec<(&Worker, &Site)> {
        let in_org = |w: &&Worker| org.is_none_or(|org| w.org_id == org);
        let employed = self
            .workers()
            .filter(in_org)
            .filter(|w| employment_in(w, period).is_some());
        let leavers = owed
            .into_iter()
            .filter_map(|id| self.worker(id))
            .filter(in_org)
            .filter(|w| w.exited_on.is_some_and(|exit| exit < period.first_day()));
        let mut workers: Vec<(&Worker, &Site)> =
            employed.chain(leavers).map(|w| (w, &self.sites[&w.site_id])).collect();
        workers.sort_unstable_by(|(a, _), (b, _)| run_order(a, b));
        workers
    }

    /// The inputs of a worker [`Ledger::payable`] lists: their [`period_inputs_and_days`]
    /// while employed in `period`, else (a leaver owed arrears) their [`leaver_inputs`], with
    /// no days.
    pub fn run_inputs(
        &self,
        worker: &Worker,
        site: &Site,
        period: PayPeriod,
        days: &mut Vec<AttendanceDay>,
    ) -> Option<PeriodInputs> {
        let empty = WorkerState::default();
        let state = self.state(&worker.worker_id).unwrap_or(&empty);
        period_inputs_and_days(worker, site, state, period, days).or_else(|| leaver_inputs(worker, state, period))
    }

    fn inputs_of<'a>(
        &'a self,
        workers: impl Iterator<Item = &'a Worker>,
        period: PayPeriod,
    ) -> Vec<(&'a Worker, &'a Site, PeriodInputs)> {
        let mut rows = self.each_of(workers, |worker, site, state| {
            period_inputs(worker, site, state, period).map(|inputs| (worker, site, inputs))
        });
        sort_rows(&mut rows);
        rows
    }

    /// What `count` gives of each worker, their site and state, in their order.
    fn each_of<'a, T: Send>(
        &'a self,
        workers: impl Iterator<Item = &'a Worker>,
        count: impl Fn(&'a Worker, &'a Site, &WorkerState) -> Option<T> + Sync,
    ) -> Vec<T> {
        let empty = WorkerState::default();
        let workers: Vec<&Worker> = workers.collect();
        // A million workers' days took seconds on one core: every core takes a share.
        let parts = map_shares(&workers, |chunk| {
            chunk
                .iter()
                .filter_map(|&w| {
                    let site = &self.sites[&w.site_id];
                    count(w, site, self.state(&w.worker_id).unwrap_or(&empty))
                })
                .collect::<Vec<_>>()
        });
        parts.into_iter().flatten().collect()
    }
}

/// A worker's period inputs with the days they are the sum of.
pub type CountedWorker<'a> = ((&'a Worker, &'a Site, PeriodInputs), Vec<AttendanceDay>);

/// Period inputs in the order runs compute and write them.
fn sort_rows(rows: &mut [(&Worker, &Site, PeriodInputs)]) {
    rows.sort_unstable_by(|(a, ..), (b, ..)| run_order(a, b));
}

/// The order runs compute and write workers in: by org, then worker.
fn run_order(a: &Worker, b: &Worker) -> std::cmp::Ordering {
    (&a.org_id, &a.worker_id).cmp(&(&b.org_id, &b.worker_id))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const OCTOBER: PayPeriod = PayPeriod { year: 2026, month: 10 };

    use crate::Feed;
    use crate::inputs::tests::{site_of as site, worker_of};

    /// A worker of `org` (at S1) or of another org (at S2).
    fn worker(worker_id: &str, org_id: &str, joined_on: &str, exited_on: &str) -> Worker {
        let site_id = if org_id == "org" { "S1" } else { "S2" };
        worker_of(worker_id, org_id, site_id, joined_on, exited_on)
    }

    fn ids<'a>(workers: Vec<(&'a Worker, &Site)>) -> Vec<&'a str> {
        workers.into_iter().map(|(w, _)| w.worker_id.as_str()).collect()
    }

    /// A part folds punches of the master's workers only, and gives back states for the workers
    /// that had events: the ledger is as if each punch was folded into it.
    #[test]
    fn parts_fold_the_masters_workers_punches_and_refuse_others() {
        let punch = |id: &str, worker: &str| {
            format!(
                r#"{{"event_id": "{id}", "worker_id": "{worker}", "ts": "2026-10-02T03:00:00Z", "direction": "in"}}"#
            )
        };
        let master = || {
            let mut ledger = Ledger::new([site("S1", "org")]);
            for id in ["W1", "W2"] {
                ledger.upsert_worker(worker(id, "org", "2020-01-01", "")).unwrap();
            }
            ledger
        };
        let (mut ledger, mut whole) = (master(), master());
        let mut parts = ledger.take_states(2).unwrap();
        let apply = |parts: &mut [StatePart], punch: &str| {
            let punch = crate::event::decode_punch_ref(punch.as_bytes()).unwrap();
            let hash = StatePart::hash(&punch.worker_id);
            parts[StatePart::part_of(hash, 2)].apply_punch(hash, &punch)
        };
        for (id, worker) in [("e2", "W1"), ("e1", "W1"), ("e1", "W1")] {
            let punch = punch(id, worker);
            assert!(apply(&mut parts, &punch));
            whole.apply(Feed::Attendance.decode(punch.as_bytes()).unwrap());
        }
        let stranger = punch("e3", "W9");
        assert!(!apply(&mut parts, &stranger));
        // A part has only its own workers.
        let elsewhere = 1 - StatePart::part_of(StatePart::hash("W1"), 2);
        let w1 = punch("e4", "W1");
        let w1 = crate::event::decode_punch_ref(w1.as_bytes()).unwrap();
        assert!(!parts[elsewhere].apply_punch(StatePart::hash("W1"), &w1));
        ledger.put_states(parts);
        assert_eq!(ledger.state("W1"), whole.state("W1"));
        assert_eq!(ledger.state("W1").map(WorkerState::punch_count), Some(2));
        assert_eq!(
            (ledger.state("W2"), ledger.state("W9")),
            (None, None),
            "no events, no state"
        );

        // Events waiting for their master: the part could not tell them from the master's.
        ledger.apply(Feed::Attendance.decode(stranger.as_bytes()).unwrap());
        let refused = ledger.take_states(2).unwrap_err();
        assert!(refused.to_string().contains("`W9`"), "{refused}");
    }

    /// A run lists the workers employed in its period and, of those owed arrears, the ones who
    /// left before it (no later run would pay them), by org and worker; a leaver's inputs have
    /// no days, an employee's have a day per day of employment.
    #[test]
    fn a_run_pays_its_period_s_workers_and_the_leavers_owed_arrears_in_order() {
        let mut ledger = Ledger::new([site("S1", "org"), site("S2", "other")]);
        for w in [
            worker("W3", "org", "2020-01-01", ""),
            worker("W1", "org", "2020-01-01", "2026-10-05"),
            worker("W2", "org", "2020-01-01", "2026-09-10"),
            worker("W4", "org", "2026-11-02", ""),
            worker("W0", "other", "2020-01-01", ""),
        ] {
            ledger.upsert_worker(w).unwrap();
        }
        assert_eq!(ids(ledger.payable(OCTOBER, Some("org"), [])), ["W1", "W3"]);
        // W4 joins after October and W0 is another org's: owed or not, not this run's.
        assert_eq!(
            ids(ledger.payable(OCTOBER, Some("org"), ["W2", "W4", "W0"])),
            ["W1", "W2", "W3"]
        );
        assert_eq!(ids(ledger.payable(OCTOBER, None, [])), ["W1", "W3", "W0"]);

        let mut days = Vec::new();
        let (w1, s1) = (ledger.worker("W1").unwrap(), &site("S1", "org"));
        let inputs = ledger.run_inputs(w1, s1, OCTOBER, &mut days).unwrap();
        assert_eq!((days.len(), inputs.attendance.employment_days), (5, 5));
        assert_eq!(inputs.attendance, Attendance::of_days(&days));
        let w2 = ledger.worker("W2").unwrap();
        let inputs = ledger.run_inputs(w2, s1, OCTOBER, &mut days).unwrap();
        assert_eq!((days.len(), inputs.attendance.employment_days), (0, 0));
        assert!(
            ledger
                .run_inputs(ledger.worker("W4").unwrap(), s1, OCTOBER, &mut days)
                .is_none()
        );
    }
}
