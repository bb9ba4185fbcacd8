//! The nightly scheduler: every few seconds, each org's owed slot ([`crate::domain::schedule::due`]) is
//! queued as a provisional run. After downtime only the latest missed slot runs, once; two
//! instances sharing a database run a slot once (the run's idempotency key is
//! `schedule:<slot>`, unique per org, and no caller can send it); one org's failing slot never
//! keeps another org's run from being queued.

use std::time::Duration;

use chrono::{DateTime, Utc};
use payroll_engine::lifecycle::RunKind;

use crate::app::App;
use crate::db::{self, runs::NewRun};
use crate::domain::schedule::{Schedule, due, period_of};
use crate::error::Error;

/// Every `every`: queue the owed slot of each schedule.
pub async fn run(ctx: App, every: Duration) {
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        if let Err(e) = tick(&ctx, Utc::now()).await {
            // Retryable: the slots not queued stay owed until the next tick.
            tracing::warn!(error = %e, "scheduler tick incomplete; retrying at the next one");
        }
    }
}

/// One pass over the schedules at `now`: every org's owed slot, though another org's fails.
/// An error names each org whose slot stays owed.
pub async fn tick(ctx: &App, now: DateTime<Utc>) -> crate::Result<()> {
    let mut failed = Vec::new();
    for schedule in db::schedules::all(&ctx.db).await? {
        if let Err(e) = queue(ctx, &schedule, now).await {
            tracing::warn!(org = %schedule.org_id, error = %e, "scheduled run not queued");
            failed.push(format!("org {}: {e}", schedule.org_id));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "scheduled runs not queued: {}",
            failed.join("; ")
        )))
    }
}

/// Queues the slot `schedule` owes at `now`, if any, and marks it handled.
async fn queue(ctx: &App, schedule: &Schedule, now: DateTime<Utc>) -> crate::Result<()> {
    let Some(slot) = due(schedule, now) else {
        return Ok(());
    };
    let period = period_of(schedule, slot);
    let key = format!("schedule:{}", db::timestamp(slot));
    let created = db::runs::create(
        &ctx.db,
        NewRun {
            org_id: &schedule.org_id,
            period,
            kind: RunKind::Provisional,
            requested_by: crate::schedule::SCHEDULER,
            idempotency: Some((&key, key.clone())),
        },
    )
    .await;
    match created {
        Ok((run, true)) => {
            tracing::info!(org = %schedule.org_id, %period, run = %run.id, %slot, "scheduled run queued");
            ctx.work.notify_one();
        }
        Ok((_, false)) => {} // another instance queued this slot
        Err(Error::Conflict(why)) => {
            tracing::info!(org = %schedule.org_id, %period, %slot, "scheduled run skipped: {why}")
        }
        Err(e) => return Err(e),
    }
    db::schedules::mark_slot(&ctx.db, &schedule.org_id, slot).await?;
    Ok(())
}
