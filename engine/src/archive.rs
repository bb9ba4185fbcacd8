//! Closing a locked period in a stream's hot state, as pure logic. A stream folds every event
//! it ever saw; once an org's period is locked (paid), its raw events are no longer needed to
//! compute the open period, so they are copied out to the archive and dropped from the state.
//! A late event for a closed period brings that worker's archived events of it back (the
//! period will be recomputed for them), and only theirs.
//!
//! The order keeps nothing from being lost: [`Ledger::closing`] copies what a period's close
//! takes, the caller writes that to the archive, and only then does [`Ledger::close`] drop the
//! same events. A crash in between leaves the events in the state and the period open: it is
//! closed again, and the archive, a set of events like the state, takes the same events twice
//! harmlessly.

use std::collections::BTreeSet;

use chrono::{NaiveTime, TimeZone};
use chrono_tz::Tz;
use payroll_rules::vocabulary::PayPeriod;

use crate::attendance::{DOUBLE_TAP_MS, LONGEST_SHIFT_MS, StoredPunch};
use crate::event::{AdjustmentVersion, Direction, Event, EventId, LeaveVersion, Punch};
use crate::state::WorkerState;

/// Punches this close to a period's ends stay in the state: pairing a shift and dropping a
/// double tap look across the boundary, so the neighbouring period still needs them.
const EDGE_MS: i64 = LONGEST_SHIFT_MS + DOUBLE_TAP_MS;

/// A worker's period, or an org's: the unit periods are closed and reopened in.
pub type WorkerPeriod = (Box<str>, PayPeriod);

/// The raw events a period's close takes out of the state, ordered by worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodEvents {
    pub punches: Vec<ArchivedPunch>,
    pub leaves: Vec<LeaveVersion>,
    pub adjustments: Vec<AdjustmentVersion>,
}

/// A punch as the archive keeps it: the state's punch with its worker and event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedPunch {
    pub worker_id: Box<str>,
    pub event_id: EventId,
    pub at_ms: i64,
    pub direction: Direction,
}

impl PeriodEvents {
    pub fn len(&self) -> usize {
        self.punches.len() + self.leaves.len() + self.adjustments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of one worker's events.
    pub fn of_worker(&self, worker_id: &str) -> PeriodEvents {
        PeriodEvents {
            punches: self
                .punches
                .iter()
                .filter(|p| &*p.worker_id == worker_id)
                .cloned()
                .collect(),
            leaves: self
                .leaves
                .iter()
                .filter(|l| &*l.worker_id == worker_id)
                .cloned()
                .collect(),
            adjustments: self
                .adjustments
                .iter()
                .filter(|a| &*a.worker_id == worker_id)
                .cloned()
                .collect(),
        }
    }

    /// The events as they were folded.
    pub fn into_events(self) -> impl Iterator<Item = Event> {
        let punches = self.punches.into_iter().map(|p| {
            Event::Punch(Punch {
                event_id: p.event_id,
                worker_id: p.worker_id,
                at_ms: p.at_ms,
                direction: p.direction,
            })
        });
        let leaves = self.leaves.into_iter().map(|l| Event::Leave(Box::new(l)));
        let adjustments = self.adjustments.into_iter().map(|a| Event::Adjustment(Box::new(a)));
        punches.chain(leaves).chain(adjustments)
    }
}

/// Which of a worker's events the close of `period` takes, for a site in `tz`: punches at
/// least [`EDGE_MS`] inside the period's local bounds, leave wholly inside it, and the period's
/// adjustments. Leave across a boundary stays: the other period needs it too.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Closing {
    period: PayPeriod,
    from_ms: i64,
    until_ms: i64,
}

impl Closing {
    pub(crate) fn new(period: PayPeriod, tz: Tz) -> Closing {
        Closing {
            period,
            from_ms: local_midnight_ms(period.first_day(), tz, 1) + EDGE_MS,
            until_ms: local_midnight_ms(period.next().first_day(), tz, -1) - EDGE_MS,
        }
    }

    pub(crate) fn takes_punch(&self, punch: StoredPunch) -> bool {
        (self.from_ms..self.until_ms).contains(&punch.at_ms())
    }

    pub(crate) fn takes_leave(&self, leave: &LeaveVersion) -> bool {
        self.period.contains(leave.from) && self.period.contains(leave.to)
    }

    pub(crate) fn takes_adjustment(&self, adjustment: &AdjustmentVersion) -> bool {
        adjustment.period == self.period
    }

    /// Copies what the close takes of one worker's state.
    pub(crate) fn copy(&self, worker_id: &str, state: &WorkerState, into: &mut PeriodEvents) {
        into.punches.extend(
            state
                .punches
                .iter()
                .filter(|(_, punch)| self.takes_punch(**punch))
                .map(|(id, punch)| ArchivedPunch {
                    worker_id: worker_id.into(),
                    event_id: *id,
                    at_ms: punch.at_ms(),
                    direction: punch.direction(),
                }),
        );
        into.leaves
            .extend(state.leaves.values().filter(|l| self.takes_leave(l)).cloned());
        into.adjustments
            .extend(state.adjustments.values().filter(|a| self.takes_adjustment(a)).cloned());
    }

    /// Drops what [`Closing::copy`] copies; returns how many events that was.
    pub(crate) fn drop_from(&self, state: &mut WorkerState) -> usize {
        let before = state.punches.len() + state.leaves.len() + state.adjustments.len();
        state.punches.retain(|_, punch| !self.takes_punch(*punch));
        state.leaves.retain(|_, leave| !self.takes_leave(leave));
        state
            .adjustments
            .retain(|_, adjustment| !self.takes_adjustment(adjustment));
        state.punches.shrink_to_fit();
        before - (state.punches.len() + state.leaves.len() + state.adjustments.len())
    }
}

/// The instant a local date begins, in milliseconds. Where a clock change skips midnight the
/// date begins at no local midnight: the UTC one moved a day's worth `toward` the period's
/// inside stands in, which keeps the bound on the safe side (fewer punches taken).
fn local_midnight_ms(day: chrono::NaiveDate, tz: Tz, toward: i64) -> i64 {
    let midnight = day.and_time(NaiveTime::MIN);
    match tz.from_local_datetime(&midnight).earliest() {
        Some(at) => at.timestamp_millis(),
        None => midnight.and_utc().timestamp_millis() + toward * 24 * 3600 * 1000,
    }
}

/// The closed periods among `closed` that `event` of a worker of `org` falls in: a punch by
/// its local date, a leave by any of its days, an adjustment by its period.
pub(crate) fn closed_periods_of(event: &Event, org: &str, tz: Tz, closed: &BTreeSet<WorkerPeriod>) -> Vec<PayPeriod> {
    let of_org = closed.iter().filter(|(o, _)| &**o == org).map(|(_, p)| *p);
    match event {
        Event::Punch(p) => {
            // Nearly every punch is of an open period: compared with each closed one's UTC
            // bounds, widened by a day for any time zone, before a local date is taken.
            const DAY_MS: i64 = 24 * 3600 * 1000;
            let near = |period: &PayPeriod| {
                let from = period.first_day().and_time(NaiveTime::MIN).and_utc().timestamp_millis() - DAY_MS;
                let until = period
                    .next()
                    .first_day()
                    .and_time(NaiveTime::MIN)
                    .and_utc()
                    .timestamp_millis()
                    + DAY_MS;
                (from..until).contains(&p.at_ms)
            };
            let mut near = of_org.filter(near).peekable();
            if near.peek().is_none() {
                return Vec::new();
            }
            let Some(at) = chrono::DateTime::from_timestamp_millis(p.at_ms) else {
                return Vec::new();
            };
            let local = PayPeriod::of(at.with_timezone(&tz).date_naive());
            near.filter(|period| *period == local).collect()
        }
        Event::Leave(l) => of_org
            .filter(|period| l.from <= period.last_day() && period.first_day() <= l.to)
            .collect(),
        Event::Adjustment(a) => of_org.filter(|period| *period == a.period).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{AdjustmentKind, LeaveType, Status};
    use crate::master::{Site, Worker};
    use crate::state::Ledger;

    const IST: Tz = chrono_tz::Asia::Kolkata;

    fn period(text: &str) -> PayPeriod {
        text.parse().unwrap()
    }

    fn ms(ts: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(ts).unwrap().timestamp_millis()
    }

    fn punch(worker: &str, id: &str, ts: &str, direction: Direction) -> Event {
        Event::Punch(Punch {
            event_id: EventId::new(id),
            worker_id: worker.into(),
            at_ms: ms(ts),
            direction,
        })
    }

    fn leave(worker: &str, id: &str, from: &str, to: &str) -> Event {
        Event::Leave(Box::new(LeaveVersion {
            event_id: format!("{id}-v1").into(),
            leave_id: id.into(),
            worker_id: worker.into(),
            leave_type: LeaveType::Casual,
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
            half_day: false,
            status: Status::Approved,
            version: 1,
        }))
    }

    fn adjustment(worker: &str, id: &str, period: &str) -> Event {
        Event::Adjustment(Box::new(AdjustmentVersion {
            event_id: format!("{id}-v1").into(),
            adjustment_id: id.into(),
            worker_id: worker.into(),
            period: period.parse().unwrap(),
            kind: AdjustmentKind::Earning,
            code: "BONUS".into(),
            amount: "100.00".parse().unwrap(),
            status: Status::Approved,
            version: 1,
            org_id: None,
        }))
    }

    fn inputs(ledger: &Ledger, period: PayPeriod) -> Vec<(String, crate::PeriodInputs)> {
        let rows = ledger.period_inputs(period);
        rows.into_iter().map(|(w, _, i)| (w.worker_id.to_string(), i)).collect()
    }

    fn ledger() -> Ledger {
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
        let mut ledger = Ledger::new([site("S1", "ORG1"), site("S2", "ORG2")]);
        for (worker, site, org) in [("W1", "S1", "ORG1"), ("W2", "S2", "ORG2")] {
            let fields = [
                ("worker_id", worker),
                ("org_id", org),
                ("site_id", site),
                ("name", "A"),
                ("gender", "F"),
                ("state", "MH"),
                ("skill", "skilled"),
                ("pay_basis", "daily"),
                ("rate", "700.00"),
                ("pf_applicable", "true"),
                ("esi_applicable", "true"),
                ("joined_on", "2025-01-01"),
            ];
            let worker = Worker::decode(|f| fields.iter().find(|(k, _)| *k == f).map(|(_, v)| *v)).unwrap();
            ledger.upsert_worker(worker).unwrap();
        }
        ledger
    }

    /// October's middle, its edges, November's first night shift, and leave and adjustments
    /// inside and across the boundary, for a worker of the org whose October is closed and
    /// one of another org.
    fn events() -> Vec<Event> {
        let mut events = Vec::new();
        for worker in ["W1", "W2"] {
            events.extend([
                // 1 October 05:30 IST: within 16 hours of the period's start.
                punch(worker, "edge-in", "2026-10-01T00:00:00Z", Direction::In),
                punch(worker, "mid-in", "2026-10-15T03:30:00Z", Direction::In),
                punch(worker, "mid-out", "2026-10-15T12:30:00Z", Direction::Out),
                // A night shift from 31 October 22:00 IST to 1 November 06:00.
                punch(worker, "night-in", "2026-10-31T16:30:00Z", Direction::In),
                punch(worker, "night-out", "2026-11-01T00:30:00Z", Direction::Out),
                leave(worker, "inside", "2026-10-12", "2026-10-13"),
                leave(worker, "across", "2026-10-30", "2026-11-02"),
                adjustment(worker, "oct", "2026-10"),
                adjustment(worker, "nov", "2026-11"),
            ]);
        }
        events
    }

    #[test]
    fn a_close_takes_the_periods_own_events_and_leaves_its_edges() {
        let mut ledger = ledger();
        for event in events() {
            ledger.apply(event);
        }
        let october = period("2026-10");
        let closing = ledger.closing("ORG1", october);
        let ids: Vec<EventId> = closing.punches.iter().map(|p| p.event_id).collect();
        assert_eq!(ids, [EventId::new("mid-in"), EventId::new("mid-out")]);
        assert_eq!(
            closing.leaves.iter().map(|l| &*l.leave_id).collect::<Vec<_>>(),
            ["inside"]
        );
        assert_eq!(
            closing
                .adjustments
                .iter()
                .map(|a| &*a.adjustment_id)
                .collect::<Vec<_>>(),
            ["oct"]
        );

        let november_before = inputs(&ledger, october.next());
        assert_eq!(ledger.close("ORG1", october), closing.len());
        assert!(ledger.is_closed("ORG1", october) && !ledger.is_closed("ORG2", october));
        assert_eq!(ledger.state("W1").unwrap().punch_count(), 3);
        assert_eq!(
            ledger.state("W2").unwrap().punch_count(),
            5,
            "another org's events stay"
        );
        // November, the open period, computes as before: the night shift is still paired.
        assert_eq!(inputs(&ledger, october.next()), november_before);
        // A second close of the same period takes nothing more.
        assert!(ledger.closing("ORG1", october).is_empty());
    }

    #[test]
    fn the_archived_events_folded_back_give_the_period_as_before_its_close() {
        let mut ledger = ledger();
        for event in events() {
            ledger.apply(event);
        }
        let october = period("2026-10");
        let before = inputs(&ledger, october);
        let archived = ledger.closing("ORG1", october);
        ledger.close("ORG1", october);
        assert_ne!(inputs(&ledger, october), before);
        ledger.fold_archived(archived);
        assert_eq!(inputs(&ledger, october), before);
    }

    #[test]
    fn a_late_event_asks_for_its_workers_period_once() {
        let mut ledger = ledger();
        for event in events() {
            ledger.apply(event);
        }
        let october = period("2026-10");
        let archived = ledger.closing("ORG1", october);
        ledger.close("ORG1", october);

        // Events of the open period, and of another org's October, are not late.
        ledger.apply(punch("W1", "nov-in", "2026-11-10T03:30:00Z", Direction::In));
        ledger.apply(punch("W2", "w2-late", "2026-10-20T03:30:00Z", Direction::In));
        assert!(ledger.to_reopen().is_empty());
        // 31 October 20:00 UTC is 1 November in Pune: not late either.
        ledger.apply(punch("W1", "late-night", "2026-10-31T20:00:00Z", Direction::In));
        assert!(ledger.to_reopen().is_empty());

        for event in [
            punch("W1", "late", "2026-10-20T03:30:00Z", Direction::In),
            leave("W1", "late-leave", "2026-09-29", "2026-10-01"),
            adjustment("W1", "late-adj", "2026-10"),
        ] {
            ledger.apply(event);
        }
        let w1_october: WorkerPeriod = ("W1".into(), october);
        assert_eq!(ledger.to_reopen().iter().collect::<Vec<_>>(), [&w1_october]);

        // The archive is read for the worker's period only; its events come back, once.
        let theirs = archived.of_worker("W1");
        ledger.reopen(&w1_october, theirs.clone());
        assert!(ledger.to_reopen().is_empty());
        assert_eq!(ledger.reopened().collect::<Vec<_>>(), [&w1_october]);
        ledger.apply(punch("W1", "later", "2026-10-21T03:30:00Z", Direction::In));
        assert!(ledger.to_reopen().is_empty(), "a reopened period is hot again");
        let everything = ledger.closing("ORG1", october).of_worker("W1");
        assert!(theirs.punches.iter().all(|p| everything.punches.contains(p)));
    }

    #[test]
    fn a_skipped_midnight_keeps_the_bound_inside_the_period() {
        // Samoa skipped 30 December 2011; the zone's midnights elsewhere exist.
        let apia = chrono_tz::Pacific::Apia;
        let closing = Closing::new(period("2011-12"), apia);
        assert!(closing.from_ms < closing.until_ms);
        let ist = Closing::new(period("2026-10"), IST);
        assert_eq!(ist.from_ms, ms("2026-09-30T18:30:00Z") + EDGE_MS);
    }
}
