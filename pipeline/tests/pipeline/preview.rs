//! A what-if preview equals a run under what it previews, to the paisa: the PF wage ceiling
//! raised from 15,000 to 25,000, and a worker's new rate. It reads the base run's inputs from
//! its results (no fold again) and writes nothing of a run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::util::display::array_value_to_string;
use object_store::memory::InMemory;
use payroll_connectors::results::read_org_results;
use payroll_connectors::{Quiet, Store};
use payroll_engine::findings::Previous;
use payroll_pipeline::preview::{PreviewRequest, preview};
use payroll_pipeline::{RunRequest, Source};
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;
use rust_decimal::Decimal;

const OCTOBER: PayPeriod = PayPeriod { year: 2026, month: 10 };

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/data/sample")
}

async fn run(inputs: PathBuf, ruleset: &Ruleset) -> Vec<RecordBatch> {
    let out = Store::new(Arc::new(InMemory::new()), "memory:///".parse().unwrap());
    let request = RunRequest {
        run_id: payroll_engine::run::new_run_id(),
        period: OCTOBER,
        source: Source::Folder(inputs),
        ruleset,
        out: &out,
        org: Some("org0"),
        locked: &[],
    };
    let report = payroll_pipeline::run(request, &Quiet).await.unwrap();
    read_org_results(&out, "org0", "2026-10", &report.record.run_id)
        .await
        .unwrap()
}

/// Each worker's value of `columns`, as text.
fn values(batches: &[RecordBatch], columns: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for batch in batches {
        let ids = batch.column_by_name("worker_id").unwrap().as_string::<i32>().clone();
        for row in 0..batch.num_rows() {
            let cells = columns
                .iter()
                .map(|c| {
                    let column = batch.column_by_name(c).unwrap_or_else(|| panic!("no column {c}"));
                    if column.is_valid(row) {
                        array_value_to_string(column, row).unwrap()
                    } else {
                        "NULL".into()
                    }
                })
                .collect();
            out.insert(ids.value(row).to_string(), cells);
        }
    }
    out
}

async fn previewed(
    base: &[RecordBatch],
    ruleset: &Ruleset,
    rates: &BTreeMap<String, Decimal>,
) -> payroll_pipeline::preview::Preview {
    let request = PreviewRequest {
        base,
        period: OCTOBER,
        ruleset,
        rates,
        base_net: "net_pay",
        previous: &Previous::none(),
        base_findings: &BTreeSet::new(),
    };
    preview(request).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_of_the_pf_ceiling_at_25000_equals_a_run_under_that_ruleset() {
    let text = payroll_rules::EXAMPLE_RULESET.replace("least(basic, 15000.00)", "least(basic, 25000.00)");
    assert_ne!(text, payroll_rules::EXAMPLE_RULESET, "the reference's PF ceiling moved");
    let today = Ruleset::parse(payroll_rules::EXAMPLE_RULESET, Path::new("india-contract.toml")).unwrap();
    let raised = Ruleset::parse(&text, Path::new("raised.toml")).unwrap();
    let base = run(sample(), &today).await;
    let under_raised = run(sample(), &raised).await;

    let preview = previewed(&base, &raised, &BTreeMap::new()).await;
    let version = raised.version_on(OCTOBER.first_day()).unwrap();
    let components: Vec<String> = version
        .components
        .iter()
        .filter(|c| !c.from_input)
        .map(|c| c.name.clone())
        .collect();
    let (expected, got) = (
        values(&under_raised, &components),
        values(&preview.results, &components),
    );
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected, "the preview and the run differ");

    // The workers paid more than 15,000 a month pay more PF: their net pay falls.
    let summary = &preview.summary;
    assert!(summary.lose > 0 && summary.gain == 0, "{summary:?}");
    let pf = summary.totals.iter().find(|t| t.component == "pf_employee").unwrap();
    assert!(pf.preview.unwrap() > pf.base.unwrap(), "{pf:?}");
    let net = summary.totals.iter().find(|t| t.component == "net_pay").unwrap();
    let loss: Decimal = preview.workers.iter().map(|w| w.difference()).sum();
    assert_eq!(net.preview.unwrap() - net.base.unwrap(), loss);
    let by_site: Decimal = summary.sites.iter().map(|s| s.preview - s.base).sum();
    assert_eq!(by_site, loss, "the sites add up to the whole");
    assert_eq!(summary.sites.iter().map(|s| s.workers).sum::<u64>(), summary.workers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_of_a_new_rate_equals_a_run_with_it_in_the_master() {
    let ruleset = Ruleset::parse(payroll_rules::EXAMPLE_RULESET, Path::new("india-contract.toml")).unwrap();
    let base = run(sample(), &ruleset).await;
    // The same month with W000000 at 900.00 a day.
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(sample()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let workers = std::fs::read_to_string(dir.path().join("workers.csv")).unwrap();
    let line = workers.lines().find(|l| l.starts_with("W000000,")).unwrap();
    let rate = line.split(',').nth(9).unwrap();
    let changed = workers.replace(line, &line.replace(&format!(",{rate},"), ",900.00,"));
    assert_ne!(changed, workers);
    std::fs::write(dir.path().join("workers.csv"), changed).unwrap();
    let rerated = run(dir.path().to_path_buf(), &ruleset).await;

    let rates = BTreeMap::from([("W000000".to_string(), "900.00".parse().unwrap())]);
    let preview = previewed(&base, &ruleset, &rates).await;
    let columns: Vec<String> = ["rate", "basic", "gross", "net_pay"].map(String::from).to_vec();
    assert_eq!(
        values(&preview.results, &columns)["W000000"],
        values(&rerated, &columns)["W000000"]
    );
    assert_eq!(preview.summary.gain, 1, "{:?}", preview.summary);
    assert_eq!(preview.workers[0].worker_id, "W000000");
}
