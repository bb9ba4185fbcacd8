//! Stream mode on a real broker (tansu): the service consumes the topics itself, a produced
//! punch shows in pay-to-date within `live_every` + 1 s, and a run reads the stream's state.

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
