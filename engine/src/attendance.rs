//! Punches to worked days (POLICY.md, "Attendance: punches to days"): drop double taps, pair
//! each `in` with the next `out` within 16 hours, and credit the pair's whole minutes to the
//! local date the shift began on, so a night shift counts on the day it started.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;

use crate::event::Direction;

pub(crate) const DOUBLE_TAP_MS: i64 = 120 * 1000;
pub(crate) const LONGEST_SHIFT_MS: i64 = 16 * 3600 * 1000;

/// A punch as a worker's state keeps it (the event id is the key it is kept under): its instant
/// and direction in one integer, `at_ms * 2 + direction`, which sorts as the pair does. A
/// million workers' month keeps 49 million of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct StoredPunch(i64);

impl StoredPunch {
    /// `at_ms` is a decoded timestamp's, far inside the 62 bits it keeps.
    pub fn new(at_ms: i64, direction: Direction) -> StoredPunch {
        StoredPunch((at_ms << 1) | i64::from(direction == Direction::Out))
    }

    pub fn at_ms(self) -> i64 {
        self.0 >> 1
    }

    pub fn direction(self) -> Direction {
        match self.0 & 1 {
            0 => Direction::In,
            _ => Direction::Out,
        }
    }
}

/// What a local date saw of one worker's shifts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerDay {
    pub minutes: i64,
    /// An `in` that was never closed or an `out` that closed nothing.
    pub unpaired: bool,
}

impl WorkerDay {
    /// Attendance credit in half days: 2 from 480 minutes, 1 from 240, else 0; a missed punch
    /// counts as a half day until it is regularised.
    pub fn credit_halves(&self) -> i64 {
        match self.minutes {
            m if m >= 480 => 2,
            m if m >= 240 => 1,
            _ if self.unpaired => 1,
            _ => 0,
        }
    }

    /// Overtime in half hours: every full 30 minutes beyond 540.
    pub fn overtime_half_hours(&self) -> i64 {
        if self.minutes > 540 {
            (self.minutes - 540) / 30
        } else {
            0
        }
    }
}

/// The worker's days from all their punches, in any order.
#[allow(clippy::expect_used, reason = "UTC instants map to one local time")]
pub fn worker_days(punches: impl IntoIterator<Item = StoredPunch>, tz: Tz) -> BTreeMap<NaiveDate, WorkerDay> {
    let mut sorted: Vec<StoredPunch> = punches.into_iter().collect();
    sorted.sort_unstable();
    let local_date = |at_ms: i64| {
        tz.timestamp_millis_opt(at_ms)
            .single()
            .expect("UTC instants map to one local time")
            .date_naive()
    };

    let mut days: BTreeMap<NaiveDate, WorkerDay> = BTreeMap::new();
    let mark_unpaired =
        |days: &mut BTreeMap<NaiveDate, WorkerDay>, at_ms| days.entry(local_date(at_ms)).or_default().unpaired = true;
    let mut previous_kept: Option<StoredPunch> = None;
    let mut open_in: Option<i64> = None;
    for punch in sorted {
        if previous_kept
            .is_some_and(|p| p.direction() == punch.direction() && punch.at_ms() - p.at_ms() <= DOUBLE_TAP_MS)
        {
            continue;
        }
        previous_kept = Some(punch);
        match (punch.direction(), open_in) {
            (Direction::In, Some(earlier)) => {
                mark_unpaired(&mut days, earlier);
                open_in = Some(punch.at_ms());
            }
            (Direction::In, None) => open_in = Some(punch.at_ms()),
            (Direction::Out, Some(start)) if punch.at_ms() - start <= LONGEST_SHIFT_MS => {
                days.entry(local_date(start)).or_default().minutes += (punch.at_ms() - start) / 60_000;
                open_in = None;
            }
            (Direction::Out, Some(start)) => {
                mark_unpaired(&mut days, start);
                mark_unpaired(&mut days, punch.at_ms());
                open_in = None;
            }
            (Direction::Out, None) => mark_unpaired(&mut days, punch.at_ms()),
        }
    }
    if let Some(start) = open_in {
        mark_unpaired(&mut days, start);
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, NaiveDate};

    fn punch(ts: &str, direction: Direction) -> StoredPunch {
        StoredPunch::new(DateTime::parse_from_rfc3339(ts).unwrap().timestamp_millis(), direction)
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    use Direction::{In, Out};
    const IST: Tz = chrono_tz::Asia::Kolkata;

    #[test]
    fn a_night_shift_counts_on_the_day_it_began() {
        // 22:00 IST on the 5th to 06:30 IST on the 6th: 510 minutes, all on the 5th.
        let days = worker_days(
            [punch("2026-10-05T16:30:00Z", In), punch("2026-10-06T01:00:00Z", Out)],
            IST,
        );
        assert_eq!(days.len(), 1);
        assert_eq!(
            days[&day("2026-10-05")],
            WorkerDay {
                minutes: 510,
                unpaired: false
            }
        );
    }

    #[test]
    fn a_double_tap_within_120_seconds_is_dropped() {
        let days = worker_days(
            [
                punch("2026-10-05T03:30:00Z", In),
                punch("2026-10-05T03:32:00Z", In), // 120 s later: a double tap
                punch("2026-10-05T12:00:00Z", Out),
                punch("2026-10-05T12:02:01Z", Out), // 121 s later: a real, unpaired out
            ],
            IST,
        );
        assert_eq!(
            days[&day("2026-10-05")],
            WorkerDay {
                minutes: 510,
                unpaired: true
            }
        );
    }

    #[test]
    fn an_out_more_than_16_hours_after_its_in_pairs_with_nothing() {
        let days = worker_days(
            [punch("2026-10-05T03:30:00Z", In), punch("2026-10-05T19:30:01Z", Out)],
            IST,
        );
        assert_eq!(
            days[&day("2026-10-05")],
            WorkerDay {
                minutes: 0,
                unpaired: true
            }
        );
        assert_eq!(
            days[&day("2026-10-06")],
            WorkerDay {
                minutes: 0,
                unpaired: true
            }
        );
        let exactly_16h = worker_days(
            [punch("2026-10-05T03:30:00Z", In), punch("2026-10-05T19:30:00Z", Out)],
            IST,
        );
        assert_eq!(exactly_16h[&day("2026-10-05")].minutes, 960);
    }

    #[test]
    fn a_second_in_leaves_the_first_unpaired_and_minutes_floor() {
        let days = worker_days(
            [
                punch("2026-10-05T03:30:00Z", In),
                punch("2026-10-06T03:30:00Z", In),
                punch("2026-10-06T07:30:59Z", Out), // 4 h 0 min 59 s: 240 minutes
            ],
            IST,
        );
        assert!(days[&day("2026-10-05")].unpaired);
        assert_eq!(
            days[&day("2026-10-06")],
            WorkerDay {
                minutes: 240,
                unpaired: false
            }
        );
    }

    #[test]
    fn credit_and_overtime_thresholds() {
        let d = |minutes, unpaired| WorkerDay { minutes, unpaired };
        assert_eq!(
            [d(479, false), d(480, false), d(239, false), d(240, false)].map(|d| d.credit_halves()),
            [1, 2, 0, 1]
        );
        assert_eq!(d(0, true).credit_halves(), 1);
        assert_eq!(d(300, true).credit_halves(), 1);
        assert_eq!(
            [540, 569, 570, 600, 629].map(|m| d(m, false).overtime_half_hours()),
            [0, 0, 1, 2, 2]
        );
    }

    #[test]
    fn equal_times_open_before_they_close() {
        let days = worker_days(
            [
                punch("2026-10-05T12:00:00Z", Out),
                punch("2026-10-05T12:00:00Z", In),
                punch("2026-10-05T03:00:00Z", In),
            ],
            IST,
        );
        // 03:00 in, 12:00 in (sorted first at 12:00) leaves 03:00 unpaired; 12:00 out closes 0 minutes.
        assert_eq!(
            days[&day("2026-10-05")],
            WorkerDay {
                minutes: 0,
                unpaired: true
            }
        );
    }
}
