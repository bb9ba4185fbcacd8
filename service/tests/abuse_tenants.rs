//! Attacks on who may move a worker's pay, played against a real service on SQLite and
//! PostgreSQL: one org adjusting another org's worker through the API or its input files, and
//! an adjustment approved by the person who requested it. Each is refused and nothing is paid.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

mod common;

use common::*;
use serde_json::{Value, json};

/// `worker_id` → `net_pay` of a run's results.
async fn net_pay(h: &Harness, org: &str, run: &str, token: &str) -> Vec<(String, String)> {
    let page = h
        .get(&format!("/v1/orgs/{org}/runs/{run}/results?page_size=1000"), token)
        .await
        .json();
    let mut rows: Vec<(String, String)> = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["worker_id"].as_str().unwrap().to_string(),
                r["net_pay"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn an_org_cannot_adjust_another_orgs_worker_through_the_api() {
    for backend in backends() {
        through_the_api(backend).await;
    }
}

async fn through_the_api(backend: Backend) {
    let h = Harness::start(backend, "").await;
    let inputs = h.dir.path().join("inputs");
    let before = std::fs::read(inputs.join("adjustments.ndjson")).unwrap();
    let hr = h.token("hr1", "org0", "hr_admin");
    let request = |worker: &str| {
        json!({"worker_id": worker, "period": "2026-10", "kind": "earning", "code": "bonus",
               "amount": "50000.00", "reason": "thank you"})
    };
    // W000001 is org1's; W999999 is nobody's.
    for (worker, why) in [
        ("W000001", "`W000001` is not a worker of org `org0`"),
        ("W999999", "unknown worker `W999999` in org `org0`"),
    ] {
        let refused = h.post("/v1/orgs/org0/adjustments", &hr, &request(worker)).await;
        assert_eq!(refused.status, 422, "{}", refused.text());
        assert_eq!(
            refused.json()["error"]["fields"]["worker_id"],
            json!([why]),
            "{}",
            refused.text()
        );
    }
    let listed = h.get("/v1/orgs/org0/adjustments", &hr).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(listed.json()["adjustments"], json!([]), "nothing was requested");
    assert_eq!(
        std::fs::read(inputs.join("adjustments.ndjson")).unwrap(),
        before,
        "nothing was published"
    );

    // The org's own worker: requested, and the version published names the org, so the fold
    // can check it.
    let made = h.post("/v1/orgs/org0/adjustments", &hr, &request("W000002")).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let text = std::fs::read_to_string(inputs.join("adjustments.ndjson")).unwrap();
    let published: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(
        (&published["worker_id"], &published["org_id"]),
        (&json!("W000002"), &json!("org0"))
    );
    h.service.shutdown().await;
}

#[tokio::test]
async fn a_file_adjustment_for_another_orgs_worker_or_approved_by_its_maker_pays_nothing() {
    for backend in backends() {
        through_a_file(backend).await;
    }
}

async fn through_a_file(backend: Backend) {
    let h = Harness::start(backend, "").await;
    let inputs = h.dir.path().join("inputs");
    let hr = h.token("hr9", "org1", "hr_admin");
    let before = h.trigger("org1", &hr, "2026-10", "provisional", "before").await;
    h.wait("org1", &before, &hr, "calculated").await;

    // Org0 writes a bonus for org1's W000001 into the feed; someone approves their own bonus
    // for W000003 (org1's).
    let lines_before = std::fs::read_to_string(inputs.join("adjustments.ndjson"))
        .unwrap()
        .lines()
        .count() as u64;
    append(
        &inputs,
        "adjustments.ndjson",
        &[
            r#"{"event_id": "x-1", "adjustment_id": "ADJ-x1", "worker_id": "W000001", "org_id": "org0", "period": "2026-10", "kind": "earning", "code": "bonus", "amount": "50000.00", "reason": "x", "status": "approved", "version": 2, "requested_by": "m", "approved_by": "c"}"#,
            r#"{"event_id": "x-2", "adjustment_id": "ADJ-x2", "worker_id": "W000003", "period": "2026-10", "kind": "earning", "code": "bonus", "amount": "50000.00", "reason": "x", "status": "approved", "version": 2, "requested_by": "mallory", "approved_by": "mallory"}"#,
        ],
    );
    let after = h.trigger("org1", &hr, "2026-10", "provisional", "after").await;
    h.wait("org1", &after, &hr, "calculated").await;
    assert_eq!(
        net_pay(&h, "org1", &after, &hr).await,
        net_pay(&h, "org1", &before, &hr).await,
        "no one's pay moved"
    );
    let letters = h
        .get(
            &format!("/v1/orgs/org1/runs/{after}/dead-letters?source=adjustments.ndjson"),
            &hr,
        )
        .await
        .json();
    let refused: Vec<(u64, String, String)> = letters["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["field"].as_str().unwrap().to_string(),
                l["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            (
                lines_before + 1,
                "worker_id".to_string(),
                "`W000001` is not a worker of org `org0`".to_string()
            ),
            (
                lines_before + 2,
                "approved_by".to_string(),
                "`mallory` requested it too: a second person approves an adjustment (four eyes)".to_string()
            ),
        ],
        "{letters:#}"
    );
    h.service.shutdown().await;
}
