//! The notices outbox. Rows are inserted by [`insert`] inside the transaction that finalizes
//! their run, or by [`insert_contact_changes`] inside the one that approves a workers upload; the dispatcher [`claim`]s due rows under a lease (a claim token and a time), and
//! records each attempt's result only while it still holds the claim.

use chrono::{DateTime, Utc};
use sqlx::{Any, Transaction};

use super::audit::Audited;
use super::{Db, Listing, timestamp};
use crate::domain::notices::{About, Channel, ContactNotice, NewNotice, NoticeStatus, Step};
use crate::error::{Error, Result};

/// A notice as stored.
#[derive(Debug, Clone)]
pub struct Notice {
    pub id: String,
    pub org_id: String,
    /// The run a payslip notice is of, or the upload a contact change came with.
    pub source: String,
    pub worker_id: String,
    pub worker_name: String,
    pub about: About,
    pub language: String,
    /// The channels still to try, the current first.
    pub plan: Vec<Step>,
    pub channel: Channel,
    pub status: NoticeStatus,
    pub attempts: i64,
    pub total_attempts: i64,
    pub next_at: String,
    pub last_error: Option<String>,
    /// Channels given up on, with why.
    pub fallbacks: Vec<serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
    pub sent_at: Option<String>,
}

#[derive(sqlx::FromRow)]
struct NoticeRow {
    id: String,
    org_id: String,
    run_id: String,
    worker_id: String,
    worker_name: String,
    period: String,
    net_payable: String,
    kind: String,
    changed: String,
    language: String,
    plan: String,
    channel: String,
    status: String,
    attempts: i64,
    total_attempts: i64,
    next_at: String,
    last_error: Option<String>,
    fallbacks: String,
    created_at: String,
    updated_at: String,
    sent_at: Option<String>,
}

const COLUMNS: &str = "id, org_id, run_id, worker_id, worker_name, period, net_payable, kind, changed, language, plan, channel, \
     status, attempts, total_attempts, next_at, last_error, fallbacks, created_at, updated_at, sent_at";

impl TryFrom<NoticeRow> for Notice {
    type Error = Error;

    fn try_from(row: NoticeRow) -> Result<Notice> {
        let corrupt = |what: &str, e: String| Error::Internal(format!("notice {}: stored {what}: {e}", row.id));
        Ok(Notice {
            plan: serde_json::from_str(&row.plan).map_err(|e| corrupt("plan", e.to_string()))?,
            channel: row.channel.parse().map_err(|e| corrupt("channel", e))?,
            status: row.status.parse().map_err(|e| corrupt("status", e))?,
            fallbacks: serde_json::from_str(&row.fallbacks).map_err(|e| corrupt("fallbacks", e.to_string()))?,
            about: match row.kind.as_str() {
                "payslip" => About::Payslip {
                    period: row.period,
                    net_payable: row.net_payable,
                },
                "contact_change" => About::ContactChange {
                    on: row.period,
                    fields: serde_json::from_str(&row.changed).map_err(|e| corrupt("changed", e.to_string()))?,
                },
                "findings_digest" => About::FindingsDigest {
                    period: row.period,
                    findings: serde_json::from_str(&row.changed).map_err(|e| corrupt("changed", e.to_string()))?,
                },
                other => return Err(corrupt("kind", format!("`{other}`"))),
            },
            id: row.id,
            org_id: row.org_id,
            source: row.run_id,
            worker_id: row.worker_id,
            worker_name: row.worker_name,
            language: row.language,
            attempts: row.attempts,
            total_attempts: row.total_attempts,
            next_at: row.next_at,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
            sent_at: row.sent_at,
        })
    }
}

/// Writes a run's notices, pending, inside the transaction that finalizes it. A notice already
/// there for a worker (a finalization tried twice) is kept as it is.
pub async fn insert(
    tx: &mut Transaction<'_, Any>,
    org: &str,
    run_id: &str,
    period: &str,
    notices: &[NewNotice],
) -> Result<(), sqlx::Error> {
    for notice in notices {
        let about = About::Payslip {
            period: period.to_string(),
            net_payable: notice.net_payable.to_string(),
        };
        let row = (&notice.worker_id, &notice.worker_name, &notice.language, &notice.plan);
        insert_one(tx, org, run_id, row, &about).await?;
    }
    Ok(())
}

/// Writes the notices of the changes a workers upload's approval applies, pending, inside the
/// transaction that approves it.
pub async fn insert_contact_changes(
    tx: &mut Transaction<'_, Any>,
    org: &str,
    upload_id: &str,
    on: &str,
    notices: &[ContactNotice],
) -> Result<(), sqlx::Error> {
    for notice in notices {
        let about = About::ContactChange {
            on: on.to_string(),
            fields: notice.fields.clone(),
        };
        let row = (&notice.worker_id, &notice.worker_name, &notice.language, &notice.plan);
        insert_one(tx, org, upload_id, row, &about).await?;
    }
    Ok(())
}

/// HR's digest of a nightly run's new block findings (`check: count` each), one notice per
/// recipient (`hr-1`, `hr-2`, ...), written with the run's Calculate move.
pub async fn insert_findings_digest(
    tx: &mut Transaction<'_, Any>,
    org: &str,
    run_id: &str,
    digest: &FindingsDigest,
) -> Result<(), sqlx::Error> {
    let about = About::FindingsDigest {
        period: digest.period.clone(),
        findings: digest.findings.clone(),
    };
    let (name, language) = ("HR".to_string(), "en".to_string());
    for (recipient, plan) in &digest.recipients {
        insert_one(tx, org, run_id, (recipient, &name, &language, plan), &about).await?;
    }
    Ok(())
}

/// What HR is told of a nightly run's new block findings, and who is told.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindingsDigest {
    pub period: String,
    /// `check: count`, each.
    pub findings: Vec<String>,
    /// (recipient id, plan) pairs.
    pub recipients: Vec<(String, Vec<Step>)>,
}

/// One notice of `source` (a run or an upload) to a worker: (id, name, language, plan).
async fn insert_one(
    tx: &mut Transaction<'_, Any>,
    org: &str,
    source: &str,
    (worker_id, worker_name, language, plan): (&String, &String, &String, &Vec<Step>),
    about: &About,
) -> Result<(), sqlx::Error> {
    let Some(first) = plan.first() else {
        return Ok(());
    };
    let (period, net_payable, changed) = match about {
        About::Payslip { period, net_payable } => (period.clone(), net_payable.clone(), "[]".to_string()),
        About::ContactChange {
            on: when,
            fields: listed,
        }
        | About::FindingsDigest {
            period: when,
            findings: listed,
        } => (
            when.clone(),
            String::new(),
            serde_json::to_string(listed).unwrap_or_else(|_| "[]".to_string()),
        ),
    };
    let now = timestamp(Utc::now());
    let plan = serde_json::to_string(plan).unwrap_or_else(|_| "[]".to_string());
    sqlx::query(&format!(
        "INSERT INTO notices ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending', 0, 0, $13, NULL, '[]', $13, $13, NULL) \
         ON CONFLICT DO NOTHING"
    ))
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(org)
    .bind(source)
    .bind(worker_id)
    .bind(worker_name)
    .bind(period)
    .bind(net_payable)
    .bind(about.kind().as_str())
    .bind(changed)
    .bind(language)
    .bind(plan)
    .bind(first.channel.as_str())
    .bind(&now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Claims up to `limit` notices due at `now` (pending and due, or sending under a lease that
/// ran out: its dispatcher died) for `lease`, under the token `claim`. Each candidate is read by
/// the `(status, next_at)` index, then taken only if it is still due (another dispatcher may
/// have taken it meanwhile).
pub async fn claim(
    db: &Db,
    claim: &str,
    now: DateTime<Utc>,
    lease: std::time::Duration,
    limit: u32,
) -> Result<Vec<Notice>> {
    let at = timestamp(now);
    let until = timestamp(now + chrono::Duration::from_std(lease).unwrap_or_default());
    let mut ids: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM notices WHERE status = 'pending' AND next_at <= $1 ORDER BY next_at LIMIT {limit}"
    ))
    .bind(&at)
    .fetch_all(db.pool())
    .await?;
    let abandoned: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM notices WHERE status = 'sending' AND lease_until < $1 LIMIT {limit}"
    ))
    .bind(&at)
    .fetch_all(db.pool())
    .await?;
    ids.extend(abandoned);
    ids.truncate(limit as usize);
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = (0..ids.len())
        .map(|i| format!("${}", i + 4))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE notices SET status = 'sending', claim = $1, lease_until = $2 WHERE id IN ({list}) \
         AND ((status = 'pending' AND next_at <= $3) OR (status = 'sending' AND lease_until < $3))"
    );
    let mut take = sqlx::query(&sql).bind(claim).bind(&until).bind(&at);
    for id in &ids {
        take = take.bind(id);
    }
    take.execute(db.pool()).await?;
    let list = (0..ids.len())
        .map(|i| format!("${}", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT {COLUMNS} FROM notices WHERE claim = $1 AND status = 'sending' AND id IN ({list})");
    let mut read = sqlx::query_as::<_, NoticeRow>(&sql).bind(claim);
    for id in &ids {
        read = read.bind(id);
    }
    read.fetch_all(db.pool())
        .await?
        .into_iter()
        .map(Notice::try_from)
        .collect()
}

/// What an attempt at a claimed notice comes to.
#[derive(Debug, Clone)]
pub enum Attempted {
    /// The vendor accepted it: sent, after this many attempts on its channel.
    Sent { attempts: i64 },
    /// A temporary failure: pending again at `next_at`.
    Retry {
        attempts: i64,
        next_at: DateTime<Utc>,
        reason: String,
    },
    /// The current channel is given up: the next of the plan is due now, or, with none left,
    /// the notice is dead with the reason.
    GiveUp { reason: String },
}

/// Records a batch's attempts in one transaction, each only where `claim` still holds its
/// notice. A crash before it commits loses the records, never a delivery: the notices are
/// claimed again when the lease runs out and sent again under the same idempotency key.
pub async fn record(db: &Db, claim: &str, attempts: &[(Notice, Attempted)]) -> Result<()> {
    let now = timestamp(Utc::now());
    let mut tx = db.pool().begin().await?;
    for (notice, attempted) in attempts {
        let query = match attempted {
            Attempted::Sent { attempts } => sqlx::query(
                "UPDATE notices SET status = 'sent', attempts = $1, total_attempts = total_attempts + 1, sent_at = $2, \
                 updated_at = $2, last_error = NULL, claim = NULL, lease_until = NULL WHERE id = $3 AND claim = $4",
            )
            .bind(*attempts)
            .bind(&now)
            .bind(&notice.id)
            .bind(claim),
            Attempted::Retry {
                attempts,
                next_at,
                reason,
            } => sqlx::query(
                "UPDATE notices SET status = 'pending', attempts = $1, total_attempts = total_attempts + 1, next_at = $2, \
                 last_error = $3, updated_at = $4, claim = NULL, lease_until = NULL WHERE id = $5 AND claim = $6",
            )
            .bind(*attempts)
            .bind(timestamp(*next_at))
            .bind(reason.clone())
            .bind(&now)
            .bind(&notice.id)
            .bind(claim),
            Attempted::GiveUp { reason } => {
                let mut fallbacks = notice.fallbacks.clone();
                fallbacks.push(serde_json::json!({"channel": notice.channel.as_str(), "reason": reason}));
                let fallbacks = serde_json::to_string(&fallbacks).map_err(|e| Error::Internal(e.to_string()))?;
                let rest = notice.plan.get(1..).unwrap_or_default();
                let (status, channel, plan) = match rest.first() {
                    Some(next) => (NoticeStatus::Pending, next.channel, rest.to_vec()),
                    None => (NoticeStatus::Dead, notice.channel, notice.plan.clone()),
                };
                let plan = serde_json::to_string(&plan).map_err(|e| Error::Internal(e.to_string()))?;
                sqlx::query(
                    "UPDATE notices SET status = $1, channel = $2, plan = $3, attempts = 0, \
                     total_attempts = total_attempts + 1, next_at = $4, last_error = $5, fallbacks = $6, \
                     updated_at = $4, claim = NULL, lease_until = NULL WHERE id = $7 AND claim = $8",
                )
                .bind(status.as_str())
                .bind(channel.as_str())
                .bind(plan)
                .bind(&now)
                .bind(reason.clone())
                .bind(fallbacks)
                .bind(&notice.id)
                .bind(claim)
            }
        };
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Notices waiting to be sent (pending or sending), every org: read by the `(status, next_at)`
/// index.
pub async fn queued(db: &Db) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM notices WHERE status IN ('pending', 'sending')")
            .fetch_one(db.pool())
            .await?,
    )
}

/// Filters of a run's (or an upload's) notices.
#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<NoticeStatus>,
    pub channel: Option<Channel>,
    pub worker: Option<String>,
}

/// A page of the notices of `source` (a run or an upload) by id, and the cursor of the next.
pub async fn list(
    db: &Db,
    org: &str,
    source: &str,
    filter: &Filter,
    after: Option<&str>,
    size: u32,
) -> Result<(Vec<Notice>, Option<String>)> {
    Listing::of_org(COLUMNS, "notices", org)
        .and("run_id =", Some(source.to_string()))
        .and("status =", filter.status.map(|s| s.as_str().to_string()))
        .and("channel =", filter.channel.map(|c| c.as_str().to_string()))
        .and("worker_id =", filter.worker.clone())
        .and("id >", after.map(str::to_string))
        .page(db, "id", size, |row: NoticeRow| Notice::try_from(row), |n| n.id.clone())
        .await
}

pub async fn get(db: &Db, org: &str, source: &str, id: &str) -> Result<Notice> {
    sqlx::query_as::<_, NoticeRow>(&format!(
        "SELECT {COLUMNS} FROM notices WHERE org_id = $1 AND run_id = $2 AND id = $3"
    ))
    .bind(org)
    .bind(source)
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::NotFound(format!("notice `{id}` of `{source}`")))?
    .try_into()
}

/// A dead notice back to pending on its last channel, attempts reset, audited in the same
/// transaction; refused unless dead.
pub async fn retry(db: &Db, org: &str, source: &str, id: &str, audit: Audited<'_>) -> Result<Notice> {
    let notice = get(db, org, source, id).await?;
    if notice.status != NoticeStatus::Dead {
        return Err(Error::Conflict(format!(
            "notice {id} is {}: only a dead notice is retried",
            notice.status
        )));
    }
    let now = timestamp(Utc::now());
    let mut tx = db.pool().begin().await?;
    let moved = sqlx::query(
        "UPDATE notices SET status = 'pending', attempts = 0, next_at = $1, updated_at = $1 \
         WHERE org_id = $2 AND run_id = $3 AND id = $4 AND status = 'dead'",
    )
    .bind(&now)
    .bind(org)
    .bind(source)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Err(Error::Conflict(format!(
            "notice {id} was retried meanwhile: only a dead notice is retried"
        )));
    }
    audit
        .before(Some(
            serde_json::json!({"status": "dead", "worker_id": notice.worker_id}),
        ))
        .after(Some(
            serde_json::json!({"status": "pending", "channel": notice.channel.as_str()}),
        ))
        .write(&mut tx, org)
        .await?;
    tx.commit().await?;
    get(db, org, source, id).await
}

/// Notices by status and channel, every org: for `/metrics`.
pub async fn counts(db: &Db) -> Result<Vec<(String, String, i64)>> {
    Ok(
        sqlx::query_as("SELECT status, channel, COUNT(*) FROM notices GROUP BY status, channel")
            .fetch_all(db.pool())
            .await?,
    )
}
