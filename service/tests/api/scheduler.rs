//! Nightly runs and the janitor, with real restarts: a slot missed while the service was down
//! runs once at start; two instances sharing a database run a slot once; a run left
//! calculating by a dead instance is failed, queued again and calculated by another. On SQLite
//! and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use payroll_service::db;
use payroll_service::jobs::{runs, scheduler};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_slots_run_once_and_dead_runs_are_retried() {
    for backend in backends() {
        catch_up_after_downtime(backend).await;
        two_instances_run_a_slot_once(backend).await;
        janitor_retries_a_dead_instances_run(backend).await;
    }
}

async fn catch_up_after_downtime(backend: Backend) {
    let h = Harness::start(backend, "workers = 0").await;
    // The schedule was set three days ago and last ran then: three nightly slots were missed.
    let three_days_ago = Utc::now() - chrono::Duration::days(3);
    db::schedules::put(
        &h.service.ctx.db,
        "org0",
        "0 2 * * *",
        "Asia/Kolkata",
        "hr1",
        three_days_ago,
    )
    .await
    .unwrap();
    db::schedules::mark_slot(&h.service.ctx.db, "org0", three_days_ago)
        .await
        .unwrap();
    let (dir, database) = h.stop().await;

    let h = Harness::start_on(dir, database, &files(), "workers = 0").await;
    let mut runs = Vec::new();
    for _ in 0..100 {
        runs = h.scheduled_runs("org0").await;
        if !runs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The loop ticks every 5 s: give it two more ticks to (wrongly) queue another.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let runs_after = h.scheduled_runs("org0").await;
    assert_eq!(runs.len(), 1, "{backend:?}: one run for the missed slots");
    assert_eq!(runs_after.len(), 1, "{backend:?}: and only one: {runs_after:#?}");
    assert_eq!(runs[0]["kind"], "provisional");
    let schedule = db::schedules::get(&h.service.ctx.db, "org0").await.unwrap().unwrap();
    assert!(schedule.last_slot.unwrap() > Utc::now() - chrono::Duration::days(1));
    h.stop().await;
}

async fn two_instances_run_a_slot_once(backend: Backend) {
    let a = Harness::start(backend, "workers = 0").await;
    let yesterday = Utc::now() - chrono::Duration::days(1) - chrono::Duration::hours(1);
    db::schedules::put(
        &a.service.ctx.db,
        "org0",
        "*/5 * * * *",
        "Asia/Kolkata",
        "hr1",
        yesterday,
    )
    .await
    .unwrap();
    // A second instance on the same database (and data directory).
    let b_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(b_dir.path().join("data")).unwrap();
    let b = Harness::start_on(b_dir, a.database.clone(), &files(), "workers = 0").await;
    let now = Utc::now();
    let (ra, rb) = tokio::join!(
        scheduler::tick(&a.service.ctx, now),
        scheduler::tick(&b.service.ctx, now)
    );
    ra.unwrap();
    rb.unwrap();
    assert_eq!(
        a.scheduled_runs("org0").await.len(),
        1,
        "{backend:?}: one slot, one run"
    );
    b.stop().await;
    a.stop().await;
}

async fn janitor_retries_a_dead_instances_run(backend: Backend) {
    let h = Harness::start(backend, "workers = 0").await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let id = h
        .trigger("org0", &hr, "2026-10", "provisional", "to-be-abandoned")
        .await;
    // An instance claimed it and died a minute ago.
    let a_minute_ago = db::timestamp(Utc::now() - chrono::Duration::minutes(1));
    sqlx::query("UPDATE runs SET status = 'calculating', claimed_by = 'dead-instance', heartbeat_at = $1, attempts = 1 WHERE id = $2")
        .bind(&a_minute_ago)
        .bind(&id)
        .execute(h.service.ctx.db.pool())
        .await
        .unwrap();
    runs::sweep(&h.service.ctx, Duration::from_secs(30)).await.unwrap();
    let run = h.get(&format!("/v1/orgs/org0/runs/{id}"), &hr).await.json();
    assert_eq!(run["status"], "queued", "{run:#}");
    let transitions: Vec<(&str, &str)> = run["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["status"].as_str().unwrap(), t["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        &transitions[transitions.len() - 2..],
        [("failed", "system:janitor"), ("queued", "system:janitor")]
    );

    // An instance with a worker picks it up and calculates it.
    let (dir, database) = h.stop().await;
    let h = Harness::start_on(dir, database, &files(), "").await;
    let run = h.wait("org0", &id, &hr, "calculated").await;
    assert_eq!(run["attempts"], 2);
    h.stop().await;
}
