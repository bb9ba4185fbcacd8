//! Bulk uploads: what was uploaded, by whom, how far its processing got, and each rejected row
//! with its original cells (masked) and faults, which the error reports are made from.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::audit::{Action, Actor, Audited};
use super::{Db, Listing, timestamp};
use crate::domain::uploads::{Format, UploadKind, UploadMode, UploadStatus};
use crate::error::{Error, Result};

/// An upload as the service keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub id: String,
    pub org_id: String,
    pub kind: UploadKind,
    pub mode: UploadMode,
    pub status: UploadStatus,
    pub file_name: String,
    pub format: Format,
    pub bytes: i64,
    pub sha256: String,
    /// The header row as read.
    pub columns: Vec<String>,
    /// Data rows read so far (all of them once validated).
    pub rows: i64,
    pub accepted: i64,
    pub rejected: i64,
    /// Accepted rows applied so far.
    pub applied: i64,
    /// How far processing is, in percent.
    pub progress: i64,
    pub message: Option<String>,
    pub uploaded_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
}

/// One fault of a rejected row: the column (empty for the row as a whole), its value as shown
/// (masked if sensitive) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// A rejected row: its number as the file shows it, its cells in the header's order, its faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub row: i64,
    pub cells: Vec<String>,
    pub faults: Vec<Fault>,
}

/// An upload to record, `queued`.
pub struct NewUpload<'a> {
    pub org_id: &'a str,
    pub kind: UploadKind,
    pub mode: UploadMode,
    pub file_name: &'a str,
    pub format: Format,
    pub bytes: i64,
    pub sha256: &'a str,
    pub uploaded_by: &'a str,
    pub idempotency_key: Option<&'a str>,
}

const COLUMNS: &str = "id, org_id, kind, mode, status, file_name, format, bytes, sha256, columns, row_count, accepted, \
                       rejected, applied, progress, message, uploaded_by, created_at, updated_at, finished_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    kind: String,
    mode: String,
    status: String,
    file_name: String,
    format: String,
    bytes: i64,
    sha256: String,
    columns: String,
    row_count: i64,
    accepted: i64,
    rejected: i64,
    applied: i64,
    progress: i64,
    message: Option<String>,
    uploaded_by: String,
    created_at: String,
    updated_at: String,
    finished_at: Option<String>,
}

fn parse<T: std::str::FromStr<Err = String>>(id: &str, text: &str) -> Result<T> {
    text.parse()
        .map_err(|e: String| Error::Internal(format!("upload {id}: {e}")))
}

fn upload(row: Row) -> Result<Upload> {
    let id = row.id;
    Ok(Upload {
        kind: parse(&id, &row.kind)?,
        mode: parse(&id, &row.mode)?,
        status: parse(&id, &row.status)?,
        format: parse(&id, &row.format)?,
        columns: serde_json::from_str(&row.columns)
            .map_err(|e| Error::Internal(format!("upload {id}: columns: {e}")))?,
        id,
        org_id: row.org_id,
        file_name: row.file_name,
        bytes: row.bytes,
        sha256: row.sha256,
        rows: row.row_count,
        accepted: row.accepted,
        rejected: row.rejected,
        applied: row.applied,
        progress: row.progress,
        message: row.message,
        uploaded_by: row.uploaded_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
        finished_at: row.finished_at,
    })
}

/// Records an upload as `queued`; `Ok((upload, false))` for a retry with the same
/// Idempotency-Key and the same file. The same key with another file is refused.
/// Records an upload, audited (`upload.create`, by `actor`) in the same transaction; or, for an
/// idempotency key used before with the same file, the upload it recorded (false).
pub async fn create(db: &Db, new: NewUpload<'_>, actor: Actor<'_>) -> Result<(Upload, bool)> {
    if let Some(key) = new.idempotency_key
        && let Some(existing) = by_key(db, new.org_id, key, new.sha256).await?
    {
        return Ok((existing, false));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let now = timestamp(Utc::now());
    let mut tx = db.pool().begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO uploads (id, org_id, kind, mode, status, file_name, format, bytes, sha256, uploaded_by, \
         created_at, updated_at, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)",
    )
    .bind(&id)
    .bind(new.org_id)
    .bind(new.kind.as_str())
    .bind(new.mode.as_str())
    .bind(UploadStatus::Queued.as_str())
    .bind(new.file_name)
    .bind(new.format.as_str())
    .bind(new.bytes)
    .bind(new.sha256)
    .bind(new.uploaded_by)
    .bind(&now)
    .bind(new.idempotency_key)
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {
            let after = serde_json::json!({
                "kind": new.kind.as_str(), "mode": new.mode.as_str(), "file_name": new.file_name,
                "format": new.format.as_str(), "bytes": new.bytes, "sha256": new.sha256,
            });
            Audited::new(actor, Action::Upload, format!("uploads/{id}"))
                .after(Some(after))
                .write(&mut tx, new.org_id)
                .await?;
            tx.commit().await?;
            Ok((get(db, new.org_id, &id).await?, true))
        }
        // Two retries racing: the other one recorded it.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            drop(tx);
            let key = new
                .idempotency_key
                .ok_or_else(|| Error::Internal("an upload id was drawn twice".into()))?;
            let existing = by_key(db, new.org_id, key, new.sha256)
                .await?
                .ok_or_else(|| Error::Internal("a duplicate idempotency key with no upload".into()))?;
            Ok((existing, false))
        }
        Err(e) => Err(e.into()),
    }
}

async fn by_key(db: &Db, org: &str, key: &str, sha256: &str) -> Result<Option<Upload>> {
    let found: Option<(String, String)> =
        sqlx::query_as("SELECT id, sha256 FROM uploads WHERE org_id = $1 AND idempotency_key = $2")
            .bind(org)
            .bind(key)
            .fetch_optional(db.pool())
            .await?;
    match found {
        None => Ok(None),
        Some((id, recorded)) if recorded == sha256 => Ok(Some(get(db, org, &id).await?)),
        Some(_) => Err(Error::invalid(
            "Idempotency-Key",
            "already used for another file: use a new key for a new upload",
        )),
    }
}

pub async fn get(db: &Db, org: &str, id: &str) -> Result<Upload> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM uploads WHERE org_id = $1 AND id = $2"))
        .bind(org)
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.map(upload)
        .transpose()?
        .ok_or_else(|| Error::NotFound(format!("upload {id}")))
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<UploadStatus>,
    pub kind: Option<UploadKind>,
}

/// A page of an org's uploads, newest first, and the cursor of the next page.
pub async fn list(
    db: &Db,
    org: &str,
    filter: &Filter,
    after: Option<&str>,
    size: u32,
) -> Result<(Vec<Upload>, Option<String>)> {
    Listing::of_org(COLUMNS, "uploads", org)
        .and("status =", filter.status.map(|s| s.as_str().to_string()))
        .and("kind =", filter.kind.map(|k| k.as_str().to_string()))
        .and("id <", after.map(str::to_string))
        .page(db, "id DESC", size, upload, |u| u.id.clone())
        .await
}

/// The org's uploads still to be done: `queued` or `processing`.
pub async fn in_progress(db: &Db, org: &str) -> Result<usize> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE org_id = $1 AND status IN ($2, $3)")
        .bind(org)
        .bind(UploadStatus::Queued.as_str())
        .bind(UploadStatus::Processing.as_str())
        .fetch_one(db.pool())
        .await?;
    Ok(usize::try_from(count).unwrap_or(0))
}

/// `queued` to `processing`; false if another task took it first.
pub async fn start(db: &Db, org: &str, id: &str) -> Result<bool> {
    let moved =
        sqlx::query("UPDATE uploads SET status = $1, updated_at = $2 WHERE org_id = $3 AND id = $4 AND status = $5")
            .bind(UploadStatus::Processing.as_str())
            .bind(timestamp(Utc::now()))
            .bind(org)
            .bind(id)
            .bind(UploadStatus::Queued.as_str())
            .execute(db.pool())
            .await?
            .rows_affected();
    if moved == 1 {
        // Taken up again after its instance stopped: what it had rejected is rejected anew.
        sqlx::query("DELETE FROM upload_rejections WHERE upload_id = $1")
            .bind(id)
            .execute(db.pool())
            .await?;
    }
    Ok(moved == 1)
}

/// The header row, once read.
pub async fn set_columns(db: &Db, id: &str, columns: &[String]) -> Result<()> {
    let columns = serde_json::to_string(columns).map_err(|e| Error::Internal(e.to_string()))?;
    sqlx::query("UPDATE uploads SET columns = $1 WHERE id = $2")
        .bind(columns)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Counts so far, while processing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub applied: i64,
    /// Percent.
    pub progress: i64,
}

pub async fn progress(db: &Db, id: &str, counts: Counts) -> Result<()> {
    sqlx::query(
        "UPDATE uploads SET row_count = $1, accepted = $2, rejected = $3, applied = $4, progress = $5, updated_at = $6 \
         WHERE id = $7",
    )
    .bind(counts.rows)
    .bind(counts.accepted)
    .bind(counts.rejected)
    .bind(counts.applied)
    .bind(counts.progress)
    .bind(timestamp(Utc::now()))
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The end of processing: `done` or `failed` (or `awaiting_approval`), the final counts and,
/// for a failure, why; audited (`upload.finish`, by the service) in the same transaction.
pub async fn finish(
    db: &Db,
    org: &str,
    id: &str,
    status: UploadStatus,
    counts: Counts,
    message: Option<&str>,
) -> Result<()> {
    let now = timestamp(Utc::now());
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "UPDATE uploads SET status = $1, row_count = $2, accepted = $3, rejected = $4, applied = $5, message = $6, \
         updated_at = $7, finished_at = $7, progress = 100 WHERE id = $8",
    )
    .bind(status.as_str())
    .bind(counts.rows)
    .bind(counts.accepted)
    .bind(counts.rejected)
    .bind(counts.applied)
    .bind(message)
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    finished(counts, status, message, id).write(&mut tx, org).await?;
    tx.commit().await?;
    Ok(())
}

/// The `upload.finish` entry: what the upload applied, or why it failed.
fn finished(counts: Counts, status: UploadStatus, message: Option<&str>, id: &str) -> Audited<'static> {
    let after = serde_json::json!({
        "status": status,
        "rows": counts.rows,
        "accepted": counts.accepted,
        "rejected": counts.rejected,
        "applied": counts.applied,
        "message": message,
    });
    Audited::new(SYSTEM, Action::UploadFinish, format!("uploads/{id}")).after(Some(after))
}

/// The service itself, as the audit log names it: uploads end, or expire undecided, by its hand.
pub const SYSTEM: Actor<'static> = Actor {
    sub: "system:uploads",
    roles: &[],
    request_id: "uploads",
};

/// Rows bound per INSERT: well under SQLite's and PostgreSQL's limits on parameters.
const ROWS_PER_INSERT: usize = 100;

/// Records rejected rows, in one transaction.
pub async fn reject(db: &Db, id: &str, rejections: &[Rejection]) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    for chunk in rejections.chunks(ROWS_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${}, ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
            .collect();
        let sql = format!(
            "INSERT INTO upload_rejections (upload_id, row_number, cells, faults) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for r in chunk {
            query = query
                .bind(id)
                .bind(r.row)
                .bind(serde_json::to_string(&r.cells).map_err(|e| Error::Internal(e.to_string()))?)
                .bind(serde_json::to_string(&r.faults).map_err(|e| Error::Internal(e.to_string()))?);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Rejected rows after row `after`, in row order, at most `limit`: the error reports read them
/// a page at a time.
pub async fn rejections(db: &Db, id: &str, after: i64, limit: u32) -> Result<Vec<Rejection>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(&format!(
        "SELECT row_number, cells, faults FROM upload_rejections WHERE upload_id = $1 AND row_number > $2 \
         ORDER BY row_number LIMIT {limit}"
    ))
    .bind(id)
    .bind(after)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(row, cells, faults)| {
            let bad = |e: serde_json::Error| Error::Internal(format!("upload {id} row {row}: {e}"));
            Ok(Rejection {
                row,
                cells: serde_json::from_str(&cells).map_err(bad)?,
                faults: serde_json::from_str(&faults).map_err(bad)?,
            })
        })
        .collect()
}

/// The files (org, SHA-256, format) no upload has named since `before`: uploads are kept by
/// their content, so a file goes only once its newest upload is past retention. Judged by the
/// service's own records, not the store's file times, which another clock writes.
pub async fn files_before(db: &Db, before: &str) -> Result<Vec<(String, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT org_id, sha256, format FROM uploads GROUP BY org_id, sha256, format HAVING MAX(created_at) < $1",
    )
    .bind(before)
    .fetch_all(db.pool())
    .await?)
}

/// Uploads of every org in `status` not updated since `before`: for the janitor.
pub async fn stale(db: &Db, status: UploadStatus, before: &str) -> Result<Vec<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT org_id, id FROM uploads WHERE status = $1 AND updated_at < $2 ORDER BY id LIMIT 100")
            .bind(status.as_str())
            .bind(before)
            .fetch_all(db.pool())
            .await?,
    )
}

/// Fails a `processing` upload that has not moved since `before` (its instance stopped),
/// audited as its end; false if it moved meanwhile.
pub async fn abandon(db: &Db, org: &str, id: &str, before: &str, message: &str) -> Result<bool> {
    // Read first: SQLite's pool has one connection, which the transaction holds.
    let counts = get(db, org, id).await.map(|u| Counts {
        rows: u.rows,
        accepted: u.accepted,
        rejected: u.rejected,
        applied: u.applied,
        ..Counts::default()
    });
    let now = timestamp(Utc::now());
    let mut tx = db.pool().begin().await?;
    let moved = sqlx::query(
        "UPDATE uploads SET status = $1, message = $2, updated_at = $3, finished_at = $3, progress = 100 \
         WHERE id = $4 AND status = $5 AND updated_at < $6",
    )
    .bind(UploadStatus::Failed.as_str())
    .bind(message)
    .bind(now)
    .bind(id)
    .bind(UploadStatus::Processing.as_str())
    .bind(before)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved != 1 {
        return Ok(false);
    }
    finished(counts.unwrap_or_default(), UploadStatus::Failed, Some(message), id)
        .write(&mut tx, org)
        .await?;
    tx.commit().await?;
    Ok(true)
}
