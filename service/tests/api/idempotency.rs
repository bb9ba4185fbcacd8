//! Retried and concurrent requests: one idempotency key makes one run, whatever the timing; two
//! finals racing for a period leave one. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_and_races_make_one_run() {
    for backend in backends() {
        races(backend).await;
    }
}

async fn races(backend: Backend) {
    // No worker: runs stay queued, so the races are about creating them only.
    let h = Harness::start(backend, "workers = 0").await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let body = json!({"period": "2026-10", "kind": "provisional"});

    let first = h
        .call("POST", "/v1/orgs/org0/runs", Some(&hr), Some(&body), Some("k1"))
        .await;
    let again = h
        .call("POST", "/v1/orgs/org0/runs", Some(&hr), Some(&body), Some("k1"))
        .await;
    assert_eq!((first.status, again.status), (202, 202));
    assert_eq!(
        first.json()["id"],
        again.json()["id"],
        "{backend:?}: a retry gets the same run"
    );

    let other = json!({"period": "2026-09", "kind": "provisional"});
    let reused = h
        .call("POST", "/v1/orgs/org0/runs", Some(&hr), Some(&other), Some("k1"))
        .await;
    assert_eq!(reused.status, 422, "{}", reused.text());
    assert!(reused.json()["error"]["fields"]["Idempotency-Key"].is_array());

    let keyless = h.call("POST", "/v1/orgs/org0/runs", Some(&hr), Some(&body), None).await;
    assert_eq!(keyless.status, 400, "{}", keyless.text());

    // Ten at once with one key: one run.
    let replies = futures::future::join_all(
        (0..10).map(|_| h.call("POST", "/v1/orgs/org0/runs", Some(&hr), Some(&body), Some("k-burst"))),
    )
    .await;
    let ids: std::collections::BTreeSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 202, "{}", r.text());
            r.json()["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "{backend:?}: ten requests with one key made {} runs",
        ids.len()
    );

    // Two finals at once with different keys: the database keeps one.
    let final_body = json!({"period": "2026-10", "kind": "final"});
    let (a, b) = tokio::join!(
        h.call(
            "POST",
            "/v1/orgs/org0/runs",
            Some(&hr),
            Some(&final_body),
            Some("final-a")
        ),
        h.call(
            "POST",
            "/v1/orgs/org0/runs",
            Some(&hr),
            Some(&final_body),
            Some("final-b")
        ),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 409], "{backend:?}: {} / {}", a.text(), b.text());
    let (won, lost) = if a.status == 202 { (a, b) } else { (b, a) };
    let won = won.json()["id"].as_str().unwrap().to_string();
    assert!(
        lost.json()["error"]["message"].as_str().unwrap().contains(&won),
        "409 names the live final"
    );

    // Cancelling the live final frees the period for another.
    let cancelled = h
        .post(&format!("/v1/orgs/org0/runs/{won}/cancel"), &hr, &json!({}))
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text());
    h.trigger("org0", &hr, "2026-10", "final", "final-c").await;

    let list = h.get("/v1/orgs/org0/runs?page_size=2", &hr).await.json();
    assert_eq!(list["runs"].as_array().unwrap().len(), 2);
    let next = list["next_page_token"].as_str().expect("more than two runs");
    let rest = h
        .get(&format!("/v1/orgs/org0/runs?page_token={next}"), &hr)
        .await
        .json();
    assert_eq!(
        rest["runs"].as_array().unwrap().len(),
        2,
        "k1, k-burst, final-a, final-c: four runs in all"
    );
    let finals = h
        .get("/v1/orgs/org0/runs?kind=final&status=cancelled", &hr)
        .await
        .json();
    assert_eq!(finals["runs"][0]["id"], won.as_str());
    h.stop().await;
}
