//! Runs, their transitions and period locks. Whether a move is allowed is decided by
//! `payroll_engine::lifecycle`; this module reads the run, asks it, and writes the move, the
//! transition row and (on approval) the period lock in one transaction. The status a move
//! starts from is part of the `UPDATE`'s condition, so two concurrent moves cannot both win.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use payroll_engine::WorkerError;
use payroll_engine::lifecycle::{Move, RunKind, RunStatus};
use payroll_engine::run::{InputDigest, RulesetRef};
use payroll_pipeline::LockedRun;
use payroll_rules::vocabulary::PayPeriod;
use serde::{Deserialize, Serialize};
use sqlx::{Any, Transaction};

use super::audit::{Action, Actor, Audited};
use super::{Constraint, Db, Listing, parse_timestamp, timestamp, violated};
use crate::error::{Error, Result};

/// A run as the service knows it.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub org_id: String,
    pub period: PayPeriod,
    pub kind: RunKind,
    pub status: RunStatus,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub attempts: i64,
    pub progress: Option<Progress>,
    pub summary: Option<Summary>,
    pub error: Option<String>,
}

/// How far the work on a run has come.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    pub stage: String,
    pub done: u64,
    pub total: u64,
    /// `bytes` of input read, `files` of payslips written.
    pub unit: String,
    pub workers_done: u64,
    pub workers_total: u64,
}

/// What a calculated run computed, from its record and manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub ruleset: RulesetRef,
    pub rows: u64,
    pub totals: BTreeMap<String, String>,
    pub dead_letters: BTreeMap<String, u64>,
    /// Refused rows the run set aside as no org's (they name no worker of the master).
    #[serde(default)]
    pub unattributed_dead_letters: u64,
    pub inputs: Vec<InputDigest>,
    #[serde(default)]
    pub offsets: BTreeMap<String, i64>,
    /// Workers the run could not compute (each error is a row of `run_worker_errors`).
    #[serde(default)]
    pub worker_errors: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub status: RunStatus,
    pub actor: String,
    pub at: String,
    pub note: Option<String>,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: String,
    org_id: String,
    period: String,
    kind: String,
    status: String,
    requested_by: String,
    created_at: String,
    updated_at: String,
    attempts: i64,
    progress: Option<String>,
    summary: Option<String>,
    error: Option<String>,
}

const COLUMNS: &str =
    "id, org_id, period, kind, status, requested_by, created_at, updated_at, attempts, progress, summary, error";

impl TryFrom<RunRow> for Run {
    type Error = Error;

    fn try_from(row: RunRow) -> Result<Run> {
        let corrupt = |what: &str, e: String| Error::Internal(format!("run {}: stored {what}: {e}", row.id));
        Ok(Run {
            period: row.period.parse().map_err(|e| corrupt("period", e))?,
            kind: row.kind.parse().map_err(|e| corrupt("kind", e))?,
            status: row.status.parse().map_err(|e| corrupt("status", e))?,
            created_at: parse_timestamp(&row.created_at)?,
            updated_at: parse_timestamp(&row.updated_at)?,
            progress: row
                .progress
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| corrupt("progress", e.to_string()))?,
            summary: row
                .summary
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| corrupt("summary", e.to_string()))?,
            id: row.id,
            org_id: row.org_id,
            requested_by: row.requested_by,
            attempts: row.attempts,
            error: row.error,
        })
    }
}

/// A run to create.
pub struct NewRun<'a> {
    pub org_id: &'a str,
    pub period: PayPeriod,
    pub kind: RunKind,
    pub requested_by: &'a str,
    /// The client's `Idempotency-Key` and the SHA-256 of what it asked, or the scheduler's slot.
    pub idempotency: Option<(&'a str, String)>,
}

/// Who follows which run (its Server-Sent Events), woken when this process changes the run: its
/// status (`apply`) or its progress (`heartbeat`). A change made by another process sharing the
/// database (another instance, the CLI) is not seen here; followers also read the run now and
/// then for those.
#[derive(Default)]
pub struct Followers(std::sync::Mutex<std::collections::HashMap<String, tokio::sync::watch::Sender<()>>>);

impl Followers {
    pub fn follow(&self, id: &str) -> tokio::sync::watch::Receiver<()> {
        let mut runs = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Runs nobody follows any more are forgotten as others are followed.
        runs.retain(|_, sender| sender.receiver_count() > 0);
        runs.entry(id.to_string())
            .or_insert_with(|| tokio::sync::watch::channel(()).0)
            .subscribe()
    }

    fn changed(&self, id: &str) {
        let runs = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = runs.get(id) {
            sender.send_replace(());
        }
    }
}

/// Creates a queued run, or returns the run an earlier request with the same idempotency key
/// created (`false`: not created now). Refuses a locked period and a second live final.
pub async fn create(db: &Db, new: NewRun<'_>) -> Result<(Run, bool)> {
    create_audited(db, new, None).await
}

/// [`create`], with the `run.trigger` audit entry of `by` (target `runs/{id}`) written in the
/// same transaction: no run is queued unaudited.
#[allow(clippy::expect_used, reason = "only keyed requests insert keys")]
pub async fn create_audited(db: &Db, new: NewRun<'_>, by: Option<&Actor<'_>>) -> Result<(Run, bool)> {
    if let Some((key, sha)) = &new.idempotency
        && let Some(run) = replayed(db, new.org_id, key, sha).await?
    {
        return Ok((run, false));
    }
    let id = payroll_engine::run::new_run_id();
    let now = timestamp(Utc::now());
    let period = new.period.to_string();
    let attempt = async {
        let mut tx = db.pool().begin().await?;
        // The key first: a concurrent request with the same key waits here for this one.
        if let Some((key, sha)) = &new.idempotency {
            sqlx::query(
                "INSERT INTO idempotency_keys (org_id, key, request_sha256, run_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(new.org_id)
            .bind(*key)
            .bind(sha)
            .bind(&id)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        // Touching the period's row serializes run creation with its approval (which locks it).
        sqlx::query("INSERT INTO periods (org_id, period) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(new.org_id)
            .bind(&period)
            .execute(&mut *tx)
            .await?;
        let open =
            sqlx::query("UPDATE periods SET period = period WHERE org_id = $1 AND period = $2 AND locked_by IS NULL")
                .bind(new.org_id)
                .bind(&period)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if open == 0 {
            return Ok::<_, sqlx::Error>(Err(None));
        }
        sqlx::query(&format!(
            "INSERT INTO runs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0, NULL, NULL, NULL)"
        ))
        .bind(&id)
        .bind(new.org_id)
        .bind(&period)
        .bind(new.kind.as_str())
        .bind(RunStatus::Queued.as_str())
        .bind(new.requested_by)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        record_transition(&mut tx, &id, RunStatus::Queued, new.requested_by, None).await?;
        if let Some(actor) = by {
            let after =
                serde_json::json!({"period": period, "kind": new.kind.as_str(), "status": RunStatus::Queued.as_str()});
            let audited = Audited::new(actor.clone(), Action::RunTrigger, format!("runs/{id}")).after(Some(after));
            if let Err(e) = audited.write(&mut tx, new.org_id).await {
                return Ok(Err(Some(e)));
            }
        }
        tx.commit().await?;
        Ok(Ok(()))
    }
    .await;
    match attempt {
        Ok(Ok(())) => Ok((get(db, new.org_id, &id).await?, true)),
        Ok(Err(Some(audit))) => Err(audit),
        Ok(Err(None)) => Err(locked(db, new.org_id, new.period).await?),
        Err(e) => match violated(&e) {
            Some(Constraint::IdempotencyKey) => {
                let (key, sha) = new.idempotency.as_ref().expect("only keyed requests insert keys");
                replayed(db, new.org_id, key, sha)
                    .await?
                    .ok_or_else(|| Error::Internal("idempotency key vanished".into()))
                    .map(|run| (run, false))
            }
            Some(Constraint::OneLiveFinal) => Err(live_final(db, new.org_id, new.period).await?),
            None => Err(e.into()),
        },
    }
}

/// The run an earlier request with this key created; 422 when that request asked otherwise.
async fn replayed(db: &Db, org: &str, key: &str, sha: &str) -> Result<Option<Run>> {
    let found: Option<(String, String)> =
        sqlx::query_as("SELECT request_sha256, run_id FROM idempotency_keys WHERE org_id = $1 AND key = $2")
            .bind(org)
            .bind(key)
            .fetch_optional(db.pool())
            .await?;
    let Some((stored_sha, run_id)) = found else {
        return Ok(None);
    };
    if stored_sha != sha {
        return Err(Error::invalid(
            "Idempotency-Key",
            format!("already used for another request (run {run_id}); use a new key for a new request"),
        ));
    }
    Ok(Some(get(db, org, &run_id).await?))
}

async fn locked(db: &Db, org: &str, period: PayPeriod) -> Result<Error> {
    let lock = period_lock(db, org, period).await?;
    Ok(Error::Conflict(match lock {
        Some((run, _)) => format!("period {period} locked by run {run}"),
        None => format!("period {period} is locked"),
    }))
}

async fn live_final(db: &Db, org: &str, period: PayPeriod) -> Result<Error> {
    let live: Option<(String, String)> = sqlx::query_as(
        "SELECT id, status FROM runs WHERE org_id = $1 AND period = $2 AND kind = 'final' \
         AND status NOT IN ('rejected', 'cancelled', 'failed')",
    )
    .bind(org)
    .bind(period.to_string())
    .fetch_optional(db.pool())
    .await?;
    Ok(Error::Conflict(match live {
        Some((id, status)) => format!(
            "period {period} already has a final run, {id} ({status}); reject or cancel it before triggering another"
        ),
        None => format!("period {period} already has a live final run"),
    }))
}

pub async fn get(db: &Db, org: &str, id: &str) -> Result<Run> {
    sqlx::query_as::<_, RunRow>(&format!("SELECT {COLUMNS} FROM runs WHERE org_id = $1 AND id = $2"))
        .bind(org)
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::NotFound(format!("run `{id}` of org `{org}`")))?
        .try_into()
}

/// Filters of the runs list.
#[derive(Debug, Default)]
pub struct Filter {
    pub period: Option<PayPeriod>,
    pub kind: Option<RunKind>,
    pub status: Option<RunStatus>,
}

/// A page of an org's runs, newest first, and the token of the next page. `after` is the last
/// id of the page before: ids sort by creation, so the cursor is stable under inserts.
pub async fn list(
    db: &Db,
    org: &str,
    filter: &Filter,
    after: Option<&str>,
    size: u32,
) -> Result<(Vec<Run>, Option<String>)> {
    Listing::of_org(COLUMNS, "runs", org)
        .and("period =", filter.period.map(|p| p.to_string()))
        .and("kind =", filter.kind.map(|k| k.as_str().to_string()))
        .and("status =", filter.status.map(|s| s.as_str().to_string()))
        .and("id <", after.map(str::to_string))
        .page(
            db,
            "id DESC",
            size,
            |row: RunRow| Run::try_from(row),
            |run| run.id.clone(),
        )
        .await
}

pub async fn transitions(db: &Db, run_id: &str) -> Result<Vec<Transition>> {
    let rows: Vec<(String, String, String, Option<String>)> =
        sqlx::query_as("SELECT status, actor, at, note FROM run_transitions WHERE run_id = $1 ORDER BY seq")
            .bind(run_id)
            .fetch_all(db.pool())
            .await?;
    rows.into_iter()
        .map(|(status, actor, at, note)| {
            Ok(Transition {
                status: status.parse().map_err(Error::Internal)?,
                actor,
                at,
                note,
            })
        })
        .collect()
}

/// What a move writes besides the status.
#[derive(Default)]
pub struct Changes {
    pub summary: Option<Summary>,
    pub error: Option<String>,
    pub note: Option<String>,
    /// The instance that starts working on the run (with `Move::Start`).
    pub claimed_by: Option<String>,
    /// Workers the run could not compute (with `Move::Calculate`), written with the move.
    pub worker_errors: Vec<WorkerError>,
    /// What the run's checks found (with `Move::Calculate`), written with the move.
    pub findings: Vec<payroll_engine::findings::Finding>,
    /// HR's digest of a nightly run's new block findings (with `Move::Calculate`), written to
    /// the notices outbox with the move.
    pub digest: Option<super::notices::FindingsDigest>,
    /// Payslip notices (with `Move::Finalize`), written to the outbox with the move: none
    /// exists before the run is finalized, none is lost once it is.
    pub notices: Vec<crate::domain::notices::NewNotice>,
}

/// Sets what a calculated run's results hold (rows and totals) after workers were left out of
/// them (`payroll_connectors::results::leave_out`); its `updated_at` moves, so every cache of
/// its results reads them again.
pub async fn set_results(db: &Db, org: &str, id: &str, rows: u64, totals: BTreeMap<String, String>) -> Result<()> {
    let run = get(db, org, id).await?;
    let Some(mut summary) = run.summary else {
        return Ok(());
    };
    summary.rows = rows;
    summary.totals = totals;
    let summary = serde_json::to_string(&summary).map_err(|e| Error::Internal(e.to_string()))?;
    sqlx::query("UPDATE runs SET summary = $1, updated_at = $2 WHERE id = $3 AND org_id = $4")
        .bind(summary)
        .bind(timestamp(Utc::now()))
        .bind(id)
        .bind(org)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Moves a run of `org` by `step`, as `actor`, after `check` accepts the run as it is now.
/// Approval also locks the run's period.
pub async fn apply(
    db: &Db,
    org: &str,
    id: &str,
    step: Move,
    actor: &str,
    changes: Changes,
    check: impl FnOnce(&Run) -> Result<()>,
) -> Result<Run> {
    apply_audited(db, org, id, step, actor, changes, None, check).await
}

/// Who moves a run (a person, through the API) and what they said: the move's audit entry.
#[derive(Debug, Clone)]
pub struct MoveAudit<'a> {
    pub actor: Actor<'a>,
    pub action: Action,
    /// Merged into the entry's `after`, e.g. a rejection's reason.
    pub said: Option<serde_json::Value>,
}

/// [`apply`], with the move's audit entry written in the same transaction: its status before
/// (as `check` saw it) and after, the run's period and kind, and what the mover said. The
/// move does not happen unaudited.
#[allow(clippy::too_many_arguments, reason = "apply's arguments and the audit entry")]
pub async fn apply_audited(
    db: &Db,
    org: &str,
    id: &str,
    step: Move,
    actor: &str,
    changes: Changes,
    audit: Option<MoveAudit<'_>>,
    check: impl FnOnce(&Run) -> Result<()>,
) -> Result<Run> {
    let run = get(db, org, id).await?;
    check(&run)?;
    let next = run.status.after(run.kind, step)?;
    let now = timestamp(Utc::now());
    let summary = changes
        .summary
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let mut tx = db.pool().begin().await?;
    let moved = sqlx::query(
        "UPDATE runs SET status = $1, updated_at = $2, summary = COALESCE($3, summary), error = $4, \
         claimed_by = $5, heartbeat_at = $6 WHERE id = $7 AND org_id = $8 AND status = $9",
    )
    .bind(next.as_str())
    .bind(&now)
    .bind(summary)
    .bind(changes.error.clone())
    .bind(changes.claimed_by.clone())
    .bind(changes.claimed_by.as_ref().map(|_| now.clone()))
    .bind(id)
    .bind(org)
    .bind(run.status.as_str())
    .execute(&mut *tx)
    .await;
    let moved = match moved {
        Ok(done) => done.rows_affected(),
        Err(e) if violated(&e) == Some(Constraint::OneLiveFinal) => {
            drop(tx);
            return Err(live_final(db, org, run.period).await?);
        }
        Err(e) => return Err(e.into()),
    };
    if moved == 0 {
        drop(tx);
        return Err(Error::Conflict(format!(
            "run {id} changed while it was being {}; read it again",
            next.as_str()
        )));
    }
    if step == Move::Calculate {
        super::worker_errors::record(&mut tx, id, &changes.worker_errors).await?;
        super::findings::record(&mut tx, org, id, &changes.findings).await?;
        if let Some(digest) = &changes.digest {
            super::notices::insert_findings_digest(&mut tx, org, id, digest).await?;
        }
    }
    if step == Move::Finalize {
        super::notices::insert(&mut tx, org, id, &run.period.to_string(), &changes.notices).await?;
    }
    if step == Move::Start {
        sqlx::query("UPDATE runs SET attempts = attempts + 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if step == Move::Approve {
        let locked = sqlx::query(
            "UPDATE periods SET locked_by = $1, locked_at = $2 WHERE org_id = $3 AND period = $4 AND locked_by IS NULL",
        )
        .bind(id)
        .bind(&now)
        .bind(org)
        .bind(run.period.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if locked == 0 {
            // Give the connection back first: SQLite's pool has only the one.
            drop(tx);
            return Err(locked_error(db, org, run.period).await);
        }
    }
    let note = changes.note.or(changes.error);
    record_transition(&mut tx, id, next, actor, note.as_deref()).await?;
    if let Some(audit) = audit {
        let mut after =
            serde_json::json!({"status": next.as_str(), "period": run.period.to_string(), "kind": run.kind.as_str()});
        if let (Some(serde_json::Value::Object(said)), Some(after)) = (audit.said, after.as_object_mut()) {
            after.extend(said);
        }
        Audited::new(audit.actor, audit.action, format!("runs/{id}"))
            .before(Some(serde_json::json!({"status": run.status.as_str()})))
            .after(Some(after))
            .write(&mut tx, org)
            .await?;
    }
    tx.commit().await?;
    db.followers.changed(id);
    get(db, org, id).await
}

async fn locked_error(db: &Db, org: &str, period: PayPeriod) -> Error {
    match locked(db, org, period).await {
        Ok(e) | Err(e) => e,
    }
}

async fn record_transition(
    tx: &mut Transaction<'_, Any>,
    run_id: &str,
    status: RunStatus,
    actor: &str,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO run_transitions (run_id, seq, status, actor, at, note) \
         VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM run_transitions WHERE run_id = $1), $2, $3, $4, $5)",
    )
    .bind(run_id)
    .bind(status.as_str())
    .bind(actor)
    .bind(timestamp(Utc::now()))
    .bind(note)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The lock on an org's period: the run that locked it and when.
pub async fn period_lock(db: &Db, org: &str, period: PayPeriod) -> Result<Option<(String, String)>> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT locked_by, locked_at FROM periods WHERE org_id = $1 AND period = $2")
            .bind(org)
            .bind(period.to_string())
            .fetch_optional(db.pool())
            .await?;
    Ok(row.and_then(|(run, at)| Some((run?, at?))))
}

/// An org's locked periods: the run that locked each and when.
pub async fn period_locks(db: &Db, org: &str) -> Result<BTreeMap<PayPeriod, (String, String)>> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT period, locked_by, locked_at FROM periods WHERE org_id = $1 AND locked_by IS NOT NULL")
            .bind(org)
            .fetch_all(db.pool())
            .await?;
    rows.into_iter()
        .map(|(period, run, at)| {
            let period = period
                .parse()
                .map_err(|e: String| Error::Internal(format!("period lock of {org}: {e}")))?;
            Ok((period, (run, at)))
        })
        .collect()
}

/// Every locked period of every org: (org, period, the run that locked it, when).
pub async fn locked_periods(db: &Db) -> Result<Vec<(String, PayPeriod, String, String)>> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT org_id, period, locked_by, locked_at FROM periods WHERE locked_by IS NOT NULL ORDER BY org_id, period",
    )
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(org, period, run, at)| {
            let period = period
                .parse()
                .map_err(|e: String| Error::Internal(format!("period lock of {org}: {e}")))?;
            Ok((org, period, run, at))
        })
        .collect()
}

/// An org's locked periods with the runs that locked them, oldest first: what a run of a
/// later period carries arrears for (and, once locked itself, settles).
pub async fn locked_runs(db: &Db, org: &str) -> Result<Vec<LockedRun>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT period, locked_by FROM periods WHERE org_id = $1 AND locked_by IS NOT NULL ORDER BY period",
    )
    .bind(org)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(period, run_id)| {
            let period = period
                .parse()
                .map_err(|e: String| Error::Internal(format!("period lock of {org}: {e}")))?;
            Ok(LockedRun { period, run_id })
        })
        .collect()
}

/// Work for `instance`: the oldest queued run (to calculate) or an unclaimed finalizing one (to
/// render payslips), claimed so no other instance takes it.
pub async fn claim_next(db: &Db, instance: &str) -> Result<Option<Run>> {
    let candidates: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id, org_id, status FROM runs WHERE status = 'queued' OR (status = 'finalizing' AND claimed_by IS NULL) \
         ORDER BY id LIMIT 8",
    )
    .fetch_all(db.pool())
    .await?;
    for (id, org, status) in candidates {
        let claimed = if status == RunStatus::Queued.as_str() {
            match apply(
                db,
                &org,
                &id,
                Move::Start,
                &format!("system:{instance}"),
                Changes {
                    claimed_by: Some(instance.to_string()),
                    ..Changes::default()
                },
                |_| Ok(()),
            )
            .await
            {
                Ok(run) => Some(run),
                // Another instance took it first.
                Err(Error::Conflict(_)) => None,
                Err(e) => return Err(e),
            }
        } else {
            let now = timestamp(Utc::now());
            let taken = sqlx::query(
                "UPDATE runs SET claimed_by = $1, heartbeat_at = $2 WHERE id = $3 AND status = 'finalizing' AND claimed_by IS NULL",
            )
            .bind(instance)
            .bind(&now)
            .bind(&id)
            .execute(db.pool())
            .await?
            .rows_affected();
            if taken == 1 {
                Some(get(db, &org, &id).await?)
            } else {
                None
            }
        };
        if claimed.is_some() {
            return Ok(claimed);
        }
    }
    Ok(None)
}

/// The instance working on a run is alive, and this is how far it got.
pub async fn heartbeat(db: &Db, id: &str, instance: &str, progress: &Progress) -> Result<()> {
    let progress = serde_json::to_string(progress).map_err(|e| Error::Internal(e.to_string()))?;
    sqlx::query("UPDATE runs SET heartbeat_at = $1, progress = $2 WHERE id = $3 AND claimed_by = $4")
        .bind(timestamp(Utc::now()))
        .bind(progress)
        .bind(id)
        .bind(instance)
        .execute(db.pool())
        .await?;
    db.followers.changed(id);
    Ok(())
}

/// Runs being worked on whose instance has not been heard of since `before`.
pub async fn abandoned(db: &Db, before: DateTime<Utc>) -> Result<Vec<Run>> {
    sqlx::query_as::<_, RunRow>(&format!(
        "SELECT {COLUMNS} FROM runs WHERE status IN ('calculating', 'finalizing') \
         AND claimed_by IS NOT NULL AND heartbeat_at < $1"
    ))
    .bind(timestamp(before))
    .fetch_all(db.pool())
    .await?
    .into_iter()
    .map(Run::try_from)
    .collect()
}

/// Gives an abandoned finalizing run back to whichever instance claims it next: rendering is
/// idempotent (files already written with the right hash are kept).
pub async fn release(db: &Db, id: &str, claimed_by_before: DateTime<Utc>) -> Result<bool> {
    Ok(
        sqlx::query("UPDATE runs SET claimed_by = NULL WHERE id = $1 AND status = 'finalizing' AND heartbeat_at < $2")
            .bind(id)
            .bind(timestamp(claimed_by_before))
            .execute(db.pool())
            .await?
            .rows_affected()
            == 1,
    )
}

/// Statuses whose results are written.
const CALCULATED: &str = "status IN ('calculated', 'finalizing', 'finalized')";

/// Which of a period's calculated runs its pay shows, best first: a final run before a
/// provisional one (the final run is what will be paid, even when a nightly run came after it),
/// then the newest.
const PAY_ORDER: &str = "CASE kind WHEN 'final' THEN 0 ELSE 1 END, id DESC";

/// The run whose figures an org's period shows (`PAY_ORDER`): what pay-to-date reflects in
/// files mode.
pub async fn latest_calculated(db: &Db, org: &str, period: PayPeriod) -> Result<Option<Run>> {
    sqlx::query_as::<_, RunRow>(&format!(
        "SELECT {COLUMNS} FROM runs WHERE org_id = $1 AND period = $2 AND {CALCULATED} ORDER BY {PAY_ORDER} LIMIT 1"
    ))
    .bind(org)
    .bind(period.to_string())
    .fetch_optional(db.pool())
    .await?
    .map(Run::try_from)
    .transpose()
}

/// A page of an org's periods that have a calculated run, newest first, each as the run its
/// pay shows (`latest_calculated`), and the cursor of the next page: the page's last period.
pub async fn calculated_periods(
    db: &Db,
    org: &str,
    before: Option<PayPeriod>,
    size: u32,
) -> Result<(Vec<Run>, Option<PayPeriod>)> {
    let best = format!(
        "(SELECT {COLUMNS}, ROW_NUMBER() OVER (PARTITION BY org_id, period ORDER BY {PAY_ORDER}) AS pick \
         FROM runs WHERE {CALCULATED}) AS best"
    );
    Listing::of_org(COLUMNS, &best, org)
        .and_number("pick =", Some(1))
        .and("period <", before.map(|p| p.to_string()))
        .page(
            db,
            "period DESC",
            size,
            |row: RunRow| Run::try_from(row),
            |run| run.period,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::Followers;

    #[test]
    fn a_change_wakes_the_followers_of_that_run_only() {
        let followers = Followers::default();
        let (mut one, also_one, mut two) = (followers.follow("r1"), followers.follow("r1"), followers.follow("r2"));
        followers.changed("r1");
        assert!(one.has_changed().unwrap() && also_one.has_changed().unwrap());
        assert!(!two.has_changed().unwrap());
        one.mark_unchanged();
        // A run no one follows is forgotten once another is followed; changing it wakes no one.
        drop((one, also_one));
        let _three = followers.follow("r3");
        followers.changed("r1");
        assert_eq!(followers.0.lock().unwrap().len(), 2, "r2 and r3");
        two.mark_unchanged();
    }
}
