//! Stream mode on a real broker (tansu): the service consumes the topics itself, a produced
//! punch shows in pay-to-date within `live_every` + 1 s, and a run reads the stream's state.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

#[path = "../../connectors/tests/common/broker.rs"]
mod broker;
mod common;

use std::time::{Duration, Instant};

use common::*;
use payroll_connectors::Quiet;
use payroll_connectors::kafka::{KafkaConfig, Topics, publish_folder};
use serde_json::Value;

const LIVE_EVERY: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_produced_punch_shows_in_pay_within_live_every_plus_one_second() {
    let broker = broker::Broker::start();
    let producer = KafkaConfig {
        brokers: broker.address.clone(),
        group: "producer".into(),
        options: Vec::new(),
    };
    publish_folder(&producer, &Topics::default(), &sample(), 8, &Quiet)
        .await
        .unwrap();

    let source = format!(
        "brokers = {:?}\nsites = {:?}",
        broker.address,
        sample().join("sites.csv")
    );
    let extra = format!(
        "[stream]\nperiod = \"2026-10\"\nlive_every = \"{}s\"\ncheckpoint_every = \"1s\"",
        LIVE_EVERY.as_secs()
    );
    let h = Harness::start_with(Backend::Sqlite, &source, &extra).await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let pay = "/v1/orgs/org0/workers/W000014/pay?period=2026-10";

    // The sample folded: W000014 was present 20 days.
    let present = |reply: &Reply| -> Option<String> {
        (reply.status == 200).then(|| reply.json()["pay"]["present_days"].as_str().unwrap().to_string())
    };
    let mut first = None;
    for _ in 0..600 {
        first = present(&h.get(pay, &hr).await);
        if first.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        first.as_deref(),
        Some("20.0"),
        "the stream folded the sample within 60 s"
    );
    let live = h.get(pay, &hr).await.json();
    assert_eq!(live["provisional"], true);
    assert!(live["live"]["messages_folded"].as_u64().unwrap() > 0, "{live:#}");
    let mut ready = Value::Null;
    for _ in 0..50 {
        ready = h.call("GET", "/readyz", None, None, None).await.json();
        if ready["stream"] == "ok" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready["stream"], "ok", "{ready:#}");

    // A day W000014 was absent (a Wednesday, no leave): a punch in and out.
    let late = tempfile::tempdir().unwrap();
    std::fs::write(
        late.path().join("attendance.ndjson"),
        concat!(
            r#"{"event_id": "late-in-1", "worker_id": "W000014", "ts": "2026-10-07T03:30:00Z", "direction": "in", "device_id": "BIO-S03"}"#,
            "\n",
            r#"{"event_id": "late-out-1", "worker_id": "W000014", "ts": "2026-10-07T11:30:00Z", "direction": "out", "device_id": "BIO-S03"}"#,
            "\n",
        ),
    )
    .unwrap();
    publish_folder(&producer, &Topics::default(), late.path(), 8, &Quiet)
        .await
        .unwrap();
    let produced = Instant::now();
    let mut seen = None;
    while produced.elapsed() < Duration::from_secs(30) {
        if present(&h.get(pay, &hr).await).as_deref() == Some("21.0") {
            seen = Some(produced.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = seen.expect("the punch shows in pay-to-date");
    assert!(
        seen <= LIVE_EVERY + Duration::from_secs(1),
        "the punch showed after {seen:?}, more than live_every + 1 s"
    );

    // A run in stream mode reads the stream's checkpoints, the punch included.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let id = h.trigger("org0", &hr, "2026-10", "provisional", "from-state").await;
    let run = h.wait("org0", &id, &hr, "calculated").await;
    assert!(!run["source"]["offsets"].as_object().unwrap().is_empty(), "{run:#}");
    let results = h
        .get(&format!("/v1/orgs/org0/runs/{id}/results?page_size=1000"), &hr)
        .await
        .json();
    let row = results["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["worker_id"] == "W000014")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(row["present_days"], "21.0", "{row:#}");

    let metrics = h.call("GET", "/metrics", None, None, None).await.text();
    assert!(metrics.contains("payroll_stream_messages_folded "), "{metrics}");
    eprintln!("a produced punch showed in /pay after {seen:?} (live_every {LIVE_EVERY:?})");
    h.stop().await;
}

/// Every shard's live results: each row's worker id and worker error.
fn live_shards(state: &std::path::Path) -> Vec<Vec<(String, Option<String>)>> {
    use datafusion::arrow::array::{Array, AsArray};
    let mut shards = Vec::new();
    for entry in std::fs::read_dir(state.join("live/period=2026-10")).unwrap() {
        let bytes = bytes::Bytes::from(std::fs::read(entry.unwrap().path()).unwrap());
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap();
        let mut rows = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let ids = batch.column_by_name("worker_id").unwrap().as_string::<i32>();
            let errors = batch.column_by_name("worker_error").unwrap().as_string::<i32>();
            for r in 0..batch.num_rows() {
                let error = errors.is_valid(r).then(|| errors.value(r).to_string());
                rows.push((ids.value(r).to_string(), error));
            }
        }
        shards.push(rows);
    }
    shards
}

/// A ruleset that gives no value for about half the workers (a site allowance whose `CASE` has
/// no branch for odd worker ids) keeps the stream's live pay current for the others, in every
/// shard; the workers without pay say why, and `/metrics` counts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_without_pay_never_hold_back_their_shard_live_pay() {
    let broker = broker::Broker::start();
    let producer = KafkaConfig {
        brokers: broker.address.clone(),
        group: "producer".into(),
        options: Vec::new(),
    };
    publish_folder(&producer, &Topics::default(), &sample(), 8, &Quiet)
        .await
        .unwrap();
    let rules = tempfile::tempdir().unwrap();
    let path = rules.path().join("odd-gap.toml");
    let even = ["0", "2", "4", "6", "8"]
        .map(|d| format!("worker_id LIKE '%{d}'"))
        .join(" OR ");
    let text = payroll_rules::EXAMPLE_RULESET.replace(
        "# ---------------------------------------------------------------- payslips",
        &format!(
            "[[component]]\nname = \"site_allowance\"\ncategory = \"earning\"\nexpr = \"CASE WHEN {even} THEN 0.00 END\"\n\n\
             # ---------------------------------------------------------------- payslips"
        ),
    );
    std::fs::write(&path, text).unwrap();

    let source = format!(
        "brokers = {:?}\nsites = {:?}\nrules = {path:?}",
        broker.address,
        sample().join("sites.csv")
    );
    let extra = format!(
        "[stream]\nperiod = \"2026-10\"\nlive_every = \"{}s\"\ncheckpoint_every = \"1s\"",
        LIVE_EVERY.as_secs()
    );
    let h = Harness::start_with(Backend::Sqlite, &source, &extra).await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let pay = |w: &str| format!("/v1/orgs/org0/workers/{w}/pay?period=2026-10");
    let present = |reply: &Reply| -> Option<String> {
        (reply.status == 200).then(|| reply.json()["pay"]["present_days"].as_str().unwrap().to_string())
    };
    let mut first = None;
    for _ in 0..600 {
        first = present(&h.get(&pay("W000014"), &hr).await);
        if first.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        first.as_deref(),
        Some("20.0"),
        "the stream folded the sample within 60 s"
    );

    // A worker without pay: a row all the same, with why and no figure. (Shards are written
    // one after the other: W000009's may come a moment after W000014's.)
    let mut odd = h.get(&pay("W000009"), &hr).await;
    for _ in 0..100 {
        if odd.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        odd = h.get(&pay("W000009"), &hr).await;
    }
    assert_eq!(odd.status, 200, "{}", odd.text());
    let odd = odd.json();
    assert_eq!(
        odd["worker_error"], "component `site_allowance`: no WHEN of the CASE holds for this worker and it has no ELSE",
        "{odd:#}"
    );
    assert!(odd["pay"]["net_pay"].is_null(), "{odd:#}");
    assert!(odd["pay"].get("worker_error").is_none(), "{odd:#}");
    let even = h.get(&pay("W000014"), &hr).await.json();
    assert!(even.get("worker_error").is_none(), "{even:#}");
    assert!(even["pay"]["net_pay"].is_string(), "{even:#}");

    // W000014's shard holds workers without pay, and still moves with a late punch.
    let state = h.dir.path().join("data/state");
    let shards = live_shards(&state);
    let shard = shards
        .iter()
        .find(|rows| rows.iter().any(|(id, _)| id == "W000014"))
        .expect("W000014 has a live shard");
    assert!(
        shard.iter().any(|(_, e)| e.is_some()),
        "the check needs a worker error in W000014's shard: {shard:?}"
    );
    let late = tempfile::tempdir().unwrap();
    std::fs::write(
        late.path().join("attendance.ndjson"),
        concat!(
            r#"{"event_id": "late-in-2", "worker_id": "W000014", "ts": "2026-10-07T03:30:00Z", "direction": "in", "device_id": "BIO-S03"}"#,
            "\n",
            r#"{"event_id": "late-out-2", "worker_id": "W000014", "ts": "2026-10-07T11:30:00Z", "direction": "out", "device_id": "BIO-S03"}"#,
            "\n",
        ),
    )
    .unwrap();
    publish_folder(&producer, &Topics::default(), late.path(), 8, &Quiet)
        .await
        .unwrap();
    let produced = Instant::now();
    let mut seen = None;
    while produced.elapsed() < Duration::from_secs(30) {
        if present(&h.get(&pay("W000014"), &hr).await).as_deref() == Some("21.0") {
            seen = Some(produced.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = seen.expect("the punch shows in pay-to-date");
    assert!(seen <= LIVE_EVERY + Duration::from_secs(1), "after {seen:?}");

    // Operators see how many workers the stream leaves without pay.
    let without_pay = live_shards(&state)
        .iter()
        .flatten()
        .filter(|(_, e)| e.is_some())
        .count();
    assert!(without_pay > 0);
    let metrics = h.call("GET", "/metrics", None, None, None).await.text();
    assert!(
        metrics.contains(&format!("payroll_stream_worker_errors {without_pay}\n")),
        "{without_pay} workers without pay: {metrics}"
    );
    h.stop().await;
}
