//! A schedule of nightly provisional runs, and which one slot it owes at a time ([`due`]).
//!
//! After downtime only the latest missed slot runs, once: slots before it are not owed (a
//! provisional run of the same period supersedes them).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use payroll_rules::vocabulary::PayPeriod;

/// A cron expression (five fields: minute hour day-of-month month day-of-week) read in an IANA
/// time zone.
#[derive(Debug, Clone)]
pub struct Spec {
    /// As written: what the API shows back.
    pub text: String,
    pub cron: Cron,
    pub timezone: Tz,
}

impl Spec {
    pub fn parse(cron: &str, timezone: &str) -> Result<Spec, String> {
        let timezone: Tz = timezone
            .parse()
            .map_err(|_| format!("timezone `{timezone}`: expected an IANA time zone like Asia/Kolkata"))?;
        let text = cron.to_string();
        let cron = Cron::new(cron)
            .parse()
            .map_err(|e| format!("cron `{cron}`: {e}; expected five fields like `0 2 * * *` (02:00 daily)"))?;
        Ok(Spec { text, cron, timezone })
    }
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub org_id: String,
    pub spec: Spec,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
    /// The latest slot a run was queued for.
    pub last_slot: Option<DateTime<Utc>>,
}

/// The slot owed at `now`: the latest one after both the last handled slot and the schedule's
/// last change, and not after `now`. `None` when nothing is owed.
pub fn due(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let since = schedule
        .last_slot
        .map_or(schedule.updated_at, |slot| slot.max(schedule.updated_at));
    // A slot older than this is never owed: it bounds the walk after a long downtime.
    let since = since.max(now - chrono::Duration::days(62));
    let tz = schedule.spec.timezone;
    schedule
        .spec
        .cron
        .iter_after(since.with_timezone(&tz))
        .map(|slot| slot.with_timezone(&Utc))
        .take_while(|slot| *slot <= now)
        .last()
}

/// The period a slot's run is for: the month the slot falls in, in the org's time zone.
pub fn period_of(schedule: &Schedule, slot: DateTime<Utc>) -> PayPeriod {
    PayPeriod::of(slot.with_timezone(&schedule.spec.timezone).date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn schedule(cron: &str, tz: &str, updated_at: &str, last_slot: Option<&str>) -> Schedule {
        Schedule {
            org_id: "org0".into(),
            spec: Spec::parse(cron, tz).unwrap(),
            updated_by: "hr1".into(),
            updated_at: at(updated_at),
            last_slot: last_slot.map(at),
        }
    }

    #[test]
    fn owed_slots_as_a_table() {
        // 02:00 in Kolkata is 20:30 UTC the day before.
        let cases = [
            // (updated_at, last_slot, now, owed)
            ("2026-10-01T00:00:00Z", None, "2026-10-01T20:29:59Z", None),
            (
                "2026-10-01T00:00:00Z",
                None,
                "2026-10-01T20:30:00Z",
                Some("2026-10-01T20:30:00Z"),
            ),
            (
                "2026-10-01T00:00:00Z",
                Some("2026-10-01T20:30:00Z"),
                "2026-10-02T08:00:00Z",
                None,
            ),
            // Three nights down: the latest slot only, once.
            (
                "2026-10-01T00:00:00Z",
                Some("2026-10-01T20:30:00Z"),
                "2026-10-05T09:00:00Z",
                Some("2026-10-04T20:30:00Z"),
            ),
            // A schedule changed after a slot does not owe that slot.
            (
                "2026-10-04T21:00:00Z",
                Some("2026-10-01T20:30:00Z"),
                "2026-10-05T09:00:00Z",
                None,
            ),
        ];
        for (updated_at, last, now, owed) in cases {
            let s = schedule("0 2 * * *", "Asia/Kolkata", updated_at, last);
            assert_eq!(
                due(&s, at(now)),
                owed.map(at),
                "updated {updated_at}, last {last:?}, now {now}"
            );
        }
    }

    #[test]
    fn the_period_is_the_month_in_the_orgs_zone() {
        let s = schedule("0 2 * * *", "Asia/Kolkata", "2026-10-01T00:00:00Z", None);
        // 20:30 UTC on 31 October is 02:00 on 1 November in Kolkata.
        assert_eq!(period_of(&s, at("2026-10-31T20:30:00Z")).to_string(), "2026-11");
    }

    #[test]
    fn bad_specs_say_what_is_expected() {
        assert!(
            Spec::parse("0 2 * *", "Asia/Kolkata")
                .unwrap_err()
                .contains("five fields")
        );
        assert!(Spec::parse("0 2 * * *", "India").unwrap_err().contains("IANA"));
    }
}
