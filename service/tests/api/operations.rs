//! Verbs called as operations, without HTTP, on SQLite: the permission each needs, the org it is
//! bound to, its guard (four eyes) and the audit entry it writes with its change. The HTTP
//! handlers (and, for a run's verbs, `payroll run --database`) call the same functions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::time::Duration;

use common::*;
use payroll_engine::lifecycle::{RunKind, RunStatus};
use payroll_service::adjustments::{self, Fields};
use payroll_service::caller::Caller;
use payroll_service::db::audit::{self, Action, Filter};
use payroll_service::notices::{self, NoticeOf};
use payroll_service::payouts::File;
use payroll_service::returns::Return;
use payroll_service::uploads::Sent;
use payroll_service::{App, Error, audit as audit_log, findings, payouts, returns, roles, runs, schedule, uploads};

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

    // The gate: the sample month pays workers below the minimum wage, a block finding each.
    let refused = runs::approve(app, &approver, "org0", &run.id).await;
    assert!(
        matches!(&refused, Err(Error::Conflict(m)) if m.contains("open block finding")),
        "{refused:?}"
    );
    let why = "the state's revision is not in force yet";
    let refused =
        findings::acknowledge_check(app, &worker, "org0", &run.id, "rate_below_minimum_wage", None, why).await;
    assert!(matches!(refused, Err(Error::Missing(_))), "{refused:?}");
    let acknowledged =
        findings::acknowledge_check(app, &approver, "org0", &run.id, "rate_below_minimum_wage", None, why)
            .await
            .unwrap();
    assert!(acknowledged > 0);
    assert_eq!(entries(app, Action::FindingAcknowledge).await.len(), 1);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_and_its_bank_return_are_made_and_decided_by_two_people_and_downloads_audited() {
    let h = Harness::start(
        Backend::Sqlite,
        "[orgs.org0]\ndebit_account = \"000111222333\"\ndebit_ifsc = \"ICIC0000001\"\n",
    )
    .await;
    let app = &h.service.ctx;
    let run = h.finalized_run().await;
    let hr = caller(app, "hr1", "org0", "hr_admin").await;
    let approver = caller(app, "appr1", "org0", "approver").await;
    let admin = caller(app, "adm1", "org0", "org_admin").await;
    let stranger = caller(app, "appr9", "org1", "approver").await;

    let refused = payouts::create(app, &hr, "org0", &run, None).await;
    assert!(matches!(refused, Err(Error::Missing(_))), "{refused:?}");
    let refused = payouts::create(app, &stranger, "org0", &run, None).await;
    assert!(matches!(refused, Err(Error::OtherOrg { .. })), "{refused:?}");
    let refused = payouts::create(app, &approver, "org0", &run, Some("")).await;
    assert!(
        matches!(&refused, Err(Error::Invalid(f)) if f[0].0 == "Idempotency-Key"),
        "{refused:?}"
    );
    assert!(entries(app, Action::PayoutCreate).await.is_empty());
    let made = payouts::create(app, &approver, "org0", &run, Some("p1")).await.unwrap();
    assert!(made.created && made.payout.payments > 0, "{made:?}");
    let again = payouts::create(app, &approver, "org0", &run, Some("p1")).await.unwrap();
    assert_eq!(
        (again.payout.id.as_str(), again.created),
        (made.payout.id.as_str(), false)
    );
    assert_eq!(entries(app, Action::PayoutCreate).await.len(), 1);

    // Its NEFT file, handed out once the download is audited; a reference from it is returned.
    let pid = made.payout.id.clone();
    let refused = payouts::download(app, &hr, "org0", &run, &pid, File::Neft).await;
    assert!(matches!(refused, Err(Error::Missing(_))), "{refused:?}");
    assert!(entries(app, Action::PayoutDownload).await.is_empty());
    let neft = payouts::download(app, &approver, "org0", &run, &pid, File::Neft)
        .await
        .unwrap();
    let downloads = entries(app, Action::PayoutDownload).await;
    assert_eq!(downloads[0].target, format!("runs/{run}/payouts/{pid}/neft.csv"));
    let reference = csv::Reader::from_reader(&neft[..]).records().next().unwrap().unwrap()[5].to_string();

    let file = format!("reference,reason\n{reference},Account closed\n");
    let refused = payouts::record_return(app, &hr, "org0", &run, &pid, file.as_bytes()).await;
    assert!(matches!(refused, Err(Error::Missing(_))), "{refused:?}");
    let recorded = payouts::record_return(app, &approver, "org0", &run, &pid, file.as_bytes())
        .await
        .unwrap();
    assert_eq!(recorded.status, "pending");
    assert_eq!(entries(app, Action::PayoutReturn).await.len(), 1);
    // Who recorded it cannot decide it; a rejection says why.
    let refused = payouts::approve_return(app, &approver, "org0", &run, &pid, &recorded.id).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "four eyes: {refused:?}");
    let refused = payouts::reject_return(app, &admin, ("org0", &run, &pid, &recorded.id), " ").await;
    assert!(
        matches!(&refused, Err(Error::Invalid(f)) if f[0].0 == "reason"),
        "{refused:?}"
    );
    assert!(entries(app, Action::PayoutReturnApprove).await.is_empty());
    let approved = payouts::approve_return(app, &admin, "org0", &run, &pid, &recorded.id)
        .await
        .unwrap();
    assert_eq!(approved.status, "approved");
    let entry = &entries(app, Action::PayoutReturnApprove).await[0];
    assert_eq!(entry.actor, "adm1");
    let refused = payouts::approve_return(app, &admin, "org0", &run, &pid, &recorded.id).await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "decided once: {refused:?}");

    // Statutory returns: returns:download, each download audited before it is handed out.
    let refused = returns::download(app, &approver, "org0", &run, Return::Ecr).await;
    assert!(matches!(refused, Err(Error::Missing(_))), "{refused:?}");
    assert!(entries(app, Action::ReturnsDownload).await.is_empty());
    let ecr = returns::download(app, &hr, "org0", &run, Return::Ecr).await.unwrap();
    assert!(!ecr.bytes.is_empty() && ecr.period.to_string() == "2026-10");
    let entry = &entries(app, Action::ReturnsDownload).await[0];
    assert_eq!(
        (entry.actor.as_str(), entry.target.clone()),
        ("hr1", format!("runs/{run}/returns/ecr.txt"))
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workers_upload_is_admitted_by_permission_and_decided_by_another_person() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let app = &h.service.ctx;
    let hr = caller(app, "hr1", "org0", "hr_admin").await;
    let analyst = caller(app, "an1", "org0", "analyst").await;
    let stranger = caller(app, "hr9", "org1", "hr_admin").await;
    let approver = caller(app, "appr1", "org0", "approver").await;
    let maker = caller(app, "hr1", "org0", "org_admin").await;

    // An admitted upload counts as in progress until it is dropped: only the refusals are kept.
    let refused = uploads::admit(app, &analyst, "org0", "workers", None, None).await.err();
    assert!(matches!(refused, Some(Error::Missing(_))), "{refused:?}");
    let refused = uploads::admit(app, &stranger, "org0", "workers", None, None)
        .await
        .err();
    assert!(matches!(refused, Some(Error::OtherOrg { .. })), "{refused:?}");
    let refused = uploads::admit(app, &hr, "org0", "payslips", Some("all"), Some(""))
        .await
        .err();
    let Some(Error::Invalid(faults)) = refused else {
        panic!("{refused:?}")
    };
    let fields: Vec<&str> = faults.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["kind", "mode", "Idempotency-Key"]);

    // W000000 with a new bank account, uploaded by hr1.
    let master = std::fs::read_to_string(h.dir.path().join("inputs").join("workers.csv")).unwrap();
    let mut lines = master.lines();
    let header = lines.next().unwrap();
    let row = lines.find(|l| l.starts_with("W000000,")).unwrap();
    let changed = row.replace("494833411340", "111122223333");
    assert_ne!(row, changed, "the sample's account of W000000 is in the row");
    let file = format!("{header}\n{changed}\n");
    let admitted = uploads::admit(app, &hr, "org0", "workers", None, None).await.unwrap();
    let sent = Sent {
        file_name: Some("workers.csv"),
        content_type: None,
        bytes: file.as_bytes(),
    };
    let (upload, created) = uploads::create(app, &hr, "org0", admitted, sent).await.unwrap();
    assert!(created);
    assert_eq!(entries(app, Action::Upload).await.len(), 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = payroll_service::db::uploads::get(&app.db, "org0", &upload.id)
            .await
            .unwrap();
        if now.status.as_str() == "awaiting_approval" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "upload is {}", now.status);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The uploader cannot decide it, even holding workers:approve; hr_admin has no permission.
    let refused = uploads::approve(app, &maker, "org0", &upload.id).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "four eyes: {refused:?}");
    let refused = uploads::approve(app, &hr, "org0", &upload.id).await;
    assert!(matches!(refused, Err(Error::Missing(_))), "{refused:?}");
    let refused = uploads::reject(app, &approver, "org0", &upload.id, "").await;
    assert!(
        matches!(&refused, Err(Error::Invalid(f)) if f[0].0 == "reason"),
        "{refused:?}"
    );
    assert!(entries(app, Action::WorkerChange).await.is_empty());
    assert_eq!(uploads::approve(app, &approver, "org0", &upload.id).await.unwrap(), 1);
    let changes = entries(app, Action::WorkerChange).await;
    assert_eq!(
        (changes.len(), changes[0].actor.as_str(), changes[0].target.as_str()),
        (1, "appr1", "workers/W000000")
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_the_audit_log_answer_only_their_permissions() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let app = &h.service.ctx;
    let hr = caller(app, "hr1", "org0", "hr_admin").await;
    let admin = caller(app, "adm1", "org0", "org_admin").await;
    let analyst = caller(app, "an1", "org0", "analyst").await;
    let stranger = caller(app, "adm9", "org1", "org_admin").await;
    let grants: payroll_service::domain::permissions::Permissions =
        serde_json::from_str(r#"["runs:view", "pay:view"]"#).unwrap();

    let refused = roles::set(app, &hr, "org0", "paymaster", &grants).await;
    assert!(matches!(refused, Err(Error::Missing(_))), "{refused:?}");
    let refused = roles::list(app, &stranger, "org0").await;
    assert!(matches!(refused, Err(Error::OtherOrg { .. })), "{refused:?}");
    let refused = roles::set(app, &admin, "org0", "Pay Master", &grants).await;
    assert!(
        matches!(&refused, Err(Error::Invalid(f)) if f[0].0 == "role"),
        "{refused:?}"
    );
    assert!(entries(app, Action::RolesChange).await.is_empty());
    roles::set(app, &admin, "org0", "paymaster", &grants).await.unwrap();
    assert_eq!(roles::get(app, &admin, "org0", "paymaster").await.unwrap(), grants);
    let entry = &entries(app, Action::RolesChange).await[0];
    assert_eq!(
        (entry.actor.as_str(), entry.target.as_str()),
        ("adm1", "roles/paymaster")
    );
    // In force at once: a caller holding the new role has what it grants.
    let paymaster = caller(app, "pm1", "org0", "paymaster").await;
    assert!(paymaster.can(payroll_service::domain::permissions::Permission::ViewPay));

    let refused = audit_log::list(app, &analyst, "org0", &Filter::default(), 10).await;
    assert!(matches!(refused, Err(Error::Missing(_))), "{refused:?}");
    let (seen, _) = audit_log::list(app, &hr, "org0", &Filter::default(), 10).await.unwrap();
    assert!(seen.iter().any(|e| e.action == "roles.change"), "{seen:#?}");
    h.stop().await;
}
