//! Attacks on who may move a worker's pay, played against a real service on SQLite and
//! PostgreSQL: one org adjusting another org's worker through the API or its input files, and
//! an adjustment approved by the person who requested it. Each is refused and nothing is paid.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::broker;
use crate::common;

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

/// Uploads `bytes` as `org`'s file of `kind` and waits for it to settle.
async fn upload(h: &Harness, org: &str, token: &str, kind: &str, csv: &str) -> Value {
    h.upload(org, kind, "summary.csv", csv.as_bytes(), token).await
}

const SUMMARY_HEADER: &str = "worker_id,period,employment_days,working_days,present_days,paid_leave_days,\
    unpaid_leave_days,lop_days,worked_minutes,ot_hours,missed_punch_days";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attendance_summary_for_another_orgs_worker_moves_no_pay() {
    for backend in backends() {
        through_a_summary(backend).await;
    }
}

async fn through_a_summary(backend: Backend) {
    let h = Harness::start(backend, "").await;
    let inputs = h.dir.path().join("inputs");
    let (org0, org1) = (h.token("hr1", "org0", "hr_admin"), h.token("hr9", "org1", "hr_admin"));

    // Org0 uploads a month of absence for org1's W000001: refused at upload.
    let absent = format!("{SUMMARY_HEADER}\nW000001,2026-10,31,27,0,0,27,27,0,0,0\n");
    let refused = upload(&h, "org0", &org0, "attendance_summary", &absent).await;
    assert_eq!(
        (&refused["accepted"], &refused["rejected"]),
        (&json!(0), &json!(1)),
        "{refused:#}"
    );
    // Org1's own upload for its W000003 is staged naming org1, whatever the file says.
    let own = format!("{SUMMARY_HEADER},org_id\nW000003,2026-10,31,27,20,0,0,0,9600,0,0,org0\n");
    let done = upload(&h, "org1", &org1, "attendance_summary", &own).await;
    assert_eq!(
        (&done["status"], &done["accepted"]),
        (&json!("done"), &json!(1)),
        "{done:#}"
    );
    let staged = std::fs::read_to_string(inputs.join("attendance_summary.csv")).unwrap();
    assert_eq!(
        staged.lines().collect::<Vec<_>>(),
        [
            format!("{SUMMARY_HEADER},org_id").as_str(),
            "W000003,2026-10,31,27,20,0,0,0,9600,0,0,org1"
        ],
        "{staged}"
    );

    let before = h.trigger("org1", &org1, "2026-10", "provisional", "before").await;
    h.wait("org1", &before, &org1, "calculated").await;
    // The same absence written into the summary file by org0's feed: a dead letter in org1's
    // run, naming the worker.
    append(
        &inputs,
        "attendance_summary.csv",
        &["W000001,2026-10,31,27,0,0,27,27,0,0,0,org0"],
    );
    let after = h.trigger("org1", &org1, "2026-10", "provisional", "after").await;
    h.wait("org1", &after, &org1, "calculated").await;
    assert_eq!(
        net_pay(&h, "org1", &after, &org1).await,
        net_pay(&h, "org1", &before, &org1).await,
        "no one's pay moved"
    );
    let letters = h
        .get(&format!("/v1/orgs/org1/runs/{after}/dead-letters"), &org1)
        .await
        .json();
    let refused: Vec<(&str, u64, &str)> = letters["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["source"].as_str().unwrap().starts_with("attendance_summary"))
        .map(|l| {
            (
                l["field"].as_str().unwrap(),
                l["line"].as_u64().unwrap(),
                l["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [("worker_id", 3, "`W000001` is not a worker of org `org0`")],
        "{letters:#}"
    );
    h.service.shutdown().await;
}

const DEBIT: &str =
    "[orgs.org0]\nname = \"Org Zero\"\ndebit_account = \"000111222333\"\ndebit_ifsc = \"ICIC0000001\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_never_pays_a_worker_the_master_has_in_another_org() {
    for backend in backends() {
        through_a_payout(backend).await;
    }
}

async fn through_a_payout(backend: Backend) {
    let h = Harness::start(backend, DEBIT).await;
    let inputs = h.dir.path().join("inputs");
    let run = h.finalized_run().await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let victim = net_pay(&h, "org0", &run, &hr)
        .await
        .into_iter()
        .find(|(_, net)| !net.starts_with('-') && net.as_str() != "0.00")
        .unwrap()
        .0;
    // After the run the master has the victim in org1, with a new account: org0's payout must
    // not pay it (org1 pays its workers, and no org pays another's).
    let path = inputs.join("workers.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let moved: Vec<String> = text
        .lines()
        .map(|line| {
            let mut cells: Vec<&str> = line.split(',').collect();
            if cells[0] == victim {
                (cells[1], cells[2], cells[14]) = ("org1", "S12", "111122223333");
            }
            cells.join(",")
        })
        .collect();
    std::fs::write(&path, moved.join("\n") + "\n").unwrap();

    let approver = h.token("appr1", "org0", "approver");
    let made = h.payout("org0", &run, &approver, None).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let links = made.json()["links"].clone();
    let xml = h.get(links["pain001"].as_str().unwrap(), &approver).await.text();
    assert!(!xml.contains("111122223333"), "the moved account is paid: {xml}");
    assert!(!xml.contains(&format!("-{victim}<")), "{victim} is paid: {xml}");
    let exceptions = h.get(links["exceptions"].as_str().unwrap(), &approver).await.text();
    let codes: Vec<String> = csv::Reader::from_reader(exceptions.as_bytes())
        .records()
        .map(|r| r.unwrap())
        .filter(|r| r[0] == *victim)
        .map(|r| r[4].to_string())
        .collect();
    assert_eq!(codes, ["other_org"], "{exceptions}");
    h.service.shutdown().await;
}

/// Stream mode on a real broker (tansu), SQLite alone: what is checked is the upload against
/// the live pay, the same on either database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_stream_mode_an_org_cannot_upload_another_orgs_worker_into_its_own() {
    let broker = broker::Broker::start();
    let (_, _, source) = sample_on_broker(&broker.address).await;
    let extra = "[stream]\nperiod = \"2026-10\"\nlive_every = \"1s\"\ncheckpoint_every = \"1s\"";
    let h = Harness::start_with(Backend::Sqlite, &source, extra).await;
    let (org0, org1) = (h.token("hr1", "org0", "hr_admin"), h.token("hr9", "org1", "hr_admin"));
    let pay = "/v1/orgs/org1/workers/W000001/pay?period=2026-10";
    let mut known = false;
    for _ in 0..600 {
        known = h.get(pay, &org1).await.status == 200;
        if known {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(known, "the stream folded org1's W000001 within 60 s");

    // Org0 uploads org1's W000001 as its own, at its own site and with a new account.
    let header = std::fs::read_to_string(sample().join("workers.csv")).unwrap();
    let header = header.lines().next().unwrap();
    let taken = "W000001,org0,S00,Taken Over,M,MH,skilled,Fitter,daily,800.00,true,true,,,111122223333,SBIN0001234,,2026-10-01,";
    let done = upload(&h, "org0", &org0, "workers", &format!("{header}\n{taken}\n")).await;
    assert_eq!(
        (&done["accepted"], &done["rejected"]),
        (&json!(0), &json!(1)),
        "{done:#}"
    );
    let errors = h
        .get(
            &format!("/v1/orgs/org0/uploads/{}/errors.csv", done["id"].as_str().unwrap()),
            &org0,
        )
        .await
        .text();
    assert!(
        errors.contains("`W000001` is the id of another org's worker"),
        "{errors}"
    );
    assert_eq!(h.get(pay, &org1).await.json()["pay"]["org_id"], "org1");
    h.stop().await;
}
