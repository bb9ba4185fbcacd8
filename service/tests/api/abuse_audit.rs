//! A change and its audit entry are one: when the audit log cannot be written, the change does
//! not happen. On both databases a trigger makes every insert into the audit log fail; then
//! triggering a run, approving one, requesting an adjustment, uploading a file and making a
//! payout each answer 500 and leave nothing behind. With the log back, the same requests succeed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::*;
use serde_json::{Value, json};
use sqlx::Connection;

/// Makes every insert into the audit log fail (`down`), or lets it succeed again, through a
/// connection of its own to the service's database.
async fn audit_log(backend: Backend, database: &str, down: bool) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(database).await.unwrap();
    let statements: &[&str] = match (backend, down) {
        (Backend::Sqlite, true) => {
            &["CREATE TRIGGER audit_down BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit down'); END"]
        }
        (Backend::Sqlite, false) => &["DROP TRIGGER audit_down"],
        (Backend::Postgres, true) => &[
            "CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'audit down'; END $$",
            "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_down()",
        ],
        (Backend::Postgres, false) => &["DROP TRIGGER audit_down ON audit_log", "DROP FUNCTION audit_down()"],
    };
    for statement in statements {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
}

const DEBIT: &str =
    "[orgs.org0]\nname = \"Acme Logistics\"\ndebit_account = \"000111222333\"\ndebit_ifsc = \"ICIC0000001\"\n";

fn status_of(h_run: &Value) -> &str {
    h_run["status"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_audit_entry_cannot_be_written_does_not_happen() {
    for backend in backends() {
        let h = Harness::start(backend, DEBIT).await;
        let hr = h.token("hr1", "org0", "hr_admin");
        let approver = h.token("appr1", "org0", "approver");
        let run = h.trigger("org0", &hr, "2026-10", "final", "final").await;
        h.wait("org0", &run, &hr, "calculated").await;
        h.acknowledge_blocks("org0", &run).await;

        audit_log(backend, &h.database, true).await;

        let body = json!({"period": "2026-10", "kind": "provisional"});
        let triggered = h
            .call("POST", "/v1/orgs/org0/runs", Some(&hr), Some(&body), Some("unaudited"))
            .await;
        assert_eq!(triggered.status, 500, "{backend:?}: {}", triggered.text());
        let runs = h.get("/v1/orgs/org0/runs", &hr).await.json();
        assert_eq!(
            runs["runs"].as_array().unwrap().len(),
            1,
            "{backend:?}: no run queued: {runs:#}"
        );

        let approve = format!("/v1/orgs/org0/runs/{run}/approve");
        let approved = h.post(&approve, &approver, &json!({})).await;
        assert_eq!(approved.status, 500, "{backend:?}: {}", approved.text());
        let now = h.get(&format!("/v1/orgs/org0/runs/{run}"), &hr).await.json();
        assert_eq!(status_of(&now), "calculated", "{backend:?}: the run is not approved");

        let bonus = json!({"worker_id": "W000000", "period": "2026-10", "kind": "earning", "code": "bonus",
                           "amount": "100.00", "reason": "festival bonus"});
        let requested = h.post("/v1/orgs/org0/adjustments", &hr, &bonus).await;
        assert_eq!(requested.status, 500, "{backend:?}: {}", requested.text());
        let adjustments = h.get("/v1/orgs/org0/adjustments", &hr).await.json();
        assert_eq!(
            adjustments["adjustments"],
            json!([]),
            "{backend:?}: no adjustment is recorded"
        );

        let sheet = b"worker_id,period,kind,code,amount,reason\nW000000,2026-10,earning,bonus,10.00,r\n";
        let uploaded = h.post_upload("org0", "adjustments", "bonus.csv", sheet, &hr).await;
        assert_eq!(uploaded.status, 500, "{backend:?}: {}", uploaded.text());
        let uploads = h.get("/v1/orgs/org0/uploads", &hr).await.json();
        assert_eq!(uploads["uploads"], json!([]), "{backend:?}: no upload is recorded");

        // With the log back the run is approved and finalized; then the log fails again.
        audit_log(backend, &h.database, false).await;
        let approved = h.post(&approve, &approver, &json!({})).await;
        assert_eq!(approved.status, 200, "{backend:?}: {}", approved.text());
        h.wait("org0", &run, &hr, "finalized").await;
        audit_log(backend, &h.database, true).await;

        let payouts = format!("/v1/orgs/org0/runs/{run}/payouts");
        let paid = h.call("POST", &payouts, Some(&approver), None, Some("payout-1")).await;
        assert_eq!(paid.status, 500, "{backend:?}: {}", paid.text());
        let listed = h.get(&payouts, &approver).await.json();
        assert_eq!(listed["payouts"], json!([]), "{backend:?}: no payout is recorded");

        audit_log(backend, &h.database, false).await;
        let paid = h.call("POST", &payouts, Some(&approver), None, Some("payout-1")).await;
        assert_eq!(paid.status, 201, "{backend:?}: {}", paid.text());
        h.service.shutdown().await;
    }
}

/// Changes at once each take their own place in the org's chain: none fails on another's
/// sequence number (on PostgreSQL the entry waits for the org's lock), and the chain holds.
/// Adjustment requests, because nothing else they write makes them wait for each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_at_once_each_get_their_own_entry() {
    for backend in backends() {
        let h = Harness::start(backend, "").await;
        let hr = h.token("hr1", "org0", "hr_admin");
        let replies = futures::future::join_all((0..16).map(|i| {
            let (h, hr) = (&h, &hr);
            async move {
                let bonus = json!({"worker_id": "W000000", "period": "2026-10", "kind": "earning", "code": "bonus",
                                   "amount": format!("{}.00", 100 + i), "reason": "festival bonus"});
                h.post("/v1/orgs/org0/adjustments", hr, &bonus).await
            }
        }))
        .await;
        for reply in &replies {
            assert_eq!(reply.status, 201, "{backend:?}: {}", reply.text());
        }
        let verified = payroll_service::db::audit::verify(&h.service.ctx.db, Some("org0"))
            .await
            .unwrap();
        assert_eq!(
            verified,
            payroll_service::db::audit::Verified::Intact { entries: 16, orgs: 1 },
            "{backend:?}"
        );
        h.service.shutdown().await;
    }
}
