//! A workers upload under four eyes: its accepted rows stay staged (`<data>/uploads/<id>.staged`)
//! while the upload is `awaiting_approval`; another person with `workers:approve` reads what
//! would change ([`changes`]), then approves (the staged lines are applied as any upload's are,
//! with one audit entry per changed worker and field) or rejects (they are dropped). Until then
//! one person with `upload` could change a worker's bank account and be paid by the next payout.
//!
//! The staged lines are on the local disk of the instance that processed the upload.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::check::shown;
use super::{Target, UploadKind, UploadStatus};
use crate::db::audit::{Action, Actor, append_in};
use crate::db::timestamp;
use crate::db::uploads::Upload;
use crate::error::{Error, Result};
use crate::http::ApiContext;

/// Where an upload's accepted lines are staged.
pub(crate) fn staged_path(ctx: &ApiContext, id: &str) -> PathBuf {
    ctx.config.data.join("uploads").join(format!("{id}.staged"))
}

/// One worker of a workers upload: what the approval would change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkerChange {
    pub worker_id: String,
    /// Not in the master yet. `null` in stream mode, where the service has no master to read.
    pub new: Option<bool>,
    /// The fields whose value changes (every field of a new worker).
    pub fields: Vec<FieldChange>,
}

/// One field's value before and after; `bank_account`, `pan`, `phone` and `email` masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldChange {
    pub field: String,
    /// `null` for a new worker, or in stream mode where the current value is not known here.
    pub before: Option<String>,
    pub after: String,
}

/// The staged rows as column-to-value maps, in the order uploaded.
fn staged_rows(target: &Target, staged: &Path) -> Result<Vec<Vec<(String, String)>>> {
    let text = std::fs::read_to_string(staged).map_err(|e| {
        Error::Unavailable(format!(
            "{}: {e} (the staged rows are kept by the instance that processed the upload)",
            staged.display()
        ))
    })?;
    let mut rows = Vec::new();
    match target {
        Target::Folder { columns, .. } => {
            let mut reader = ::csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            for record in reader.records() {
                let record = record.map_err(|e| Error::Internal(format!("a staged worker: {e}")))?;
                rows.push(
                    columns
                        .iter()
                        .zip(record.iter())
                        .map(|(c, v)| (c.clone(), v.to_string()))
                        .collect(),
                );
            }
        }
        Target::WorkersTopic { .. } => {
            for line in text.lines().filter(|l| !l.is_empty()) {
                let object: Map<String, Value> =
                    serde_json::from_str(line).map_err(|e| Error::Internal(format!("a staged worker: {e}")))?;
                rows.push(
                    object
                        .into_iter()
                        .map(|(c, v)| (c, v.as_str().unwrap_or_default().to_string()))
                        .collect(),
                );
            }
        }
        Target::Adjustments => return Err(Error::Internal("an adjustments upload has no worker changes".into())),
    }
    Ok(rows)
}

/// The master's current records by worker id (the last line of a worker wins, as lines are
/// appended); `None` in stream mode.
fn current(target: &Target) -> Result<Option<HashMap<String, HashMap<String, String>>>> {
    let Target::Folder { path, .. } = target else {
        return Ok(None);
    };
    let mut workers = HashMap::new();
    if !path.exists() {
        return Ok(Some(workers));
    }
    let unavailable = |e: ::csv::Error| Error::Unavailable(format!("{}: {e}", path.display()));
    let mut reader = ::csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(unavailable)?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(unavailable)?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    for record in reader.records() {
        let record = record.map_err(unavailable)?;
        let row: HashMap<String, String> = headers
            .iter()
            .zip(record.iter())
            .map(|(c, v)| (c.clone(), v.trim().to_string()))
            .collect();
        if let Some(id) = row.get("worker_id") {
            workers.insert(id.clone(), row);
        }
    }
    Ok(Some(workers))
}

fn diff(target: &Target, staged: &Path) -> Result<Vec<WorkerChange>> {
    let master = current(target)?;
    let mut changes = Vec::new();
    for row in staged_rows(target, staged)? {
        let worker_id = row
            .iter()
            .find(|(c, _)| c == "worker_id")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let before = master.as_ref().map(|m| m.get(&worker_id));
        let fields = row
            .iter()
            .filter(|(c, _)| c != "worker_id")
            .filter_map(|(column, after)| {
                let was = before.flatten().map(|b| b.get(column).cloned().unwrap_or_default());
                match &was {
                    Some(was) if was == after.trim() => None,
                    None if after.is_empty() => None,
                    _ => Some(FieldChange {
                        field: column.clone(),
                        before: was.map(|v| shown(column, &v)),
                        after: shown(column, after),
                    }),
                }
            })
            .collect();
        changes.push(WorkerChange {
            new: before.map(|b| b.is_none()),
            worker_id,
            fields,
        });
    }
    Ok(changes)
}

fn workers_upload(upload: &Upload) -> Result<()> {
    if upload.kind != UploadKind::Workers {
        return Err(Error::Conflict(format!(
            "upload {} is of {}: only a workers upload has worker changes",
            upload.id, upload.kind
        )));
    }
    Ok(())
}

fn awaiting(upload: &Upload) -> Result<()> {
    workers_upload(upload)?;
    if upload.status != UploadStatus::AwaitingApproval {
        return Err(Error::Conflict(format!(
            "upload {} is {}: only one awaiting_approval is approved or rejected",
            upload.id, upload.status
        )));
    }
    Ok(())
}

/// What approving the upload would change, per worker and field (sensitive values masked).
pub async fn changes(ctx: &ApiContext, upload: &Upload) -> Result<Vec<WorkerChange>> {
    awaiting(upload)?;
    let target = super::target(ctx, upload.kind)?;
    let staged = staged_path(ctx, &upload.id);
    tokio::task::spawn_blocking(move || diff(&target, &staged))
        .await
        .map_err(|e| Error::Internal(format!("reading the staged workers: {e}")))?
}

/// Marks the upload decided, if it still awaits approval: in `tx`, so that the decision, its
/// audit entries and (for an approval) the applied lines stand or fall together.
async fn claim(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    upload: &Upload,
    status: UploadStatus,
    by: &str,
    message: Option<&str>,
) -> Result<()> {
    let now = timestamp(chrono::Utc::now());
    let claimed = sqlx::query(
        "UPDATE uploads SET status = $1, applied = $2, message = $3, decided_by = $4, decided_at = $5, updated_at = $5 \
         WHERE org_id = $6 AND id = $7 AND status = $8",
    )
    .bind(status.as_str())
    .bind(if status == UploadStatus::Done {
        upload.accepted
    } else {
        0
    })
    .bind(message)
    .bind(by)
    .bind(now)
    .bind(&upload.org_id)
    .bind(&upload.id)
    .bind(UploadStatus::AwaitingApproval.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Err(Error::Conflict(format!("upload {} is decided already", upload.id)));
    }
    Ok(())
}

/// Applies the staged workers as processing applied any upload's rows, audited per worker and
/// field. `by` is not the uploader (the handler checks). Returns the workers applied.
pub async fn approve(ctx: &ApiContext, actor: &Actor<'_>, upload: &Upload) -> Result<u64> {
    awaiting(upload)?;
    let target = super::target(ctx, upload.kind)?;
    let staged = staged_path(ctx, &upload.id);
    let changes = {
        let (target, staged) = (target.clone(), staged.clone());
        tokio::task::spawn_blocking(move || diff(&target, &staged))
            .await
            .map_err(|e| Error::Internal(format!("reading the staged workers: {e}")))??
    };
    let mut tx = ctx.db.pool().begin().await?;
    claim(&mut tx, upload, UploadStatus::Done, actor.sub, None).await?;
    for change in &changes {
        let resource = format!("workers/{}", change.worker_id);
        if change.new == Some(true) {
            let after: Map<String, Value> = change
                .fields
                .iter()
                .map(|f| (f.field.clone(), Value::from(f.after.clone())))
                .collect();
            let after = json!({"new": true, "upload_id": upload.id, "fields": after});
            append_in(
                &mut tx,
                &upload.org_id,
                actor,
                Action::WorkerChange,
                &resource,
                None,
                Some(after),
            )
            .await?;
            continue;
        }
        for field in &change.fields {
            let before = field.before.as_ref().map(|b| json!({ field.field.as_str(): b }));
            let after = json!({ field.field.as_str(): field.after, "upload_id": upload.id });
            append_in(
                &mut tx,
                &upload.org_id,
                actor,
                Action::WorkerChange,
                &resource,
                before,
                Some(after),
            )
            .await?;
        }
    }
    let (db, handle, applying) = (ctx.db.clone(), tokio::runtime::Handle::current(), upload.clone());
    let staged_file = staged.clone();
    // The lines are applied while the decision is uncommitted: a failure to apply leaves the
    // upload awaiting approval, unaudited.
    let applied = tokio::task::spawn_blocking(move || super::apply(&db, &handle, &applying, &target, &staged_file))
        .await
        .map_err(|e| Error::Internal(format!("applying the staged workers: {e}")))??;
    tx.commit().await?;
    let _ = std::fs::remove_file(&staged);
    Ok(applied as u64)
}

/// Drops the staged workers, saying why. Returns how many were dropped.
pub async fn reject(ctx: &ApiContext, actor: &Actor<'_>, upload: &Upload, reason: &str) -> Result<u64> {
    awaiting(upload)?;
    let mut tx = ctx.db.pool().begin().await?;
    claim(&mut tx, upload, UploadStatus::Rejected, actor.sub, Some(reason)).await?;
    let after = json!({"status": UploadStatus::Rejected, "reason": reason, "workers": upload.accepted});
    append_in(
        &mut tx,
        &upload.org_id,
        actor,
        Action::UploadReject,
        &format!("uploads/{}", upload.id),
        None,
        Some(after),
    )
    .await?;
    tx.commit().await?;
    let _ = std::fs::remove_file(staged_path(ctx, &upload.id));
    Ok(upload.accepted as u64)
}
