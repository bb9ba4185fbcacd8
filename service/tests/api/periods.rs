//! Where pages that ask for a period start, whatever today's date: an org's periods with a
//! calculated run, and a worker's periods with pay, newest first; the run each period shows is
//! a final run before a provisional one, then the newest. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::{Backend, Harness, backends};
use serde_json::{Value, json};

/// `(period, run_id, provisional, payslip)` of each period a worker's list shows.
fn worker_periods(page: &Value) -> Vec<(String, String, bool, bool)> {
    page["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap().to_string(),
                p["run_id"].as_str().unwrap().to_string(),
                p["provisional"].as_bool().unwrap(),
                p["payslip"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// `(period, status, run_id)` of each period an org's list shows.
fn org_periods(page: &Value) -> Vec<(String, String, String)> {
    page["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap().to_string(),
                p["status"].as_str().unwrap().to_string(),
                p["run_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn s(text: &str) -> String {
    text.to_string()
}

async fn periods_follow_the_runs(backend: Backend) {
    let h = Harness::start(backend, "").await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let worker = h.token("W000000", "org0", "worker");
    let mine = "/v1/orgs/org0/workers/W000000/periods";

    // Nothing calculated yet: empty lists, and pay without a period says there is none.
    let none = h.get(mine, &worker).await;
    assert_eq!(none.status, 200, "{}", none.text());
    assert_eq!(none.json()["periods"], json!([]));
    assert_eq!(h.get("/v1/orgs/org0/periods", &hr).await.json()["periods"], json!([]));
    let pay = h.get("/v1/orgs/org0/workers/W000000/pay", &worker).await;
    assert_eq!(pay.status, 404, "{}", pay.text());

    let nightly = h.trigger("org0", &hr, "2026-10", "provisional", "nightly").await;
    h.wait("org0", &nightly, &hr, "calculated").await;
    let list = h.get(mine, &worker).await.json();
    assert_eq!(worker_periods(&list), [(s("2026-10"), nightly.clone(), true, false)]);
    assert_eq!(list["periods"][0]["run_kind"], "provisional");

    // A final run, then a nightly run after it: the period shows the final run, which is what
    // will be paid, though the nightly one is newer.
    let fin = h.trigger("org0", &hr, "2026-10", "final", "final").await;
    h.wait("org0", &fin, &hr, "calculated").await;
    let later = h.trigger("org0", &hr, "2026-10", "provisional", "later").await;
    h.wait("org0", &later, &hr, "calculated").await;
    let list = h.get(mine, &worker).await.json();
    assert_eq!(worker_periods(&list), [(s("2026-10"), fin.clone(), true, false)]);
    let pay = h.get("/v1/orgs/org0/workers/W000000/pay", &worker).await.json();
    assert_eq!(
        (pay["period"].as_str(), pay["run_id"].as_str()),
        (Some("2026-10"), Some(fin.as_str()))
    );
    let org = h.get("/v1/orgs/org0/periods", &hr).await.json();
    assert_eq!(org_periods(&org), [(s("2026-10"), s("open"), fin.clone())]);

    let approver = h.token("appr1", "org0", "approver");
    h.acknowledge_blocks("org0", &fin).await;
    let approved = h
        .post(&format!("/v1/orgs/org0/runs/{fin}/approve"), &approver, &json!({}))
        .await;
    assert_eq!(approved.status, 200, "{}", approved.text());
    h.wait("org0", &fin, &hr, "finalized").await;

    // November's nightly run: the newest period first; pay without a period opens on it.
    let november = h.trigger("org0", &hr, "2026-11", "provisional", "november").await;
    h.wait("org0", &november, &hr, "calculated").await;
    let list = h.get(mine, &worker).await.json();
    assert_eq!(
        worker_periods(&list),
        [
            (s("2026-11"), november.clone(), true, false),
            (s("2026-10"), fin.clone(), false, true)
        ]
    );
    assert_eq!(list["next_page_token"], Value::Null);
    let pay = h.get("/v1/orgs/org0/workers/W000000/pay", &worker).await.json();
    assert_eq!(pay["period"], "2026-11");
    let org = h.get("/v1/orgs/org0/periods", &hr).await.json();
    assert_eq!(
        org_periods(&org),
        [
            (s("2026-11"), s("open"), november.clone()),
            (s("2026-10"), s("locked"), fin.clone())
        ]
    );
    assert_eq!(org["periods"][1]["locked_by"], fin.as_str());

    // A page at a time.
    let first = h.get(&format!("{mine}?page_size=1"), &worker).await.json();
    assert_eq!(worker_periods(&first), [(s("2026-11"), november.clone(), true, false)]);
    let token = first["next_page_token"].as_str().expect("a second page").to_string();
    let second = h
        .get(&format!("{mine}?page_size=1&page_token={token}"), &worker)
        .await
        .json();
    assert_eq!(worker_periods(&second), [(s("2026-10"), fin.clone(), false, true)]);
    assert_eq!(second["next_page_token"], Value::Null);
    let first = h.get("/v1/orgs/org0/periods?page_size=1", &hr).await.json();
    assert_eq!(org_periods(&first).len(), 1);
    let token = first["next_page_token"].as_str().expect("a second page").to_string();
    let second = h
        .get(&format!("/v1/orgs/org0/periods?page_token={token}"), &hr)
        .await
        .json();
    assert_eq!(org_periods(&second), [(s("2026-10"), s("locked"), fin.clone())]);

    // A worker who left on 12 October has pay in October only.
    let leaver = h.token("W000012", "org0", "worker");
    let list = h.get("/v1/orgs/org0/workers/W000012/periods", &leaver).await.json();
    assert_eq!(worker_periods(&list), [(s("2026-10"), fin.clone(), false, true)]);
    let pay = h.get("/v1/orgs/org0/workers/W000012/pay", &leaver).await.json();
    assert_eq!(pay["period"], "2026-10");

    // A worker sees only their own periods; a bad token or size is named.
    let other = h.get("/v1/orgs/org0/workers/W000002/periods", &worker).await;
    assert_eq!(other.status, 403, "{}", other.text());
    let bad = h.get(&format!("{mine}?page_size=0&page_token=later"), &worker).await;
    assert_eq!(bad.status, 422, "{}", bad.text());
    let fields = bad.json()["error"]["fields"].clone();
    assert!(
        fields.get("page_size").is_some() && fields.get("page_token").is_some(),
        "{fields}"
    );
    h.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periods_follow_the_runs_on_every_database() {
    for backend in backends() {
        periods_follow_the_runs(backend).await;
    }
}
