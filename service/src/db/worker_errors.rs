//! Workers a run could not compute, and the exclusions that let a final run with such workers
//! be approved. Errors are written once, with the run's Calculate move; an exclusion records
//! who left a worker out, when and why. Every query takes the token's org first.

use chrono::Utc;
use payroll_engine::WorkerError;
use sqlx::{Any, Transaction};

use super::{Db, timestamp};
use crate::error::{Error, Result};

/// Rows per multi-row `INSERT`: 4 parameters each, well under SQLite's and PostgreSQL's limits.
const CHUNK: usize = 500;

/// A worker left out of a run on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    pub worker_id: String,
    pub reason: String,
    pub excluded_by: String,
    pub excluded_at: String,
}

/// A worker error of a run, and the worker's exclusion if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedError {
    pub error: WorkerError,
    pub exclusion: Option<Exclusion>,
}

/// Writes a run's worker errors in the transaction of its Calculate move (replacing any an
/// earlier, unfinished attempt left).
pub(super) async fn record(tx: &mut Transaction<'_, Any>, run_id: &str, errors: &[WorkerError]) -> Result<()> {
    sqlx::query("DELETE FROM run_worker_errors WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut **tx)
        .await?;
    for chunk in errors.chunks(CHUNK) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${}, ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
            .collect();
        let sql = format!(
            "INSERT INTO run_worker_errors (run_id, worker_id, component, reason) VALUES {} ON CONFLICT DO NOTHING",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for e in chunk {
            query = query.bind(run_id).bind(&e.worker_id).bind(&e.component).bind(&e.reason);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Workers of the run with an error and no exclusion.
pub async fn unexcluded(db: &Db, org: &str, run_id: &str) -> Result<u64> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(DISTINCT e.worker_id) FROM run_worker_errors e JOIN runs r ON r.id = e.run_id \
         WHERE r.org_id = $1 AND e.run_id = $2 AND NOT EXISTS \
         (SELECT 1 FROM run_exclusions x WHERE x.run_id = e.run_id AND x.worker_id = e.worker_id)",
    )
    .bind(org)
    .bind(run_id)
    .fetch_one(db.pool())
    .await?;
    Ok(u64::try_from(count).unwrap_or_default())
}

#[derive(sqlx::FromRow)]
struct ErrorRow {
    worker_id: String,
    org_id: String,
    component: String,
    reason: String,
    excluded_reason: Option<String>,
    excluded_by: Option<String>,
    excluded_at: Option<String>,
}

/// A page of the run's errors by worker id and component, from `offset`, and whether more
/// follow. A calculated run's errors never change, so an offset is a stable cursor.
pub async fn page(db: &Db, org: &str, run_id: &str, offset: usize, size: usize) -> Result<(Vec<RecordedError>, bool)> {
    let offset = i64::try_from(offset).map_err(|_| Error::invalid("page_token", "not a token this API gave"))?;
    let rows: Vec<ErrorRow> = sqlx::query_as(&format!(
        "SELECT e.worker_id, r.org_id, e.component, e.reason, x.reason AS excluded_reason, x.excluded_by, x.excluded_at \
         FROM run_worker_errors e JOIN runs r ON r.id = e.run_id \
         LEFT JOIN run_exclusions x ON x.run_id = e.run_id AND x.worker_id = e.worker_id \
         WHERE r.org_id = $1 AND e.run_id = $2 ORDER BY e.worker_id, e.component LIMIT {} OFFSET $3",
        size + 1
    ))
    .bind(org)
    .bind(run_id)
    .bind(offset)
    .fetch_all(db.pool())
    .await?;
    let more = rows.len() > size;
    let errors = rows
        .into_iter()
        .take(size)
        .map(|row| RecordedError {
            exclusion: match (row.excluded_reason, row.excluded_by, row.excluded_at) {
                (Some(reason), Some(excluded_by), Some(excluded_at)) => Some(Exclusion {
                    worker_id: row.worker_id.clone(),
                    reason,
                    excluded_by,
                    excluded_at,
                }),
                _ => None,
            },
            error: WorkerError {
                worker_id: row.worker_id,
                org_id: row.org_id,
                component: row.component,
                reason: row.reason,
            },
        })
        .collect();
    Ok((errors, more))
}

/// One worker's errors in a run (none when it was computed).
pub async fn of_worker(db: &Db, org: &str, run_id: &str, worker: &str) -> Result<Vec<WorkerError>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT e.component, e.reason FROM run_worker_errors e JOIN runs r ON r.id = e.run_id \
         WHERE r.org_id = $1 AND e.run_id = $2 AND e.worker_id = $3 ORDER BY e.component",
    )
    .bind(org)
    .bind(run_id)
    .bind(worker)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(component, reason)| WorkerError {
            worker_id: worker.to_string(),
            org_id: org.to_string(),
            component,
            reason,
        })
        .collect())
}

/// The run's exclusions, oldest first.
pub async fn exclusions(db: &Db, org: &str, run_id: &str) -> Result<Vec<Exclusion>> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT x.worker_id, x.reason, x.excluded_by, x.excluded_at FROM run_exclusions x \
         JOIN runs r ON r.id = x.run_id WHERE r.org_id = $1 AND x.run_id = $2 ORDER BY x.excluded_at, x.worker_id",
    )
    .bind(org)
    .bind(run_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(worker_id, reason, excluded_by, excluded_at)| Exclusion {
            worker_id,
            reason,
            excluded_by,
            excluded_at,
        })
        .collect())
}

/// Excludes `workers` from a calculated final run of `org`, as `actor`, for `reason`. Each
/// must have an error in the run; a worker excluded before keeps its first exclusion. The run
/// is touched in the same transaction under the condition that it is still calculated, so an
/// exclusion never lands on a run approved meanwhile.
pub async fn exclude(
    db: &Db,
    org: &str,
    run_id: &str,
    workers: &[String],
    reason: &str,
    actor: &str,
    audit: &super::audit::Audited<'_>,
) -> Result<()> {
    let mut unknown = Vec::new();
    for chunk in workers.chunks(CHUNK) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT worker_id FROM run_worker_errors WHERE run_id = $1 AND worker_id IN ({0}) \
             UNION SELECT worker_id FROM run_findings WHERE run_id = $1 AND worker_id IN ({0})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as::<_, (String,)>(&sql).bind(run_id);
        for w in chunk {
            query = query.bind(w);
        }
        let found: Vec<String> = query.fetch_all(db.pool()).await?.into_iter().map(|(w,)| w).collect();
        unknown.extend(chunk.iter().filter(|w| !found.contains(w)).cloned());
    }
    if !unknown.is_empty() {
        let shown: Vec<&str> = unknown.iter().take(10).map(String::as_str).collect();
        return Err(Error::invalid(
            "worker_ids",
            format!(
                "{} worker(s) have no worker error or finding in run {run_id}, and only those can be excluded: {}{}",
                unknown.len(),
                shown.join(", "),
                if unknown.len() > shown.len() { ", ..." } else { "" }
            ),
        ));
    }
    let now = timestamp(Utc::now());
    let mut tx = db.pool().begin().await?;
    let open = sqlx::query(
        "UPDATE runs SET updated_at = $1 WHERE id = $2 AND org_id = $3 AND kind = 'final' AND status = 'calculated'",
    )
    .bind(&now)
    .bind(run_id)
    .bind(org)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if open == 0 {
        drop(tx);
        return Err(Error::Conflict(format!(
            "run {run_id} is no longer a calculated final run: workers are excluded before approval"
        )));
    }
    for chunk in workers.chunks(CHUNK) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, $2, $3, $4, ${})", i + 5))
            .collect();
        let sql = format!(
            "INSERT INTO run_exclusions (run_id, reason, excluded_by, excluded_at, worker_id) VALUES {} ON CONFLICT DO NOTHING",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(run_id).bind(reason).bind(actor).bind(&now);
        for w in chunk {
            query = query.bind(w);
        }
        query.execute(&mut *tx).await?;
    }
    audit.write(&mut tx, org).await?;
    tx.commit().await?;
    Ok(())
}
