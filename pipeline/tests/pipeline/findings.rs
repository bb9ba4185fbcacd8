//! A run's findings over a month built to trigger each check of the reference ruleset and each
//! built-in one on its own worker: every check fires where it should, and on nothing else.
//! September is finalized first, so October's checks read last period's values.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use object_store::memory::InMemory;
use payroll_connectors::{Quiet, Store, layout};
use payroll_pipeline::{LockedRun, RunRequest, Source};
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;

const SEPTEMBER: PayPeriod = PayPeriod { year: 2026, month: 9 };
const OCTOBER: PayPeriod = PayPeriod { year: 2026, month: 10 };

/// (worker, rate, skill, bank account, PAN, UAN, joined, exited, September's and October's
/// present days: `None` for no row that month).
type Worker = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<u32>,
    Option<u32>,
);

const WORKERS: &[Worker] = &[
    (
        "C1",
        "900.00",
        "unskilled",
        "100000000001",
        "AAAAA0001A",
        "200000000001",
        "2025-01-01",
        "",
        Some(20),
        Some(20),
    ),
    (
        "C2",
        "900.00",
        "unskilled",
        "100000000002",
        "AAAAA0002A",
        "200000000002",
        "2025-01-01",
        "",
        Some(20),
        Some(21),
    ),
    (
        "C3",
        "950.00",
        "unskilled",
        "100000000003",
        "AAAAA0003A",
        "200000000003",
        "2025-01-01",
        "",
        Some(22),
        Some(20),
    ),
    // Paid below the minimum wage of an unskilled worker.
    (
        "LOW",
        "500.00",
        "unskilled",
        "100000000004",
        "AAAAA0004A",
        "200000000004",
        "2025-01-01",
        "",
        Some(20),
        Some(20),
    ),
    // A deduction of 50,000 in October (adjustments.ndjson): net pay below zero, and far from
    // September's.
    (
        "NEG",
        "900.00",
        "unskilled",
        "100000000005",
        "AAAAA0005A",
        "200000000005",
        "2025-01-01",
        "",
        Some(20),
        Some(20),
    ),
    // 55 hours of overtime a month (the summary's ot_hours).
    (
        "OT",
        "900.00",
        "unskilled",
        "100000000006",
        "AAAAA0006A",
        "200000000006",
        "2025-01-01",
        "",
        Some(20),
        Some(20),
    ),
    // Five days in October against twenty in September.
    (
        "MOVED",
        "900.00",
        "unskilled",
        "100000000007",
        "AAAAA0007A",
        "200000000007",
        "2025-01-01",
        "",
        Some(20),
        Some(5),
    ),
    // Left on 10 October, punched on the 12th and 13th.
    (
        "EXIT",
        "900.00",
        "unskilled",
        "100000000008",
        "AAAAA0008A",
        "200000000008",
        "2025-01-01",
        "2026-10-10",
        Some(20),
        Some(12),
    ),
    (
        "A1",
        "900.00",
        "unskilled",
        "300000000001",
        "AAAAA0009A",
        "200000000009",
        "2025-01-01",
        "",
        Some(20),
        Some(20),
    ),
    (
        "A2",
        "900.00",
        "unskilled",
        " 300000000001",
        "AAAAA0010A",
        "200000000010",
        "2025-01-01",
        "",
        Some(20),
        Some(20),
    ),
    (
        "P1",
        "900.00",
        "unskilled",
        "100000000011",
        "PPPPP0001P",
        "200000000011",
        "2025-01-01",
        "",
        Some(20),
        Some(20),
    ),
    (
        "P2",
        "900.00",
        "unskilled",
        "100000000012",
        "PPPPP0001P",
        "200000000012",
        "2025-01-01",
        "",
        Some(20),
        Some(20),
    ),
    (
        "U1",
        "900.00",
        "unskilled",
        "100000000013",
        "AAAAA0013A",
        "400000000001",
        "2025-01-01",
        "",
        Some(20),
        Some(20),
    ),
    (
        "U2",
        "900.00",
        "unskilled",
        "100000000014",
        "AAAAA0014A",
        "400000000001",
        "2025-01-01",
        "",
        Some(20),
        Some(20),
    ),
    // Joined in October at five times everyone's rate.
    (
        "NEW",
        "5000.00",
        "skilled",
        "100000000015",
        "AAAAA0015A",
        "200000000015",
        "2026-10-05",
        "",
        None,
        Some(20),
    ),
    // Left at the end of September: paid then, absent now.
    (
        "GONE",
        "900.00",
        "unskilled",
        "100000000016",
        "AAAAA0016A",
        "200000000016",
        "2025-01-01",
        "2026-09-30",
        Some(20),
        None,
    ),
];

/// The findings October should have: (worker, check).
const EXPECTED: &[(&str, &str)] = &[
    ("A1", "shared_bank_account"),
    ("A2", "shared_bank_account"),
    ("EXIT", "punches_after_exit"),
    ("GONE", "absent_since_last_period"),
    ("LOW", "rate_below_minimum_wage"),
    ("MOVED", "net_pay_moved"),
    ("NEG", "net_pay_moved"),
    ("NEG", "net_pay_negative"),
    ("NEW", "new_worker_above_p99"),
    ("OT", "overtime_above_limit"),
    ("P1", "shared_pan"),
    ("P2", "shared_pan"),
    ("U1", "shared_uan"),
    ("U2", "shared_uan"),
];

fn month(dir: &Path) {
    std::fs::write(
        dir.join("sites.csv"),
        "site_id,org_id,name,state,timezone,weekly_off\nS00,org0,Site MH-00,MH,Asia/Kolkata,SUN\n",
    )
    .unwrap();
    let mut workers = String::from(
        "worker_id,org_id,site_id,name,gender,state,skill,designation,pay_basis,rate,pf_applicable,esi_applicable,uan,esic_no,bank_account,ifsc,pan,joined_on,exited_on\n",
    );
    let mut summary = String::from(
        "worker_id,period,employment_days,working_days,present_days,paid_leave_days,unpaid_leave_days,lop_days,worked_minutes,ot_hours,missed_punch_days\n",
    );
    for (id, rate, skill, account, pan, uan, joined, exited, september, october) in WORKERS {
        workers.push_str(&format!(
            "{id},org0,S00,Worker {id},M,MH,{skill},Worker,daily,{rate},false,false,{uan},,{account},SBIN0001234,{pan},{joined},{exited}\n"
        ));
        let ot = if *id == "OT" { "55" } else { "0" };
        for (period, days, present) in [("2026-09", 30, september), ("2026-10", 31, october)] {
            if let Some(present) = present {
                summary.push_str(&format!("{id},{period},{days},{days},{present},0,0,0,0,{ot},0\n"));
            }
        }
    }
    std::fs::write(dir.join("workers.csv"), workers).unwrap();
    std::fs::write(dir.join("attendance_summary.csv"), summary).unwrap();
    // EXIT's punches after leaving, 09:00 to 18:00 in India.
    let punches: String = [12, 13]
        .iter()
        .flat_map(|day| {
            [("in", "03:30"), ("out", "12:30")].map(|(direction, at)| {
                format!(
                    "{{\"event_id\": \"exit-{day}-{direction}\", \"worker_id\": \"EXIT\", \"ts\": \"2026-10-{day}T{at}:00Z\", \"direction\": \"{direction}\", \"device_id\": \"BIO-S00\"}}\n"
                )
            })
        })
        .collect();
    std::fs::write(dir.join("attendance.ndjson"), punches).unwrap();
    std::fs::write(
        dir.join("adjustments.ndjson"),
        "{\"adjustment_id\": \"ADJ-NEG\", \"worker_id\": \"NEG\", \"period\": \"2026-10\", \"kind\": \"deduction\", \
         \"code\": \"advance_recovery\", \"amount\": \"50000.00\", \"reason\": \"advance\", \"requested_by\": \"maker1\", \
         \"event_id\": \"adj-neg-2\", \"status\": \"approved\", \"version\": 2, \"approved_by\": \"checker1\"}\n",
    )
    .unwrap();
}

fn store() -> Store {
    Store::new(Arc::new(InMemory::new()), "memory:///".parse().unwrap())
}

/// The month of `dir` run for org0's `period` into `out`, with the org's `locked` periods.
async fn run_of(
    dir: &Path,
    ruleset: &Ruleset,
    out: &Store,
    period: PayPeriod,
    locked: Vec<LockedRun>,
) -> payroll_pipeline::RunReport {
    let request = RunRequest {
        run_id: payroll_engine::run::new_run_id(),
        period,
        source: Source::Folder(dir.to_path_buf()),
        ruleset,
        out,
        org: Some("org0"),
        locked: &locked,
    };
    payroll_pipeline::run(request, &Quiet).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_check_fires_on_its_worker_and_nowhere_else() {
    let dir = tempfile::tempdir().unwrap();
    month(dir.path());
    let ruleset = Ruleset::parse(payroll_rules::EXAMPLE_RULESET, Path::new("india-contract.toml")).unwrap();
    let out = store();
    let september = run_of(dir.path(), &ruleset, &out, SEPTEMBER, Vec::new()).await;
    let locked = vec![LockedRun {
        period: SEPTEMBER,
        run_id: september.record.run_id.clone(),
    }];
    let october = run_of(dir.path(), &ruleset, &out, OCTOBER, locked).await;

    let found: BTreeSet<(&str, &str)> = october
        .findings
        .iter()
        .map(|f| (f.worker_id.as_str(), f.check.as_str()))
        .collect();
    let expected: BTreeSet<(&str, &str)> = EXPECTED.iter().copied().collect();
    assert_eq!(found, expected, "{:#?}", october.findings);
    assert_eq!(october.findings.len(), EXPECTED.len(), "each finding once");

    let message = |worker: &str, check: &str| {
        october
            .findings
            .iter()
            .find(|f| f.worker_id == worker && f.check == check)
            .map(|f| (f.severity.as_str(), f.message.as_str()))
            .unwrap()
    };
    assert_eq!(
        message("LOW", "rate_below_minimum_wage"),
        (
            "block",
            "the daily rate 500.00 is below the minimum wage of a unskilled worker"
        )
    );
    assert_eq!(
        message("EXIT", "punches_after_exit").1,
        "punched on 2 day(s) after the exit date 2026-10-10"
    );
    assert_eq!(message("A1", "shared_bank_account").0, "block");
    assert!(message("A1", "shared_bank_account").1.ends_with("is also A2's"));
    assert!(
        !october.findings.iter().any(|f| f.message.contains("300000000001")),
        "an account in clear"
    );
    assert_eq!(message("GONE", "absent_since_last_period").0, "info");
    assert!(
        message("MOVED", "net_pay_moved").1.starts_with("net pay 4"),
        "{:?}",
        message("MOVED", "net_pay_moved")
    );

    // Beside the results, partitioned like them; September (no earlier period) found less.
    let part = layout::findings_part("org0", "2026-10", &october.record.run_id);
    assert!(out.get(&part).await.is_ok(), "no findings file at {part}");
    assert!(
        !september
            .findings
            .iter()
            .any(|f| f.check == "net_pay_moved" || f.check == "absent_since_last_period")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_variance_report_compares_each_worker_and_site_with_the_last_finalized_period() {
    let dir = tempfile::tempdir().unwrap();
    month(dir.path());
    let ruleset = Ruleset::parse(payroll_rules::EXAMPLE_RULESET, Path::new("india-contract.toml")).unwrap();
    let out = store();
    let mut ids = Vec::new();
    for period in [SEPTEMBER, OCTOBER] {
        ids.push(
            run_of(dir.path(), &ruleset, &out, period, Vec::new())
                .await
                .record
                .run_id,
        );
    }
    let results = |period: PayPeriod, id: &str| {
        let (out, id) = (&out, id.to_string());
        async move {
            payroll_connectors::results::read_org_results(out, "org0", &period.to_string(), &id)
                .await
                .unwrap()
        }
    };
    let (then, now) = (results(SEPTEMBER, &ids[0]).await, results(OCTOBER, &ids[1]).await);
    let version = ruleset.version_on(OCTOBER.first_day()).unwrap();
    let variance = payroll_pipeline::variance::compare(&now, &then, version, "net_pay");

    let row = |id: &str| variance.workers.iter().find(|w| w.worker_id == id).unwrap();
    // The biggest changes first: NEW's whole pay, then NEG's deduction of 50,000.
    let order: Vec<&str> = variance.workers[..2].iter().map(|w| w.worker_id.as_str()).collect();
    assert_eq!(order, ["NEW", "NEG"]);
    assert_eq!(
        row("NEG").moved[0],
        ("adjustment_deductions".to_string(), "50000.00".parse().unwrap())
    );
    // Twenty days of 900 then, five now: 13,500 less basic pay.
    let moved = row("MOVED");
    assert_eq!(moved.moved[0], ("basic".to_string(), "-13500.00".parse().unwrap()));
    assert_eq!(moved.difference(), moved.now.unwrap() - moved.last.unwrap());
    assert_eq!((row("NEW").last, row("GONE").now), (None, None));
    assert!(row("C1").moved.is_empty() && row("C1").difference().is_zero());
    // One site: fifteen workers then (GONE, not NEW) and fifteen now.
    assert_eq!(variance.cost, "employer_cost");
    assert_eq!(variance.sites.len(), 1);
    let site = &variance.sites[0];
    assert_eq!(
        (site.site_id.as_str(), site.headcount_last, site.headcount_now),
        ("S00", 15, 15)
    );

    let csv = String::from_utf8(payroll_pipeline::variance::workers_csv(&variance).unwrap()).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("worker_id,name,site_id,last_net,this_net,difference,moved_most")
    );
    assert!(lines.next().unwrap().starts_with("NEW,Worker NEW,S00,,"), "{csv}");
    let xlsx = payroll_pipeline::variance::xlsx(&variance).unwrap();
    assert!(xlsx.starts_with(b"PK\x03\x04"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_left_out_of_a_locked_run_is_in_no_total_and_carries_no_arrears() {
    let dir = tempfile::tempdir().unwrap();
    month(dir.path());
    let ruleset = Ruleset::parse(payroll_rules::EXAMPLE_RULESET, Path::new("india-contract.toml")).unwrap();
    let out = store();
    let september = run_of(dir.path(), &ruleset, &out, SEPTEMBER, Vec::new()).await.record;
    let held_back = std::collections::BTreeSet::from(["C2".to_string()]);
    let left = payroll_connectors::results::leave_out(&out, &september.run_id, "org0", &held_back)
        .await
        .unwrap();
    assert_eq!((left.removed, left.rows), (1, september.rows - 1));
    let again = payroll_connectors::results::leave_out(&out, &september.run_id, "org0", &held_back)
        .await
        .unwrap();
    assert_eq!(again.removed, 0, "leaving out twice removes once");
    let record = payroll_connectors::results::read_run(&out, &september.run_id)
        .await
        .unwrap();
    assert_eq!(
        (record.rows, record.excluded.clone()),
        (september.rows - 1, vec!["C2".to_string()])
    );
    let net = |totals: &std::collections::BTreeMap<String, String>| {
        totals["net_pay"].parse::<rust_decimal::Decimal>().unwrap()
    };
    assert!(net(&record.totals) < net(&september.totals));
    assert_eq!(
        left.totals["net_pay"], record.totals["net_pay"],
        "one org: its totals are the run's"
    );
    let results = payroll_connectors::results::read_org_results(&out, "org0", "2026-09", &september.run_id)
        .await
        .unwrap();
    assert!(!results.iter().any(|b| {
        let ids = b
            .column_by_name("worker_id")
            .unwrap()
            .as_any()
            .downcast_ref::<datafusion::arrow::array::StringArray>()
            .unwrap()
            .clone();
        ids.iter().any(|id| id == Some("C2"))
    }));

    // October, with September locked: C2 is paid for October, and nothing more for September.
    let locked = vec![LockedRun {
        period: SEPTEMBER,
        run_id: september.run_id.clone(),
    }];
    let october = run_of(dir.path(), &ruleset, &out, OCTOBER, locked).await.record;
    let arrears = payroll_connectors::results::read_arrears(&out, "org0", "2026-10", &october.run_id)
        .await
        .unwrap();
    assert!(!arrears.iter().any(|a| a.worker_id == "C2"), "{arrears:#?}");
}
