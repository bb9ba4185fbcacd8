//! A worker's period inputs (POLICY.md, "the inputs the rules see") from their folded state,
//! and the Arrow batch the calculator reads them from. Day counts are kept in half days and
//! overtime in half hours, so they are exact integers until they become decimals.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Array, Date32Builder, Decimal128Builder, Int64Array, Int64Builder,
    RecordBatch, StringArray, StringBuilder,
};
use datafusion::arrow::datatypes::DataType;
use payroll_rules::vocabulary::{self, PayPeriod};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::attendance::worker_days;
use crate::days::{AttendanceDay, days_between, employment_in};
use crate::error::Invalid;
use crate::event::{AdjustmentKind, Status};
use crate::master::{Site, Worker};
use crate::parallel::{cores, map_in_order};
use crate::state::WorkerState;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodInputs {
    pub days_in_period: i64,
    pub attendance: Attendance,
    pub adjustment_earnings: Decimal,
    pub adjustment_deductions: Decimal,
    /// Days of the period after the worker's exit date with a punch: work nobody pays, or a
    /// wrong exit date.
    pub punch_days_after_exit: i64,
}

/// The attendance part of the period inputs: folded from punches and leave, or uploaded as a
/// summary by sites whose time system already aggregates (then it stands in for their punches
/// and leave in that period).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attendance {
    pub employment_days: i64,
    pub working_days: i64,
    pub present_halves: i64,
    pub paid_leave_halves: i64,
    pub unpaid_leave_halves: i64,
    pub lop_halves: i64,
    pub worked_minutes: i64,
    pub ot_half_hours: i64,
    pub missed_punch_days: i64,
}

impl Attendance {
    /// The sum of a worker's days: what their punches and leave add up to.
    pub fn of_days(days: &[AttendanceDay]) -> Attendance {
        let mut a = Attendance::default();
        for day in days {
            a.employment_days += 1;
            a.working_days += i64::from(day.working);
            a.present_halves += day.status.credit_halves();
            a.paid_leave_halves += day.paid_leave_halves;
            a.unpaid_leave_halves += day.unpaid_leave_halves;
            a.lop_halves += day.lop_halves();
            a.worked_minutes += day.worked_minutes;
            a.ot_half_hours += day.ot_minutes / 30;
            a.missed_punch_days += i64::from(day.missed_punch);
        }
        a
    }

    /// Decodes one summary row from its named cells: `(worker_id, period, summary)`.
    pub fn decode<'a>(cell: impl Fn(&str) -> Option<&'a str>) -> Result<(String, PayPeriod, Self), Invalid> {
        let text = |name: &str| match cell(name).map(str::trim) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(Invalid::field(name, "missing")),
        };
        let period: PayPeriod = text("period")?.parse().map_err(|e| Invalid::field("period", e))?;
        let days = i64::from(period.days());
        let whole = |name: &str, max: i64| -> Result<i64, Invalid> {
            let v = text(name)?;
            let n: i64 = v
                .parse()
                .map_err(|_| Invalid::field(name, format!("`{v}`: expected a whole number")))?;
            if !(0..=max).contains(&n) {
                return Err(Invalid::field(name, format!("{n}: expected 0 to {max}")));
            }
            Ok(n)
        };
        // Days and overtime hours come in halves: 20.5 is 41 halves.
        let halves = |name: &str, max: i64| -> Result<i64, Invalid> {
            let v = text(name)?;
            let d: Decimal = v
                .parse()
                .map_err(|_| Invalid::field(name, format!("`{v}`: expected a number like 20.5")))?;
            // Checked: a day count near the decimal's limit once overflowed here and panicked.
            let too_many = || Invalid::field(name, format!("`{v}`: expected at most {max}"));
            let doubled = d.checked_mul(Decimal::TWO).ok_or_else(too_many)?;
            if doubled.fract() != Decimal::ZERO || d.is_sign_negative() {
                return Err(Invalid::field(
                    name,
                    format!("`{v}`: expected a non-negative multiple of 0.5"),
                ));
            }
            let n = doubled.to_i64().unwrap_or(i64::MAX);
            if n > max * 2 {
                return Err(too_many());
            }
            Ok(n)
        };
        if let Some(given) = cell("days_in_period").map(str::trim).filter(|v| !v.is_empty())
            && given != days.to_string()
        {
            return Err(Invalid::field(
                "days_in_period",
                format!("`{given}` but {period} has {days} days"),
            ));
        }
        let employment_days = whole("employment_days", days)?;
        let working_days = whole("working_days", employment_days)?;
        let summary = Attendance {
            employment_days,
            working_days,
            present_halves: halves("present_days", employment_days)?,
            paid_leave_halves: halves("paid_leave_days", working_days)?,
            unpaid_leave_halves: halves("unpaid_leave_days", working_days)?,
            lop_halves: halves("lop_days", working_days)?,
            worked_minutes: whole("worked_minutes", employment_days * 24 * 60)?,
            ot_half_hours: halves("ot_hours", employment_days * 24)?,
            missed_punch_days: whole("missed_punch_days", employment_days)?,
        };
        let worker_id = text("worker_id")?.to_string();
        Ok((worker_id, period, summary))
    }
}

/// The worker's inputs for `period`, or `None` when their employment does not overlap it.
pub fn period_inputs(worker: &Worker, site: &Site, state: &WorkerState, period: PayPeriod) -> Option<PeriodInputs> {
    period_inputs_and_days(worker, site, state, period, &mut Vec::new())
}

/// As [`period_inputs`], with the days they are the sum of left in `days` (the rows of the
/// `attendance_days` fact table; none when attendance came as a summary, since the worker's
/// time system kept the days): a run counts each worker's days once, for both.
pub fn period_inputs_and_days(
    worker: &Worker,
    site: &Site,
    state: &WorkerState,
    period: PayPeriod,
    days: &mut Vec<AttendanceDay>,
) -> Option<PeriodInputs> {
    days.clear();
    let (first, last) = employment_in(worker, period)?;
    let attendance = match state.summaries.get(&period) {
        Some(summary) => *summary,
        None => {
            *days = days_between(state, site, first, last);
            Attendance::of_days(days)
        }
    };
    let mut inputs = PeriodInputs {
        days_in_period: i64::from(period.days()),
        attendance,
        punch_days_after_exit: punch_days_after_exit(worker, site, state, period),
        ..PeriodInputs::default()
    };
    add_adjustments(&mut inputs, state, period);
    Some(inputs)
}

/// Days of `period` after the worker's exit date on which they punched (0 while employed).
fn punch_days_after_exit(worker: &Worker, site: &Site, state: &WorkerState, period: PayPeriod) -> i64 {
    let Some(after) = worker.exited_on.and_then(|e| e.succ_opt()) else {
        return 0;
    };
    let first = after.max(period.first_day());
    if first > period.last_day() || state.punches.is_empty() {
        return 0;
    }
    let days = worker_days(state.punches.values().copied(), site.timezone);
    days.range(first..=period.last_day()).count() as i64
}

/// The inputs of a worker who left before `period`: nothing worked or taken in it, only its
/// approved adjustments. A run gives them to a leaver it owes arrears, so the arrears are paid
/// (with a final settlement, if one was approved as an adjustment) rather than held for a run
/// that will never pay them. `None` for a worker still employed in or after `period`.
pub fn leaver_inputs(worker: &Worker, state: &WorkerState, period: PayPeriod) -> Option<PeriodInputs> {
    if worker.exited_on? >= period.first_day() {
        return None;
    }
    let mut inputs = PeriodInputs {
        days_in_period: i64::from(period.days()),
        ..PeriodInputs::default()
    };
    add_adjustments(&mut inputs, state, period);
    Some(inputs)
}

/// Approved adjustments of the period, whatever the employment window.
fn add_adjustments(inputs: &mut PeriodInputs, state: &WorkerState, period: PayPeriod) {
    for a in state.adjustments.values() {
        if a.status == Status::Approved && a.period == period {
            match a.kind {
                AdjustmentKind::Earning => inputs.adjustment_earnings += a.amount,
                AdjustmentKind::Deduction => inputs.adjustment_deductions += a.amount,
            }
        }
    }
}

/// Rows per Arrow batch handed to the calculator.
const BATCH_ROWS: usize = 8192;

/// The calculator's input batches for `rows` (as [`Ledger::period_inputs`](crate::Ledger) gives
/// them), in order.
pub fn inputs_batches(period: PayPeriod, rows: &[(&Worker, &Site, PeriodInputs)]) -> Vec<RecordBatch> {
    let batches = |rows: &[(&Worker, &Site, PeriodInputs)]| -> Vec<RecordBatch> {
        rows.chunks(BATCH_ROWS)
            .map(|chunk| {
                let mut batch = InputsBatch::new(period, chunk.len());
                for (worker, site, inputs) in chunk {
                    batch.push(worker, site, inputs);
                }
                batch.finish()
            })
            .collect()
    };
    if rows.len() <= BATCH_ROWS {
        return batches(rows);
    }
    // A core's share of whole batches each: the batches are the same, built in a fraction of
    // the time (a million workers' are seconds on one core).
    let share = rows.len().div_ceil(cores()).next_multiple_of(BATCH_ROWS);
    map_in_order(rows.chunks(share), batches)
        .into_iter()
        .flatten()
        .collect()
}

/// Builds the calculator's input batch, one row per worker, with `vocabulary::schema()`.
pub struct InputsBatch {
    period: PayPeriod,
    worker_id: StringBuilder,
    org_id: StringBuilder,
    site_id: StringBuilder,
    name: StringBuilder,
    designation: StringBuilder,
    site_name: StringBuilder,
    uan: StringBuilder,
    esic_no: StringBuilder,
    bank_account_masked: StringBuilder,
    pan_masked: StringBuilder,
    language: StringBuilder,
    gender: StringBuilder,
    state: StringBuilder,
    skill: StringBuilder,
    pay_basis: StringBuilder,
    rate: Decimal128Builder,
    pf_applicable: BooleanBuilder,
    esi_applicable: BooleanBuilder,
    joined_on: Date32Builder,
    exited_on: Date32Builder,
    days_in_period: Int64Builder,
    employment_days: Int64Builder,
    working_days: Int64Builder,
    present_days: Decimal128Builder,
    paid_leave_days: Decimal128Builder,
    unpaid_leave_days: Decimal128Builder,
    lop_days: Decimal128Builder,
    worked_minutes: Int64Builder,
    ot_hours: Decimal128Builder,
    missed_punch_days: Int64Builder,
    punch_days_after_exit: Int64Builder,
    adjustment_earnings: Decimal128Builder,
    adjustment_deductions: Decimal128Builder,
}

impl InputsBatch {
    #[allow(clippy::expect_used, reason = "valid decimal type")]
    pub fn new(period: PayPeriod, capacity: usize) -> Self {
        let text = || StringBuilder::with_capacity(capacity, capacity * 8);
        let int = || Int64Builder::with_capacity(capacity);
        let decimal = |t: DataType| {
            let DataType::Decimal128(p, s) = t else {
                unreachable!("vocabulary decimals")
            };
            Decimal128Builder::with_capacity(capacity)
                .with_precision_and_scale(p, s)
                .expect("valid decimal type")
        };
        InputsBatch {
            period,
            worker_id: text(),
            org_id: text(),
            site_id: text(),
            name: text(),
            designation: text(),
            site_name: text(),
            uan: text(),
            esic_no: text(),
            bank_account_masked: text(),
            pan_masked: text(),
            language: text(),
            gender: text(),
            state: text(),
            skill: text(),
            pay_basis: text(),
            rate: decimal(vocabulary::MONEY),
            pf_applicable: BooleanBuilder::with_capacity(capacity),
            esi_applicable: BooleanBuilder::with_capacity(capacity),
            joined_on: Date32Builder::with_capacity(capacity),
            exited_on: Date32Builder::with_capacity(capacity),
            days_in_period: int(),
            employment_days: int(),
            working_days: int(),
            present_days: decimal(vocabulary::DAYS),
            paid_leave_days: decimal(vocabulary::DAYS),
            unpaid_leave_days: decimal(vocabulary::DAYS),
            lop_days: decimal(vocabulary::DAYS),
            worked_minutes: int(),
            ot_hours: decimal(vocabulary::DAYS),
            missed_punch_days: int(),
            punch_days_after_exit: int(),
            adjustment_earnings: decimal(vocabulary::MONEY),
            adjustment_deductions: decimal(vocabulary::MONEY),
        }
    }

    pub fn len(&self) -> usize {
        self.rate.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push(&mut self, w: &Worker, site: &Site, i: &PeriodInputs) {
        self.worker_id.append_value(&w.worker_id);
        self.org_id.append_value(&w.org_id);
        self.site_id.append_value(&w.site_id);
        self.name.append_value(&w.name);
        self.designation.append_value(&w.designation);
        self.site_name.append_value(&site.name);
        self.uan.append_value(&w.uan);
        self.esic_no.append_value(&w.esic_no);
        self.bank_account_masked.append_value(w.bank_account.masked());
        self.pan_masked.append_value(crate::masking::mask_pan(w.pan.reveal()));
        self.language
            .append_value(w.language.as_ref().map_or("", |l| l.as_str()));
        self.gender.append_value(&w.gender);
        self.state.append_value(&w.state);
        self.skill.append_value(&w.skill);
        self.pay_basis.append_value(w.pay_basis.as_str());
        self.rate.append_value(unscaled(w.rate, 2));
        self.pf_applicable.append_value(w.pf_applicable);
        self.esi_applicable.append_value(w.esi_applicable);
        self.joined_on.append_value(epoch_days(w.joined_on));
        self.exited_on.append_option(w.exited_on.map(epoch_days));
        self.days_in_period.append_value(i.days_in_period);
        self.employment_days.append_value(i.attendance.employment_days);
        self.working_days.append_value(i.attendance.working_days);
        // Half days and half hours at scale 1: 0.5 is 5.
        self.present_days
            .append_value(i128::from(i.attendance.present_halves) * 5);
        self.paid_leave_days
            .append_value(i128::from(i.attendance.paid_leave_halves) * 5);
        self.unpaid_leave_days
            .append_value(i128::from(i.attendance.unpaid_leave_halves) * 5);
        self.lop_days.append_value(i128::from(i.attendance.lop_halves) * 5);
        self.worked_minutes.append_value(i.attendance.worked_minutes);
        self.ot_hours.append_value(i128::from(i.attendance.ot_half_hours) * 5);
        self.missed_punch_days.append_value(i.attendance.missed_punch_days);
        self.punch_days_after_exit.append_value(i.punch_days_after_exit);
        self.adjustment_earnings
            .append_value(unscaled(i.adjustment_earnings, 2));
        self.adjustment_deductions
            .append_value(unscaled(i.adjustment_deductions, 2));
    }

    /// The batch, its columns in `vocabulary::INPUTS` order.
    #[allow(clippy::expect_used, reason = "columns follow vocabulary::INPUTS")]
    pub fn finish(mut self) -> RecordBatch {
        let rows = self.len();
        let p = self.period;
        let constant = |value: i64| Arc::new(Int64Array::from(vec![value; rows])) as ArrayRef;
        let date = |day: NaiveDate| Arc::new(Date32Array::from(vec![epoch_days(day); rows])) as ArrayRef;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.worker_id.finish()),
            Arc::new(self.org_id.finish()),
            Arc::new(self.site_id.finish()),
            Arc::new(self.name.finish()),
            Arc::new(self.designation.finish()),
            Arc::new(self.site_name.finish()),
            Arc::new(self.uan.finish()),
            Arc::new(self.esic_no.finish()),
            Arc::new(self.bank_account_masked.finish()),
            Arc::new(self.pan_masked.finish()),
            Arc::new(self.language.finish()),
            Arc::new(self.gender.finish()),
            Arc::new(self.state.finish()),
            Arc::new(self.skill.finish()),
            Arc::new(self.pay_basis.finish()),
            Arc::new(self.rate.finish()),
            Arc::new(self.pf_applicable.finish()),
            Arc::new(self.esi_applicable.finish()),
            Arc::new(self.joined_on.finish()),
            Arc::new(self.exited_on.finish()),
            Arc::new(StringArray::from(vec![p.to_string(); rows])),
            constant(i64::from(p.year)),
            constant(i64::from(p.month)),
            date(p.first_day()),
            date(p.last_day()),
            Arc::new(self.days_in_period.finish()),
            Arc::new(self.employment_days.finish()),
            Arc::new(self.working_days.finish()),
            Arc::new(self.present_days.finish()),
            Arc::new(self.paid_leave_days.finish()),
            Arc::new(self.unpaid_leave_days.finish()),
            Arc::new(self.lop_days.finish()),
            Arc::new(self.worked_minutes.finish()),
            Arc::new(self.ot_hours.finish()),
            Arc::new(self.missed_punch_days.finish()),
            Arc::new(self.punch_days_after_exit.finish()),
            Arc::new(self.adjustment_earnings.finish()),
            Arc::new(self.adjustment_deductions.finish()),
        ];
        RecordBatch::try_new(vocabulary::schema(), columns).expect("columns follow vocabulary::INPUTS")
    }
}

fn unscaled(amount: Decimal, scale: u32) -> i128 {
    debug_assert!(amount.scale() <= scale, "amounts are validated to {scale} decimals");
    amount.mantissa() * 10i128.pow(scale - amount.scale())
}

fn epoch_days(day: NaiveDate) -> i32 {
    day.num_days_from_ce() - 719_163
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::event::{AdjustmentVersion, Direction, Event, EventId, LeaveType, LeaveVersion, Punch};

    const OCTOBER: PayPeriod = PayPeriod { year: 2026, month: 10 };

    #[test]
    fn a_summary_day_count_at_the_decimals_limit_is_refused_not_a_panic() {
        let row = |present: &'static str| {
            HashMap::from([
                ("worker_id", "W1"),
                ("period", "2026-10"),
                ("employment_days", "31"),
                ("working_days", "27"),
                ("present_days", present),
                ("paid_leave_days", "0"),
                ("unpaid_leave_days", "0"),
                ("lop_days", "0"),
                ("worked_minutes", "0"),
                ("ot_hours", "0"),
                ("missed_punch_days", "0"),
            ])
        };
        for present in ["79228162514264337593543950335", "40000000000000000000", "31.5"] {
            let cells = row(present);
            let refused = Attendance::decode(|name| cells.get(name).copied()).unwrap_err();
            assert_eq!(refused.field.as_deref(), Some("present_days"));
            assert!(
                refused.reason.contains("expected at most 31"),
                "{present}: {}",
                refused.reason
            );
        }
        let cells = row("20.5");
        let (_, _, summary) = Attendance::decode(|name| cells.get(name).copied()).unwrap();
        assert_eq!(summary.present_halves, 41);
    }

    fn site() -> Site {
        site_of("S1", "org")
    }

    fn worker(joined_on: &str, exited_on: &str) -> Worker {
        worker_of("W1", "org", "S1", joined_on, exited_on)
    }

    /// A site in IST whose weekly off is Sunday (the crate's tests share it).
    pub(crate) fn site_of(site_id: &str, org_id: &str) -> Site {
        let cells = HashMap::from([
            ("site_id", site_id),
            ("org_id", org_id),
            ("name", "Site"),
            ("state", "MH"),
            ("timezone", "Asia/Kolkata"),
            ("weekly_off", "SUN"),
        ]);
        Site::decode(|f| cells.get(f).copied()).unwrap()
    }

    /// A skilled, daily-rated worker (the crate's tests share it).
    pub(crate) fn worker_of(worker_id: &str, org_id: &str, site_id: &str, joined_on: &str, exited_on: &str) -> Worker {
        let cells = HashMap::from([
            ("worker_id", worker_id),
            ("org_id", org_id),
            ("site_id", site_id),
            ("name", "A"),
            ("gender", "M"),
            ("state", "MH"),
            ("skill", "skilled"),
            ("pay_basis", "daily"),
            ("rate", "900"),
            ("pf_applicable", "true"),
            ("esi_applicable", "false"),
            ("joined_on", joined_on),
            ("exited_on", exited_on),
        ]);
        Worker::decode(|f| cells.get(f).copied()).unwrap()
    }

    /// A shift in IST on an October day: `start` and `end` as "HH:MM", end may pass midnight.
    fn shift(state: &mut WorkerState, day: u32, start: &str, end: &str) {
        let at = |d: u32, hm: &str| {
            let t = chrono::NaiveDateTime::parse_from_str(&format!("2026-10-{d:02} {hm}"), "%Y-%m-%d %H:%M").unwrap();
            t.and_utc().timestamp_millis() - 19_800_000
        };
        let (start_ms, mut end_ms) = (at(day, start), at(day, end));
        if end_ms < start_ms {
            end_ms += 86_400_000;
        }
        for (at_ms, direction) in [(start_ms, Direction::In), (end_ms, Direction::Out)] {
            let event_id = EventId::new(&format!("{day}-{at_ms}"));
            state.apply(Event::Punch(Punch {
                event_id,
                worker_id: "W1".into(),
                at_ms,
                direction,
            }));
        }
    }

    fn leave(state: &mut WorkerState, id: &str, leave_type: LeaveType, from: u32, to: u32, half_day: bool) {
        state.apply(Event::Leave(Box::new(LeaveVersion {
            event_id: id.into(),
            leave_id: id.into(),
            worker_id: "W1".into(),
            leave_type,
            from: OCTOBER.first_day().with_day(from).unwrap(),
            to: OCTOBER.first_day().with_day(to).unwrap(),
            half_day,
            status: Status::Approved,
            version: 1,
        })));
    }

    #[test]
    fn a_leaver_counts_only_days_up_to_the_exit() {
        // Exits on Saturday 10 October; Sunday 4 is the weekly off.
        let mut state = WorkerState::default();
        shift(&mut state, 2, "09:00", "18:00");
        shift(&mut state, 12, "09:00", "18:00"); // after the exit: ignored
        let a = period_inputs(&worker("2020-01-01", "2026-10-10"), &site(), &state, OCTOBER)
            .unwrap()
            .attendance;
        assert_eq!(
            (a.employment_days, a.working_days, a.present_halves, a.worked_minutes),
            (10, 9, 2, 540)
        );
        assert_eq!(a.lop_halves, 16);
        assert!(period_inputs(&worker("2020-01-01", "2026-09-30"), &site(), &state, OCTOBER).is_none());
    }

    #[test]
    fn days_punched_after_the_exit_date_are_counted_for_the_checks() {
        let mut state = WorkerState::default();
        shift(&mut state, 2, "09:00", "18:00");
        shift(&mut state, 12, "09:00", "18:00");
        shift(&mut state, 13, "22:00", "06:00"); // a night shift: its day is the 13th
        let after = |exit: &str| {
            period_inputs(&worker("2020-01-01", exit), &site(), &state, OCTOBER)
                .unwrap()
                .punch_days_after_exit
        };
        assert_eq!(after("2026-10-10"), 2);
        assert_eq!(after("2026-10-12"), 1);
        assert_eq!(after("2026-10-31"), 0);
        assert_eq!(after(""), 0);
    }

    #[test]
    fn a_leaver_paid_in_a_later_period_has_worked_nothing_in_it_but_its_adjustments_count() {
        let november = PayPeriod { year: 2026, month: 11 };
        let mut state = WorkerState::default();
        shift(&mut state, 2, "09:00", "18:00");
        state.apply(Event::Adjustment(Box::new(AdjustmentVersion {
            event_id: "a-1".into(),
            adjustment_id: "a".into(),
            worker_id: "W1".into(),
            period: november,
            kind: AdjustmentKind::Earning,
            code: "final_settlement".into(),
            amount: Decimal::new(500000, 2),
            status: Status::Approved,
            version: 2,
            org_id: None,
        })));
        let left = leaver_inputs(&worker("2020-01-01", "2026-10-10"), &state, november).unwrap();
        assert_eq!(left.attendance, Attendance::default());
        assert_eq!(
            (left.days_in_period, left.adjustment_earnings),
            (30, Decimal::new(500000, 2))
        );
        // Employed in the period, or never left: computed as usual, not as a leaver.
        assert!(leaver_inputs(&worker("2020-01-01", "2026-11-01"), &state, november).is_none());
        assert!(leaver_inputs(&worker("2020-01-01", ""), &state, november).is_none());
    }

    #[test]
    fn a_joiner_counts_from_the_joining_day() {
        let i = period_inputs(&worker("2026-10-29", ""), &site(), &WorkerState::default(), OCTOBER).unwrap();
        assert_eq!(
            (
                i.days_in_period,
                i.attendance.employment_days,
                i.attendance.working_days
            ),
            (31, 3, 3)
        );
    }

    #[test]
    fn attendance_wins_over_leave_and_leave_on_the_weekly_off_is_ignored() {
        let mut state = WorkerState::default();
        shift(&mut state, 5, "09:00", "14:00"); // 300 minutes: half a day
        leave(&mut state, "L1", LeaveType::Casual, 5, 5, false); // only half of it counts
        leave(&mut state, "L2", LeaveType::Sick, 4, 4, false); // Sunday: ignored
        leave(&mut state, "L3", LeaveType::Unpaid, 6, 6, true); // half a day unpaid
        leave(&mut state, "L4", LeaveType::Earned, 7, 7, true);
        leave(&mut state, "L5", LeaveType::Unpaid, 7, 7, false); // fills what paid leave left
        let i = period_inputs(&worker("2020-01-01", ""), &site(), &state, OCTOBER).unwrap();
        let a = i.attendance;
        assert_eq!(a.present_halves, 1);
        assert_eq!(a.paid_leave_halves, 1 + 1);
        assert_eq!(a.unpaid_leave_halves, 1 + 1);
        // 27 working days of 2 halves, less the half present and the two paid halves.
        assert_eq!(a.lop_halves, 27 * 2 - 1 - 2);
    }

    #[test]
    fn weekly_off_work_counts_as_present_and_overtime_per_day() {
        let mut state = WorkerState::default();
        shift(&mut state, 4, "08:00", "18:30"); // Sunday, 630 minutes: 3 half hours of overtime
        shift(&mut state, 5, "22:00", "06:30"); // night shift, 510 minutes, on the 5th
        let a = period_inputs(&worker("2020-01-01", ""), &site(), &state, OCTOBER)
            .unwrap()
            .attendance;
        assert_eq!(
            (a.present_halves, a.worked_minutes, a.ot_half_hours, a.missed_punch_days),
            (4, 1140, 3, 0)
        );
    }
}
