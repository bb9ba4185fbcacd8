//! Payouts of finalized runs and each worker's payment state. A payment is `sent` when its
//! payout is recorded and `returned` once a bank return naming it is approved by a second
//! person; at most one payment of a run to a worker is `sent` (a partial unique index), so a
//! worker is never paid twice.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use rust_decimal::Decimal;

use serde_json::json;
use sqlx::{Any, Transaction};

use super::audit::{Action, Actor, Audited};
use super::{Db, Listing, timestamp};
use crate::error::{Error, Result};

/// A payout as the service keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Payout {
    pub id: String,
    pub org_id: String,
    pub run_id: String,
    pub seq: i64,
    pub payments: i64,
    pub total: Decimal,
    pub exceptions: i64,
    pub created_by: String,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    run_id: String,
    seq: i64,
    payments: i64,
    total: String,
    exceptions: i64,
    created_by: String,
    created_at: String,
}

const COLUMNS: &str = "id, org_id, run_id, seq, payments, total, exceptions, created_by, created_at";

fn payout(row: Row) -> Result<Payout> {
    Ok(Payout {
        total: row
            .total
            .parse()
            .map_err(|e| Error::Internal(format!("payout {}: total `{}`: {e}", row.id, row.total)))?,
        id: row.id,
        org_id: row.org_id,
        run_id: row.run_id,
        seq: row.seq,
        payments: row.payments,
        exceptions: row.exceptions,
        created_by: row.created_by,
        created_at: row.created_at,
    })
}

pub async fn get(db: &Db, org: &str, run_id: &str, id: &str) -> Result<Payout> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payouts WHERE org_id = $1 AND run_id = $2 AND id = $3"
    ))
    .bind(org)
    .bind(run_id)
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.map(payout)
        .transpose()?
        .ok_or_else(|| Error::NotFound(format!("payout {id} of run {run_id}")))
}

/// A page of a run's payouts, first made first, and the cursor (a `seq`) of the next page.
pub async fn list(
    db: &Db,
    org: &str,
    run_id: &str,
    after_seq: Option<i64>,
    size: u32,
) -> Result<(Vec<Payout>, Option<i64>)> {
    Listing::of_org(COLUMNS, "payouts", org)
        .and("run_id =", Some(run_id.to_string()))
        .and_number("seq >", after_seq)
        .page(db, "seq", size, payout, |p| p.seq)
        .await
}

/// The payout an earlier request with this Idempotency-Key made, if any; the same key for
/// another run is refused.
pub async fn by_key(db: &Db, org: &str, run_id: &str, key: &str) -> Result<Option<Payout>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payouts WHERE org_id = $1 AND idempotency_key = $2"
    ))
    .bind(org)
    .bind(key)
    .fetch_optional(db.pool())
    .await?;
    match row.map(payout).transpose()? {
        Some(p) if p.run_id != run_id => Err(Error::invalid(
            "Idempotency-Key",
            format!("already used for a payout of run {}: use a new key", p.run_id),
        )),
        found => Ok(found),
    }
}

/// The next payout's sequence number and the workers of the run with a payment outstanding
/// (sent, not returned): they are not paid again.
pub async fn paid(db: &Db, org: &str, run_id: &str) -> Result<(i64, BTreeSet<String>)> {
    let (seq,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq), 0) FROM payouts WHERE org_id = $1 AND run_id = $2")
        .bind(org)
        .bind(run_id)
        .fetch_one(db.pool())
        .await?;
    let sent: Vec<(String,)> =
        sqlx::query_as("SELECT worker_id FROM payout_payments WHERE org_id = $1 AND run_id = $2 AND status = 'sent'")
            .bind(org)
            .bind(run_id)
            .fetch_all(db.pool())
            .await?;
    Ok((seq + 1, sent.into_iter().map(|(w,)| w).collect()))
}

/// A payment to record.
pub struct NewPayment<'a> {
    pub worker_id: &'a str,
    pub reference: &'a str,
    pub amount: Decimal,
}

pub struct NewPayout<'a> {
    pub org_id: &'a str,
    pub run_id: &'a str,
    pub id: &'a str,
    pub seq: i64,
    pub total: Decimal,
    pub exceptions: i64,
    pub created_by: &'a str,
    pub idempotency_key: Option<&'a str>,
}

/// Rows a multi-row insert carries: 6 parameters each, well under SQLite's and PostgreSQL's
/// limits.
const INSERT_ROWS: usize = 500;

/// Records a payout and its payments as `sent`, in one transaction. Another payout of the run
/// recorded since `paid` was read (same sequence number, or a worker it pays) makes this one
/// fail with a conflict: nothing of it is kept. Its `payout.create` audit entry, `audit`, is
/// written in the same transaction: no payout is kept unaudited.
pub async fn record(db: &Db, new: NewPayout<'_>, payments: &[NewPayment<'_>], audit: &Audited<'_>) -> Result<Payout> {
    let now = timestamp(Utc::now());
    let mut tx = db.pool().begin().await?;
    let conflict = |e: sqlx::Error| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::Conflict(format!(
            "another payout of run {} was made at the same time: read the run's payouts, then retry what is left",
            new.run_id
        )),
        _ => e.into(),
    };
    sqlx::query(
        "INSERT INTO payouts (id, org_id, run_id, seq, payments, total, exceptions, created_by, created_at, idempotency_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new.id)
    .bind(new.org_id)
    .bind(new.run_id)
    .bind(new.seq)
    .bind(payments.len() as i64)
    .bind(new.total.to_string())
    .bind(new.exceptions)
    .bind(new.created_by)
    .bind(&now)
    .bind(new.idempotency_key)
    .execute(&mut *tx)
    .await
    .map_err(conflict)?;
    for chunk in payments.chunks(INSERT_ROWS) {
        let mut sql = String::from(
            "INSERT INTO payout_payments (payout_id, org_id, run_id, worker_id, reference, amount, status) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 6;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, 'sent')",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6
            ));
        }
        let mut query = sqlx::query(&sql);
        for p in chunk {
            query = query
                .bind(new.id)
                .bind(new.org_id)
                .bind(new.run_id)
                .bind(p.worker_id)
                .bind(p.reference)
                .bind(p.amount.to_string());
        }
        query.execute(&mut *tx).await.map_err(conflict)?;
    }
    audit.write(&mut tx, new.org_id).await?;
    tx.commit().await?;
    get(db, new.org_id, new.run_id, new.id).await
}

/// A payment a return file names: its line, the payment's reference and the bank's reason.
pub struct ReturnRow {
    pub line: usize,
    pub reference: String,
    pub reason: String,
}

/// A bank return of a payout: `pending` when recorded, then `approved` (its payments are marked
/// returned and the next payout pays them again) or `rejected`, by someone other than its maker.
#[derive(Debug, Clone, PartialEq)]
pub struct Return {
    pub id: String,
    pub org_id: String,
    pub run_id: String,
    pub payout_id: String,
    pub seq: i64,
    pub status: String,
    pub payments: i64,
    pub total: Decimal,
    pub recorded_by: String,
    pub recorded_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub rejection: Option<String>,
    pub items: Vec<ReturnItem>,
}

/// A payment a return names.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ReturnItem {
    pub reference: String,
    pub worker_id: String,
    pub amount: String,
    pub reason: String,
    pub line: i64,
}

#[derive(sqlx::FromRow)]
struct ReturnRowDb {
    id: String,
    org_id: String,
    run_id: String,
    payout_id: String,
    seq: i64,
    status: String,
    payments: i64,
    total: String,
    recorded_by: String,
    recorded_at: String,
    decided_by: Option<String>,
    decided_at: Option<String>,
    rejection: Option<String>,
}

const RETURN_COLUMNS: &str = "id, org_id, run_id, payout_id, seq, status, payments, total, recorded_by, recorded_at, \
                              decided_by, decided_at, rejection";

fn return_of(row: ReturnRowDb) -> Result<Return> {
    Ok(Return {
        total: row
            .total
            .parse()
            .map_err(|e| Error::Internal(format!("return {}: total `{}`: {e}", row.id, row.total)))?,
        id: row.id,
        org_id: row.org_id,
        run_id: row.run_id,
        payout_id: row.payout_id,
        seq: row.seq,
        status: row.status,
        payments: row.payments,
        recorded_by: row.recorded_by,
        recorded_at: row.recorded_at,
        decided_by: row.decided_by,
        decided_at: row.decided_at,
        rejection: row.rejection,
        items: Vec::new(),
    })
}

async fn items<'e, E>(executor: E, org: &str, return_id: &str) -> Result<Vec<ReturnItem>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(
        "SELECT reference, worker_id, amount, reason, line FROM payout_return_items \
         WHERE org_id = $1 AND return_id = $2 ORDER BY line",
    )
    .bind(org)
    .bind(return_id)
    .fetch_all(executor)
    .await?)
}

/// A return as `tx` sees it (the change it makes included), without its payments.
async fn return_in(tx: &mut Transaction<'_, Any>, org: &str, payout: &str, id: &str) -> Result<Return> {
    let row: Option<ReturnRowDb> = sqlx::query_as(&format!(
        "SELECT {RETURN_COLUMNS} FROM payout_returns WHERE org_id = $1 AND payout_id = $2 AND id = $3"
    ))
    .bind(org)
    .bind(payout)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(return_of)
        .transpose()?
        .ok_or_else(|| Error::NotFound(format!("return {id} of payout {payout}")))
}

fn return_target(r: &Return) -> String {
    format!("runs/{}/payouts/{}/returns/{}", r.run_id, r.payout_id, r.id)
}

/// A return of the payout, with the payments it names.
pub async fn get_return(db: &Db, org: &str, payout: &str, id: &str) -> Result<Return> {
    let row: Option<ReturnRowDb> = sqlx::query_as(&format!(
        "SELECT {RETURN_COLUMNS} FROM payout_returns WHERE org_id = $1 AND payout_id = $2 AND id = $3"
    ))
    .bind(org)
    .bind(payout)
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    let mut found = row
        .map(return_of)
        .transpose()?
        .ok_or_else(|| Error::NotFound(format!("return {id} of payout {payout}")))?;
    found.items = items(db.pool(), org, id).await?;
    Ok(found)
}

/// A page of a payout's returns, first recorded first, each with its payments, and the cursor
/// (a `seq`) of the next page.
pub async fn list_returns(
    db: &Db,
    org: &str,
    payout: &str,
    after_seq: Option<i64>,
    size: u32,
) -> Result<(Vec<Return>, Option<i64>)> {
    let (mut found, next) = Listing::of_org(RETURN_COLUMNS, "payout_returns", org)
        .and("payout_id =", Some(payout.to_string()))
        .and_number("seq >", after_seq)
        .page(db, "seq", size, return_of, |r| r.seq)
        .await?;
    for r in &mut found {
        r.items = items(db.pool(), org, &r.id).await?;
    }
    Ok((found, next))
}

/// A return to record.
pub struct NewReturn<'a> {
    pub org_id: &'a str,
    pub run_id: &'a str,
    pub payout_id: &'a str,
    pub id: &'a str,
    pub recorded_by: &'a str,
}

/// Records a pending return naming these payments of the payout. The whole file is refused
/// (422, naming each line) if a reference is not a payment of the payout, appears twice in the
/// file, is in another return of the payout that was not rejected, or was marked returned
/// before returns needed a second person: each payment is returned once. Nothing is paid until
/// [`decide_return`] approves it. Its `payout.return` audit entry by `by` is written in the
/// same transaction.
pub async fn record_return(db: &Db, new: NewReturn<'_>, rows: &[ReturnRow], by: &Actor<'_>) -> Result<Return> {
    let now = timestamp(Utc::now());
    let mut tx = db.pool().begin().await?;
    // The payout's payments and the returns naming them, read once: a file names many.
    let payments: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT reference, worker_id, amount, status FROM payout_payments WHERE org_id = $1 AND payout_id = $2",
    )
    .bind(new.org_id)
    .bind(new.payout_id)
    .fetch_all(&mut *tx)
    .await?;
    let payments: BTreeMap<String, (String, String, String)> =
        payments.into_iter().map(|(r, w, a, s)| (r, (w, a, s))).collect();
    let named: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT i.reference, r.seq, r.status FROM payout_return_items i \
         JOIN payout_returns r ON r.id = i.return_id \
         WHERE i.org_id = $1 AND i.payout_id = $2 AND i.status <> 'rejected'",
    )
    .bind(new.org_id)
    .bind(new.payout_id)
    .fetch_all(&mut *tx)
    .await?;
    let named: BTreeMap<String, (i64, String)> = named.into_iter().map(|(r, seq, s)| (r, (seq, s))).collect();
    let mut faults = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut chosen = Vec::with_capacity(rows.len());
    for row in rows {
        let at = format!("line {}", row.line);
        let reference = row.reference.as_str();
        if let Some(first) = seen.insert(reference, row.line) {
            faults.push((at, format!("`{reference}` is named on line {first} already")));
            continue;
        }
        match (payments.get(reference), named.get(reference)) {
            (None, _) => faults.push((
                at,
                format!(
                    "`{reference}` is not the reference of a payment of payout {}",
                    new.payout_id
                ),
            )),
            (Some(_), Some((seq, status))) => faults.push((
                at,
                format!(
                    "`{reference}` is in return {seq} of this payout already ({status}): a payment is returned once"
                ),
            )),
            (Some((_, _, status)), None) if status != "sent" => faults.push((
                at,
                format!("`{reference}` was marked {status} already: a payment is returned once"),
            )),
            (Some((worker, amount, _)), None) => chosen.push((row, worker, amount)),
        }
    }
    if !faults.is_empty() {
        return Err(Error::Invalid(faults));
    }
    let mut total = Decimal::ZERO;
    for (_, _, amount) in &chosen {
        total += amount
            .parse::<Decimal>()
            .map_err(|e| Error::Internal(format!("payment amount `{amount}`: {e}")))?;
    }
    let (seq,): (i64,) =
        sqlx::query_as("SELECT COALESCE(MAX(seq), 0) + 1 FROM payout_returns WHERE org_id = $1 AND payout_id = $2")
            .bind(new.org_id)
            .bind(new.payout_id)
            .fetch_one(&mut *tx)
            .await?;
    let conflict = |e: sqlx::Error| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::Conflict(format!(
            "another return of payout {} was recorded at the same time: read the payout's returns, then record what is left",
            new.payout_id
        )),
        _ => e.into(),
    };
    sqlx::query(
        "INSERT INTO payout_returns (id, org_id, run_id, payout_id, seq, status, payments, total, recorded_by, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9)",
    )
    .bind(new.id)
    .bind(new.org_id)
    .bind(new.run_id)
    .bind(new.payout_id)
    .bind(seq)
    .bind(chosen.len() as i64)
    .bind(total.to_string())
    .bind(new.recorded_by)
    .bind(&now)
    .execute(&mut *tx)
    .await
    .map_err(conflict)?;
    // 8 parameters a row: well under SQLite's and PostgreSQL's limits.
    for chunk in chosen.chunks(INSERT_ROWS) {
        let mut sql = String::from(
            "INSERT INTO payout_return_items (return_id, org_id, payout_id, reference, worker_id, amount, reason, line, status) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 8;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, 'pending')",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8
            ));
        }
        let mut query = sqlx::query(&sql);
        for (row, worker, amount) in chunk {
            query = query
                .bind(new.id)
                .bind(new.org_id)
                .bind(new.payout_id)
                .bind(row.reference.as_str())
                .bind(worker.as_str())
                .bind(amount.as_str())
                .bind(row.reason.as_str())
                .bind(row.line as i64);
        }
        query.execute(&mut *tx).await.map_err(conflict)?;
    }
    let recorded = return_in(&mut tx, new.org_id, new.payout_id, new.id).await?;
    let after = json!({
        "seq": recorded.seq, "status": recorded.status, "payments": recorded.payments,
        "total": format!("{:.2}", recorded.total),
    });
    Audited::new(by.clone(), Action::PayoutReturn, return_target(&recorded))
        .after(Some(after))
        .write(&mut tx, new.org_id)
        .await?;
    tx.commit().await?;
    get_return(db, new.org_id, new.payout_id, new.id).await
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnDecision {
    Approve,
    Reject,
}

/// Approves or rejects a pending return (the caller has checked it is another person's).
/// Approving marks its payments returned in the same transaction, so the run's next payout
/// pays them again; a return decided already is a conflict (409). The decision's audit entry
/// by `by` is written in the same transaction.
pub async fn decide_return(
    db: &Db,
    org: &str,
    payout: &str,
    id: &str,
    decision: ReturnDecision,
    rejection: Option<&str>,
    by: &Actor<'_>,
) -> Result<Return> {
    let checker = by.sub;
    let status = match decision {
        ReturnDecision::Approve => "approved",
        ReturnDecision::Reject => "rejected",
    };
    let now = timestamp(Utc::now());
    let mut tx = db.pool().begin().await?;
    // Only a pending return changes: of two decisions at once, one finds it decided.
    let changed = sqlx::query(
        "UPDATE payout_returns SET status = $1, decided_by = $2, decided_at = $3, rejection = $4 \
         WHERE org_id = $5 AND payout_id = $6 AND id = $7 AND status = 'pending'",
    )
    .bind(status)
    .bind(checker)
    .bind(&now)
    .bind(rejection)
    .bind(org)
    .bind(payout)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed != 1 {
        drop(tx);
        let now = get_return(db, org, payout, id).await?;
        return Err(Error::Conflict(format!(
            "return {} of payout {payout} is {} already (by {}): only a pending return is approved or rejected",
            now.seq,
            now.status,
            now.decided_by.as_deref().unwrap_or("someone")
        )));
    }
    sqlx::query("UPDATE payout_return_items SET status = $1 WHERE org_id = $2 AND return_id = $3")
        .bind(status)
        .bind(org)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if decision == ReturnDecision::Approve {
        sqlx::query(
            "UPDATE payout_payments SET status = 'returned', returned_at = $1, return_reason = \
             (SELECT i.reason FROM payout_return_items i WHERE i.return_id = $2 AND i.reference = payout_payments.reference) \
             WHERE org_id = $3 AND payout_id = $4 AND status = 'sent' \
             AND reference IN (SELECT reference FROM payout_return_items WHERE return_id = $2)",
        )
        .bind(&now)
        .bind(id)
        .bind(org)
        .bind(payout)
        .execute(&mut *tx)
        .await?;
    }
    let decided = return_in(&mut tx, org, payout, id).await?;
    let mut after = json!({
        "seq": decided.seq, "status": decided.status, "payments": decided.payments,
        "total": format!("{:.2}", decided.total), "recorded_by": decided.recorded_by,
    });
    if let Some(reason) = rejection {
        after["reason"] = json!(reason);
    }
    let action = match decision {
        ReturnDecision::Approve => Action::PayoutReturnApprove,
        ReturnDecision::Reject => Action::PayoutReturnReject,
    };
    Audited::new(by.clone(), action, return_target(&decided))
        .before(Some(json!({"status": "pending"})))
        .after(Some(after))
        .write(&mut tx, org)
        .await?;
    tx.commit().await?;
    get_return(db, org, payout, id).await
}

/// How many payments of a payout approved bank returns have marked returned.
pub async fn returned_count(db: &Db, org: &str, payout: &str) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM payout_payments WHERE org_id = $1 AND payout_id = $2 AND status = 'returned'",
    )
    .bind(org)
    .bind(payout)
    .fetch_one(db.pool())
    .await?;
    Ok(n)
}
