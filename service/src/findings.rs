//! A run's findings for the people who approve it: what the ruleset's checks and the built-in
//! ones found, worker by worker, written with the run's calculation (`db::findings`). Reading
//! them needs `pay:view` (their messages quote pay); acknowledging one needs
//! `findings:acknowledge` and a reason, and is audited. [`gate`] is what approval asks: a final
//! run with an open `block` finding is not approved.

use serde_json::json;

use crate::app::App;
use crate::caller::Caller;
use crate::db::Db;
use crate::db::audit::{Action, Audited};
use crate::db::findings::{self, Count, Filter, StoredFinding};
use crate::domain::permissions::Permission;
use crate::error::{Error, Result};

/// Open `block` findings a refused approval names before "and N more".
const NAMED: u32 = 5;

/// A page of run `id`'s findings (`pay:view`), in the order found, and where the next starts.
pub async fn list(
    app: &App,
    caller: &Caller,
    org: &str,
    id: &str,
    filter: &Filter,
    size: u32,
) -> Result<(Vec<StoredFinding>, Option<i64>)> {
    caller.may(org, Permission::ViewPay)?;
    crate::db::runs::get(&app.db, org, id).await?;
    findings::list(&app.db, org, id, filter, size).await
}

/// Per check and severity, how many findings run `id` has and how many are open; `None` for a
/// caller who does not see pay.
pub async fn counts(app: &App, caller: &Caller, org: &str, id: &str) -> Result<Option<Vec<Count>>> {
    if caller.org(org).is_err() || !caller.can(Permission::ViewPay) {
        return Ok(None);
    }
    findings::counts(&app.db, org, id).await.map(Some)
}

/// Acknowledges finding `seq` of calculated run `id` (`findings:acknowledge`), saying why in
/// 1 to 500 characters, audited as `finding.acknowledge` with the check, worker and reason.
pub async fn acknowledge(
    app: &App,
    caller: &Caller,
    org: &str,
    id: &str,
    seq: i64,
    reason: &str,
) -> Result<StoredFinding> {
    caller.may(org, Permission::AcknowledgeFindings)?;
    let reason = valid_reason(reason)?;
    let finding = findings::get(&app.db, org, id, seq).await?;
    let audit = Audited::new(
        caller.actor(),
        Action::FindingAcknowledge,
        format!("runs/{id}/findings/{seq}"),
    )
    .after(Some(
        json!({"check": finding.check, "severity": finding.severity, "worker_id": finding.worker_id, "reason": reason}),
    ));
    findings::acknowledge(&app.db, org, id, seq, reason, &audit).await
}

/// Acknowledges every open finding of `check` in calculated run `id` (of one worker, if
/// given) at once (`findings:acknowledge`), saying why, audited as one `finding.acknowledge`
/// entry with the count: how many it acknowledged. For an approver facing the same finding on
/// thousands of workers (a minimum-wage revision not yet in the master).
pub async fn acknowledge_check(
    app: &App,
    caller: &Caller,
    org: &str,
    id: &str,
    check: &str,
    worker_id: Option<&str>,
    reason: &str,
) -> Result<u64> {
    caller.may(org, Permission::AcknowledgeFindings)?;
    let reason = valid_reason(reason)?;
    if check.trim().is_empty() {
        return Err(Error::invalid(
            "check",
            "name the check whose findings are acknowledged",
        ));
    }
    crate::db::runs::get(&app.db, org, id).await?;
    let audit = Audited::new(
        caller.actor(),
        Action::FindingAcknowledge,
        format!("runs/{id}/findings"),
    )
    .after(Some(json!({"check": check, "worker_id": worker_id, "reason": reason})));
    findings::acknowledge_check(&app.db, org, id, check, worker_id, reason, &audit).await
}

fn valid_reason(reason: &str) -> Result<&str> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::invalid(
            "reason",
            "say why the finding does not stop the run, in 1 to 500 characters",
        ));
    }
    Ok(reason)
}

/// Why run `id` may not be approved yet for its findings: its open `block` findings, counted
/// and the first few named. Read before the approval's move: acknowledgements only close
/// findings, and none is added once a run is calculated.
pub async fn gate(db: &Db, org: &str, id: &str) -> Result<Option<String>> {
    let (open, first) = findings::open_blocks(db, org, id, NAMED).await?;
    if open == 0 {
        return Ok(None);
    }
    let named: Vec<String> = first
        .iter()
        .map(|f| format!("{} {} ({}: {})", f.seq, f.worker_id, f.check, f.message))
        .collect();
    let more = match open - first.len() as i64 {
        0 => String::new(),
        more => format!("; and {more} more"),
    };
    Ok(Some(format!(
        "run {id} has {open} open block finding(s): {}{more}. Acknowledge each with a reason \
         (POST /v1/orgs/{org}/runs/{id}/findings/{{id}}/acknowledge) or exclude its worker",
        named.join("; ")
    )))
}
