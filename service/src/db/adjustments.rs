//! Adjustments under maker-checker: a request is `pending` until a second person approves or
//! rejects it. Each transition is the next version of the adjustment event; the service
//! publishes it to the org's input (`crate::adjustments`), and `published_version` records how
//! far that got.

use chrono::Utc;
use payroll_engine::event::{AdjustmentKind, Status, wire_name};
use payroll_rules::vocabulary::PayPeriod;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use sqlx::{Any, Transaction};

use super::audit::{Action, Actor, Audited};
use super::{Db, Listing, timestamp};
use crate::error::{Error, Result};

/// An adjustment as the service keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjustment {
    pub id: String,
    pub org_id: String,
    pub worker_id: String,
    pub period: PayPeriod,
    pub kind: AdjustmentKind,
    pub code: String,
    pub amount: Decimal,
    pub reason: String,
    /// `pending`, `approved` or `rejected`.
    pub status: Status,
    pub version: i64,
    pub requested_by: String,
    pub requested_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_note: Option<String>,
    /// The upload that requested it, if one did.
    pub upload_id: Option<String>,
}

impl Adjustment {
    /// This version as an adjustment event, the `adjustments.ndjson` contract (POLICY.md).
    pub fn event(&self) -> Value {
        json!({
            "event_id": format!("{}-v{}", self.id, self.version),
            "adjustment_id": self.id,
            // The fold refuses the version if the worker is not of this org.
            "org_id": self.org_id,
            "worker_id": self.worker_id,
            "period": self.period.to_string(),
            "kind": wire_name(&self.kind),
            "code": self.code,
            "amount": self.amount.to_string(),
            "reason": self.reason,
            "status": wire_name(&self.status),
            "version": self.version,
            "requested_by": self.requested_by,
            "approved_by": if self.status == Status::Approved { self.decided_by.clone().unwrap_or_default() } else { String::new() },
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_value(Value::from(text)).map_err(|_| Error::Internal(format!("stored {what} `{text}`")))
}

/// A request, validated by the caller.
pub struct NewAdjustment<'a> {
    pub org_id: &'a str,
    pub worker_id: &'a str,
    pub period: PayPeriod,
    pub kind: AdjustmentKind,
    pub code: &'a str,
    pub amount: Decimal,
    pub reason: &'a str,
    pub requested_by: &'a str,
    /// The Idempotency-Key and a hash of the request body, if the caller sent a key.
    pub idempotency: Option<(&'a str, String)>,
}

const COLUMNS: &str = "id, org_id, worker_id, period, kind, code, amount, reason, status, version, requested_by, \
                       requested_at, decided_by, decided_at, decision_note, upload_id";

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn adjustment(row: Row) -> Result<Adjustment> {
    let (
        id,
        org_id,
        worker_id,
        period,
        kind,
        code,
        amount,
        reason,
        status,
        version,
        requested_by,
        requested_at,
        decided_by,
        decided_at,
        decision_note,
        upload_id,
    ) = row;
    Ok(Adjustment {
        period: period
            .parse()
            .map_err(|e: String| Error::Internal(format!("adjustment {id}: {e}")))?,
        kind: parse("kind", &kind)?,
        amount: amount
            .parse()
            .map_err(|_| Error::Internal(format!("adjustment {id}: amount `{amount}`")))?,
        status: parse("status", &status)?,
        id,
        org_id,
        worker_id,
        code,
        reason,
        version,
        requested_by,
        requested_at,
        decided_by,
        decided_at,
        decision_note,
        upload_id,
    })
}

/// Records a request as `pending` (version 1), with its `adjustment.request` audit entry by `by`
/// in the same transaction; `Ok((adjustment, false))` for a retry of a request already
/// recorded under the same key. The same key with another body is refused.
pub async fn create(db: &Db, new: NewAdjustment<'_>, by: &Actor<'_>) -> Result<(Adjustment, bool)> {
    if let Some((key, hash)) = &new.idempotency
        && let Some(existing) = by_key(db, new.org_id, key, hash).await?
    {
        return Ok((existing, false));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = db.pool().begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO adjustments (id, org_id, worker_id, period, kind, code, amount, reason, status, version, \
         requested_by, requested_at, idempotency_key, request_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 1, $9, $10, $11, $12)",
    )
    .bind(&id)
    .bind(new.org_id)
    .bind(new.worker_id)
    .bind(new.period.to_string())
    .bind(wire_name(&new.kind))
    .bind(new.code)
    .bind(new.amount.to_string())
    .bind(new.reason)
    .bind(new.requested_by)
    .bind(timestamp(Utc::now()))
    .bind(new.idempotency.as_ref().map(|(key, _)| key.to_string()))
    .bind(new.idempotency.as_ref().map(|(_, hash)| hash.clone()))
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {
            let created = get_in(&mut tx, new.org_id, &id).await?;
            Audited::new(by.clone(), Action::AdjustmentRequest, format!("adjustments/{id}"))
                .after(Some(created.event()))
                .write(&mut tx, new.org_id)
                .await?;
            tx.commit().await?;
            Ok((created, true))
        }
        // Two retries racing: the other one recorded it.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            // Give the connection back first: SQLite's pool has only the one.
            drop(tx);
            let (key, hash) = new
                .idempotency
                .as_ref()
                .ok_or_else(|| Error::Internal("an adjustment id was drawn twice".into()))?;
            let existing = by_key(db, new.org_id, key, hash)
                .await?
                .ok_or_else(|| Error::Internal("a duplicate idempotency key with no adjustment".into()))?;
            Ok((existing, false))
        }
        Err(e) => Err(e.into()),
    }
}

async fn by_key(db: &Db, org: &str, key: &str, hash: &str) -> Result<Option<Adjustment>> {
    let found: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT id, request_hash FROM adjustments WHERE org_id = $1 AND idempotency_key = $2")
            .bind(org)
            .bind(key)
            .fetch_optional(db.pool())
            .await?;
    match found {
        None => Ok(None),
        Some((id, Some(recorded))) if recorded == hash => Ok(Some(get(db, org, &id).await?)),
        Some(_) => Err(Error::invalid(
            "Idempotency-Key",
            "already used for another request: use a new key for a new adjustment",
        )),
    }
}

pub async fn get(db: &Db, org: &str, id: &str) -> Result<Adjustment> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM adjustments WHERE org_id = $1 AND id = $2"
    ))
    .bind(org)
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.map(adjustment)
        .transpose()?
        .ok_or_else(|| Error::NotFound(format!("adjustment {id}")))
}

/// An adjustment as `tx` sees it: the change it is making included.
async fn get_in(tx: &mut Transaction<'_, Any>, org: &str, id: &str) -> Result<Adjustment> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM adjustments WHERE org_id = $1 AND id = $2"
    ))
    .bind(org)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(adjustment)
        .transpose()?
        .ok_or_else(|| Error::NotFound(format!("adjustment {id}")))
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<Status>,
    pub worker_id: Option<String>,
    pub period: Option<PayPeriod>,
    pub upload_id: Option<String>,
}

/// A page of an org's adjustments, newest first, and the cursor of the next page.
pub async fn list(
    db: &Db,
    org: &str,
    filter: &Filter,
    after: Option<&str>,
    size: u32,
) -> Result<(Vec<Adjustment>, Option<String>)> {
    Listing::of_org(COLUMNS, "adjustments", org)
        .and("status =", filter.status.as_ref().map(wire_name))
        .and("worker_id =", filter.worker_id.clone())
        .and("period =", filter.period.map(|p| p.to_string()))
        .and("upload_id =", filter.upload_id.clone())
        .and("id <", after.map(str::to_string))
        .page(db, "id DESC", size, adjustment, |a| a.id.clone())
        .await
}

/// A checker's decision on a pending adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    /// The status a decided adjustment has.
    fn status(self) -> Status {
        match self {
            Decision::Approve => Status::Approved,
            Decision::Reject => Status::Rejected,
        }
    }
}

/// Approves or rejects `current`, a pending adjustment as last read, as `checker`, making it the
/// next version. The requester can never decide their own request (four eyes); a decided one is
/// not decided again, even if it was decided since it was read. The decision's audit entry by
/// `by` is written in the same transaction.
pub async fn decide(
    db: &Db,
    current: &Adjustment,
    decision: Decision,
    checker: &str,
    note: Option<&str>,
    by: &Actor<'_>,
) -> Result<Adjustment> {
    let (org, id) = (current.org_id.as_str(), current.id.as_str());
    if current.requested_by == checker {
        return Err(Error::Forbidden(format!(
            "four eyes: {checker} requested adjustment {id} and cannot also {} it; another user with adjustments:approve must",
            match decision {
                Decision::Approve => "approve",
                Decision::Reject => "reject",
            }
        )));
    }
    if current.status != Status::Pending {
        return Err(Error::Conflict(format!(
            "adjustment {id} is {}: only a pending adjustment is approved or rejected",
            wire_name(&current.status)
        )));
    }
    let mut tx = db.pool().begin().await?;
    let moved = sqlx::query(
        "UPDATE adjustments SET status = $1, version = version + 1, decided_by = $2, decided_at = $3, decision_note = $4 \
         WHERE org_id = $5 AND id = $6 AND status = 'pending'",
    )
    .bind(wire_name(&decision.status()))
    .bind(checker)
    .bind(timestamp(Utc::now()))
    .bind(note)
    .bind(org)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Err(Error::Conflict(format!(
            "adjustment {id} was decided by someone else meanwhile; read it again"
        )));
    }
    let decided = get_in(&mut tx, org, id).await?;
    let action = match decision {
        Decision::Approve => Action::AdjustmentApprove,
        Decision::Reject => Action::AdjustmentReject,
    };
    Audited::new(by.clone(), action, format!("adjustments/{id}"))
        .before(Some(json!({"status": "pending", "version": decided.version - 1})))
        .after(Some(decided.event()))
        .write(&mut tx, org)
        .await?;
    tx.commit().await?;
    Ok(decided)
}

/// Approves or rejects every pending request of an upload at once, as `checker`: each becomes
/// its next version, as [`decide`] makes it. The uploader can never decide their own upload
/// (four eyes; the caller checks who uploaded it, the statement skips their requests anyway).
/// Returns how many were decided: 0 when none is pending any more. The decision's audit entry
/// by `by` (target the upload) is written in the same transaction.
pub async fn decide_upload(
    db: &Db,
    org: &str,
    upload_id: &str,
    decision: Decision,
    checker: &str,
    note: Option<&str>,
    by: &Actor<'_>,
) -> Result<u64> {
    let mut tx = db.pool().begin().await?;
    let moved = sqlx::query(
        "UPDATE adjustments SET status = $1, version = version + 1, decided_by = $2, decided_at = $3, decision_note = $4 \
         WHERE org_id = $5 AND upload_id = $6 AND status = 'pending' AND requested_by <> $2",
    )
    .bind(wire_name(&decision.status()))
    .bind(checker)
    .bind(timestamp(Utc::now()))
    .bind(note)
    .bind(org)
    .bind(upload_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(0);
    }
    let (action, status) = match decision {
        Decision::Approve => (Action::AdjustmentApproveUpload, "approved"),
        Decision::Reject => (Action::AdjustmentRejectUpload, "rejected"),
    };
    Audited::new(by.clone(), action, format!("uploads/{upload_id}"))
        .after(Some(json!({"status": status, "decided": moved, "note": note})))
        .write(&mut tx, org)
        .await?;
    tx.commit().await?;
    Ok(moved)
}

/// Versions not yet published, oldest first.
pub async fn unpublished(db: &Db, limit: u32) -> Result<Vec<Adjustment>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM adjustments WHERE published_version < version ORDER BY id LIMIT {limit}"
    ))
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(adjustment).collect()
}

pub async fn mark_published(db: &Db, id: &str, version: i64) -> Result<()> {
    sqlx::query("UPDATE adjustments SET published_version = $1 WHERE id = $2 AND published_version < $1")
        .bind(version)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Marks versions published, in one transaction: an upload publishes thousands at once, so
/// ids of the same version are marked a few hundred to a statement.
pub async fn mark_all_published(db: &Db, published: &[(String, i64)]) -> Result<()> {
    /// Ids bound per UPDATE: well under SQLite's and PostgreSQL's limits on parameters.
    const IDS: usize = 500;
    let mut by_version: std::collections::BTreeMap<i64, Vec<&str>> = std::collections::BTreeMap::new();
    for (id, version) in published {
        by_version.entry(*version).or_default().push(id);
    }
    let mut tx = db.pool().begin().await?;
    for (version, ids) in by_version {
        for chunk in ids.chunks(IDS) {
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "UPDATE adjustments SET published_version = $1 WHERE published_version < $1 AND id IN ({})",
                list.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(version);
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A request read back from an upload's staged rows, validated when it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Requested {
    pub worker_id: String,
    pub period: PayPeriod,
    pub kind: AdjustmentKind,
    pub code: String,
    pub amount: Decimal,
    pub reason: String,
}

/// Requests from one upload, all recorded `pending` (version 1) by `requested_by` in one
/// transaction, or none: as [`create`] records one, without an Idempotency-Key (the upload has
/// its own). `rows` is drawn a hundred at a time, so the upload's rows are never all in memory.
/// Returns how many were recorded.
pub async fn create_many(
    db: &Db,
    org: &str,
    requested_by: &str,
    upload_id: &str,
    rows: &mut (dyn Iterator<Item = Result<Requested>> + Send),
) -> Result<usize> {
    /// Rows bound per INSERT: well under SQLite's and PostgreSQL's limits on parameters.
    const ROWS: usize = 100;
    let now = timestamp(Utc::now());
    let mut tx = db.pool().begin().await?;
    let mut count = 0;
    loop {
        let chunk: Vec<Requested> = (&mut *rows).take(ROWS).collect::<Result<_>>()?;
        if chunk.is_empty() {
            break;
        }
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p: Vec<String> = (1..=11).map(|n| format!("${}", 11 * i + n)).collect();
                format!(
                    "({}, {}, {}, {}, {}, {}, {}, {}, 'pending', 1, {}, {}, {})",
                    p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10]
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO adjustments (id, org_id, worker_id, period, kind, code, amount, reason, status, version, \
             requested_by, requested_at, upload_id) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for a in &chunk {
            query = query
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(org)
                .bind(a.worker_id.as_str())
                .bind(a.period.to_string())
                .bind(wire_name(&a.kind))
                .bind(a.code.as_str())
                .bind(a.amount.to_string())
                .bind(a.reason.as_str())
                .bind(requested_by)
                .bind(now.clone())
                .bind(upload_id);
        }
        query.execute(&mut *tx).await?;
        count += chunk.len();
    }
    tx.commit().await?;
    Ok(count)
}
