//! The uploads janitor: picks up uploads their instance never started, fails those whose
//! instance stopped mid-way, and enforces `[uploads] keep_raw` (undecided workers uploads
//! rejected, old uploaded files deleted).

use std::time::{Duration, Instant};

use crate::app::App;
use crate::db;
use crate::domain::uploads::{Format, UploadStatus};
use crate::error::Result;
use crate::uploads::{self, file_path};

/// How long an upload may go without progress before the janitor takes it for abandoned: its
/// instance writes progress every quarter second while reading, and applies in seconds.
const ABANDONED_AFTER: Duration = Duration::from_secs(600);
/// How long a queued upload waits for the instance that took it before another processes it.
const UNCLAIMED_AFTER: Duration = Duration::from_secs(60);

/// Every `every`: processes uploads left `queued` (their instance stopped before starting
/// them) and fails those left `processing` by an instance that stopped, saying so. At most
/// hourly (and at start), deletes uploaded files older than `[uploads] keep_raw`.
pub async fn janitor(ctx: App, every: Duration) {
    let mut expired_at: Option<Instant> = None;
    loop {
        if let Err(e) = sweep(&ctx).await {
            tracing::warn!(error = %e, "upload janitor");
        }
        let keep = ctx.config.uploads.keep_raw;
        if expired_at.is_none_or(|at| at.elapsed() >= keep.min(Duration::from_secs(3600))) {
            expired_at = Some(Instant::now());
            if let Err(e) = expire(&ctx, keep).await {
                tracing::warn!(error = %e, "upload janitor: deleting old uploaded files");
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// Rejects the workers uploads awaiting approval since more than `keep` ago, then deletes the
/// uploaded files last written more than `keep` ago. A file is kept by content, and
/// uploading it again writes it again, so one an upload in progress reads is never this old.
async fn expire(ctx: &App, keep: Duration) -> Result<()> {
    let Some(before) = chrono::Duration::from_std(keep)
        .ok()
        .and_then(|keep| chrono::Utc::now().checked_sub_signed(keep))
    else {
        return Ok(()); // kept longer than time goes back
    };
    // A workers upload nobody decided is rejected: its staged lines (full bank accounts) are not
    // kept longer than the file they came from.
    for (org, id) in db::uploads::stale(&ctx.db, UploadStatus::AwaitingApproval, &crate::db::timestamp(before)).await? {
        let upload = db::uploads::get(&ctx.db, &org, &id).await?;
        let reason = "not decided within [uploads] keep_raw: upload the file again";
        uploads::review::reject(ctx, &db::uploads::SYSTEM, &upload, reason).await?;
        tracing::info!(
            upload = id,
            "a workers upload past [uploads] keep_raw rejected, undecided"
        );
    }
    for (org, sha256, format) in db::uploads::files_before(&ctx.db, &crate::db::timestamp(before)).await? {
        let Ok(format) = format.parse::<Format>() else {
            continue;
        };
        let path = file_path(&org, &sha256, format);
        if ctx.store.head(&path).await?.is_some() {
            ctx.store.delete(&path).await?;
            tracing::info!(file = %path, "deleted an uploaded file past [uploads] keep_raw");
        }
    }
    Ok(())
}

async fn sweep(ctx: &App) -> Result<()> {
    let ago =
        |d: Duration| crate::db::timestamp(chrono::Utc::now() - chrono::Duration::from_std(d).unwrap_or_default());
    for (org, id) in db::uploads::stale(&ctx.db, UploadStatus::Queued, &ago(UNCLAIMED_AFTER)).await? {
        tokio::spawn(uploads::processing::process(ctx.clone(), org, id));
    }
    let before = ago(ABANDONED_AFTER);
    for (org, id) in db::uploads::stale(&ctx.db, UploadStatus::Processing, &before).await? {
        let message = "the service stopped while processing this upload: see whether its rows were applied \
                       (adjustments are listed with the upload's time) before uploading the file again";
        if db::uploads::abandon(&ctx.db, &org, &id, &before, message).await? {
            tracing::warn!(upload = id, "an abandoned upload failed");
        }
    }
    Ok(())
}
