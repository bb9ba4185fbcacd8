//! Punches to worked days (POLICY.md, "Attendance: punches to days"): drop double taps, pair
//! each `in` with the next `out` within 16 hours, and credit the pair's whole minutes to the
//! local date the shift began on, so a night shift counts on the day it started.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Offset, TimeZone};
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
    /// The earliest `in` of a shift credited to the day (paired or not), in ms since the epoch.
    pub first_in: Option<i64>,
    /// The latest `out` credited to the day: one that closed a shift begun on it, or an
    /// unpaired `out` on it.
    pub last_out: Option<i64>,
    /// The worker's last punch is an `in` of a shift begun on this day: still checked in, or a
    /// missed `out` once the shift is over.
    pub open: bool,
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
pub fn worker_days(punches: impl IntoIterator<Item = StoredPunch>, tz: Tz) -> BTreeMap<NaiveDate, WorkerDay> {
    let mut sorted: Vec<StoredPunch> = punches.into_iter().collect();
    sorted.sort_unstable();
    let mut days = Days {
        days: BTreeMap::new(),
        dates: LocalDates::new(tz),
    };
    let mut previous_kept: Option<StoredPunch> = None;
    let mut open_in: Option<i64> = None;
    for punch in sorted {
        if previous_kept
            .is_some_and(|p| p.direction() == punch.direction() && punch.at_ms() - p.at_ms() <= DOUBLE_TAP_MS)
        {
            continue;
        }
        previous_kept = Some(punch);
        let at = punch.at_ms();
        match (punch.direction(), open_in) {
            (Direction::In, Some(earlier)) => {
                days.opened(earlier, true);
                open_in = Some(at);
            }
            (Direction::In, None) => open_in = Some(at),
            (Direction::Out, Some(start)) if at - start <= LONGEST_SHIFT_MS => {
                let day = days.opened(start, false);
                day.minutes += (at - start) / 60_000;
                day.last_out = Some(at);
                open_in = None;
            }
            (Direction::Out, Some(start)) => {
                days.opened(start, true);
                closed_nothing(days.at(at), at);
                open_in = None;
            }
            (Direction::Out, None) => closed_nothing(days.at(at), at),
        }
    }
    if let Some(start) = open_in {
        days.opened(start, true).open = true;
    }
    days.days
}

/// The days being counted, by local date at the worker's site.
struct Days {
    days: BTreeMap<NaiveDate, WorkerDay>,
    dates: LocalDates,
}

impl Days {
    /// The day an instant falls on.
    fn at(&mut self, at_ms: i64) -> &mut WorkerDay {
        self.days.entry(self.dates.of(at_ms)).or_default()
    }

    /// The day a shift begun at `at_ms` is credited to. Punches come sorted: the first `in` a
    /// day records is its earliest.
    fn opened(&mut self, at_ms: i64, unpaired: bool) -> &mut WorkerDay {
        let day = self.at(at_ms);
        day.first_in.get_or_insert(at_ms);
        day.unpaired |= unpaired;
        day
    }
}

/// The local dates of a worker's instants at their site. chrono-tz searches the zone's
/// transitions on every lookup, three per shift, 70 million a month for a million workers.
/// A site's offset is the same through nearly every UTC day, so it is looked up once per site
/// and UTC day on each thread ([`OFFSETS`]), and a date is arithmetic on it.
struct LocalDates {
    tz: Tz,
    /// The UTC day (days since the epoch) of the last instant, and the site's offset in ms
    /// through the whole of it: `None` when the offset changes within it (that day's instants
    /// are looked up one by one).
    utc_day: Option<(i64, Option<i64>)>,
    /// The last local date given, by its day since the epoch: a shift's punches ask for one
    /// date several times, and a day count to a date is a calendar computation.
    local: Option<(i64, NaiveDate)>,
}

const DAY_MS: i64 = 86_400_000;

/// Days from 1 January of year 1 (chrono's count) to 1 January 1970.
const UNIX_EPOCH_FROM_CE: i64 = 719_163;

/// Slots of each thread's memo of offsets by zone and UTC day: a month at fifty sites.
const OFFSET_SLOTS: usize = 2048;

/// A zone's offset through one UTC day, as [`offset_through`] gives it.
type DayOffset = (Tz, i64, Option<i64>);

thread_local! {
    /// Offsets by zone and UTC day, each slot the last one hashed to it: a memo of a pure
    /// function, so the workers of one site share their lookups on a core.
    static OFFSETS: std::cell::RefCell<Vec<Option<DayOffset>>> =
        std::cell::RefCell::new(vec![None; OFFSET_SLOTS]);
}

impl LocalDates {
    fn new(tz: Tz) -> LocalDates {
        LocalDates {
            tz,
            utc_day: None,
            local: None,
        }
    }

    /// The date `at_ms` falls on in the site's timezone.
    #[allow(clippy::expect_used, reason = "UTC instants map to one local time")]
    fn of(&mut self, at_ms: i64) -> NaiveDate {
        let utc_day = at_ms.div_euclid(DAY_MS);
        let offset = match self.utc_day {
            Some((day, offset)) if day == utc_day => offset,
            _ => {
                let offset = memo_offset(self.tz, utc_day);
                self.utc_day = Some((utc_day, offset));
                offset
            }
        };
        let local = offset.and_then(|offset| {
            let day = (at_ms + offset).div_euclid(DAY_MS);
            match self.local {
                Some((known, date)) if known == day => Some(date),
                _ => {
                    let date = NaiveDate::from_num_days_from_ce_opt(i32::try_from(day + UNIX_EPOCH_FROM_CE).ok()?)?;
                    self.local = Some((day, date));
                    Some(date)
                }
            }
        });
        local.unwrap_or_else(|| {
            self.tz
                .timestamp_millis_opt(at_ms)
                .single()
                .expect("UTC instants map to one local time")
                .date_naive()
        })
    }
}

/// [`offset_through`], remembered on this thread.
fn memo_offset(tz: Tz, utc_day: i64) -> Option<i64> {
    let slot = slot(tz, utc_day);
    OFFSETS.with_borrow_mut(|slots| match slots[slot] {
        Some((zone, day, offset)) if zone == tz && day == utc_day => offset,
        _ => {
            let offset = offset_through(tz, utc_day);
            slots[slot] = Some((tz, utc_day, offset));
            offset
        }
    })
}

/// A zone's days take consecutive slots; zones are spread over them.
fn slot(tz: Tz, utc_day: i64) -> usize {
    (utc_day as usize ^ (tz as usize).wrapping_mul(0x9e37)) % OFFSET_SLOTS
}

/// The zone's offset in ms through the whole UTC day, when its first and last millisecond have
/// the same (no zone changes its offset twice in a day and back).
fn offset_through(tz: Tz, utc_day: i64) -> Option<i64> {
    let at = |ms: i64| {
        let utc = chrono::DateTime::from_timestamp_millis(ms)?.naive_utc();
        Some(i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()) * 1000)
    };
    let first = at(utc_day.checked_mul(DAY_MS)?)?;
    let last = at(utc_day.checked_mul(DAY_MS)?.checked_add(DAY_MS - 1)?)?;
    (first == last).then_some(first)
}

/// An `out` that closed no shift: the day it fell on has a missed punch.
fn closed_nothing(day: &mut WorkerDay, at_ms: i64) {
    day.unpaired = true;
    day.last_out = Some(at_ms);
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

    fn worked(day: WorkerDay) -> (i64, bool) {
        (day.minutes, day.unpaired)
    }

    fn at(ts: &str) -> Option<i64> {
        Some(DateTime::parse_from_rfc3339(ts).unwrap().timestamp_millis())
    }

    const IST: Tz = chrono_tz::Asia::Kolkata;
    /// Zones with daylight saving, half- and quarter-hour offsets, and a skipped day (Apia
    /// crossed the date line at the end of 2011).
    const ZONES: [Tz; 7] = [
        chrono_tz::Asia::Kolkata,
        chrono_tz::Asia::Kathmandu,
        chrono_tz::America::New_York,
        chrono_tz::Europe::London,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::Pacific::Apia,
        chrono_tz::America::St_Johns,
    ];

    proptest::proptest! {
        /// The cached offset gives the date a full lookup gives, for sorted instants from 1970
        /// to 2040 (a worker's punches, hours to days apart) in every zone above.
        #[test]
        fn local_dates_are_the_zones_dates(
            zone in proptest::sample::select(ZONES.to_vec()),
            start in 0i64..2_208_988_800_000,
            steps in proptest::collection::vec(0i64..3 * DAY_MS, 1..60),
        ) {
            let mut dates = LocalDates::new(zone);
            let mut at = start;
            for step in steps {
                at += step;
                let expected = zone.timestamp_millis_opt(at).single().unwrap().date_naive();
                proptest::prop_assert_eq!(dates.of(at), expected, "at {} in {}", at, zone);
            }
        }
    }

    /// The memo gives every zone's own offsets, zones and days interleaved as a run's workers
    /// at sites in different zones ask for them (twice: remembered the second time), and days
    /// that share a slot (a whole number of slots apart, in winter and in summer) their own.
    #[test]
    fn the_memo_gives_each_zone_its_own_offsets() {
        let slots = OFFSET_SLOTS as i64;
        // From 12 January 2025, and the same slots in August 2030 and March 2036.
        let days = (0..3).flat_map(|k| 20_100 + k * slots..20_130 + k * slots);
        for _ in 0..2 {
            for day in days.clone() {
                for zone in ZONES {
                    assert_eq!(memo_offset(zone, day), offset_through(zone, day), "{zone} on day {day}");
                }
            }
        }
    }

    /// Every ten minutes of the days around each change of offset from 2000 to 2040, in every
    /// zone above: the days the cached offset must not be used through.
    #[test]
    fn local_dates_around_every_change_of_offset() {
        let offset = |zone: Tz, ms: i64| {
            let utc = chrono::DateTime::from_timestamp_millis(ms).unwrap().naive_utc();
            zone.offset_from_utc_datetime(&utc).fix()
        };
        let first_day = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
        let from = first_day.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis() / DAY_MS;
        let mut checked = 0;
        for zone in ZONES {
            let changes: Vec<i64> = (from..from + 40 * 366)
                .filter(|day| offset(zone, day * DAY_MS) != offset(zone, (day + 1) * DAY_MS))
                .collect();
            checked += changes.len();
            let mut dates = LocalDates::new(zone);
            for day in changes {
                for at in ((day - 1) * DAY_MS..(day + 2) * DAY_MS).step_by(600_000) {
                    let expected = zone.timestamp_millis_opt(at).single().unwrap().date_naive();
                    assert_eq!(dates.of(at), expected, "at {at} in {zone}");
                }
            }
        }
        // Four zones change twice a year (Apia until 2021), Kolkata and Kathmandu never.
        assert!(checked > 250, "{checked} changes of offset");
    }

    #[test]
    fn a_night_shift_counts_on_the_day_it_began() {
        // 22:00 IST on the 5th to 06:30 IST on the 6th: 510 minutes, all on the 5th.
        let days = worker_days(
            [punch("2026-10-05T16:30:00Z", In), punch("2026-10-06T01:00:00Z", Out)],
            IST,
        );
        assert_eq!(days.len(), 1);
        assert_eq!(worked(days[&day("2026-10-05")]), (510, false));
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
        assert_eq!(worked(days[&day("2026-10-05")]), (510, true));
    }

    #[test]
    fn an_out_more_than_16_hours_after_its_in_pairs_with_nothing() {
        let days = worker_days(
            [punch("2026-10-05T03:30:00Z", In), punch("2026-10-05T19:30:01Z", Out)],
            IST,
        );
        assert_eq!(worked(days[&day("2026-10-05")]), (0, true));
        assert_eq!(worked(days[&day("2026-10-06")]), (0, true));
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
        assert_eq!(worked(days[&day("2026-10-06")]), (240, false));
    }

    #[test]
    fn credit_and_overtime_thresholds() {
        let d = |minutes, unpaired| WorkerDay {
            minutes,
            unpaired,
            ..WorkerDay::default()
        };
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
        assert_eq!(worked(days[&day("2026-10-05")]), (0, true));
    }

    #[test]
    fn a_day_keeps_its_first_in_and_last_out() {
        let days = worker_days(
            [
                punch("2026-10-05T16:30:00Z", In), // 22:00 IST on the 5th, to 06:30 on the 6th
                punch("2026-10-06T01:00:00Z", Out),
                punch("2026-10-06T03:30:00Z", In), // 09:00 IST on the 6th, never closed
                punch("2026-10-05T04:00:00Z", In), // 09:30 IST on the 5th
                punch("2026-10-05T08:00:00Z", Out),
                punch("2026-10-07T10:00:00Z", Out), // closes nothing
            ],
            IST,
        );
        let fifth = days[&day("2026-10-05")];
        assert_eq!(
            (fifth.first_in, fifth.last_out),
            (at("2026-10-05T04:00:00Z"), at("2026-10-06T01:00:00Z"))
        );
        assert_eq!(worked(fifth), (240 + 510, false));
        let sixth = days[&day("2026-10-06")];
        assert_eq!((sixth.first_in, sixth.last_out), (at("2026-10-06T03:30:00Z"), None));
        assert!(sixth.unpaired);
        let seventh = days[&day("2026-10-07")];
        assert_eq!((seventh.first_in, seventh.last_out), (None, at("2026-10-07T10:00:00Z")));
        assert!(seventh.unpaired);
    }
}
