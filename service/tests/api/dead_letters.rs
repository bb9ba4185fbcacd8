//! A run's dead letters through the API: each org reads its own refused rows with their
//! reasons, never another org's; rows that name no worker of the master are set aside and only
//! counted; amounts in them are withheld from callers who may not see pay.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::path::Path;

use common::*;
use serde_json::{Value, json};

fn lines(inputs: &Path, file: &str) -> u64 {
    std::fs::read_to_string(inputs.join(file)).unwrap().lines().count() as u64
}

#[tokio::test]
async fn each_org_reads_only_its_own_dead_letters_with_reasons() {
    for backend in backends() {
        dead_letters(backend).await;
    }
}

async fn dead_letters(backend: Backend) {
    let h = Harness::start(backend, "").await;
    let inputs = h.dir.path().join("inputs");
    let attendance_before = lines(&inputs, "attendance.ndjson");
    let adjustments_before = lines(&inputs, "adjustments.ndjson");
    let workers_before = lines(&inputs, "workers.csv");
    // W000000 is org0's, W000001 org1's; W999999 is nobody's.
    append(
        &inputs,
        "attendance.ndjson",
        &[
            r#"{"event_id": "bad-0", "worker_id": "W000000", "ts": "2026-10-05T03:30:00Z", "direction": "sideways"}"#,
            r#"{"event_id": "bad-1", "worker_id": "W000001", "ts": "2026-10-05T03:30:00Z", "direction": "sideways"}"#,
            r#"{"event_id": "bad-2", "worker_id": "W999999", "ts": "2026-10-05T03:30:00Z", "direction": "in"}"#,
            r#"{"event_id": "bad-3", "worker_id": "W000000", "ts": "#,
        ],
    );
    append(
        &inputs,
        "adjustments.ndjson",
        &[
            r#"{"adjustment_id": "ADJ-bad", "worker_id": "W000000", "period": "2026-10", "kind": "earning", "code": "bonus", "amount": "-731.25", "reason": "x", "requested_by": "a", "event_id": "bad-4", "status": "approved", "version": 1, "approved_by": "b"}"#,
        ],
    );
    append(
        &inputs,
        "workers.csv",
        &[
            "W900001,org1,S12,Bad Worker,M,TN,unskilled,Helper,weekly,97.88,true,true,1,2,441782430999,SBIN0001234,ABCDE9999F,2026-01-01,",
        ],
    );

    let hr = h.token("hr1", "org0", "hr_admin");
    let run = h.trigger("org0", &hr, "2026-10", "provisional", "dl-0").await;
    let body = h.wait("org0", &run, &hr, "calculated").await;
    assert_eq!(
        body["dead_letters"],
        json!({"adjustments.ndjson": 1, "attendance.ndjson": 1}),
        "org0's own refused rows only: {body:#}"
    );
    assert_eq!(body["dead_letter_count"], 2);
    assert_eq!(body["unattributed_dead_letters"], 2, "W999999 and the broken line");

    let path = format!("/v1/orgs/org0/runs/{run}/dead-letters");
    let page = h.get(&path, &hr).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let page = page.json();
    let letters = page["dead_letters"].as_array().unwrap();
    assert_eq!(letters.len(), 2, "{page:#}");
    assert_eq!(letters[0]["source"], "adjustments.ndjson");
    assert_eq!(letters[0]["line"], adjustments_before + 1);
    assert_eq!(letters[0]["field"], "amount");
    assert!(letters[0]["reason"].as_str().unwrap().contains("negative"), "{page:#}");
    assert!(letters[0]["original"].as_str().unwrap().contains("bad-4"));
    assert_eq!(letters[1]["source"], "attendance.ndjson");
    assert_eq!(letters[1]["line"], attendance_before + 1);
    assert_eq!(letters[1]["field"], "direction");
    assert!(letters[1]["reason"].as_str().unwrap().contains("sideways"));
    let text = page.to_string();
    for other in ["W000001", "W999999", "W900001", "bad-1", "bad-2", "bad-3"] {
        assert!(!text.contains(other), "org0 reads {other}: {text}");
    }

    // Pages and a source filter.
    let first = h.get(&format!("{path}?page_size=1"), &hr).await.json();
    assert_eq!(first["dead_letters"].as_array().unwrap().len(), 1);
    let token = first["next_page_token"].as_str().unwrap();
    let second = h
        .get(&format!("{path}?page_size=1&page_token={token}"), &hr)
        .await
        .json();
    assert_eq!(second["dead_letters"][0]["source"], "attendance.ndjson");
    assert!(second.get("next_page_token").is_none(), "{second:#}");
    let only = h.get(&format!("{path}?source=attendance.ndjson"), &hr).await.json();
    assert_eq!(only["dead_letters"].as_array().unwrap().len(), 1);
    let unknown = h.get(&format!("{path}?source=../runs/x.json"), &hr).await.json();
    assert_eq!(unknown["dead_letters"], json!([]));

    // An ops viewer sees where and why, but neither the original nor a refused amount.
    let ops = h.token("ops1", "org0", "ops_viewer");
    let as_ops = h.get(&path, &ops).await.json();
    let letters = as_ops["dead_letters"].as_array().unwrap();
    assert_eq!(letters.len(), 2);
    assert!(letters.iter().all(|l| l.get("original").is_none()), "{as_ops:#}");
    assert_eq!(letters[0]["field"], "amount");
    assert!(letters[0].get("reason").is_none(), "{as_ops:#}");
    assert!(letters[1]["reason"].as_str().unwrap().contains("sideways"));
    // Outside the run's id, whose random hex holds "731" now and then.
    assert!(
        !as_ops.to_string().replace(run.as_str(), "").contains("731"),
        "{as_ops:#}"
    );

    // All of them as CSV, as each caller may see them; the download is audited.
    let csv_path = format!("/v1/orgs/org0/runs/{run}/dead-letters.csv");
    let rows = |text: String| -> Vec<Vec<String>> {
        csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    };
    let file = h.get(&csv_path, &hr).await;
    assert_eq!(file.status, 200, "{}", file.text());
    assert!(file.text().starts_with("source,line,row,field,reason,original\n"));
    let hr_rows = rows(file.text());
    assert_eq!(hr_rows.len(), 2);
    assert_eq!(
        hr_rows[0][..4],
        [
            "adjustments.ndjson".to_string(),
            (adjustments_before + 1).to_string(),
            String::new(),
            "amount".to_string()
        ]
    );
    assert!(hr_rows[0][5].contains("bad-4"));
    let ops_rows = rows(h.get(&csv_path, &ops).await.text());
    assert_eq!((ops_rows[0][4].as_str(), ops_rows[0][5].as_str()), ("", ""));
    assert!(ops_rows[1][4].contains("sideways"));
    let audit = h
        .get("/v1/orgs/org0/audit?action=dead_letters.download", &hr)
        .await
        .json();
    assert_eq!(audit["entries"].as_array().unwrap().len(), 2, "{audit:#}");

    // Another org's token reads nothing of org0's run.
    let other = h.token("hr9", "org1", "hr_admin");
    assert_eq!(h.get(&path, &other).await.status, 403);

    // org1's run has org1's letters, its refused worker row masked.
    let hr1 = h.token("hr9", "org1", "hr_admin");
    let run1 = h.trigger("org1", &hr1, "2026-10", "provisional", "dl-1").await;
    let body1: Value = h.wait("org1", &run1, &hr1, "calculated").await;
    assert_eq!(
        body1["dead_letters"],
        json!({"attendance.ndjson": 1, "workers.csv": 1}),
        "{body1:#}"
    );
    let page1 = h
        .get(
            &format!("/v1/orgs/org1/runs/{run1}/dead-letters?source=workers.csv"),
            &hr1,
        )
        .await
        .json();
    let worker = &page1["dead_letters"][0];
    assert_eq!(worker["line"], workers_before + 1);
    assert_eq!(worker["field"], "pay_basis");
    let original = worker["original"].as_str().unwrap();
    assert!(original.contains("W900001") && !original.contains("441782430999") && !original.contains("ABCDE9999F"));
    assert!(!page1.to_string().contains("W000000"), "{page1:#}");
    h.service.shutdown().await;
}
