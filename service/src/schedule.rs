//! Nightly provisional runs: setting an org's schedule ([`set`], the one way every caller does).
//! Which slot a schedule owes is `domain::schedule`; the loop that asks every few seconds and
//! queues the run is `jobs::scheduler`.
//!
//! Two instances sharing a database run
//! a slot once: the run is created under the idempotency key `schedule:<slot>`, which the
//! database holds unique per org. No caller can send that key first: callers' keys are stored
//! as their own (`caller:<org>:<sub>:<key>`, see `Caller::idempotency_key`). One org's
//! failing slot never keeps another org's run from being queued.

use chrono::Utc;

use crate::caller::Caller;
use crate::db::Db;
use crate::domain::permissions::Permission;
use crate::domain::schedule::{Schedule, Spec};
use crate::error::{Error, Result};

/// Who a nightly run is requested by: the scheduler, never a person.
pub const SCHEDULER: &str = "system:scheduler";

/// Sets `org`'s schedule (`schedule:edit`), audited as `schedule.change`: slots before now are
/// not owed by the new one. Each field that does not parse is named.
pub async fn set(db: &Db, caller: &Caller, org: &str, cron: &str, timezone: &str) -> Result<Schedule> {
    caller.may(org, Permission::EditSchedule)?;
    let mut invalid = Vec::new();
    if let Err(e) = Spec::parse(cron, "UTC") {
        invalid.push(("cron".to_string(), e));
    }
    if let Err(e) = Spec::parse("0 0 * * *", timezone) {
        invalid.push(("timezone".to_string(), e));
    }
    if !invalid.is_empty() {
        return Err(Error::Invalid(invalid));
    }
    crate::db::schedules::put_audited(db, org, cron, timezone, &caller.sub, Utc::now(), Some(&caller.actor())).await
}
