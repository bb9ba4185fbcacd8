//! A worker's days of a period as an analyst reads them (the `attendance_days` fact table a run
//! writes beside its results): what each day of employment counted as, from the same punches
//! and leave, by the same rules, as the period inputs ([`crate::inputs`] sums these days).

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, RecordBatch, StringBuilder, TimestampMillisecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Int32Type, Schema, SchemaRef, TimeUnit};
use payroll_rules::vocabulary::PayPeriod;

use crate::attendance::worker_days;
use crate::event::Status;
use crate::master::{Site, Worker};
use crate::state::WorkerState;

/// What a day of employment counted as. Attendance wins over leave, as in the period inputs: a
/// day with a half day's credit is `Half` whatever leave fills the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DayStatus {
    /// A full day's credit (480 minutes or more), on a working day or a weekly off.
    Present,
    /// A half day's credit (240 minutes, or a missed punch until it is regularised).
    Half,
    /// A working day with no credit and no leave: loss of pay.
    Absent,
    PaidLeave,
    UnpaidLeave,
    /// The site's weekly off, not worked.
    WeeklyOff,
}

impl DayStatus {
    pub const ALL: [DayStatus; 6] = [
        DayStatus::Present,
        DayStatus::Half,
        DayStatus::Absent,
        DayStatus::PaidLeave,
        DayStatus::UnpaidLeave,
        DayStatus::WeeklyOff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DayStatus::Present => "present",
            DayStatus::Half => "half",
            DayStatus::Absent => "absent",
            DayStatus::PaidLeave => "paid_leave",
            DayStatus::UnpaidLeave => "unpaid_leave",
            DayStatus::WeeklyOff => "weekly_off",
        }
    }

    pub fn parse(text: &str) -> Option<DayStatus> {
        DayStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Attendance credit in half days: what the day adds to `present_days`.
    /// Its place in [`DayStatus::ALL`] (the fact table's dictionary key).
    pub fn key(self) -> i32 {
        self as i32
    }

    pub fn credit_halves(self) -> i64 {
        match self {
            DayStatus::Present => 2,
            DayStatus::Half => 1,
            _ => 0,
        }
    }
}

/// One worker's day of employment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttendanceDay {
    pub date: NaiveDate,
    pub status: DayStatus,
    /// Not the site's weekly off: a day that counts in `working_days`.
    pub working: bool,
    pub worked_minutes: i64,
    /// Overtime as paid: its whole half hours beyond 540 minutes, in minutes.
    pub ot_minutes: i64,
    pub first_in: Option<i64>,
    pub last_out: Option<i64>,
    pub missed_punch: bool,
    /// The worker's last punch is this day's unclosed `in` (see [`crate::attendance::WorkerDay::open`]).
    pub open: bool,
    /// Approved leave that filled what attendance left open, in half days.
    pub paid_leave_halves: i64,
    pub unpaid_leave_halves: i64,
}

impl AttendanceDay {
    /// Half days of the day's pay lost: what attendance and paid leave leave open of a working day.
    pub fn lop_halves(&self) -> i64 {
        match self.working {
            true => 2 - self.status.credit_halves() - self.paid_leave_halves,
            false => 0,
        }
    }
}

/// The days `first..=last` (the worker's employment within a period) from their punches and
/// approved leave at `site`.
pub fn days_between(state: &WorkerState, site: &Site, first: NaiveDate, last: NaiveDate) -> Vec<AttendanceDay> {
    let is_working_day = |day: NaiveDate| day.weekday() != site.weekly_off;
    let worked = worker_days(state.punches.values().copied(), site.timezone);
    let (paid_leave, unpaid_leave) = leave_halves(state, first, last, &is_working_day);
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|date| {
            let shift = worked.get(&date).copied().unwrap_or_default();
            let working = is_working_day(date);
            let credit = shift.credit_halves();
            // Attendance wins: leave only fills what the day's credit leaves open.
            let (paid, unpaid) = match working {
                true => {
                    let paid = leave_on(&paid_leave, date).min(2 - credit);
                    (paid, leave_on(&unpaid_leave, date).min(2 - credit - paid))
                }
                false => (0, 0),
            };
            AttendanceDay {
                date,
                status: status(credit, working, paid, unpaid),
                working,
                worked_minutes: shift.minutes,
                ot_minutes: shift.overtime_half_hours() * 30,
                first_in: shift.first_in,
                last_out: shift.last_out,
                missed_punch: shift.unpaired,
                open: shift.open,
                paid_leave_halves: paid,
                unpaid_leave_halves: unpaid,
            }
        })
        .collect()
}

fn status(credit: i64, working: bool, paid: i64, unpaid: i64) -> DayStatus {
    match credit {
        2.. => DayStatus::Present,
        1 => DayStatus::Half,
        _ if !working => DayStatus::WeeklyOff,
        _ if paid > 0 => DayStatus::PaidLeave,
        _ if unpaid > 0 => DayStatus::UnpaidLeave,
        _ => DayStatus::Absent,
    }
}

fn leave_on(halves: &[(NaiveDate, i64)], date: NaiveDate) -> i64 {
    halves.iter().filter(|(d, _)| *d == date).map(|(_, h)| h).sum()
}

/// Half days of leave on a date, once per leave that covers it.
type LeaveDays = Vec<(NaiveDate, i64)>;

/// Approved leave in half days per working day of `first..=last`: (paid, unpaid).
fn leave_halves(
    state: &WorkerState,
    first: NaiveDate,
    last: NaiveDate,
    is_working_day: &dyn Fn(NaiveDate) -> bool,
) -> (LeaveDays, LeaveDays) {
    let mut paid = Vec::new();
    let mut unpaid = Vec::new();
    for leave in state.leaves.values().filter(|l| l.status == Status::Approved) {
        let halves = if leave.half_day { 1 } else { 2 };
        let target = if leave.leave_type.is_paid() {
            &mut paid
        } else {
            &mut unpaid
        };
        for day in leave
            .from
            .max(first)
            .iter_days()
            .take_while(|d| *d <= leave.to.min(last))
        {
            if is_working_day(day) {
                target.push((day, halves));
            }
        }
    }
    (paid, unpaid)
}

/// The worker's days of employment within `period` (`first..=last`), if any.
pub fn employment_in(worker: &Worker, period: PayPeriod) -> Option<(NaiveDate, NaiveDate)> {
    let first = period.first_day().max(worker.joined_on);
    let last = worker.exited_on.map_or(period.last_day(), |e| e.min(period.last_day()));
    (first <= last).then_some((first, last))
}

/// The fact table's columns in each file: `worker_id, site_id, date, status, worked_minutes,
/// ot_minutes, first_in, last_out, missed_punch` (instants in UTC). A file holds one run's days
/// of one org, so `org_id`, `period` and `run_id` are its path's hive partitions
/// (`attendance_days/org_id=../period=../run_id=../`), as Spark writes a partitioned table:
/// DuckDB, pyarrow and Spark give them as columns; repeated in the file they were a third of
/// what a million workers' 31 million rows cost to encode. The text columns are dictionaries: a
/// row repeats its site, and its worker 28 to 31 times.
pub fn schema() -> SchemaRef {
    let text = |name| {
        Field::new(
            name,
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        )
    };
    let instant = |name| {
        Field::new(
            name,
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        )
    };
    Arc::new(Schema::new(vec![
        text("worker_id"),
        text("site_id"),
        Field::new("date", DataType::Date32, false),
        text("status"),
        Field::new("worked_minutes", DataType::Int32, false),
        Field::new("ot_minutes", DataType::Int32, false),
        instant("first_in"),
        instant("last_out"),
        Field::new("missed_punch", DataType::Boolean, false),
    ]))
}

/// The hive partitions of the fact table's path, in order: the columns a reader adds to each
/// file's.
pub const PARTITIONS: [&str; 3] = ["org_id", "period", "run_id"];

/// A dictionary column built a run of equal values at a time.
#[derive(Default)]
struct Keyed {
    values: Vec<String>,
    index: std::collections::HashMap<String, i32>,
    keys: Vec<i32>,
}

impl Keyed {
    fn push(&mut self, value: &str, times: usize) {
        let key = match self.index.get(value) {
            Some(key) => *key,
            None => {
                let key = self.values.len() as i32;
                self.values.push(value.to_string());
                self.index.insert(value.to_string(), key);
                key
            }
        };
        self.keys.extend(std::iter::repeat_n(key, times));
    }

    fn finish(self) -> datafusion::arrow::error::Result<ArrayRef> {
        let values = Arc::new(datafusion::arrow::array::StringArray::from(self.values));
        let keys = datafusion::arrow::array::Int32Array::from(self.keys);
        Ok(Arc::new(
            datafusion::arrow::array::DictionaryArray::<Int32Type>::try_new(keys, values)?,
        ))
    }
}

/// Builds a batch of the fact table, a worker's days at a time.
pub struct DaysBatch {
    worker_id: Keyed,
    site_id: Keyed,
    date: Date32Builder,
    status: Vec<i32>,
    worked_minutes: datafusion::arrow::array::Int32Builder,
    ot_minutes: datafusion::arrow::array::Int32Builder,
    first_in: TimestampMillisecondBuilder,
    last_out: TimestampMillisecondBuilder,
    missed_punch: BooleanBuilder,
}

impl Default for DaysBatch {
    fn default() -> Self {
        DaysBatch {
            worker_id: Keyed::default(),
            site_id: Keyed::default(),
            date: Date32Builder::new(),
            status: Vec::new(),
            worked_minutes: Default::default(),
            ot_minutes: Default::default(),
            first_in: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            last_out: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            missed_punch: BooleanBuilder::new(),
        }
    }
}

impl DaysBatch {
    pub fn push(&mut self, worker: &Worker, days: &[AttendanceDay]) {
        self.worker_id.push(&worker.worker_id, days.len());
        self.site_id.push(&worker.site_id, days.len());
        for day in days {
            self.date.append_value(Date32Type::from_naive_date(day.date));
            self.status.push(day.status.key());
            // A day has at most 1,440 minutes, whatever the shifts credited to it.
            self.worked_minutes
                .append_value(day.worked_minutes.clamp(0, i64::from(i32::MAX)) as i32);
            self.ot_minutes
                .append_value(day.ot_minutes.clamp(0, i64::from(i32::MAX)) as i32);
            self.first_in.append_option(day.first_in);
            self.last_out.append_option(day.last_out);
            self.missed_punch.append_value(day.missed_punch);
        }
    }

    /// Rows pushed so far.
    pub fn len(&self) -> usize {
        self.status.len()
    }

    pub fn is_empty(&self) -> bool {
        self.status.is_empty()
    }

    pub fn finish(mut self) -> crate::Result<RecordBatch> {
        let status = datafusion::arrow::array::DictionaryArray::<Int32Type>::try_new(
            datafusion::arrow::array::Int32Array::from(self.status),
            Arc::new(datafusion::arrow::array::StringArray::from_iter_values(
                DayStatus::ALL.map(DayStatus::as_str),
            )),
        )?;
        let columns: Vec<ArrayRef> = vec![
            self.worker_id.finish()?,
            self.site_id.finish()?,
            Arc::new(self.date.finish()),
            Arc::new(status),
            Arc::new(self.worked_minutes.finish()),
            Arc::new(self.ot_minutes.finish()),
            Arc::new(self.first_in.finish()),
            Arc::new(self.last_out.finish()),
            Arc::new(self.missed_punch.finish()),
        ];
        Ok(RecordBatch::try_new(schema(), columns)?)
    }
}

/// A day of the live board: the day, and its first `in` as local minutes after midnight at the
/// site (what "late" is judged by).
pub type LiveDay = (AttendanceDay, Option<i32>);

/// The last `keep` of a worker's days with a punch: what the live board of a stream reads (who
/// is checked in now, who came and when, who missed a punch).
fn recent(site: &Site, days: &[AttendanceDay], keep: usize) -> Vec<LiveDay> {
    use chrono::{TimeZone, Timelike};
    let punched: Vec<&AttendanceDay> = days
        .iter()
        .filter(|d| d.first_in.is_some() || d.last_out.is_some())
        .collect();
    punched[punched.len().saturating_sub(keep)..]
        .iter()
        .map(|&day| {
            let minute = day
                .first_in
                .and_then(|at| site.timezone.timestamp_millis_opt(at).single())
                .map(|t| (t.hour() * 60 + t.minute()) as i32);
            (*day, minute)
        })
        .collect()
}

/// The live board's columns: `org_id, worker_id, site_id, date, status, first_in,
/// first_in_minute` (local minutes after midnight, at the site), `missed_punch, open`.
pub fn live_schema() -> SchemaRef {
    let text = |name| Field::new(name, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        text("org_id"),
        text("worker_id"),
        text("site_id"),
        Field::new("date", DataType::Date32, false),
        text("status"),
        Field::new(
            "first_in",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("first_in_minute", DataType::Int32, true),
        Field::new("missed_punch", DataType::Boolean, false),
        Field::new("open", DataType::Boolean, false),
    ]))
}

/// Builds a batch of the live board's rows, a worker's recent days at a time.
#[derive(Default)]
pub struct LiveDaysBatch {
    org_id: StringBuilder,
    worker_id: StringBuilder,
    site_id: StringBuilder,
    date: Date32Builder,
    status: StringBuilder,
    first_in: TimestampMillisecondBuilder,
    first_in_minute: datafusion::arrow::array::Int32Builder,
    missed_punch: BooleanBuilder,
    open: BooleanBuilder,
}

impl LiveDaysBatch {
    pub fn push(&mut self, org_id: &str, worker_id: &str, site_id: &str, days: &[LiveDay]) {
        for (day, minute) in days {
            self.org_id.append_value(org_id);
            self.worker_id.append_value(worker_id);
            self.site_id.append_value(site_id);
            self.date.append_value(Date32Type::from_naive_date(day.date));
            self.status.append_value(day.status.as_str());
            self.first_in.append_option(day.first_in);
            self.first_in_minute.append_option(*minute);
            self.missed_punch.append_value(day.missed_punch && !day.open);
            self.open.append_value(day.open);
        }
    }

    #[allow(clippy::expect_used, reason = "every column has one value per day pushed")]
    pub fn finish(mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.org_id.finish()),
            Arc::new(self.worker_id.finish()),
            Arc::new(self.site_id.finish()),
            Arc::new(self.date.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.first_in.finish().with_timezone("UTC")),
            Arc::new(self.first_in_minute.finish()),
            Arc::new(self.missed_punch.finish()),
            Arc::new(self.open.finish()),
        ];
        RecordBatch::try_new(live_schema(), columns).expect("every column has one value per day pushed")
    }
}

/// Days of each worker the live board keeps: today's and the one before (a night shift begun
/// yesterday is still checked in).
const BOARD_DAYS: usize = 2;

/// A shard's live board: each worker's recent days with a punch, kept current as the stream
/// recalculates workers whose events changed.
#[derive(Debug, Default)]
pub struct LiveBoard {
    workers: std::collections::HashMap<Box<str>, BoardWorker>,
}

#[derive(Debug)]
struct BoardWorker {
    org_id: Box<str>,
    site_id: Box<str>,
    days: Vec<LiveDay>,
}

impl LiveBoard {
    /// Takes in the `recalculated` workers: those `counted` (employed in the period, with their
    /// days, [`crate::Ledger::period_inputs_and_days_of`]) get their recent days anew; the others
    /// leave the board.
    pub fn update(&mut self, recalculated: &[Box<str>], counted: &[crate::state::CountedWorker]) {
        for id in recalculated {
            self.workers.remove(id);
        }
        for ((worker, site, _), days) in counted {
            let days = recent(site, days, BOARD_DAYS);
            if !days.is_empty() {
                self.workers.insert(
                    worker.worker_id.as_str().into(),
                    BoardWorker {
                        org_id: worker.org_id.as_str().into(),
                        site_id: site.site_id.as_str().into(),
                        days,
                    },
                );
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Every worker's recent days, one batch with [`live_schema`].
    pub fn batch(&self) -> RecordBatch {
        let mut batch = LiveDaysBatch::default();
        for (id, w) in &self.workers {
            batch.push(&w.org_id, id, &w.site_id, &w.days);
        }
        batch.finish()
    }
}

/// Workers employed and days attended, per site and date: the attendance heatmap, counted from
/// batches of the fact table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteDays {
    /// Site to day (days since the epoch, as the table stores dates) to count.
    sites: std::collections::BTreeMap<String, std::collections::BTreeMap<i32, DayCount>>,
}

/// One site's day: workers employed on it and the half days they attended (present 2, half 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCount {
    pub workers: i64,
    pub attended_halves: i64,
}

impl SiteDays {
    /// Counts a batch with the fact table's `site_id`, `date` and `status` (other columns, and a
    /// status dictionary or plain strings, as a reader gives them).
    pub fn add(&mut self, batch: &RecordBatch) -> crate::Result<()> {
        use datafusion::arrow::array::AsArray;
        let column = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| crate::Error::Column {
                column: name.to_string(),
                reason: "missing".to_string(),
            })
        };
        let status = datafusion::arrow::compute::cast(column("status")?, &DataType::Utf8)?;
        let sites = datafusion::arrow::compute::cast(column("site_id")?, &DataType::Utf8)?;
        let (sites, dates, status) = (
            sites.as_string_opt::<i32>(),
            column("date")?.as_primitive_opt::<Date32Type>(),
            status.as_string_opt::<i32>(),
        );
        let (Some(sites), Some(dates), Some(status)) = (sites, dates, status) else {
            return Err(crate::Error::Column {
                column: "site_id, date, status".to_string(),
                reason: "expected text, a date and text".to_string(),
            });
        };
        for row in 0..batch.num_rows() {
            let site = sites.value(row);
            let days = match self.sites.get_mut(site) {
                Some(days) => days,
                None => self.sites.entry(site.to_string()).or_default(),
            };
            let count = days.entry(dates.value(row)).or_default();
            count.workers += 1;
            count.attended_halves += DayStatus::parse(status.value(row)).map_or(0, DayStatus::credit_halves);
        }
        Ok(())
    }

    /// Each site's days, by site and date.
    pub fn sites(&self) -> impl Iterator<Item = (&str, impl Iterator<Item = (NaiveDate, DayCount)> + '_)> {
        self.sites.iter().map(|(site, days)| {
            let days = days
                .iter()
                .filter_map(|(day, count)| Some((Date32Type::to_naive_date_opt(*day)?, *count)));
            (site.as_str(), days)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_counts_its_credit_before_its_leave() {
        let cases = [
            // credit, working, paid, unpaid
            ((2, true, 0, 0), DayStatus::Present),
            ((2, false, 0, 0), DayStatus::Present),
            ((1, true, 1, 0), DayStatus::Half),
            ((0, false, 0, 0), DayStatus::WeeklyOff),
            ((0, true, 2, 0), DayStatus::PaidLeave),
            ((0, true, 1, 1), DayStatus::PaidLeave),
            ((0, true, 0, 2), DayStatus::UnpaidLeave),
            ((0, true, 0, 0), DayStatus::Absent),
        ];
        for ((credit, working, paid, unpaid), want) in cases {
            assert_eq!(
                status(credit, working, paid, unpaid),
                want,
                "{credit} {working} {paid} {unpaid}"
            );
        }
        for (key, s) in DayStatus::ALL.into_iter().enumerate() {
            assert_eq!(DayStatus::parse(s.as_str()), Some(s));
            assert_eq!(s.key(), key as i32, "the dictionary lists them in this order");
        }
    }

    #[test]
    fn a_days_date_is_written_as_the_day_it_is() {
        use datafusion::arrow::array::AsArray;
        let date = NaiveDate::from_ymd_opt(2026, 10, 5).unwrap();
        let day = AttendanceDay {
            date,
            status: DayStatus::Present,
            working: true,
            worked_minutes: 510,
            ot_minutes: 0,
            first_in: None,
            last_out: None,
            missed_punch: false,
            open: false,
            paid_leave_halves: 0,
            unpaid_leave_halves: 0,
        };
        let site = Site {
            site_id: "S00".into(),
            org_id: "org0".into(),
            name: "Site".into(),
            state: "MH".into(),
            timezone: chrono_tz::Asia::Kolkata,
            weekly_off: chrono::Weekday::Sun,
        };
        let mut board = LiveDaysBatch::default();
        board.push("org0", "W1", &site.site_id, &[(day, None)]);
        let batch = board.finish();
        let dates = batch.column_by_name("date").unwrap().as_primitive::<Date32Type>();
        assert_eq!(dates.value(0), 20_731, "days since 1970-01-01");
        assert_eq!(Date32Type::to_naive_date_opt(dates.value(0)), Some(date));
    }
}
