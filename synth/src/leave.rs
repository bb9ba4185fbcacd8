//! Leave requests (`leave.ndjson`).
//!
//! An HR system emits every state change of a request as a new version with its own event id:
//! `applied` first, then usually `approved`, sometimes `rejected`, and an approval can later be
//! `cancelled`. The engine must keep only the highest version, so the chains are written whole
//! and shuffled.

use std::io::{self, Write};
use std::path::Path;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::bad_lines::{Defect, truncate_line, unknown_worker};
use crate::calendar::Period;
use crate::encode::{JsonLine, create_feed, put_event_id};
use crate::sites::SITES;
use crate::workers::{Employee, WorkerIds};
use crate::{Written, pick_weighted};

const LEAVE_TYPES: [&str; 4] = ["casual", "sick", "earned", "unpaid"];
const LEAVE_TYPE_WEIGHTS: [u32; 4] = [35, 30, 25, 10];

/// What becomes of a request: approved 78%, rejected 8%, approved then cancelled 7%, and 7%
/// still awaiting a decision when the month closes.
const OUTCOME_WEIGHTS: [u32; 4] = [78, 8, 7, 7];

#[derive(Clone, Copy)]
enum Status {
    Applied,
    Approved,
    Rejected,
    Cancelled,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Cancelled => "cancelled",
        }
    }
}

/// One version of one request.
struct LeaveEvent {
    event_id: u128,
    worker: u32,
    leave_type: &'static str,
    from: i32,
    to: i32,
    half_day: bool,
    status: Status,
    version: u64,
    defect: Option<Defect>,
}

/// A worker's leave as attendance sees it: bit `d` stands for day `d` of the period.
#[derive(Clone, Copy, Default)]
pub struct LeaveDays {
    full: u32,
    half: u32,
    /// Days asked for but not (or not yet) granted, which workers often take off anyway.
    unsanctioned: u32,
}

impl LeaveDays {
    pub fn full(&self, day: i32) -> bool {
        bit(self.full, day)
    }

    pub fn half(&self, day: i32) -> bool {
        bit(self.half, day)
    }

    pub fn unsanctioned(&self, day: i32) -> bool {
        bit(self.unsanctioned, day)
    }
}

fn bit(mask: u32, day: i32) -> bool {
    (0..32).contains(&day) && mask & (1 << day) != 0
}

fn span(from: i32, to: i32) -> u32 {
    (from..=to).fold(0, |mask, day| mask | 1 << day)
}

pub struct LeaveBook {
    events: Vec<LeaveEvent>,
    /// Indexed by worker number - 1.
    days: Vec<LeaveDays>,
}

impl LeaveBook {
    /// About 15% of workers file one to three requests for working days of the period.
    pub fn request(employees: &[Employee], period: &Period, rng: &mut StdRng) -> Self {
        let mut book = LeaveBook {
            events: Vec::new(),
            days: Vec::with_capacity(employees.len()),
        };
        for employee in employees {
            let mut days = LeaveDays::default();
            if rng.random_bool(0.15) {
                for _ in 0..rng.random_range(1..=3) {
                    book.file(employee, period, &mut days, rng);
                }
            }
            book.days.push(days);
        }
        book
    }

    pub fn days_off(&self, employee: &Employee) -> LeaveDays {
        self.days[employee.number as usize - 1]
    }

    fn file(&mut self, employee: &Employee, period: &Period, days: &mut LeaveDays, rng: &mut StdRng) {
        let employed = employee.employed_days(0, period.days - 1);
        let last = *employed.end();
        let from = rng.random_range(employed);
        // Nobody applies for leave starting on the weekly off, nor twice for the same day.
        if period.weekday(from) == SITES[employee.site].weekly_off {
            return;
        }
        let length = [1, 2, 3][pick_weighted(rng, [60, 25, 15])];
        let to = (from + length - 1).min(last);
        let covered = span(from, to);
        if covered & (days.full | days.half | days.unsanctioned) != 0 {
            return;
        }
        let half_day = from == to && rng.random_bool(1.0 / 3.0);
        let leave_type = LEAVE_TYPES[pick_weighted(rng, LEAVE_TYPE_WEIGHTS)];
        let chain: &[Status] = match pick_weighted(rng, OUTCOME_WEIGHTS) {
            0 => &[Status::Applied, Status::Approved],
            1 => &[Status::Applied, Status::Rejected],
            2 => &[Status::Applied, Status::Approved, Status::Cancelled],
            _ => &[Status::Applied],
        };
        for (version, &status) in (1..).zip(chain) {
            self.events.push(LeaveEvent {
                event_id: rng.random(),
                worker: employee.number,
                leave_type,
                from,
                to,
                half_day,
                status,
                version,
                defect: None,
            });
        }
        match chain.last() {
            Some(Status::Approved) if half_day => days.half |= covered,
            Some(Status::Approved) => days.full |= covered,
            _ => days.unsanctioned |= covered,
        }
    }

    /// Writes every version plus the bad lines, shuffled as a message bus would deliver them.
    pub fn write(
        mut self,
        path: &Path,
        defects: &[Defect],
        employees: &[Employee],
        period: &Period,
        ids: WorkerIds,
        rng: &mut StdRng,
    ) -> io::Result<Written> {
        let written = Written {
            events: self.events.len(),
            bad_lines: defects.len(),
        };
        for &defect in defects {
            let employee = &employees[rng.random_range(0..employees.len())];
            let day = rng.random_range(employee.employed_days(0, period.days - 1));
            let worker = match defect {
                Defect::UnknownWorker => unknown_worker(employees.len(), rng),
                _ => employee.number,
            };
            self.events.push(LeaveEvent {
                event_id: rng.random(),
                worker,
                leave_type: "casual",
                from: day,
                to: day,
                half_day: false,
                status: Status::Applied,
                version: 1,
                defect: Some(defect),
            });
        }
        self.events.shuffle(rng);

        let mut out = create_feed(path)?;
        let mut line = Vec::with_capacity(256);
        for event in &self.events {
            line.clear();
            put_event(&mut line, event, period, ids);
            out.write_all(&line)?;
        }
        out.flush()?;
        Ok(written)
    }
}

fn put_event(line: &mut Vec<u8>, event: &LeaveEvent, period: &Period, ids: WorkerIds) {
    let omit = (event.defect == Some(Defect::MissingField)).then_some("to");
    let mut obj = JsonLine::begin(line, omit);
    obj.text("leave_id", |b| {
        b.extend_from_slice(b"L-");
        ids.put(b, event.worker);
        b.push(b'-');
        period.put_date(b, event.from);
    });
    obj.text("worker_id", |b| ids.put(b, event.worker));
    obj.str("leave_type", event.leave_type);
    obj.text("from", |b| period.put_date(b, event.from));
    obj.text("to", |b| {
        if event.defect == Some(Defect::BadDate) {
            period.put_impossible_date(b, event.to);
        } else {
            period.put_date(b, event.to);
        }
    });
    obj.bool("half_day", event.half_day);
    obj.text("event_id", |b| put_event_id(b, event.event_id));
    obj.str("status", event.status.name());
    obj.uint("version", event.version);
    obj.end();
    if event.defect == Some(Defect::MalformedJson) {
        truncate_line(line);
    }
}
