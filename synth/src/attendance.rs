//! Biometric punches (`attendance.ndjson`), the bulk of a month's input.
//!
//! Workers are rostered in crews of [`CREW`]: a crew's month of punches is built in memory,
//! shuffled and written before the next crew starts, which keeps memory flat at any headcount
//! while the file still arrives out of order, as feeds merged from many devices do.

use std::io::{self, Write};
use std::path::Path;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::Written;
use crate::bad_lines::{Defect, truncate_line, unknown_worker};
use crate::calendar::Period;
use crate::encode::{JsonLine, create_feed, put_event_id, put_utc};
use crate::leave::{LeaveBook, LeaveDays};
use crate::noise::{FeedNoise, missed_punch};
use crate::sites::SITES;
use crate::workers::{Employee, WorkerIds};

const CREW: usize = 1000;

/// Share of working days a worker is absent without leave.
const ABSENCE: f64 = 0.08;
/// Share of working days cut to a half day (4-5 h).
const HALF_DAY: f64 = 0.045;
/// Share of weekly offs worked anyway (rush orders).
const WEEKLY_OFF_WORKED: f64 = 0.03;
/// Share of approved full-day leave the worker turns up for anyway; the policy's "attendance
/// wins" rule is there for this.
const WORKED_ON_LEAVE: f64 = 0.05;
/// Share of workers whose feed also carries the last day of the previous month.
const PREVIOUS_DAY_IN_FEED: f64 = 0.1;
/// Share of workers on the night shift.
const NIGHT_SHIFT: f64 = 0.1;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

/// One punch line, kept small and `Copy` because a crew holds tens of thousands of them.
#[derive(Clone, Copy)]
pub struct Punch {
    pub event_id: u128,
    pub ts: i64,
    pub worker: u32,
    pub site: u8,
    pub direction: Direction,
    pub defect: Option<Defect>,
}

/// Writes the month's punches for every worker, plus `defects` as bad lines.
pub fn write_attendance(
    path: &Path,
    employees: &[Employee],
    leave: &LeaveBook,
    defects: &[Defect],
    period: &Period,
    ids: WorkerIds,
    rng: &mut StdRng,
) -> io::Result<Written> {
    let mut out = create_feed(path)?;
    let mut noise = FeedNoise::default();
    let mut batch = Vec::new();
    let mut line = Vec::with_capacity(256);
    let mut written = Written::default();

    // Bad lines are spread over the crews, to surface anywhere in the file.
    let crews = employees.len().div_ceil(CREW);
    let due: Vec<(usize, Defect)> = defects
        .iter()
        .map(|&defect| (rng.random_range(0..crews), defect))
        .collect();
    for (crew_no, crew) in employees.chunks(CREW).enumerate() {
        batch.clear();
        for employee in crew {
            let leave = leave.days_off(employee);
            work_month(employee, leave, period, &mut noise, &mut batch, rng);
        }
        for &(_, defect) in due.iter().filter(|(due_crew, _)| *due_crew == crew_no) {
            batch.push(bad_punch(defect, crew, employees.len(), period, rng));
        }
        batch.shuffle(rng);
        written += write_punches(&mut out, &batch, period, ids, &mut line)?;
    }
    let mut late = noise.into_late();
    late.shuffle(rng);
    written += write_punches(&mut out, &late, period, ids, &mut line)?;
    out.flush()?;
    Ok(written)
}

/// The worker's shifts over the period (and sometimes the day before), through the feed noise.
fn work_month(
    employee: &Employee,
    leave: LeaveDays,
    period: &Period,
    noise: &mut FeedNoise,
    batch: &mut Vec<Punch>,
    rng: &mut StdRng,
) {
    let shift = ShiftPattern::assign(rng);
    let first = if employee.joined < 0 && rng.random_bool(PREVIOUS_DAY_IN_FEED) {
        -1
    } else {
        0
    };
    let weekly_off = SITES[employee.site].weekly_off;
    for day in employee.employed_days(first, period.days - 1) {
        let day_off = period.weekday(day) == weekly_off;
        let Some(length) = shift_length(day, day_off, leave, rng) else {
            continue;
        };
        let start = period.local_midnight_utc(day) + shift.start_secs(rng);
        let missed = missed_punch(rng);
        for (direction, ts) in [(Direction::In, start), (Direction::Out, start + length)] {
            if missed != Some(direction) {
                let punch = Punch {
                    event_id: rng.random(),
                    ts,
                    worker: employee.number,
                    site: employee.site as u8,
                    direction,
                    defect: None,
                };
                noise.deliver(punch, batch, rng);
            }
        }
    }
}

/// Seconds worked on `day`, or `None` when the worker does not come in.
fn shift_length(day: i32, day_off: bool, leave: LeaveDays, rng: &mut StdRng) -> Option<i64> {
    let stays_home = if leave.full(day) {
        !rng.random_bool(WORKED_ON_LEAVE)
    } else if leave.unsanctioned(day) {
        rng.random_bool(0.5)
    } else if day_off {
        !rng.random_bool(WEEKLY_OFF_WORKED)
    } else {
        rng.random_bool(ABSENCE)
    };
    if stays_home {
        return None;
    }
    let minutes = if leave.half(day) || rng.random_bool(HALF_DAY) {
        rng.random_range(240..=300)
    } else if rng.random_bool(0.25) {
        // Overtime: up to 10.5 h, so some days cross the 9 h overtime threshold.
        rng.random_range(540..=630)
    } else {
        rng.random_range(480..=555)
    };
    Some(minutes * 60 + rng.random_range(0..60))
}

/// A worker's usual shift start in local minutes after midnight; night shifts start 21:00-23:00
/// and end the next morning, day shifts start 07:00-10:00.
struct ShiftPattern {
    start_minute: i64,
}

impl ShiftPattern {
    fn assign(rng: &mut StdRng) -> Self {
        let (earliest, latest) = if rng.random_bool(NIGHT_SHIFT) {
            (21 * 60, 23 * 60)
        } else {
            (7 * 60, 10 * 60)
        };
        // Shifts start on the half hour.
        ShiftPattern {
            start_minute: earliest + 30 * rng.random_range(0..=(latest - earliest) / 30),
        }
    }

    /// Today's start: people badge in from a quarter of an hour early to twenty minutes late.
    fn start_secs(&self, rng: &mut StdRng) -> i64 {
        self.start_minute * 60 + rng.random_range(-15 * 60..=20 * 60)
    }
}

/// A plausible mid-morning punch of one of the crew, to be written with `defect`.
fn bad_punch(defect: Defect, crew: &[Employee], headcount: usize, period: &Period, rng: &mut StdRng) -> Punch {
    let employee = &crew[rng.random_range(0..crew.len())];
    let day = rng.random_range(employee.employed_days(0, period.days - 1));
    let worker = match defect {
        Defect::UnknownWorker => unknown_worker(headcount, rng),
        _ => employee.number,
    };
    Punch {
        event_id: rng.random(),
        ts: period.local_midnight_utc(day) + 9 * 3600 + rng.random_range(0..3600),
        worker,
        site: employee.site as u8,
        direction: Direction::In,
        defect: Some(defect),
    }
}

fn write_punches(
    out: &mut impl Write,
    punches: &[Punch],
    period: &Period,
    ids: WorkerIds,
    line: &mut Vec<u8>,
) -> io::Result<Written> {
    let mut written = Written::default();
    for punch in punches {
        line.clear();
        put_punch(line, punch, period, ids);
        out.write_all(line)?;
        if punch.defect.is_some() {
            written.bad_lines += 1;
        } else {
            written.events += 1;
        }
    }
    Ok(written)
}

fn put_punch(line: &mut Vec<u8>, punch: &Punch, period: &Period, ids: WorkerIds) {
    let omit = (punch.defect == Some(Defect::MissingField)).then_some("ts");
    let mut obj = JsonLine::begin(line, omit);
    obj.text("event_id", |b| put_event_id(b, punch.event_id));
    obj.text("worker_id", |b| ids.put(b, punch.worker));
    obj.text("ts", |b| {
        if punch.defect == Some(Defect::BadDate) {
            put_impossible_utc(b, punch.ts, period);
        } else {
            put_utc(b, punch.ts);
        }
    });
    let direction = match (punch.defect, punch.direction) {
        // Some terminals also log breaks, which the contract does not know.
        (Some(Defect::UnknownDirection), _) => "break",
        (_, Direction::In) => "in",
        (_, Direction::Out) => "out",
    };
    obj.str("direction", direction);
    obj.text("device_id", |b| {
        b.extend_from_slice(b"BIO-");
        b.extend_from_slice(SITES[punch.site as usize].id.as_bytes());
    });
    obj.end();
    if punch.defect == Some(Defect::MalformedJson) {
        truncate_line(line);
    }
}

/// The punch's time of day on a date that does not exist, like a device with a corrupt clock.
fn put_impossible_utc(buf: &mut Vec<u8>, ts: i64, period: &Period) {
    let start = buf.len();
    put_utc(buf, ts);
    let time_of_day: Vec<u8> = buf.split_off(start + "YYYY-MM-DD".len());
    buf.truncate(start);
    let day = (ts - period.local_midnight_utc(0)).div_euclid(86_400) as i32;
    period.put_impossible_date(buf, day);
    buf.extend_from_slice(&time_of_day);
}
