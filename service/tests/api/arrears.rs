//! Arrears end to end in files mode. October is paid and locked; then a late punch, a late
//! approved leave that turns loss of pay into paid leave, a leave cancelled after the lock (a
//! recovery) and an adjustment approved late all reach it. November's run carries, component
//! by component, exactly what a fresh run of October with those events pays more (or less)
//! than the locked run; October's results never change. Once November is finalized its
//! arrears are settled: a second late punch gives December only the new difference.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use common::pay::{Amounts, amounts, by_component, differences};
use common::{Backend, Harness, backends, pdf_text};
use payroll_connectors::results::{applied_ruleset, read_arrears, read_org_results, read_run};
use payroll_connectors::{Quiet, Store};
use payroll_engine::run::new_run_id;
use payroll_pipeline::{RunRequest, Source};
use rust_decimal::Decimal;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_events_for_a_paid_month_are_paid_exactly_once_as_arrears_of_the_next() {
    for backend in backends() {
        check(backend).await;
    }
}

async fn check(backend: Backend) {
    let h = Harness::start(backend, "").await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let approver = h.token("appr1", "org0", "approver");
    let store = Store::open(&h.dir.path().join("data/store").display().to_string()).unwrap();
    let inputs = h.dir.path().join("inputs");
    let october = h.finalized_run().await;
    let locked_totals = h.get(&format!("/v1/orgs/org0/runs/{october}"), &hr).await.json()["totals"].clone();

    // W000014 (daily) worked the 7th after all; W000049 (monthly) had the 22nd approved as
    // casual leave; W000015's approved earned leave of the 3rd is cancelled; W000060 is owed a
    // bonus, approved by a second person after the lock, and so is W000012, who left on the
    // 12th of October.
    append(
        &inputs.join("attendance.ndjson"),
        &[
            punch("W000014", "2026-10-07T03:30:00Z", "in"),
            punch("W000014", "2026-10-07T12:30:00Z", "out"),
        ],
    );
    append(
        &inputs.join("leave.ndjson"),
        &[
            leave("L-W000049-LATE", "W000049", "casual", "2026-10-22", "approved", 1),
            leave(
                "L-W000015-2026-10-03",
                "W000015",
                "earned",
                "2026-10-03",
                "cancelled",
                3,
            ),
        ],
    );
    for (worker, amount) in [("W000060", "750.00"), ("W000012", "1200.00")] {
        let bonus = json!({"worker_id": worker, "period": "2026-10", "kind": "earning", "code": "bonus",
                           "amount": amount, "reason": "overtime claim found after payday"});
        let requested = h.post("/v1/orgs/org0/adjustments", &hr, &bonus).await;
        assert_eq!(
            requested.status,
            201,
            "an adjustment for a paid month is taken: {}",
            requested.text()
        );
        let id = requested.json()["id"].as_str().unwrap().to_string();
        let approved = h
            .post(
                &format!("/v1/orgs/org0/adjustments/{id}/approve"),
                &approver,
                &json!({}),
            )
            .await;
        assert_eq!(approved.status, 200, "{}", approved.text());
        wait_for_line(&inputs.join("adjustments.ndjson"), &id, "\"approved\"").await;
    }

    // W000002 gets a raise after October was paid: the master is not dated, so it counts from
    // November and makes no arrears for October.
    let master = inputs.join("workers.csv");
    let before_raise = std::fs::read_to_string(&master).unwrap();
    std::fs::write(&master, before_raise.replacen(",daily,1526.40,", ",daily,1600.00,", 1)).unwrap();
    assert_ne!(std::fs::read_to_string(&master).unwrap(), before_raise);

    // November carries the differences.
    let november = h.trigger("org0", &hr, "2026-11", "final", "november").await;
    h.wait("org0", &november, &hr, "calculated").await;
    let carried = read_arrears(&store, "org0", "2026-11", &november).await.unwrap();
    assert!(
        carried.iter().all(|a| a.original_period.to_string() == "2026-10"),
        "{carried:?}"
    );
    std::fs::write(&master, &before_raise).unwrap();
    let fresh = fresh_october(&store, &october, &inputs).await;
    let locked = amounts(
        &store,
        &october,
        &read_org_results(&store, "org0", "2026-10", &october).await.unwrap(),
    )
    .await;
    let expected = differences(&fresh, &locked);
    assert_eq!(
        by_component(&carried),
        expected,
        "arrears = fresh October - locked October"
    );
    let workers: BTreeSet<&str> = expected.keys().map(|(w, _)| w.as_str()).collect();
    assert_eq!(
        workers,
        BTreeSet::from(["W000012", "W000014", "W000015", "W000049", "W000060"])
    );
    // The figures worked out by hand, not by the pipeline the test checks.
    assert_eq!(
        net_arrears(&carried),
        pinned(&NOVEMBER_NET_ARREARS),
        "November's net arrears"
    );
    let net = |worker: &str| pinned(&NOVEMBER_NET_ARREARS)[worker];
    assert_eq!(
        expected[&("W000060".to_string(), "adjustment_earnings".to_string())],
        Decimal::new(75000, 2)
    );

    // The API lists them, a worker at a time if asked.
    let listed = h
        .get(&format!("/v1/orgs/org0/runs/{november}/arrears?worker_id=W000015"), &hr)
        .await
        .json();
    let listed: Amounts = listed["arrears"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            assert_eq!(a["original_period"], "2026-10");
            let key = ("W000015".to_string(), a["component"].as_str().unwrap().to_string());
            (key, decimal(&a["arrear"]))
        })
        .collect();
    let w15: Amounts = expected
        .iter()
        .filter(|((w, _), _)| w == "W000015")
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(listed, w15);

    // The arrears are a table beside the results, for any SQL over the store.
    let ctx = datafusion::prelude::SessionContext::new();
    payroll_connectors::results::register_results(&ctx, &store)
        .await
        .unwrap();
    let sql = format!(
        "SELECT worker_id, CAST(sum(arrear) AS VARCHAR) FROM arrears WHERE run_id = '{november}' \
         AND component = 'net_pay' AND original_period = '2026-10' GROUP BY worker_id ORDER BY worker_id"
    );
    let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    let queried = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    for worker in &workers {
        let net = format!("{}", net(worker));
        assert!(
            queried.contains(worker) && queried.contains(&net),
            "{worker} {net}: {queried}"
        );
    }

    // What November pays: net pay plus the arrears net; October is untouched.
    let rows = h
        .get(&format!("/v1/orgs/org0/runs/{november}/results?page_size=1000"), &hr)
        .await
        .json();
    for row in rows["rows"].as_array().unwrap() {
        let worker = row["worker_id"].as_str().unwrap();
        let arrears_net = decimal(&row["arrears_net"]);
        let want = pinned(&NOVEMBER_NET_ARREARS).get(worker).copied().unwrap_or_default();
        assert_eq!(arrears_net, want, "{worker}");
        assert_eq!(
            decimal(&row["net_payable"]),
            decimal(&row["net_pay"]) + arrears_net,
            "{worker}"
        );
    }
    // The leaver is paid their arrears in a row of their own: nothing worked in November.
    let leaver = results_row(&rows, "W000012");
    assert_eq!(
        (&leaver["present_days"], &leaver["net_pay"], &leaver["net_payable"]),
        (&json!("0.0"), &json!("0.00"), &json!("1200.00")),
        "{leaver:#}"
    );
    let october_now = h.get(&format!("/v1/orgs/org0/runs/{october}"), &hr).await.json();
    assert_eq!(october_now["totals"], locked_totals);

    // Finalized, November's payslips show the arrears; the register has their columns.
    h.acknowledge_blocks("org0", &november).await;
    let approved = h
        .post(&format!("/v1/orgs/org0/runs/{november}/approve"), &approver, &json!({}))
        .await;
    assert_eq!(approved.status, 200, "{}", approved.text());
    h.wait("org0", &november, &hr, "finalized").await;
    let pdf = h
        .get(&format!("/v1/orgs/org0/runs/{november}/payslips/W000015.pdf"), &hr)
        .await;
    assert_eq!(pdf.status, 200);
    let text = pdf_text(&pdf.bytes);
    assert!(text.contains("Arrears net for October 2026"), "{text}");
    assert!(text.contains("Net Payable"), "{text}");
    let leaver_pdf = h
        .get(&format!("/v1/orgs/org0/runs/{november}/payslips/W000012.pdf"), &hr)
        .await;
    assert_eq!(leaver_pdf.status, 200);
    let text = pdf_text(&leaver_pdf.bytes);
    assert!(text.contains("Arrears net for October 2026"), "{text}");
    let register = h
        .get(&format!("/v1/orgs/org0/runs/{november}/register.xlsx"), &hr)
        .await;
    assert_eq!(register.status, 200);
    let headings = register_headings(&register.bytes);
    assert!(
        headings.iter().any(|h| h == "Arrears net") && headings.iter().any(|h| h == "Net payable"),
        "{headings:?}"
    );

    // Settled: a second late punch for W000014 gives December only the new difference, and
    // W000049's late leave, cancelled now, recovers exactly what November paid for it.
    append(
        &inputs.join("attendance.ndjson"),
        &[
            punch("W000014", "2026-10-16T03:30:00Z", "in"),
            punch("W000014", "2026-10-16T12:30:00Z", "out"),
        ],
    );
    append(
        &inputs.join("leave.ndjson"),
        &[leave(
            "L-W000049-LATE",
            "W000049",
            "casual",
            "2026-10-22",
            "cancelled",
            2,
        )],
    );
    let december = h.trigger("org0", &hr, "2026-12", "provisional", "december").await;
    h.wait("org0", &december, &hr, "calculated").await;
    let again = read_arrears(&store, "org0", "2026-12", &december).await.unwrap();
    let fresh_again = fresh_october(&store, &october, &inputs).await;
    let expected_again = differences(&fresh_again, &fresh);
    let workers_again: BTreeSet<&str> = expected_again.keys().map(|(w, _)| w.as_str()).collect();
    assert_eq!(workers_again, BTreeSet::from(["W000014", "W000049"]));
    assert_eq!(by_component(&again), expected_again, "only the new differences");
    assert_eq!(
        net_arrears(&again),
        pinned(&DECEMBER_NET_ARREARS),
        "December's net arrears"
    );
    for ((worker, component), amount) in &expected_again {
        if worker == "W000049" {
            let paid_in_november = &expected[&(worker.clone(), component.clone())];
            assert_eq!(*amount, -*paid_in_november, "{component}: recovered exactly");
        }
    }
    h.stop().await;
}

/// The net arrears for October that November carries, worked out by hand from POLICY.md and the
/// sample's master (October 2026: 31 days, Sundays off at these sites).
const NOVEMBER_NET_ARREARS: [(&str, &str); 5] = [
    // Left on 12 October; no PF, no ESI, DL (no PT, no LWF): the ₹1,200.00 bonus, whole.
    ("W000012", "1200.00"),
    // Daily ₹2,277.00, DL: 03:30-12:30 UTC on Wednesday the 7th is 540 minutes, a full day with no
    // overtime (only minutes above 540 count), so basic is 2,277.00 more. PF stays 1,800 (basic
    // 45,540.00 is over the 15,000 wage ceiling), no ESI (gross over 21,000), no PT in DL.
    ("W000014", "2277.00"),
    // Monthly ₹53,685.00, MH: the 3rd, a Saturday without punches, turns from paid leave into loss
    // of pay (3 -> 4 days): basic 53685 x 27 / 31 = 46,757.90 instead of 53685 x 28 / 31 =
    // 48,489.68. PF capped, no ESI, PT 200 (MH, a man, gross over 10,000) either way.
    ("W000015", "-1731.78"),
    // Monthly ₹32,245.00, KA: Thursday the 22nd, without punches, turns from loss of pay into casual
    // leave (5 -> 4 days): basic 32245 x 27 / 31 = 28,084.35 instead of 32245 x 26 / 31 =
    // 27,044.19. PF capped, no ESI, PT 200 (KA, gross 25,000 or more) either way.
    ("W000049", "1040.16"),
    // Monthly, TN, not insured: the ₹750.00 bonus; PF is on basic and TN has no PT.
    ("W000060", "750.00"),
];

/// What December carries after a second late punch and a cancelled leave, by hand as above.
const DECEMBER_NET_ARREARS: [(&str, &str); 2] = [
    // 03:30-12:30 UTC on Friday the 16th, a day without punches: one more day at ₹2,277.00, as the 7th.
    ("W000014", "2277.00"),
    // The casual leave of the 22nd cancelled: back to 26 paid days, November's 1,040.16 recovered.
    ("W000049", "-1040.16"),
];

fn pinned(figures: &[(&str, &str)]) -> BTreeMap<String, Decimal> {
    figures
        .iter()
        .map(|(worker, net)| (worker.to_string(), net.parse().unwrap()))
        .collect()
}

/// The net pay arrears of `carried`, summed per worker.
fn net_arrears(carried: &[payroll_engine::Arrear]) -> BTreeMap<String, Decimal> {
    let mut sums = BTreeMap::new();
    for a in carried.iter().filter(|a| a.component == "net_pay") {
        *sums.entry(a.worker_id.clone()).or_default() += a.arrear;
    }
    sums
}

fn results_row<'a>(page: &'a Value, worker: &str) -> &'a Value {
    page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["worker_id"] == worker)
        .unwrap_or_else(|| panic!("{worker} is not in the results"))
}

/// October computed afresh from the input folder as it is now, with the locked run's ruleset.
async fn fresh_october(store: &Store, october: &str, inputs: &Path) -> Amounts {
    let record = read_run(store, october).await.unwrap();
    let ruleset = applied_ruleset(store, &record).await.unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out = Store::open(&out_dir.path().display().to_string()).unwrap();
    let request = RunRequest {
        run_id: new_run_id(),
        period: "2026-10".parse().unwrap(),
        source: Source::Folder(inputs.to_path_buf()),
        ruleset: &ruleset,
        out: &out,
        org: Some("org0"),
        locked: &[],
    };
    let report = payroll_pipeline::run(request, &Quiet).await.unwrap();
    let results = read_org_results(&out, "org0", "2026-10", &report.record.run_id)
        .await
        .unwrap();
    amounts(store, october, &results).await
}

fn decimal(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("an amount as a string: {value}"))
        .parse()
        .unwrap()
}

fn punch(worker: &str, ts: &str, direction: &str) -> Value {
    json!({"event_id": uuid::Uuid::now_v7().to_string(), "worker_id": worker, "ts": ts,
           "direction": direction, "device_id": "BIO-LATE"})
}

fn leave(id: &str, worker: &str, kind: &str, day: &str, status: &str, version: u32) -> Value {
    json!({"leave_id": id, "worker_id": worker, "leave_type": kind, "from": day, "to": day,
           "half_day": false, "event_id": uuid::Uuid::now_v7().to_string(), "status": status,
           "version": version})
}

fn append(path: &Path, events: &[Value]) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    for event in events {
        writeln!(file, "{event}").unwrap();
    }
}

async fn wait_for_line(path: &Path, id: &str, status: &str) {
    for _ in 0..100 {
        let text = std::fs::read_to_string(path).unwrap();
        if text.lines().any(|l| l.contains(id) && l.contains(status)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{id} was not published {status} to {}", path.display());
}

/// The register sheet's column headings.
fn register_headings(xlsx: &[u8]) -> Vec<String> {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.to_vec())).unwrap();
    let sheet = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&sheet).unwrap();
    range
        .rows()
        .flat_map(|row| row.iter().map(|cell| cell.to_string()))
        .collect()
}
