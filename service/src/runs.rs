//! What a run's verbs mean, for every caller: the HTTP handlers and `payroll run --database`
//! call these, and none repeats their checks. Each verb checks the caller's org and permission,
//! applies the run's lifecycle guard (four eyes included), and writes its audit entry in the
//! transaction of its change.

use std::collections::BTreeMap;

use payroll_engine::lifecycle::{Move, RunKind, RunStatus, check_approver, check_worker_errors};
use payroll_pipeline::RunReport;
use payroll_rules::vocabulary::PayPeriod;
use serde_json::{Value, json};

use crate::app::App;
use crate::caller::Caller;
use crate::db::Db;
use crate::db::audit::{Action, Audited};
use crate::db::notices::FindingsDigest;
use crate::db::runs::{self, Changes, MoveAudit, NewRun, Run, Summary};
use crate::db::worker_errors;
use crate::domain::permissions::Permission;
use crate::error::{Error, Result};

/// Workers one exclusion names at most.
pub const MAX_EXCLUDED_AT_ONCE: usize = 1000;

/// A run to queue: of `kind` for `period`, retried safely under `idempotency` (the key as
/// stored, `Caller::idempotency_key`, and a digest of the request).
pub struct Trigger {
    pub period: PayPeriod,
    pub kind: RunKind,
    pub idempotency: Option<(String, String)>,
}

/// Who may read which workers a run could not compute and why: whoever reads its results
/// (`pay:view` or `results:anonymized`).
pub fn sees_worker_errors(caller: &Caller) -> bool {
    caller.can(Permission::ViewPay) || caller.can(Permission::ReadAnonymizedResults)
}

/// Queues a run of `org`, requested by the caller (`runs:trigger`), audited as `run.trigger`:
/// the run, and whether it is new (false: the same idempotency key queued it before). Takes
/// the database only: the CLI, which calculates the run itself, has no service around it.
pub async fn trigger(db: &Db, caller: &Caller, org: &str, trigger: Trigger) -> Result<(Run, bool)> {
    caller.may(org, Permission::TriggerRuns)?;
    let idempotency = trigger
        .idempotency
        .as_ref()
        .map(|(key, request)| (key.as_str(), request.clone()));
    let new = NewRun {
        org_id: org,
        period: trigger.period,
        kind: trigger.kind,
        requested_by: &caller.sub,
        idempotency,
    };
    runs::create_audited(db, new, Some(&caller.actor())).await
}

/// Approves a calculated final run (`runs:approve`): by someone other than who triggered it,
/// once every worker it could not compute is excluded and every `block` finding acknowledged. Locks the period and wakes the worker,
/// which renders the payslips; the stream is told of the lock.
pub async fn approve(app: &App, caller: &Caller, org: &str, id: &str) -> Result<Run> {
    caller.may(org, Permission::ApproveRuns)?;
    // Errors are written with the Calculate move and exclusions only remove from this count,
    // so reading it before the move cannot let a worker through.
    let unexcluded = worker_errors::unexcluded(&app.db, org, id).await?;
    let blocked = crate::findings::gate(&app.db, org, id).await?;
    let run = runs::get(&app.db, org, id).await?;
    if run.kind == RunKind::Final && run.status == RunStatus::Calculated && caller.sub != run.requested_by {
        leave_out_excluded(app, org, id).await?;
    }
    let run = runs::apply_audited(
        &app.db,
        org,
        id,
        Move::Approve,
        &caller.sub,
        Changes::default(),
        Some(audit(caller, Action::RunApprove, None)),
        |run| {
            check_approver(&run.requested_by, &caller.sub)?;
            if run.kind == RunKind::Final && run.status == RunStatus::Calculated {
                check_worker_errors(unexcluded)?;
                if let Some(why) = blocked {
                    return Err(Error::Conflict(why));
                }
            }
            Ok(())
        },
    )
    .await?;
    app.work.notify_one();
    // The stream archives the locked period's events; the janitor publishes it if this fails.
    if let Some(live) = &app.live
        && let Err(e) = live.publish_locks(&app.db).await
    {
        tracing::warn!(error = %e, "period lock not published to the stream yet; the janitor retries");
    }
    Ok(run)
}

/// Rejects a calculated final run (`runs:approve`), saying why.
pub async fn reject(app: &App, caller: &Caller, org: &str, id: &str, reason: &str) -> Result<Run> {
    caller.may(org, Permission::ApproveRuns)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid("reason", "say why the run is rejected"));
    }
    let changes = Changes {
        note: Some(reason.to_string()),
        ..Changes::default()
    };
    let audit = audit(caller, Action::RunReject, Some(json!({"reason": reason})));
    runs::apply_audited(
        &app.db,
        org,
        id,
        Move::Reject,
        &caller.sub,
        changes,
        Some(audit),
        |_| Ok(()),
    )
    .await
}

/// Cancels a run that is queued or calculating (`runs:trigger`).
pub async fn cancel(app: &App, caller: &Caller, org: &str, id: &str) -> Result<Run> {
    caller.may(org, Permission::TriggerRuns)?;
    let audit = audit(caller, Action::RunCancel, None);
    runs::apply_audited(
        &app.db,
        org,
        id,
        Move::Cancel,
        &caller.sub,
        Changes::default(),
        Some(audit),
        |_| Ok(()),
    )
    .await
}

/// Excludes workers of a calculated final run (`runs:exclude`), saying why: workers it could not
/// compute, or workers it computed and found something about (a finding). Recorded with who
/// and when; a computed worker is left out of the run's results at once, so nothing of this
/// run pays them. Once no worker error is left unexcluded and no block finding open, the run
/// can be approved.
pub async fn exclude(app: &App, caller: &Caller, org: &str, id: &str, workers: &[String], reason: &str) -> Result<Run> {
    caller.may(org, Permission::ExcludeWorkers)?;
    let mut invalid = Vec::new();
    let reason = reason.trim();
    if reason.is_empty() {
        invalid.push((
            "reason".to_string(),
            "say why these workers are left out of the run".to_string(),
        ));
    }
    let mut workers: Vec<String> = workers.iter().map(|w| w.trim().to_string()).collect();
    workers.sort_unstable();
    workers.dedup();
    if workers.is_empty() || workers.len() > MAX_EXCLUDED_AT_ONCE || workers.iter().any(String::is_empty) {
        invalid.push((
            "worker_ids".to_string(),
            format!("expected 1 to {MAX_EXCLUDED_AT_ONCE} worker ids, none empty"),
        ));
    }
    if !invalid.is_empty() {
        return Err(Error::Invalid(invalid));
    }
    let run = runs::get(&app.db, org, id).await?;
    if run.kind != RunKind::Final {
        return Err(Error::Conflict(format!(
            "run {id} is provisional: workers are excluded from a final run, before its approval"
        )));
    }
    if run.status != RunStatus::Calculated {
        return Err(Error::Conflict(format!(
            "run {id} is {}: workers are excluded from a calculated final run, before its approval",
            run.status
        )));
    }
    let after = json!({"excluded": workers, "reason": reason});
    let audit = Audited::new(caller.actor(), Action::RunExclude, format!("runs/{id}")).after(Some(after));
    worker_errors::exclude(&app.db, org, id, &workers, reason, &caller.sub, &audit).await?;
    leave_out_excluded(app, org, id).await?;
    runs::get(&app.db, org, id).await
}

/// Leaves every worker excluded from run `id` out of its results (a worker it computed, whose
/// findings an approver would not let through): in no payslip, payout, return or total. Run
/// at each exclusion and again before approval, so an exclusion whose files were not yet
/// rewritten (an instance that stopped between the two) is never approved as paid.
async fn leave_out_excluded(app: &App, org: &str, id: &str) -> Result<()> {
    let excluded: std::collections::BTreeSet<String> = worker_errors::exclusions(&app.db, org, id)
        .await?
        .into_iter()
        .map(|x| x.worker_id)
        .collect();
    if excluded.is_empty() {
        return Ok(());
    }
    let left = payroll_connectors::results::leave_out(&app.store, id, org, &excluded).await?;
    if left.removed > 0 {
        runs::set_results(&app.db, org, id, left.rows, left.totals).await?;
    }
    Ok(())
}

/// Claims queued run `id` for calculation by `by`, who calculates it in their own process:
/// `payroll run --database` (the service's worker claims through `db::runs::claim_next`).
pub async fn start(db: &Db, org: &str, id: &str, by: &str) -> Result<Run> {
    let claim = Changes {
        claimed_by: Some(by.to_string()),
        ..Changes::default()
    };
    runs::apply(db, org, id, Move::Start, by, claim, |_| Ok(())).await
}

/// Records a run's results: the Calculate move with what the pipeline reported, the workers it
/// could not compute included.
pub async fn calculated(
    db: &Db,
    run: &Run,
    report: &RunReport,
    by: &str,
    digest: Option<FindingsDigest>,
) -> Result<Run> {
    let errors = &report.record.worker_errors;
    let mut workers: Vec<&str> = errors.iter().map(|e| e.worker_id.as_str()).collect();
    workers.sort_unstable();
    workers.dedup();
    let summary = Summary {
        ruleset: report.record.ruleset.clone(),
        rows: report.record.rows,
        totals: report.record.totals.clone(),
        dead_letters: report.record.dead_letters.clone(),
        unattributed_dead_letters: report.record.unattributed_dead_letters,
        inputs: report.inputs.clone(),
        offsets: report.offsets.clone(),
        worker_errors: workers.len() as u64,
    };
    let changes = Changes {
        summary: Some(summary),
        worker_errors: errors.clone(),
        findings: report.findings.clone(),
        digest,
        ..Changes::default()
    };
    runs::apply(db, &run.org_id, &run.id, Move::Calculate, by, changes, |_| Ok(())).await
}

/// HR's digest of nightly run `run`'s new block findings: those the org's previous calculated
/// run of the period did not have, counted per check, for each of the org's `hr_contacts` a
/// configured channel reaches. `None` for a run a person asked for, or nothing new to tell.
pub async fn nightly_digest(app: &App, run: &Run, report: &RunReport) -> Result<Option<FindingsDigest>> {
    if run.requested_by != crate::schedule::SCHEDULER {
        return Ok(None);
    }
    let recipients = crate::notices::digest_recipients(app, &run.org_id);
    if recipients.is_empty() {
        return Ok(None);
    }
    let filter = runs::Filter {
        period: Some(run.period),
        ..runs::Filter::default()
    };
    let (earlier, _) = runs::list(&app.db, &run.org_id, &filter, None, 100).await?;
    let known = match earlier.iter().find(|r| r.id != run.id && r.summary.is_some()) {
        Some(before) => {
            crate::db::findings::pairs(&app.db, &run.org_id, &before.id, Some(payroll_rules::Severity::Block)).await?
        }
        None => Default::default(),
    };
    let mut new: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &report.findings {
        if f.severity == payroll_rules::Severity::Block && !known.contains(&(f.worker_id.clone(), f.check.clone())) {
            *new.entry(f.check.as_str()).or_default() += 1;
        }
    }
    if new.is_empty() {
        return Ok(None);
    }
    Ok(Some(FindingsDigest {
        period: run.period.to_string(),
        findings: new.into_iter().map(|(check, n)| format!("{check}: {n}")).collect(),
        recipients,
    }))
}

/// Records that run `id` failed, and why: a calculating or finalizing run whose work ended in
/// `error`. A conflict if it was cancelled meanwhile.
pub async fn failed(db: &Db, org: &str, id: &str, by: &str, error: &str) -> Result<Run> {
    let changes = Changes {
        error: Some(error.to_string()),
        ..Changes::default()
    };
    runs::apply(db, org, id, Move::Fail, by, changes, |_| Ok(())).await
}

/// A run move's audit entry: who moves it, and what they said (merged into the entry's
/// `after`); the move writes it with itself.
fn audit(caller: &Caller, action: Action, said: Option<Value>) -> MoveAudit<'_> {
    MoveAudit {
        actor: caller.actor(),
        action,
        said,
    }
}
