//! The audit log: every change and every download of pay documents is an entry naming who,
//! what, when and under which request, listed by the API with filters and pages; the entries
//! chain by hash, so an entry edited or deleted in the database is found and named.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::*;
use payroll_service::db::Db;
use payroll_service::db::audit::{self, Verified};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_and_download_is_an_entry_and_an_edit_or_deletion_is_named() {
    for backend in backends() {
        let h = Harness::start(backend, "").await;
        let run = h.finalized_run().await;
        let hr = h.token("hr1", "org0", "hr_admin");
        for path in [
            format!("/v1/orgs/org0/runs/{run}/payslips/W000000.pdf"),
            format!("/v1/orgs/org0/runs/{run}/register.xlsx"),
            format!("/v1/orgs/org0/runs/{run}/results.csv"),
        ] {
            assert_eq!(h.get(&path, &hr).await.status, 200, "{path}");
        }
        let schedule = json!({"cron": "30 1 * * *", "timezone": "Asia/Kolkata"});
        assert_eq!(
            h.call("PUT", "/v1/orgs/org0/schedule", Some(&hr), Some(&schedule), None)
                .await
                .status,
            200
        );
        // Refused calls change nothing and are not entries.
        assert_eq!(
            h.post(
                &format!("/v1/orgs/org0/runs/{run}/approve"),
                &h.token("appr1", "org0", "approver"),
                &json!({})
            )
            .await
            .status,
            409
        );

        let page = h.get("/v1/orgs/org0/audit", &hr).await.json();
        let entries = page["entries"].as_array().unwrap();
        let summary: Vec<(&str, &str, String)> = entries
            .iter()
            .map(|e| {
                let target = e["target"].as_str().unwrap().replace(&run, "{run}");
                (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap(), target)
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("run.trigger", "hr1", "runs/{run}".to_string()),
                ("finding.acknowledge", "appr1", "runs/{run}/findings".to_string()),
                ("run.approve", "appr1", "runs/{run}".to_string()),
                ("payslip.download", "hr1", "runs/{run}/payslips/W000000.pdf".to_string()),
                ("register.download", "hr1", "runs/{run}/register.xlsx".to_string()),
                ("results.download", "hr1", "runs/{run}/results.csv".to_string()),
                ("schedule.change", "hr1", "schedule".to_string()),
            ],
            "{backend:?}"
        );
        let approve = &entries[2];
        assert_eq!(approve["before"], json!({"status": "calculated"}));
        assert_eq!(approve["after"]["status"], "finalizing");
        assert_eq!(approve["roles"], json!(["approver"]));
        assert!(!approve["request_id"].as_str().unwrap().is_empty());
        assert_eq!(entries[0]["prev_hash"], audit::GENESIS);
        assert_eq!(entries[1]["prev_hash"], entries[0]["hash"]);
        assert_eq!(
            entries[6]["after"],
            json!({"cron": "30 1 * * *", "timezone": "Asia/Kolkata"})
        );

        // Filters and pages.
        let approvals = h.get("/v1/orgs/org0/audit?action=run.approve", &hr).await.json();
        assert_eq!(approvals["entries"].as_array().unwrap().len(), 1);
        let first = h.get("/v1/orgs/org0/audit?page_size=4", &hr).await.json();
        let token = first["next_page_token"].as_str().unwrap();
        let rest = h
            .get(&format!("/v1/orgs/org0/audit?page_size=4&page_token={token}"), &hr)
            .await
            .json();
        let seqs: Vec<i64> = rest["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect();
        assert_eq!(seqs, [5, 6, 7]);
        assert_eq!(rest["next_page_token"], Value::Null);
        let bad = h.get("/v1/orgs/org0/audit?action=run.delete&from=yesterday", &hr).await;
        assert_eq!(bad.status, 422);
        assert!(
            bad.text().contains("run.delete") && bad.text().contains("RFC 3339"),
            "{}",
            bad.text()
        );

        // The chain holds; an entry edited in the database breaks it there.
        let db = Db::connect(&h.database).await.unwrap();
        assert_eq!(
            audit::verify(&db, None).await.unwrap(),
            Verified::Intact { entries: 7, orgs: 1 }
        );
        sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE org_id = 'org0' AND seq = 2")
            .execute(db.pool())
            .await
            .unwrap();
        let Verified::Broken { org, seq, reason } = audit::verify(&db, Some("org0")).await.unwrap() else {
            panic!("an edited entry went unnoticed ({backend:?})");
        };
        assert_eq!((org.as_str(), seq), ("org0", 2));
        assert!(reason.contains("edited"), "{reason}");
        // Put back as it was, then delete one: the entry after the gap is named.
        sqlx::query("UPDATE audit_log SET actor = 'appr1' WHERE org_id = 'org0' AND seq = 2")
            .execute(db.pool())
            .await
            .unwrap();
        assert!(matches!(
            audit::verify(&db, None).await.unwrap(),
            Verified::Intact { .. }
        ));
        sqlx::query("DELETE FROM audit_log WHERE org_id = 'org0' AND seq = 4")
            .execute(db.pool())
            .await
            .unwrap();
        let Verified::Broken { seq, reason, .. } = audit::verify(&db, None).await.unwrap() else {
            panic!("a deleted entry went unnoticed ({backend:?})");
        };
        assert_eq!(seq, 5);
        assert!(reason.contains("missing"), "{reason}");
        h.stop().await;
    }
}

/// A client cannot choose the request id its entries are recorded under: two downloads sent
/// with the same forged `X-Request-Id` get ids of the service's own, each its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_the_services_own() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let run = h.finalized_run().await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let client = reqwest::Client::new();
    let mut answered = Vec::new();
    for _ in 0..2 {
        let reply = client
            .get(format!("{}/v1/orgs/org0/runs/{run}/register.xlsx", h.base))
            .bearer_auth(&hr)
            .header("X-Request-Id", "forged-1")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        answered.push(reply.headers()["x-request-id"].to_str().unwrap().to_string());
    }
    assert!(
        answered.iter().all(|id| id != "forged-1") && answered[0] != answered[1],
        "{answered:?}"
    );
    let entries = h.get("/v1/orgs/org0/audit?action=register.download", &hr).await.json();
    let recorded: Vec<&str> = entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(recorded, answered.iter().map(String::as_str).collect::<Vec<_>>());
    h.service.shutdown().await;
}

/// The service anchors each org's chain head as it runs: soon after a change, the head is in
/// the object store, signed, and the chain holds its anchors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_anchors_each_chain_head() {
    use payroll_service::anchors;
    for backend in backends() {
        let h = Harness::start(backend, "[audit]\nanchor_every = \"200ms\"").await;
        h.finalized_run().await;
        let ctx = &h.service.ctx;
        let key = payroll_service::secrets::anchor_key(&ctx.config).unwrap();
        let mut anchored = false;
        for _ in 0..100 {
            let head = audit::heads(&ctx.db).await.unwrap();
            let org0 = head.iter().find(|(org, ..)| org == "org0").map(|(_, seq, _)| *seq);
            let anchors = anchors::read(&ctx.store, "org0").await.unwrap();
            if org0.is_some() && anchors.last().map(|a| a.seq) == org0 {
                anchored = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(anchored, "{backend:?}: org0's head is anchored within 10 s");
        assert_eq!(anchors::verify(&ctx.db, &ctx.store, &key, None).await.unwrap(), None);
        h.service.shutdown().await;
    }
}
