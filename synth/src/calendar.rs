//! The pay period as a run of day numbers.
//!
//! Everything downstream works in day offsets from the period's first day (`0..days`, with `-1`
//! the last day of the previous month), which keeps per-day loops and leave bitmasks cheap.

use std::io;

use chrono::{Datelike, Days, NaiveDate, Weekday};

use crate::encode::{put_date, put_padded};

/// Every site is in India, which has one zone (IST, UTC+05:30) and no daylight saving, so a fixed
/// offset converts local shift times to the UTC `ts` of a punch.
pub const IST_OFFSET_SECS: i64 = 5 * 3600 + 30 * 60;

pub struct Period {
    pub year: i32,
    pub month: u32,
    pub days: i32,
    first: NaiveDate,
}

impl Period {
    pub fn new(year: i32, month: u32) -> io::Result<Self> {
        let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no such pay period {year}-{month:02}"),
            )
        })?;
        Ok(Period {
            year,
            month,
            days: days_in_month(first) as i32,
            first,
        })
    }

    pub fn date(&self, day: i32) -> NaiveDate {
        if day >= 0 {
            self.first + Days::new(day as u64)
        } else {
            self.first - Days::new(day.unsigned_abs() as u64)
        }
    }

    pub fn weekday(&self, day: i32) -> Weekday {
        self.date(day).weekday()
    }

    /// Unix time of local (IST) midnight at the start of `day`.
    #[allow(clippy::expect_used, reason = "midnight exists")]
    pub fn local_midnight_utc(&self, day: i32) -> i64 {
        let midnight = self.first.and_hms_opt(0, 0, 0).expect("midnight exists");
        midnight.and_utc().timestamp() + i64::from(day) * 86_400 - IST_OFFSET_SECS
    }

    /// `YYYY-MM`, the form of the adjustments' `period` field.
    pub fn put_label(&self, buf: &mut Vec<u8>) {
        put_padded(buf, self.year as u64, 4);
        buf.push(b'-');
        put_padded(buf, u64::from(self.month), 2);
    }

    pub fn put_date(&self, buf: &mut Vec<u8>, day: i32) {
        put_date(buf, self.date(day));
    }

    /// A date that cannot exist (the day after the last of its month, e.g. `2026-09-31`), for
    /// "bad date" lines that still look like a plausible typo.
    #[allow(clippy::expect_used, reason = "every month has a day one")]
    pub fn put_impossible_date(&self, buf: &mut Vec<u8>, day: i32) {
        let date = self.date(day);
        put_padded(buf, date.year() as u64, 4);
        buf.push(b'-');
        put_padded(buf, u64::from(date.month()), 2);
        buf.push(b'-');
        put_padded(buf, days_in_month(date.with_day(1).expect("day one")) + 1, 2);
    }
}

#[allow(clippy::expect_used, reason = "the month after a valid month exists")]
fn days_in_month(first: NaiveDate) -> u64 {
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .expect("the month after a valid month exists");
    (next - first).num_days() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn october_2026() {
        let period = Period::new(2026, 10).unwrap();
        assert_eq!(period.days, 31);
        assert_eq!(period.date(-1), NaiveDate::from_ymd_opt(2026, 9, 30).unwrap());
        assert_eq!(period.weekday(3), Weekday::Sun);
        let mut buf = Vec::new();
        period.put_impossible_date(&mut buf, -1);
        assert_eq!(buf, b"2026-09-31");
    }

    #[test]
    fn ist_midnight_is_the_previous_evening_in_utc() {
        let period = Period::new(2026, 10).unwrap();
        let utc = NaiveDate::from_ymd_opt(2026, 9, 30)
            .unwrap()
            .and_hms_opt(18, 30, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        assert_eq!(period.local_midnight_utc(0), utc);
    }

    #[test]
    fn rejects_month_13() {
        assert!(Period::new(2026, 13).is_err());
    }
}
