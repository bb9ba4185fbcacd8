//! Payouts of finalized runs and each worker's payment state. A payment is `sent` when its
//! payout is recorded and `returned` once a bank return file names it; at most one payment of a
//! run to a worker is `sent` (a partial unique index), so a worker is never paid twice.

use std::collections::BTreeSet;

use chrono::Utc;
use rust_decimal::Decimal;

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
/// fail with a conflict: nothing of it is kept.
pub async fn record(db: &Db, new: NewPayout<'_>, payments: &[NewPayment<'_>]) -> Result<Payout> {
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
    tx.commit().await?;
    get(db, new.org_id, new.run_id, new.id).await
}

/// What a bank return file did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Returned {
    /// Payments marked returned now.
    pub returned: Vec<String>,
    /// References already returned by an earlier file (a file uploaded twice).
    pub already: Vec<String>,
}

/// Marks the payments of `payout` with these references returned, with the bank's reason. A
/// reference that is not a payment of the payout fails the whole file (422, naming the rows),
/// so a file meant for another payout changes nothing.
pub async fn mark_returned(db: &Db, org: &str, payout: &str, rows: &[(usize, String, String)]) -> Result<Returned> {
    let now = timestamp(Utc::now());
    let mut tx = db.pool().begin().await?;
    let mut unknown = Vec::new();
    let mut done = Returned::default();
    for (line, reference, reason) in rows {
        let found: Option<(String, String)> = sqlx::query_as(
            "SELECT worker_id, status FROM payout_payments WHERE org_id = $1 AND payout_id = $2 AND reference = $3",
        )
        .bind(org)
        .bind(payout)
        .bind(reference)
        .fetch_optional(&mut *tx)
        .await?;
        match found {
            None => unknown.push((
                format!("line {line}"),
                format!("`{reference}` is not the reference of a payment of payout {payout}"),
            )),
            Some((worker, status)) if status == "returned" => done.already.push(worker),
            Some((worker, _)) => {
                sqlx::query(
                    "UPDATE payout_payments SET status = 'returned', return_reason = $1, returned_at = $2 \
                     WHERE org_id = $3 AND payout_id = $4 AND reference = $5",
                )
                .bind(reason)
                .bind(&now)
                .bind(org)
                .bind(payout)
                .bind(reference)
                .execute(&mut *tx)
                .await?;
                done.returned.push(worker);
            }
        }
    }
    if !unknown.is_empty() {
        return Err(Error::Invalid(unknown));
    }
    tx.commit().await?;
    Ok(done)
}

/// How many payments of a payout a bank return file has marked returned.
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
