//! A workers upload under four eyes: its accepted rows stay staged (`super::staged_path`)
//! while the upload is `awaiting_approval`; another person with `workers:approve` reads what
//! would change ([`changes`]), then approves (the staged lines are applied as any upload's are,
//! with one audit entry per changed worker and field) or rejects (they are dropped). Until then
//! one person with `upload` could change a worker's bank account and be paid by the next payout.
//!
//! The approval also queues a notice to each worker whose bank account, IFSC, phone or email
//! changes, on the contact they had before (`notices::for_contact_change`).
//!
//! The staged lines are in the object store, sealed at rest: any instance shows and applies them.

use payroll_engine::Worker;
use payroll_pipeline::Source;

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::Target;
use super::check::shown;
use crate::app::App;
use crate::db::audit::{Action, Actor, append_in};
use crate::db::timestamp;
use crate::db::uploads::Upload;
use crate::domain::notices::ContactNotice;
use crate::domain::uploads::{UploadKind, UploadStatus};
use crate::error::{Error, Result};
use crate::notices;

/// The upload's staged lines, from the object store.
async fn staged(ctx: &App, upload: &Upload) -> Result<bytes::Bytes> {
    ctx.at_rest
        .get(&ctx.store, &super::staged_path(&upload.org_id, &upload.id))
        .await
}

/// One worker of a workers upload: what the approval would change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkerChange {
    pub worker_id: String,
    /// Not in the master yet.
    pub new: bool,
    /// The fields whose value changes (every field of a new worker).
    pub fields: Vec<FieldChange>,
}

/// One field's value before and after; `bank_account`, `pan`, `phone` and `email` masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldChange {
    pub field: String,
    /// `null` for a new worker.
    pub before: Option<String>,
    pub after: String,
}

/// The staged rows as column-to-value maps, in the order uploaded.
fn staged_rows(target: &Target, staged: &[u8]) -> Result<Vec<Vec<(String, String)>>> {
    let text = std::str::from_utf8(staged).map_err(|e| Error::Internal(format!("the staged workers: {e}")))?;
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

/// The staged rows as workers (each passed the checks, so each decodes).
fn staged_workers(target: &Target, staged: &[u8]) -> Result<Vec<Worker>> {
    staged_rows(target, staged)?
        .iter()
        .map(|row| {
            Worker::decode(|name| row.iter().find(|(c, _)| c == name).map(|(_, v)| v.as_str()))
                .map_err(|e| Error::Internal(format!("a staged worker does not decode: {e}")))
        })
        .collect()
}

/// Each staged worker beside its current record, if any: the master the runs and payouts read
/// (the input folder's, or the stream's latest checkpoints).
async fn before_and_after(ctx: &App, target: Target, staged: bytes::Bytes) -> Result<Vec<(Option<Worker>, Worker)>> {
    let after = tokio::task::spawn_blocking(move || staged_workers(&target, &staged))
        .await
        .map_err(|e| Error::Internal(format!("reading the staged workers: {e}")))??;
    let source = Source::clone(&ctx.source);
    let master = ctx
        .compute
        .run(async move { payroll_pipeline::master::current(&source).await })
        .await??;
    Ok(after
        .into_iter()
        .map(|worker| (master.worker(&worker.worker_id).cloned(), worker))
        .collect())
}

/// What changes, field by field (values masked as the API shows them): every non-empty field
/// of a new worker.
fn diff(before: Option<&Worker>, after: &Worker) -> WorkerChange {
    let was = before.map(Worker::fields);
    let fields = after
        .fields()
        .into_iter()
        .enumerate()
        .filter(|(_, (field, _))| *field != "worker_id")
        .filter_map(|(i, (field, value))| {
            let before = was.as_ref().map(|was| was[i].1.clone());
            match &before {
                Some(before) if *before == value => None,
                None if value.is_empty() => None,
                _ => Some(FieldChange {
                    field: field.to_string(),
                    before: before.map(|v| shown(field, &v)),
                    after: shown(field, &value),
                }),
            }
        })
        .collect();
    WorkerChange {
        worker_id: after.worker_id.to_string(),
        new: before.is_none(),
        fields,
    }
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
pub async fn changes(ctx: &App, upload: &Upload) -> Result<Vec<WorkerChange>> {
    awaiting(upload)?;
    let target = super::target(ctx, upload.kind)?;
    let workers = before_and_after(ctx, target, staged(ctx, upload).await?).await?;
    Ok(workers
        .iter()
        .map(|(before, after)| diff(before.as_ref(), after))
        .collect())
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
pub async fn approve(ctx: &App, actor: &Actor<'_>, upload: &Upload) -> Result<u64> {
    awaiting(upload)?;
    let target = super::target(ctx, upload.kind)?;
    let lines = staged(ctx, upload).await?;
    let workers = before_and_after(ctx, target.clone(), lines.clone()).await?;
    let changes: Vec<WorkerChange> = workers
        .iter()
        .map(|(before, after)| diff(before.as_ref(), after))
        .collect();
    // The worker hears of a new account or contact on the contact they had.
    let notices: Vec<ContactNotice> = workers
        .iter()
        .zip(&changes)
        .filter_map(|((before, _), change)| {
            let changed: Vec<&str> = change.fields.iter().map(|f| f.field.as_str()).collect();
            notices::for_contact_change(&ctx.config.notices, &upload.org_id, before.as_ref()?, &changed)
        })
        .collect();
    let mut tx = ctx.db.pool().begin().await?;
    claim(&mut tx, upload, UploadStatus::Done, actor.sub, None).await?;
    let today = chrono::Utc::now().date_naive().to_string();
    crate::db::notices::insert_contact_changes(&mut tx, &upload.org_id, &upload.id, &today, &notices).await?;
    // One entry per changed field of a worker already in the master; one for a new worker.
    for change in &changes {
        let resource = format!("workers/{}", change.worker_id);
        let entries: Vec<(Option<Value>, Value)> = if change.new {
            let fields: Map<String, Value> = change
                .fields
                .iter()
                .map(|f| (f.field.clone(), Value::from(f.after.clone())))
                .collect();
            vec![(None, json!({"new": true, "upload_id": upload.id, "fields": fields}))]
        } else {
            change
                .fields
                .iter()
                .map(|field| {
                    let before = field.before.as_ref().map(|b| json!({ field.field.as_str(): b }));
                    (
                        before,
                        json!({ field.field.as_str(): field.after, "upload_id": upload.id }),
                    )
                })
                .collect()
        };
        for (before, after) in entries {
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
    // The lines are applied while the decision is uncommitted: a failure to apply leaves the
    // upload awaiting approval, unaudited.
    let applied =
        tokio::task::spawn_blocking(move || super::processing::apply(&db, &handle, &applying, &target, &lines))
            .await
            .map_err(|e| Error::Internal(format!("applying the staged workers: {e}")))??;
    tx.commit().await?;
    forget(ctx, upload).await;
    Ok(applied as u64)
}

/// Drops the staged workers, saying why. Returns how many were dropped.
pub async fn reject(ctx: &App, actor: &Actor<'_>, upload: &Upload, reason: &str) -> Result<u64> {
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
    forget(ctx, upload).await;
    Ok(upload.accepted as u64)
}

/// Deletes a decided upload's staged lines. One left behind (a failed delete) is never read
/// again: the upload is decided.
async fn forget(ctx: &App, upload: &Upload) {
    let path = super::staged_path(&upload.org_id, &upload.id);
    if let Err(e) = ctx.store.delete(&path).await {
        tracing::warn!(upload = upload.id, error = %e, "a decided upload's staged lines not deleted");
    }
}
