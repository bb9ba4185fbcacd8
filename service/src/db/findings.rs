//! A run's findings as stored: written with its Calculate move, listed and counted for the
//! approver, acknowledged one by one. A finding's status is read, not kept: `acknowledged` once
//! someone has, `excluded` while its worker is excluded from the run, else `open`.

use payroll_engine::findings::Finding;
use payroll_rules::Severity;
use sqlx::{Any, Transaction};

use super::audit::Audited;
use super::{Db, Listing, timestamp};
use crate::domain::findings::FindingStatus;
use crate::error::{Error, Result};

/// Findings written per statement.
const CHUNK: usize = 500;

/// A finding as stored, with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFinding {
    pub run_id: String,
    /// Its number in the run, from 1: the id the API gives it.
    pub seq: i64,
    pub worker_id: String,
    pub check: String,
    pub severity: String,
    pub message: String,
    pub status: FindingStatus,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
    pub reason: Option<String>,
}

type Row = (
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl StoredFinding {
    fn of(row: Row) -> Result<StoredFinding> {
        let (run_id, seq, worker_id, check, severity, message, status, acknowledged_by, acknowledged_at, reason) = row;
        Ok(StoredFinding {
            status: status
                .parse()
                .map_err(|e| Error::Internal(format!("stored finding {seq} of run {run_id}: {e}")))?,
            run_id,
            seq,
            worker_id,
            check,
            severity,
            message,
            acknowledged_by,
            acknowledged_at,
            reason,
        })
    }
}

/// A finding's status from its row (`f`) and the run's exclusions.
const STATUS: &str = "CASE WHEN f.acknowledged_by IS NOT NULL THEN 'acknowledged' \
     WHEN EXISTS (SELECT 1 FROM run_exclusions x WHERE x.run_id = f.run_id AND x.worker_id = f.worker_id) \
     THEN 'excluded' ELSE 'open' END";

fn columns() -> String {
    format!(
        "f.run_id, f.seq, f.worker_id, f.check_name, f.severity, f.message, {STATUS}, f.acknowledged_by, f.acknowledged_at, f.reason"
    )
}

/// Writes a run's findings (those of an earlier calculation of it are replaced).
pub(super) async fn record(tx: &mut Transaction<'_, Any>, org: &str, run_id: &str, findings: &[Finding]) -> Result<()> {
    sqlx::query("DELETE FROM run_findings WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut **tx)
        .await?;
    for (chunk_no, chunk) in findings.chunks(CHUNK).enumerate() {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let n = 7 * i;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6,
                    n + 7
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO run_findings (org_id, run_id, seq, worker_id, check_name, severity, message) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (i, f) in chunk.iter().enumerate() {
            let seq = (chunk_no * CHUNK + i + 1) as i64;
            query = query
                .bind(org)
                .bind(run_id)
                .bind(seq)
                .bind(&f.worker_id)
                .bind(&f.check)
                .bind(f.severity.as_str())
                .bind(&f.message);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Which findings a listing wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub check: Option<String>,
    pub severity: Option<String>,
    pub status: Option<FindingStatus>,
    pub worker_id: Option<String>,
    /// Only findings after this `seq` (the page before's last).
    pub after: Option<i64>,
}

/// A page of a run's findings in the order found, and the `seq` the next page starts after.
pub async fn list(
    db: &Db,
    org: &str,
    run_id: &str,
    filter: &Filter,
    size: u32,
) -> Result<(Vec<StoredFinding>, Option<i64>)> {
    Listing::of_org(&columns(), "run_findings f", org)
        .and("f.run_id =", Some(run_id.to_string()))
        .and("f.check_name =", filter.check.clone())
        .and("f.severity =", filter.severity.clone())
        .and("f.worker_id =", filter.worker_id.clone())
        .and(&format!("{STATUS} ="), filter.status.map(|s| s.as_str().to_string()))
        .and_number("f.seq >", filter.after)
        .page(db, "f.seq", size, StoredFinding::of, |f: &StoredFinding| f.seq)
        .await
}

/// The (worker, check) pairs of a run's findings, of one severity if given.
pub async fn pairs(
    db: &Db,
    org: &str,
    run_id: &str,
    severity: Option<Severity>,
) -> Result<std::collections::BTreeSet<(String, String)>> {
    let pairs: Vec<(String, String)> = sqlx::query_as(
        "SELECT worker_id, check_name FROM run_findings WHERE org_id = $1 AND run_id = $2 AND ($3 = '' OR severity = $3)",
    )
    .bind(org)
    .bind(run_id)
    .bind(severity.map_or("", Severity::as_str))
    .fetch_all(db.pool())
    .await?;
    Ok(pairs.into_iter().collect())
}

/// One finding of a run.
pub async fn get(db: &Db, org: &str, run_id: &str, seq: i64) -> Result<StoredFinding> {
    let sql = format!(
        "SELECT {} FROM run_findings f WHERE f.org_id = $1 AND f.run_id = $2 AND f.seq = $3",
        columns()
    );
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(org)
        .bind(run_id)
        .bind(seq)
        .fetch_optional(db.pool())
        .await?;
    row.map(StoredFinding::of)
        .transpose()?
        .ok_or_else(|| Error::NotFound(format!("finding {seq} of run {run_id}")))
}

/// Per check and severity: how many findings the run has, and how many are open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub check: String,
    pub severity: String,
    pub total: i64,
    pub open: i64,
}

pub async fn counts(db: &Db, org: &str, run_id: &str) -> Result<Vec<Count>> {
    let sql = format!(
        "SELECT f.check_name, f.severity, COUNT(*), SUM(CASE WHEN {STATUS} = 'open' THEN 1 ELSE 0 END) \
         FROM run_findings f WHERE f.org_id = $1 AND f.run_id = $2 GROUP BY f.check_name, f.severity \
         ORDER BY f.check_name"
    );
    let rows: Vec<(String, String, i64, i64)> =
        sqlx::query_as(&sql).bind(org).bind(run_id).fetch_all(db.pool()).await?;
    Ok(rows
        .into_iter()
        .map(|(check, severity, total, open)| Count {
            check,
            severity,
            total,
            open,
        })
        .collect())
}

/// The run's open `block` findings: how many, and the first `first` of them.
pub async fn open_blocks(db: &Db, org: &str, run_id: &str, first: u32) -> Result<(i64, Vec<StoredFinding>)> {
    let count_sql = format!(
        "SELECT COUNT(*) FROM run_findings f WHERE f.org_id = $1 AND f.run_id = $2 AND f.severity = 'block' AND {STATUS} = 'open'"
    );
    let (count,): (i64,) = sqlx::query_as(&count_sql)
        .bind(org)
        .bind(run_id)
        .fetch_one(db.pool())
        .await?;
    let filter = Filter {
        severity: Some("block".to_string()),
        status: Some(FindingStatus::Open),
        ..Filter::default()
    };
    let (shown, _) = list(db, org, run_id, &filter, first).await?;
    Ok((count, shown))
}

/// Acknowledges an open finding of a calculated run, saying why, with its audit entry in the
/// same transaction; a finding acknowledged already, or of a run that is no longer calculated,
/// is a conflict.
pub async fn acknowledge(
    db: &Db,
    org: &str,
    run_id: &str,
    seq: i64,
    reason: &str,
    audit: &Audited<'_>,
) -> Result<StoredFinding> {
    let mut tx = db.pool().begin().await?;
    let changed = sqlx::query(
        "UPDATE run_findings SET acknowledged_by = $1, acknowledged_at = $2, reason = $3 \
         WHERE org_id = $4 AND run_id = $5 AND seq = $6 AND acknowledged_by IS NULL \
         AND EXISTS (SELECT 1 FROM runs r WHERE r.id = $5 AND r.org_id = $4 AND r.status = 'calculated')",
    )
    .bind(audit.actor.sub)
    .bind(timestamp(chrono::Utc::now()))
    .bind(reason)
    .bind(org)
    .bind(run_id)
    .bind(seq)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed != 1 {
        drop(tx);
        let now = get(db, org, run_id, seq).await?;
        return Err(Error::Conflict(match now.acknowledged_by {
            Some(by) => format!("finding {seq} of run {run_id} was acknowledged already, by {by}"),
            None => {
                format!("run {run_id} is not calculated: its findings are acknowledged while it waits for approval")
            }
        }));
    }
    audit.write(&mut tx, org).await?;
    tx.commit().await?;
    get(db, org, run_id, seq).await
}

/// Acknowledges every open finding of check `check` of calculated run `run_id` (of
/// `worker_id` only, if given), saying why, with one audit entry in the same transaction: how
/// many it acknowledged (0 for none open).
#[allow(clippy::too_many_arguments, reason = "the findings, the reason and the audit entry")]
pub async fn acknowledge_check(
    db: &Db,
    org: &str,
    run_id: &str,
    check: &str,
    worker_id: Option<&str>,
    reason: &str,
    audit: &Audited<'_>,
) -> Result<u64> {
    let mut tx = db.pool().begin().await?;
    let calculated: Option<(String,)> =
        sqlx::query_as("SELECT status FROM runs WHERE id = $1 AND org_id = $2 AND status = 'calculated'")
            .bind(run_id)
            .bind(org)
            .fetch_optional(&mut *tx)
            .await?;
    if calculated.is_none() {
        drop(tx);
        return Err(Error::Conflict(format!(
            "run {run_id} is not calculated: its findings are acknowledged while it waits for approval"
        )));
    }
    let changed = sqlx::query(
        "UPDATE run_findings SET acknowledged_by = $1, acknowledged_at = $2, reason = $3 \
         WHERE org_id = $4 AND run_id = $5 AND check_name = $6 AND ($7 = '' OR worker_id = $7) \
         AND acknowledged_by IS NULL AND NOT EXISTS \
         (SELECT 1 FROM run_exclusions x WHERE x.run_id = run_findings.run_id AND x.worker_id = run_findings.worker_id)",
    )
    .bind(audit.actor.sub)
    .bind(timestamp(chrono::Utc::now()))
    .bind(reason)
    .bind(org)
    .bind(run_id)
    .bind(check)
    .bind(worker_id.unwrap_or_default())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed > 0 {
        let mut audit = audit.clone();
        if let Some(after) = audit.after.as_mut() {
            after["acknowledged"] = serde_json::json!(changed);
        }
        audit.write(&mut tx, org).await?;
    }
    tx.commit().await?;
    Ok(changed)
}
