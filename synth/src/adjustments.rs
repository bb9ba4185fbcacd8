//! Manual pay adjustments (`adjustments.ndjson`).
//!
//! Adjustments follow maker-checker: a maker files version 1 as `pending`, a checker answers
//! with version 2, `approved` or `rejected`, and some are still pending when the month closes.

use std::io::{self, Write};
use std::ops::RangeInclusive;
use std::path::Path;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::bad_lines::{Defect, truncate_line, unknown_worker};
use crate::calendar::Period;
use crate::encode::{JsonLine, create_feed, put_event_id, put_money};
use crate::workers::{Employee, WorkerIds};
use crate::{Written, pick, pick_weighted};

struct Code {
    kind: &'static str,
    code: &'static str,
    reasons: &'static [&'static str],
    weight: u32,
    /// Amounts come in the steps people actually key in: `steps` times `step_paise`.
    step_paise: u64,
    steps: RangeInclusive<u64>,
}

const RUPEE: u64 = 100;

static CODES: [Code; 4] = [
    Code {
        kind: "earning",
        code: "bonus",
        reasons: &["Festival bonus", "Attendance bonus"],
        weight: 30,
        step_paise: 250 * RUPEE,
        steps: 2..=20,
    },
    Code {
        kind: "earning",
        code: "incentive",
        reasons: &["Production incentive", "Night shift incentive"],
        weight: 25,
        step_paise: 50 * RUPEE,
        steps: 4..=60,
    },
    Code {
        kind: "deduction",
        code: "advance_recovery",
        reasons: &["Salary advance recovery"],
        weight: 25,
        step_paise: 500 * RUPEE,
        steps: 1..=20,
    },
    Code {
        kind: "deduction",
        code: "canteen",
        reasons: &["Canteen charges"],
        weight: 20,
        step_paise: RUPEE / 2,
        steps: 240..=1800,
    },
];

const MAKERS: [&str; 3] = ["maker1", "maker2", "maker3"];
const CHECKERS: [&str; 2] = ["checker1", "checker2"];

#[derive(Clone, Copy)]
enum Status {
    Pending,
    Approved,
    Rejected,
}

/// One version of one adjustment.
#[derive(Clone, Copy)]
struct AdjustmentEvent {
    event_id: u128,
    worker: u32,
    code: &'static Code,
    amount_paise: u64,
    reason: &'static str,
    requested_by: &'static str,
    /// The checker who decided; empty while pending, as in the reference sample.
    decided_by: &'static str,
    status: Status,
    version: u64,
    defect: Option<Defect>,
}

pub struct AdjustmentBook {
    events: Vec<AdjustmentEvent>,
}

impl AdjustmentBook {
    /// About 5% of workers get one adjustment (its id is `ADJ-<worker>`, so one per worker).
    pub fn request(employees: &[Employee], rng: &mut StdRng) -> Self {
        let mut events = Vec::new();
        for employee in employees {
            if !rng.random_bool(0.05) {
                continue;
            }
            let filed = file(employee.number, rng);
            // 75% approved, 15% rejected, 10% still pending.
            let decision = match rng.random_range(0..100) {
                0..75 => Some(Status::Approved),
                75..90 => Some(Status::Rejected),
                _ => None,
            };
            events.push(filed);
            if let Some(status) = decision {
                events.push(AdjustmentEvent {
                    event_id: rng.random(),
                    decided_by: pick(rng, &CHECKERS),
                    status,
                    version: 2,
                    ..filed
                });
            }
        }
        AdjustmentBook { events }
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
            let worker = match defect {
                Defect::UnknownWorker => unknown_worker(employees.len(), rng),
                _ => employees[rng.random_range(0..employees.len())].number,
            };
            self.events.push(AdjustmentEvent {
                defect: Some(defect),
                ..file(worker, rng)
            });
        }
        self.events.shuffle(rng);

        let mut out = create_feed(path)?;
        let mut line = Vec::with_capacity(320);
        for event in &self.events {
            line.clear();
            put_event(&mut line, event, period, ids);
            out.write_all(&line)?;
        }
        out.flush()?;
        Ok(written)
    }
}

/// Version 1: the maker's pending request.
fn file(worker: u32, rng: &mut StdRng) -> AdjustmentEvent {
    let code = &CODES[pick_weighted(rng, CODES.iter().map(|c| c.weight))];
    AdjustmentEvent {
        event_id: rng.random(),
        worker,
        code,
        amount_paise: rng.random_range(code.steps.clone()) * code.step_paise,
        reason: pick(rng, code.reasons),
        requested_by: pick(rng, &MAKERS),
        decided_by: "",
        status: Status::Pending,
        version: 1,
        defect: None,
    }
}

fn put_event(line: &mut Vec<u8>, event: &AdjustmentEvent, period: &Period, ids: WorkerIds) {
    let omit = (event.defect == Some(Defect::MissingField)).then_some("amount");
    let mut obj = JsonLine::begin(line, omit);
    obj.text("adjustment_id", |b| {
        b.extend_from_slice(b"ADJ-");
        ids.put(b, event.worker);
    });
    obj.text("worker_id", |b| ids.put(b, event.worker));
    obj.text("period", |b| period.put_label(b));
    obj.str("kind", event.code.kind);
    obj.str("code", event.code.code);
    obj.text("amount", |b| match event.defect {
        Some(Defect::NegativeAmount) => {
            b.push(b'-');
            put_money(b, event.amount_paise);
        }
        Some(Defect::ExponentAmount) => b.extend_from_slice(b"1e3"),
        _ => put_money(b, event.amount_paise),
    });
    obj.str("reason", event.reason);
    obj.str("requested_by", event.requested_by);
    obj.text("event_id", |b| put_event_id(b, event.event_id));
    obj.str(
        "status",
        match event.status {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
        },
    );
    obj.uint("version", event.version);
    obj.str("approved_by", event.decided_by);
    obj.end();
    if event.defect == Some(Defect::MalformedJson) {
        truncate_line(line);
    }
}
