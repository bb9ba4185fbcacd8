//! The inputs every ruleset can use: the worker's master fields, the period keys and the period
//! inputs of POLICY.md. This is the contract between the engine, which computes these columns,
//! and the rules, which compute everything else from them.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// Day counts move in half days; minutes and whole-day counts are integers.
pub const DAYS: DataType = DataType::Decimal128(7, 1);
/// Rupees and paise.
pub const MONEY: DataType = DataType::Decimal128(14, 2);

/// One input column: name, type and what it means (printed by `payroll rules inputs`).
pub struct Input {
    pub name: &'static str,
    pub data_type: DataType,
    pub nullable: bool,
    pub description: &'static str,
}

const fn input(name: &'static str, data_type: DataType, description: &'static str) -> Input {
    Input {
        name,
        data_type,
        nullable: false,
        description,
    }
}

pub const INPUTS: &[Input] = &[
    input("worker_id", DataType::Utf8, "worker id"),
    input("org_id", DataType::Utf8, "organisation id"),
    input("site_id", DataType::Utf8, "site id"),
    input("name", DataType::Utf8, "worker name"),
    input("designation", DataType::Utf8, "designation"),
    input("site_name", DataType::Utf8, "name of the worker's site"),
    input("uan", DataType::Utf8, "EPF universal account number"),
    input("esic_no", DataType::Utf8, "ESIC insurance number"),
    input(
        "bank_account_masked",
        DataType::Utf8,
        "bank account, all but the last 4 characters masked",
    ),
    input("pan_masked", DataType::Utf8, "PAN, masked"),
    input(
        "language",
        DataType::Utf8,
        "the worker's language (ISO 639 code) for payslips, empty when the master gives none",
    ),
    input("gender", DataType::Utf8, "M or F"),
    input("state", DataType::Utf8, "state code of the worker (MH, KA, ...)"),
    input(
        "skill",
        DataType::Utf8,
        "unskilled, semi_skilled, skilled or highly_skilled",
    ),
    input("pay_basis", DataType::Utf8, "daily, hourly or monthly"),
    input("rate", MONEY, "wage rate per day, hour or month"),
    input("pf_applicable", DataType::Boolean, "EPF applies"),
    input("esi_applicable", DataType::Boolean, "ESI applies"),
    input("joined_on", DataType::Date32, "first day of employment"),
    Input {
        name: "exited_on",
        data_type: DataType::Date32,
        nullable: true,
        description: "last day of employment, NULL while employed",
    },
    input("period", DataType::Utf8, "pay period, YYYY-MM"),
    input("year", DataType::Int64, "year of the period"),
    input("month", DataType::Int64, "month of the period, 1 to 12"),
    input("period_start", DataType::Date32, "first day of the period"),
    input("period_end", DataType::Date32, "last day of the period"),
    input("days_in_period", DataType::Int64, "calendar days in the period"),
    input(
        "employment_days",
        DataType::Int64,
        "calendar days of the period inside the employment window",
    ),
    input(
        "working_days",
        DataType::Int64,
        "employment days that are not the site's weekly off",
    ),
    input(
        "present_days",
        DAYS,
        "sum of attendance credits (1, 0.5 or 0 a day), weekly offs included",
    ),
    input("paid_leave_days", DAYS, "paid leave counted on working days"),
    input("unpaid_leave_days", DAYS, "unpaid leave counted on working days"),
    input(
        "lop_days",
        DAYS,
        "loss of pay: working days neither worked nor on paid leave",
    ),
    input("worked_minutes", DataType::Int64, "whole minutes of paired shifts"),
    input("ot_hours", DAYS, "overtime hours, in half hours"),
    input("missed_punch_days", DataType::Int64, "days with an unpaired punch"),
    input(
        "punch_days_after_exit",
        DataType::Int64,
        "days of the period after the exit date with a punch (0 while employed)",
    ),
    input(
        "adjustment_earnings",
        MONEY,
        "approved earning adjustments of the period",
    ),
    input(
        "adjustment_deductions",
        MONEY,
        "approved deduction adjustments of the period",
    ),
];

/// The Arrow schema of the period inputs, in `INPUTS` order.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(
        INPUTS
            .iter()
            .map(|i| Field::new(i.name, i.data_type.clone(), i.nullable))
            .collect::<Vec<_>>(),
    ))
}

pub fn get(name: &str) -> Option<&'static Input> {
    INPUTS.iter().find(|i| i.name == name)
}

/// A pay period: one calendar month. Deserialized through [`PeriodParts`], so a stored period
/// (a checkpoint, a run record) with month 13 is refused, not carried until a date panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "PeriodParts")]
pub struct PayPeriod {
    pub year: i32,
    pub month: u32,
}

/// A period's fields as stored, before they are checked.
#[derive(serde::Deserialize)]
pub struct PeriodParts {
    year: i32,
    month: u32,
}

impl TryFrom<PeriodParts> for PayPeriod {
    type Error = String;

    fn try_from(parts: PeriodParts) -> Result<Self, String> {
        if !(1..=12).contains(&parts.month) || !(1..=9999).contains(&parts.year) {
            return Err(format!(
                "period year {} month {}: expected a year from 1 to 9999 and a month from 1 to 12",
                parts.year, parts.month
            ));
        }
        Ok(PayPeriod {
            year: parts.year,
            month: parts.month,
        })
    }
}

impl PayPeriod {
    #[allow(clippy::expect_used, reason = "month checked on parse")]
    pub fn first_day(self) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("month checked on parse")
    }

    #[allow(clippy::expect_used, reason = "a month has a day before the next")]
    pub fn last_day(self) -> chrono::NaiveDate {
        self.next()
            .first_day()
            .pred_opt()
            .expect("a month has a day before the next")
    }

    pub fn days(self) -> u32 {
        use chrono::Datelike;
        self.last_day().day()
    }

    pub fn next(self) -> PayPeriod {
        match self.month {
            12 => PayPeriod {
                year: self.year + 1,
                month: 1,
            },
            m => PayPeriod {
                year: self.year,
                month: m + 1,
            },
        }
    }

    pub fn previous(self) -> PayPeriod {
        match self.month {
            1 => PayPeriod {
                year: self.year - 1,
                month: 12,
            },
            m => PayPeriod {
                year: self.year,
                month: m - 1,
            },
        }
    }

    pub fn contains(self, date: chrono::NaiveDate) -> bool {
        (self.first_day()..=self.last_day()).contains(&date)
    }

    pub fn of(date: chrono::NaiveDate) -> PayPeriod {
        use chrono::Datelike;
        PayPeriod {
            year: date.year(),
            month: date.month(),
        }
    }
}

impl std::str::FromStr for PayPeriod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a period: expected YYYY-MM, e.g. 2026-10");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        PayPeriod::try_from(PeriodParts { year, month }).map_err(|_| bad())
    }
}

impl std::fmt::Display for PayPeriod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_checked_however_they_arrive() {
        assert_eq!("2026-10".parse::<PayPeriod>(), Ok(PayPeriod { year: 2026, month: 10 }));
        for text in ["2026-13", "2026-00", "0000-01", "-202-01", "2026-1"] {
            assert!(text.parse::<PayPeriod>().is_err(), "{text}");
        }
        let stored: Result<PayPeriod, _> = toml::from_str::<PayPeriod>("year = 2026\nmonth = 13");
        assert!(stored.unwrap_err().to_string().contains("a month from 1 to 12"));
        let stored: PayPeriod = toml::from_str("year = 2026\nmonth = 10").unwrap();
        assert_eq!(stored.to_string(), "2026-10");
    }
}
