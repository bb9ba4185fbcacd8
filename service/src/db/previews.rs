//! What-if previews as stored: asked, then calculating, then done with their summary or failed
//! with why.

use chrono::Utc;

use super::audit::Audited;
use super::{Db, timestamp};
use crate::domain::previews::PreviewStatus;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPreview {
    pub id: String,
    pub org_id: String,
    pub period: String,
    pub base_run: String,
    pub status: PreviewStatus,
    pub requested_by: String,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    pub ruleset_name: String,
    pub ruleset_version: String,
    /// How many workers' rates it replaces.
    pub rates: i64,
    /// The pipeline's summary, as JSON, once done.
    pub summary: Option<String>,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    i64,
    Option<String>,
);

const COLUMNS: &str = "id, org_id, period, base_run, status, requested_by, created_at, finished_at, error, \
     ruleset_name, ruleset_version, rates, summary";

fn of(row: Row) -> Result<StoredPreview> {
    let (
        id,
        org_id,
        period,
        base_run,
        status,
        requested_by,
        created_at,
        finished_at,
        error,
        ruleset_name,
        ruleset_version,
        rates,
        summary,
    ) = row;
    Ok(StoredPreview {
        status: status
            .parse()
            .map_err(|e| Error::Internal(format!("stored preview {id}: {e}")))?,
        id,
        org_id,
        period,
        base_run,
        requested_by,
        created_at,
        finished_at,
        error,
        ruleset_name,
        ruleset_version,
        rates,
        summary,
    })
}

/// A preview asked for, queued, with its audit entry in the same transaction.
pub struct NewPreview<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub period: &'a str,
    pub base_run: &'a str,
    pub requested_by: &'a str,
    pub ruleset_name: &'a str,
    pub ruleset_version: &'a str,
    pub rates: i64,
}

pub async fn create(db: &Db, new: NewPreview<'_>, audit: &Audited<'_>) -> Result<StoredPreview> {
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "INSERT INTO previews (id, org_id, period, base_run, status, requested_by, created_at, ruleset_name, ruleset_version, rates) \
         VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9)",
    )
    .bind(new.id)
    .bind(new.org_id)
    .bind(new.period)
    .bind(new.base_run)
    .bind(new.requested_by)
    .bind(timestamp(Utc::now()))
    .bind(new.ruleset_name)
    .bind(new.ruleset_version)
    .bind(new.rates)
    .execute(&mut *tx)
    .await?;
    audit.write(&mut tx, new.org_id).await?;
    tx.commit().await?;
    get(db, new.org_id, new.id).await
}

pub async fn get(db: &Db, org: &str, id: &str) -> Result<StoredPreview> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM previews WHERE org_id = $1 AND id = $2"))
        .bind(org)
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.map(of)
        .transpose()?
        .ok_or_else(|| Error::NotFound(format!("preview {id} in {org}")))
}

/// Moves a preview on: to `calculating`, or to `done` with its summary, or to `failed` with why.
pub async fn set(db: &Db, id: &str, status: PreviewStatus, summary: Option<&str>, error: Option<&str>) -> Result<()> {
    let finished = matches!(status, PreviewStatus::Done | PreviewStatus::Failed).then(|| timestamp(Utc::now()));
    sqlx::query("UPDATE previews SET status = $1, summary = $2, error = $3, finished_at = $4 WHERE id = $5")
        .bind(status.as_str())
        .bind(summary)
        .bind(error)
        .bind(finished)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}
