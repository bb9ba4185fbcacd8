//! Adjustments with maker-checker through the API, in files mode (over a copy of the sample):
//! requested `pending`, approved or rejected by a second person only, each version appended to
//! the input folder's `adjustments.ndjson`, and an approved one paid by the next run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::*;
use serde_json::{Value, json};

/// The versions of `id` in the folder's adjustments file, in order.
fn published(inputs: &std::path::Path, id: &str) -> Vec<Value> {
    std::fs::read_to_string(inputs.join("adjustments.ndjson"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["adjustment_id"] == id)
        .collect()
}

/// A request of a bonus for W000000, sent with an Idempotency-Key.
async fn request_with_key(h: &Harness, token: &str, amount: &str, key: &str) -> Reply {
    h.call(
        "POST",
        "/v1/orgs/org0/adjustments",
        Some(token),
        Some(&bonus(amount)),
        Some(key),
    )
    .await
}

fn bonus(amount: &str) -> Value {
    json!({"worker_id": "W000000", "period": "2026-10", "kind": "earning", "code": "bonus",
           "amount": amount, "reason": "festival bonus"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_moves_only_with_two_people_and_the_approved_version_is_paid() {
    let roles = "[roles]\npayroll_lead = [\"adjustments:request\", \"adjustments:approve\", \"runs:view\", \"pay:view\"]\n[adjustments]\nmax_amount = \"50000.00\"";
    let h = Harness::start(Backend::Sqlite, roles).await;
    let inputs = h.dir.path().join("inputs");
    let hr = h.token("hr1", "org0", "hr_admin");
    let approver = h.token("appr1", "org0", "approver");

    // Requested: pending, version 1 in the input folder.
    let reply = request_with_key(&h, &hr, "1500.00", "bonus-1").await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let requested = reply.json();
    let id = requested["id"].as_str().unwrap().to_string();
    assert_eq!(
        (requested["status"].as_str(), requested["requested_by"].as_str()),
        (Some("pending"), Some("hr1"))
    );
    let versions = published(&inputs, &id);
    assert_eq!(versions.len(), 1);
    assert_eq!(
        (versions[0]["status"].as_str(), versions[0]["version"].as_i64()),
        (Some("pending"), Some(1))
    );
    assert_eq!(versions[0]["amount"], "1500.00");
    // A retry with the same key is the same adjustment; the same key for another body is refused.
    let retry = request_with_key(&h, &hr, "1500.00", "bonus-1").await;
    assert_eq!((retry.status, retry.json()["id"].as_str()), (200, Some(id.as_str())));
    let reused = request_with_key(&h, &hr, "900.00", "bonus-1").await;
    assert_eq!(reused.status, 422, "{}", reused.text());
    assert_eq!(published(&inputs, &id).len(), 1);

    // Amounts and fields are validated, every fault named.
    let bad = json!({"worker_id": "", "period": "2026-13", "kind": "gift", "code": "a b",
                     "amount": "12.345", "reason": " "});
    let refused = h.post("/v1/orgs/org0/adjustments", &hr, &bad).await;
    assert_eq!(refused.status, 422);
    let text = refused.text();
    for field in ["worker_id", "period", "kind", "code", "amount", "reason"] {
        assert!(text.contains(&format!("\"{field}\"")), "{field} not named: {text}");
    }
    for (amount, why) in [
        ("-5.00", "negative"),
        ("0", "more than 0"),
        ("50000.01", "cap of 50000.00"),
        ("1e3", "decimal string"),
    ] {
        let refused = h.post("/v1/orgs/org0/adjustments", &hr, &bonus(amount)).await;
        assert_eq!(refused.status, 422, "{amount}");
        assert!(refused.text().contains(why), "{amount}: {}", refused.text());
    }

    // The maker cannot approve (no permission); a user who may both cannot approve their own.
    let path = format!("/v1/orgs/org0/adjustments/{id}/approve");
    assert_eq!(h.post(&path, &hr, &json!({})).await.status, 403);
    let lead = h.token("lead1", "org0", "payroll_lead");
    let own = h
        .post("/v1/orgs/org0/adjustments", &lead, &bonus("100.00"))
        .await
        .json();
    let own_id = own["id"].as_str().unwrap();
    let refused = h
        .post(
            &format!("/v1/orgs/org0/adjustments/{own_id}/approve"),
            &lead,
            &json!({}),
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(refused.text().contains("four eyes"), "{}", refused.text());
    // Rejected by someone else, with a reason; a decided adjustment is not decided again.
    let reject = format!("/v1/orgs/org0/adjustments/{own_id}/reject");
    assert_eq!(h.post(&reject, &approver, &json!({"reason": ""})).await.status, 422);
    let rejected = h
        .post(&reject, &approver, &json!({"reason": "paid in cash"}))
        .await
        .json();
    assert_eq!(
        (rejected["status"].as_str(), rejected["decision_note"].as_str()),
        (Some("rejected"), Some("paid in cash"))
    );
    assert_eq!(
        h.post(
            &format!("/v1/orgs/org0/adjustments/{own_id}/approve"),
            &approver,
            &json!({})
        )
        .await
        .status,
        409
    );

    // Approved by the checker: version 2, published, audited.
    let approved = h.post(&path, &approver, &json!({})).await;
    assert_eq!(approved.status, 200, "{}", approved.text());
    assert_eq!(approved.json()["decided_by"], "appr1");
    let versions = published(&inputs, &id);
    assert_eq!(versions.len(), 2);
    assert_eq!(
        (versions[1]["status"].as_str(), versions[1]["approved_by"].as_str()),
        (Some("approved"), Some("appr1"))
    );

    // The inbox: filters and pages.
    let pending = h
        .get("/v1/orgs/org0/adjustments?status=pending", &approver)
        .await
        .json();
    assert_eq!(pending["adjustments"].as_array().unwrap().len(), 0);
    let page = h.get("/v1/orgs/org0/adjustments?page_size=1", &hr).await.json();
    assert_eq!(page["adjustments"].as_array().unwrap().len(), 1);
    let token = page["next_page_token"].as_str().unwrap();
    let rest = h
        .get(
            &format!("/v1/orgs/org0/adjustments?page_size=1&page_token={token}"),
            &hr,
        )
        .await
        .json();
    assert_eq!(rest["adjustments"][0]["id"], id.as_str(), "newest first");
    let actions: Vec<String> = h.get("/v1/orgs/org0/audit", &hr).await.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "adjustment.request",
            "adjustment.request",
            "adjustment.reject",
            "adjustment.approve"
        ]
    );

    // The next run pays it: W000000 earns 1500.00 more than expected.csv says.
    let run = h.trigger("org0", &hr, "2026-10", "provisional", "after-bonus").await;
    h.wait("org0", &run, &hr, "calculated").await;
    let results = h
        .get(&format!("/v1/orgs/org0/runs/{run}/results?page_size=1000"), &hr)
        .await
        .json();
    let row = results["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["worker_id"] == "W000000")
        .unwrap()
        .clone();
    assert_eq!(row["adjustment_earnings"], "1500.00", "{row:#}");
    assert_eq!(
        row["gross"], "4632.00",
        "3132.00 in expected.csv, plus the bonus: {row:#}"
    );

    h.stop().await;
}
