//! Verbs called as operations, without HTTP, on SQLite: the permission each needs, the org it is
//! bound to, its guard (four eyes) and the audit entry it writes with its change. The HTTP
//! handlers (and, for a run's trigger, `payroll run --database`) call the same functions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

mod common;

use std::time::Duration;

use common::*;
use payroll_engine::lifecycle::{RunKind, RunStatus};
use payroll_service::adjustments::{self, Fields};
use payroll_service::caller::Caller;
use payroll_service::db::audit::{self, Action, Filter};
use payroll_service::notices::{self, NoticeOf};
use payroll_service::{App, Error, runs, schedule};

/// A caller of `org` with `role`, granted what the org's role table grants now.
async fn caller(app: &App, sub: &str, org: &str, role: &str) -> Caller {
    let roles = vec![role.to_string()];
    let permissions = app.role_tables.grants(&app.db, org, &roles, &app.roles).await.unwrap();
    Caller {
        sub: sub.to_string(),
        org: org.to_string(),
        roles,
        permissions,
        request_id: "operations-test".to_string(),
    }
}

fn trigger(kind: RunKind) -> runs::Trigger {
    runs::Trigger {
        period: "2026-10".parse().unwrap(),
        kind,
        idempotency: None,
    }
}

async fn entries(app: &App, action: Action) -> Vec<audit::Entry> {
    let filter = Filter {
        action: Some(action),
        ..Filter::default()
    };
    audit::list(&app.db, "org0", &filter, 100).await.unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_verb_checks_its_permission_org_and_guard_and_audits_its_change() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let app = &h.service.ctx;
    let hr = caller(app, "hr1", "org0", "hr_admin").await;
    let worker = caller(app, "W000000", "org0", "worker").await;
    let stranger = caller(app, "hr9", "org1", "hr_admin").await;
    let approver = caller(app, "appr1", "org0", "approver").await;

    // Trigger: runs:trigger, in the caller's org only.
    let refused = runs::trigger(&app.db, &worker, "org0", trigger(RunKind::Final)).await;
    assert!(matches!(refused, Err(Error::Missing(_))), "{refused:?}");
    let refused = runs::trigger(&app.db, &stranger, "org0", trigger(RunKind::Final)).await;
    assert!(matches!(refused, Err(Error::OtherOrg { .. })), "{refused:?}");
    assert!(entries(app, Action::RunTrigger).await.is_empty());
    let (run, created) = runs::trigger(&app.db, &hr, "org0", trigger(RunKind::Final))
        .await
        .unwrap();
    assert!(created);
    let triggered = entries(app, Action::RunTrigger).await;
    assert_eq!(triggered.len(), 1, "{triggered:#?}");
    assert_eq!(
        (
            triggered[0].actor.as_str(),
            triggered[0].request_id.as_str(),
            triggered[0].target.clone()
        ),
        ("hr1", "operations-test", format!("runs/{}", run.id))
    );
    app.work.notify_one();

    // Approve: not the person who triggered it, even holding runs:approve.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while payroll_service::db::runs::get(&app.db, "org0", &run.id)
        .await
        .unwrap()
        .status
        != RunStatus::Calculated
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the run was not calculated within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let maker = caller(app, "hr1", "org0", "org_admin").await;
    let refused = runs::approve(app, &maker, "org0", &run.id).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "four eyes: {refused:?}");
    let refused = runs::approve(app, &hr, "org0", &run.id).await;
    assert!(matches!(refused, Err(Error::Missing(_))), "{refused:?}");
    assert!(entries(app, Action::RunApprove).await.is_empty());

    // Reject needs a reason; exclusions only on a calculated final run.
    let refused = runs::reject(app, &approver, "org0", &run.id, "  ").await;
    assert!(
        matches!(&refused, Err(Error::Invalid(f)) if f[0].0 == "reason"),
        "{refused:?}"
    );
    let refused = runs::exclude(app, &hr, "org0", &run.id, &[], "no reason").await;
    assert!(
        matches!(&refused, Err(Error::Invalid(f)) if f[0].0 == "worker_ids"),
        "{refused:?}"
    );

    let approved = runs::approve(app, &approver, "org0", &run.id).await.unwrap();
    assert_ne!(approved.status, RunStatus::Calculated);
    let entry = &entries(app, Action::RunApprove).await[0];
    assert_eq!(
        (entry.actor.as_str(), entry.target.clone()),
        ("appr1", format!("runs/{}", run.id))
    );

    // Cancel: only what is queued or calculating; the guard says so.
    let refused = runs::cancel(app, &hr, "org0", &run.id).await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adjustment_is_requested_and_decided_by_two_people_of_its_workers_org() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let app = &h.service.ctx;
    let hr = caller(app, "hr1", "org0", "hr_admin").await;
    let analyst = caller(app, "an1", "org0", "analyst").await;
    let approver = caller(app, "appr1", "org0", "approver").await;
    let bonus = |worker_id| Fields {
        worker_id,
        period: "2026-10",
        kind: "earning",
        code: "bonus",
        amount: "100.00",
        reason: "festival bonus",
    };
    let digest = || "digest".to_string();

    let refused = adjustments::request(app, &analyst, "org0", bonus("W000000"), None, digest()).await;
    assert!(matches!(refused, Err(Error::Missing(_))), "{refused:?}");
    // W000001 is org1's: no org adjusts another's pay.
    let refused = adjustments::request(app, &hr, "org0", bonus("W000001"), None, digest()).await;
    assert!(
        matches!(&refused, Err(Error::Invalid(f)) if f[0].0 == "worker_id"),
        "{refused:?}"
    );
    let refused = adjustments::request(app, &hr, "org0", bonus("W000000"), Some(""), digest()).await;
    assert!(
        matches!(&refused, Err(Error::Invalid(f)) if f[0].0 == "Idempotency-Key"),
        "{refused:?}"
    );
    assert!(entries(app, Action::AdjustmentRequest).await.is_empty());

    let (requested, created) = adjustments::request(app, &hr, "org0", bonus("W000000"), Some("k1"), digest())
        .await
        .unwrap();
    assert!(created);
    let again = adjustments::request(app, &hr, "org0", bonus("W000000"), Some("k1"), digest())
        .await
        .unwrap();
    assert_eq!(
        (again.0.id.as_str(), again.1),
        (requested.id.as_str(), false),
        "a retry"
    );
    assert_eq!(entries(app, Action::AdjustmentRequest).await.len(), 1);

    // The requester cannot decide it, even holding adjustments:approve.
    let maker = caller(app, "hr1", "org0", "org_admin").await;
    let refused = adjustments::approve(app, &maker, "org0", &requested.id).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "four eyes: {refused:?}");
    let refused = adjustments::reject(app, &approver, "org0", &requested.id, " ").await;
    assert!(
        matches!(&refused, Err(Error::Invalid(f)) if f[0].0 == "reason"),
        "{refused:?}"
    );
    adjustments::approve(app, &approver, "org0", &requested.id)
        .await
        .unwrap();
    let entry = &entries(app, Action::AdjustmentApprove).await[0];
    assert_eq!(entry.actor, "appr1");
    let refused = adjustments::approve(app, &approver, "org0", &requested.id).await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "decided once: {refused:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_is_set_and_a_notice_retried_only_with_their_permissions() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let app = &h.service.ctx;
    let hr = caller(app, "hr1", "org0", "hr_admin").await;
    let approver = caller(app, "appr1", "org0", "approver").await;

    let refused = schedule::set(&app.db, &approver, "org0", "0 2 * * *", "Asia/Kolkata").await;
    assert!(matches!(refused, Err(Error::Missing(_))), "{refused:?}");
    let refused = schedule::set(&app.db, &hr, "org0", "0 2 * *", "Mars/Olympus").await;
    let fields: Vec<String> = match refused {
        Err(Error::Invalid(faults)) => faults.into_iter().map(|(field, _)| field).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(fields, ["cron", "timezone"], "every field named at once");
    assert!(entries(app, Action::ScheduleChange).await.is_empty());
    let set = schedule::set(&app.db, &hr, "org0", "0 2 * * *", "Asia/Kolkata")
        .await
        .unwrap();
    assert_eq!(set.spec.text, "0 2 * * *");
    assert_eq!(entries(app, Action::ScheduleChange).await[0].actor, "hr1");

    let refused = notices::retry(&app.db, &approver, "org0", NoticeOf::Run("r1"), "n1").await;
    assert!(matches!(refused, Err(Error::Missing(_))), "{refused:?}");
    let refused = notices::retry(&app.db, &hr, "org0", NoticeOf::Upload("u1"), "n1").await;
    assert!(matches!(refused, Err(Error::NotFound(_))), "{refused:?}");
    assert!(entries(app, Action::NoticeRetry).await.is_empty());
    h.stop().await;
}
