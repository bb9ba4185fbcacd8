//! The run worker: claims queued runs and calculates them, claims approved runs and renders
//! their payslips, and a janitor that notices runs whose instance died. The pipeline is
//! CPU-bound: it runs on its own runtime ([`crate::app::Compute`]) so the API stays responsive.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use payroll_connectors::{Progress as Report, Unit};
use payroll_engine::lifecycle::{Move, RunStatus};
use payroll_pipeline::payslips::Formats;
use payroll_pipeline::{RunRequest, Source, run as pipeline_run};

use crate::app::App;
use crate::db::runs::{self, Changes, Progress, Run};
use crate::error::{Error, Result};
use crate::runs as operations;

/// Who the run worker's moves are recorded as.
const WORKER: &str = "system:worker";

/// How often a worker says it is alive, and how long silence means it died.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
pub const ABANDONED_AFTER: Duration = Duration::from_secs(30);
/// Attempts at calculating a run before the janitor leaves it failed.
const MAX_ATTEMPTS: i64 = 3;

/// Claims and executes runs until the process ends.
pub async fn run(ctx: App) {
    loop {
        match runs::claim_next(&ctx.db, &ctx.instance).await {
            Ok(Some(run)) => execute(&ctx, run).await,
            Ok(None) => {
                tokio::select! {
                    _ = ctx.work.notified() => {}
                    // Runs queued by another instance sharing the database.
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming a run failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Progress of the run being executed, shared with its heartbeat.
#[derive(Default)]
struct Tracker(Mutex<Progress>);

impl Tracker {
    fn snapshot(&self) -> Progress {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Report for Tracker {
    fn start(&self, stage: &str, total: u64, unit: Unit) {
        let mut p = self.lock();
        p.stage = stage.to_string();
        p.total = total;
        p.done = 0;
        p.unit = match unit {
            Unit::Bytes => "bytes",
            Unit::Files => "files",
        }
        .to_string();
    }

    fn advance(&self, done: u64) {
        self.lock().done += done;
    }

    fn stage(&self, name: &str) {
        let mut p = self.lock();
        p.stage = name.to_string();
        p.total = 0;
        p.done = 0;
        p.unit = String::new();
    }
}

async fn execute(ctx: &App, run: Run) {
    let span = tracing::info_span!("run", id = %run.id, org = %run.org_id, period = %run.period, kind = %run.kind);
    let _entered = span.enter();
    let tracker = Arc::new(Tracker::default());
    let heartbeat = {
        let (ctx, tracker, id) = (ctx.clone(), Arc::clone(&tracker), run.id.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(HEARTBEAT);
            loop {
                every.tick().await;
                if let Err(e) = runs::heartbeat(&ctx.db, &id, &ctx.instance, &tracker.snapshot()).await {
                    tracing::warn!(error = %e, "heartbeat failed");
                }
            }
        })
    };
    let started = Instant::now();
    let outcome = match run.status {
        RunStatus::Calculating => calculate(ctx, &run, &tracker).await,
        RunStatus::Finalizing => finalize(ctx, &run, &tracker).await,
        other => Err(Error::Internal(format!("claimed a run that is {other}"))),
    };
    heartbeat.abort();
    let stage = if run.status == RunStatus::Calculating {
        "calculate"
    } else {
        "finalize"
    };
    ctx.metrics.run_stage(run.kind, stage, started.elapsed());
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "run failed");
        match operations::failed(&ctx.db, &run.org_id, &run.id, WORKER, &e.to_string()).await {
            Ok(_) => ctx.metrics.run_entered(run.kind, RunStatus::Failed),
            // Cancelled meanwhile: nothing to fail.
            Err(Error::Conflict(_)) => {}
            Err(e) => tracing::error!(error = %e, "recording the failure failed"),
        }
    }
}

async fn calculate(ctx: &App, run: &Run, tracker: &Arc<Tracker>) -> Result<()> {
    let ruleset = ctx.rulesets.of(&run.org_id);
    let locked = runs::locked_runs(&ctx.db, &run.org_id).await?;
    let (store, source, tracker2) = (ctx.store.clone(), Source::clone(&ctx.source), Arc::clone(tracker));
    let (id, org, period) = (run.id.clone(), run.org_id.clone(), run.period);
    let report = ctx
        .compute
        .run(async move {
            let request = RunRequest {
                run_id: id,
                period,
                source,
                ruleset: &ruleset,
                out: &store,
                org: Some(&org),
                locked: &locked,
            };
            let mut report = pipeline_run(request, tracker2.as_ref()).await?;
            // The folded month is freed here, on the compute runtime: a million workers' take
            // most of a second, which a thread answering requests should not spend.
            drop(std::mem::take(&mut report.ledger));
            Ok::<_, payroll_pipeline::Error>(report)
        })
        .await??;
    {
        let mut p = tracker.lock();
        *p = Progress {
            stage: "calculated".to_string(),
            workers_done: report.record.rows,
            workers_total: report.record.rows,
            ..Progress::default()
        };
    }
    runs::heartbeat(&ctx.db, &run.id, &ctx.instance, &tracker.snapshot()).await?;
    let digest = operations::nightly_digest(ctx, run, &report).await?;
    match operations::calculated(&ctx.db, run, &report, WORKER, digest).await {
        Ok(_) => {
            ctx.metrics.run_entered(run.kind, RunStatus::Calculated);
            ctx.metrics.findings_of_run(&report.findings);
            tracing::info!(
                workers = report.record.rows,
                worker_errors = report.record.worker_errors.len(),
                seconds = report.elapsed.as_secs_f64(),
                "calculated"
            );
            Ok(())
        }
        Err(Error::Conflict(why)) => {
            tracing::info!("results written but not recorded: {why}");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

async fn finalize(ctx: &App, run: &Run, tracker: &Arc<Tracker>) -> Result<()> {
    let record = payroll_connectors::results::read_run(&ctx.store, &run.id).await?;
    let orgs: payroll_pipeline::payslips::PayslipOrgs = ctx
        .config
        .orgs
        .iter()
        .map(|(id, org)| {
            let presented = payroll_pipeline::payslips::PayslipOrg {
                name: org.name.clone(),
                language: org.language,
                layout: org.payslip_layout,
            };
            (id.clone(), presented)
        })
        .collect();
    let (store, tracker2) = (ctx.store.clone(), Arc::clone(tracker));
    let started = Instant::now();
    let report = ctx
        .compute
        .run(async move {
            let formats = Formats { pdf: true, xlsx: true };
            payroll_pipeline::payslips::render(&store, &record, formats, &orgs, tracker2.as_ref()).await
        })
        .await??;
    let failures: Vec<_> = report
        .failures()
        .map(|f| format!("{} {}: {}", f.worker_id, f.file, f.error))
        .collect();
    if !failures.is_empty() {
        return Err(Error::Internal(format!(
            "{} payslip files failed (recorded in the batch manifest), first: {}",
            failures.len(),
            failures[0]
        )));
    }
    ctx.metrics
        .payslips_rendered(report.payslips as f64 / started.elapsed().as_secs_f64().max(1e-9));
    let done = Progress {
        stage: "payslips written".to_string(),
        workers_done: report.payslips,
        workers_total: report.payslips,
        ..Progress::default()
    };
    runs::heartbeat(&ctx.db, &run.id, &ctx.instance, &done).await?;
    // The notices go to the outbox in the transaction that finalizes the run.
    let notices = crate::notices::for_run(ctx, run).await?;
    let count = notices.len();
    runs::apply(
        &ctx.db,
        &run.org_id,
        &run.id,
        Move::Finalize,
        "system:worker",
        Changes {
            notices,
            ..Changes::default()
        },
        |_| Ok(()),
    )
    .await?;
    ctx.metrics.run_entered(run.kind, RunStatus::Finalized);
    tracing::info!(payslips = report.payslips, notices = count, "finalized");
    Ok(())
}

/// Every `every`: fail runs left calculating by a dead instance and queue them again (up to
/// three attempts in all); give finalizing ones back to be claimed again.
pub async fn janitor(ctx: App, every: Duration) {
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        if let Err(e) = sweep(&ctx, ABANDONED_AFTER).await {
            tracing::warn!(error = %e, "janitor sweep failed; retrying at the next one");
        }
        if let Some(live) = &ctx.live
            && let Err(e) = live.publish_locks(&ctx.db).await
        {
            tracing::warn!(error = %e, "period locks not published to the stream; retrying at the next sweep");
        }
        if let Err(e) = crate::adjustments::publish_pending(&ctx).await {
            tracing::warn!(error = %e, "adjustment versions not published; retrying at the next sweep");
        }
    }
}

/// One pass of the janitor: runs silent for longer than `silence`.
pub async fn sweep(ctx: &App, silence: Duration) -> Result<()> {
    let before = Utc::now() - chrono::Duration::from_std(silence).unwrap_or_default();
    for run in runs::abandoned(&ctx.db, before).await? {
        if run.status == RunStatus::Finalizing {
            if runs::release(&ctx.db, &run.id, before).await? {
                tracing::warn!(run = %run.id, "finalizing run abandoned by its instance; released for another");
                ctx.work.notify_one();
            }
            continue;
        }
        let why = format!(
            "abandoned: the instance calculating it stopped sending heartbeats (attempt {})",
            run.attempts
        );
        // A run that moved on since the list was read is refused here as a conflict.
        let failed = operations::failed(&ctx.db, &run.org_id, &run.id, "system:janitor", &why).await;
        match failed {
            Ok(_) => ctx.metrics.run_entered(run.kind, RunStatus::Failed),
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
        if run.attempts >= MAX_ATTEMPTS {
            tracing::warn!(run = %run.id, attempts = run.attempts, "abandoned run left failed after its last attempt");
            continue;
        }
        match runs::apply(
            &ctx.db,
            &run.org_id,
            &run.id,
            Move::Retry,
            "system:janitor",
            Changes::default(),
            |_| Ok(()),
        )
        .await
        {
            Ok(_) => {
                tracing::warn!(run = %run.id, "abandoned run queued again");
                ctx.work.notify_one();
            }
            // Another final run of the period was triggered meanwhile: this one stays failed.
            Err(Error::Conflict(why)) => tracing::warn!(run = %run.id, "abandoned run not retried: {why}"),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
