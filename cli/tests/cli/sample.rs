//! The reference month through the CLI: results equal `expected.csv` to the paisa, and bad
//! input lands in dead letters without changing anyone's pay.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::io::Write;

use common::*;

#[tokio::test]
async fn the_sample_month_reproduces_expected_csv_exactly() {
    let out = tempfile::tempdir().unwrap();
    let output = run(&sample(), out.path());
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Workers") && stdout.contains("Net pay"), "{stdout}");
    assert_pays_expected(out.path(), "the sample").await;
}

/// Appends lines to a file of the folder.
fn append(dir: &std::path::Path, file: &str, lines: &[&str]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(dir.join(file)).unwrap();
    for line in lines {
        writeln!(f, "{line}").unwrap();
    }
}

#[tokio::test]
async fn bad_input_goes_to_dead_letters_with_reasons_and_the_run_goes_on() {
    let inputs = sample_copy();
    let dir = inputs.path();
    append(
        dir,
        "attendance.ndjson",
        &[
            r#"{"event_id": "bad-1", "worker_id": "W000001", "ts": "2026-10-05T03:30:00Z""#,
            r#"{"event_id": "bad-2", "worker_id": "W000001", "direction": "in"}"#,
            r#"{"event_id": "bad-3", "worker_id": "W000001", "ts": "2026-10-05T03:30:00Z", "direction": "sideways"}"#,
            r#"{"event_id": "bad-4", "worker_id": "W000001", "ts": "2026-10-32T03:30:00Z", "direction": "in"}"#,
            r#"{"event_id": "bad-5", "worker_id": "W999999", "ts": "2026-10-05T03:30:00Z", "direction": "in"}"#,
        ],
    );
    append(
        dir,
        "leave.ndjson",
        &[
            r#"{"leave_id": "L-bad", "worker_id": "W000001", "leave_type": "casual", "from": "2026-10-09", "to": "2026-10-08", "half_day": false, "event_id": "bad-6", "status": "approved", "version": 1}"#,
        ],
    );
    append(
        dir,
        "adjustments.ndjson",
        &[
            r#"{"adjustment_id": "ADJ-bad", "worker_id": "W000001", "period": "2026-10", "kind": "earning", "code": "bonus", "amount": "-500.00", "reason": "x", "requested_by": "a", "event_id": "bad-7", "status": "approved", "version": 1, "approved_by": "b"}"#,
            r#"{"adjustment_id": "ADJ-bad", "worker_id": "W000001", "period": "2026-10", "kind": "earning", "code": "bonus", "amount": "1e3", "reason": "x", "requested_by": "a", "event_id": "bad-8", "status": "approved", "version": 2, "approved_by": "b"}"#,
        ],
    );
    append(
        dir,
        "workers.csv",
        &[
            "W900000,org0,S00,Bad Worker,M,MH,unskilled,Helper,weekly,783.00,true,true,1,2,1234567890,IFSC,ABCDE1234F,2026-01-01,",
        ],
    );

    let out = tempfile::tempdir().unwrap();
    let output = run(dir, out.path());
    assert!(output.status.success(), "a run with bad input still succeeds");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Dead letters"), "{stdout}");

    let letters = |name: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(dead_letter_file(out.path(), name))
            .unwrap_or_else(|_| panic!("dead-letter/{name}"))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let attendance_lines = std::fs::read_to_string(sample().join("attendance.ndjson"))
        .unwrap()
        .lines()
        .count() as u64;
    let attendance = letters("attendance.ndjson");
    let summary: Vec<(u64, String, String)> = attendance
        .iter()
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["field"].as_str().unwrap_or("").to_string(),
                l["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = [
        (1, "", "malformed JSON"),
        (2, "ts", "missing"),
        (3, "direction", "unknown variant `sideways`"),
        (4, "ts", "`2026-10-32T03:30:00Z` is not an RFC 3339 timestamp"),
        (5, "worker_id", "unknown worker `W999999`"),
    ];
    assert_eq!(summary.len(), expect.len(), "{summary:?}");
    for ((line, field, reason), (offset, want_field, want_reason)) in summary.iter().zip(expect) {
        assert_eq!(*line, attendance_lines + offset);
        assert_eq!(field, want_field);
        assert!(reason.starts_with(want_reason), "{reason}");
    }
    assert!(attendance[0]["original"].as_str().unwrap().contains("bad-1"));

    let leave = letters("leave.ndjson");
    assert_eq!(leave[0]["field"], "to");
    let adjustments = letters("adjustments.ndjson");
    assert_eq!(
        adjustments
            .iter()
            .map(|l| l["field"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["amount", "amount"]
    );
    let workers = letters("workers.ndjson");
    assert_eq!(
        (workers[0]["line"].as_u64(), workers[0]["field"].as_str()),
        (Some(82), Some("pay_basis"))
    );
    // The refused row's bank account and PAN are masked in its original.
    let original = workers[0]["original"].as_str().unwrap();
    assert!(
        original.contains(",XXXXXX7890,") && original.contains(",XXXXX1234X,"),
        "{original}"
    );
    assert!(
        !original.contains("1234567890") && !original.contains("ABCDE1234F"),
        "{original}"
    );

    // Nobody's pay moved.
    assert_pays_expected(out.path(), "with bad input").await;

    // Each org's manifest counts its own (W000001 is org1's, the bad worker row org0's); the
    // run record counts them all, the malformed line and the unknown worker's with them.
    let manifest = |org: &str| -> serde_json::Value {
        let dir = out.path().join(format!("results/org_id={org}/period=2026-10"));
        let run = dir.read_dir().unwrap().next().unwrap().unwrap().path();
        serde_json::from_slice(&std::fs::read(run.join("_manifest.json")).unwrap()).unwrap()
    };
    assert_eq!(manifest("org0")["dead_letters"], serde_json::json!({"workers.csv": 1}));
    assert_eq!(
        manifest("org1")["dead_letters"],
        serde_json::json!({"adjustments.ndjson": 2, "attendance.ndjson": 3, "leave.ndjson": 1})
    );
    let runs: Vec<_> = std::fs::read_dir(out.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&runs[0]).unwrap()).unwrap();
    assert_eq!(record["dead_letters"]["attendance.ndjson"], 5);
    assert_eq!(record["dead_letters"]["workers.csv"], 1);
}

#[tokio::test]
async fn explain_shows_formula_values_and_result() {
    let out = tempfile::tempdir().unwrap();
    assert!(run(&sample(), out.path()).status.success());
    let o = out.path().display().to_string();
    let output = payroll(&["explain", "--out", &o, "--period", PERIOD, "--worker", "W000001"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for want in [
        "basic = 18308.45",
        "rate * (worked_minutes - ot_hours * 60 + 480 * paid_leave_days) / 60",
        "with pay_basis = hourly, rate = 97.88, present_days = 20.5",
        "net_pay = 18314.05",
        "esi_employee = 152",
        "when esi_applicable AND gross > 0 AND gross <= 21000",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let missing = payroll(&["explain", "--out", &o, "--period", PERIOD, "--worker", "W123456"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("worker W123456 is not in run"));
}

#[tokio::test]
async fn query_reads_results_with_sql() {
    let out = tempfile::tempdir().unwrap();
    assert!(run(&sample(), out.path()).status.success());
    let o = out.path().display().to_string();
    let output = payroll(&[
        "query",
        "--out",
        &o,
        "--csv",
        "SELECT count(*) AS workers, sum(net_pay) AS net FROM results WHERE period = '2026-10'",
    ]);
    assert!(output.status.success());
    let expected_net: rust_decimal::Decimal = csv::Reader::from_path(sample().join("expected.csv"))
        .unwrap()
        .deserialize::<std::collections::HashMap<String, String>>()
        .map(|r| r.unwrap()["net_pay"].parse::<rust_decimal::Decimal>().unwrap())
        .sum();
    let text = String::from_utf8_lossy(&output.stdout);
    let values: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(values[0], "80");
    assert_eq!(values[1].parse::<rust_decimal::Decimal>().unwrap(), expected_net);

    // A re-run: `results` holds both runs, `latest` the newest of each org and period once.
    assert!(run(&sample(), out.path()).status.success());
    // And a run that crashed before its record was written (the record is written last): its
    // results are never read, and `latest` is the run before it.
    assert!(run(&sample(), out.path()).status.success());
    let newest = std::fs::read_dir(out.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .max()
        .unwrap();
    std::fs::remove_file(newest).unwrap();
    let count = |table: &str| {
        let sql = format!("SELECT count(*) AS workers, sum(net_pay) AS net FROM {table}");
        let output = payroll(&["query", "--out", &o, "--csv", &sql]);
        assert!(output.status.success());
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let line = text.lines().nth(1).unwrap().to_string();
        let (workers, net) = line.split_once(',').unwrap();
        (workers.to_string(), net.parse::<rust_decimal::Decimal>().unwrap())
    };
    assert_eq!(
        count("results"),
        ("160".into(), expected_net * rust_decimal::Decimal::TWO)
    );
    assert_eq!(count("latest"), ("80".into(), expected_net));
}
