//! One bad worker does not sink a run: over the reference month, a ruleset with a gap in a table
//! and a formula with no branch for one worker computes every other worker, exactly as the
//! reference says; the others are worker errors in the run record and their org's manifest, in
//! no results file and no total.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::AsArray;
use object_store::memory::InMemory;
use payroll_connectors::results::read_results;
use payroll_connectors::{Quiet, Store, layout};
use payroll_engine::run::Manifest;
use payroll_pipeline::{Error, RunRequest, Source};
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;
use rust_decimal::Decimal;

const PERIOD: PayPeriod = PayPeriod { year: 2026, month: 10 };

fn sample() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/data/sample")
}

/// The reference ruleset with two gaps: no minimum wage for highly skilled workers (a table
/// with no row for them), and a site allowance whose `CASE` has no branch for W000002.
fn gapped_ruleset() -> Ruleset {
    let text = payroll_rules::EXAMPLE_RULESET
        .replace("  { skill = \"highly_skilled\", value = \"1035\" },\n", "")
        .replace(
            "# ---------------------------------------------------------------- payslips",
            "[[component]]\nname = \"site_allowance\"\ncategory = \"earning\"\n\
             expr = \"CASE WHEN worker_id <> 'W000002' THEN 0.00 END\"\n\n\
             # ---------------------------------------------------------------- payslips",
        );
    assert_ne!(text, payroll_rules::EXAMPLE_RULESET);
    Ruleset::parse(&text, std::path::Path::new("gapped.toml")).unwrap()
}

/// A column of a CSV file of the sample, by worker id.
fn column(file: &str, name: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(sample().join(file)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[0].to_string(), cells[at].to_string())
        })
        .collect()
}

fn store() -> Store {
    Store::new(Arc::new(InMemory::new()), "memory:///".parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_computes_every_worker_it_can_and_records_the_others() {
    let ruleset = gapped_ruleset();
    let out = store();
    let request = RunRequest {
        run_id: payroll_engine::run::new_run_id(),
        period: PERIOD,
        source: Source::Folder(sample()),
        ruleset: &ruleset,
        out: &out,
        org: None,
        locked: &[],
    };
    let report = payroll_pipeline::run(request, &Quiet).await.unwrap();
    let record = &report.record;

    // The reference's workers, and which of them the gaps hit.
    let expected_net = column("expected.csv", "net_pay");
    let orgs = column("expected.csv", "org_id");
    let skills = column("workers.csv", "skill");
    let failing: BTreeSet<&str> = expected_net
        .keys()
        .map(String::as_str)
        .filter(|w| skills[*w] == "highly_skilled" || *w == "W000002")
        .collect();
    assert!(failing.len() > 2, "the sample has highly skilled workers: {failing:?}");

    let errors: BTreeMap<&str, (&str, &str)> = record
        .worker_errors
        .iter()
        .map(|e| (e.worker_id.as_str(), (e.component.as_str(), e.reason.as_str())))
        .collect();
    assert_eq!(errors.keys().copied().collect::<BTreeSet<_>>(), failing);
    assert_eq!(record.worker_errors.len(), failing.len(), "one error each");
    assert_eq!(
        errors["W000002"],
        (
            "site_allowance",
            "no WHEN of the CASE holds for this worker and it has no ELSE"
        )
    );
    let highly_skilled = failing.iter().find(|w| **w != "W000002").unwrap();
    assert_eq!(
        errors[highly_skilled],
        (
            "below_min_wage",
            "no row of table `min_wage_day` for skill=`highly_skilled`"
        )
    );

    // Every other worker is computed as the reference says; the failing ones are nowhere.
    assert_eq!(record.rows as usize, expected_net.len() - failing.len());
    let mut computed = BTreeMap::new();
    for batch in read_results(&out, record).await.unwrap() {
        let ids = batch.column_by_name("worker_id").unwrap().as_string::<i32>();
        let net = batch.column_by_name("net_pay").unwrap();
        for row in 0..batch.num_rows() {
            let value = datafusion::arrow::util::display::array_value_to_string(net, row).unwrap();
            computed.insert(ids.value(row).to_string(), value);
        }
    }
    for (worker, net) in &computed {
        assert!(!failing.contains(worker.as_str()), "{worker} has an error and a result");
        let want: Decimal = expected_net[worker].parse().unwrap();
        assert_eq!(net.parse::<Decimal>().unwrap(), want, "{worker}");
    }

    // Each org's manifest lists its own errors; its totals are over its computed workers.
    for org in &record.orgs {
        let bytes = out
            .get(&layout::manifest(org, "2026-10", &record.run_id))
            .await
            .unwrap();
        let manifest: Manifest = serde_json::from_slice(&bytes).unwrap();
        let mine: BTreeSet<&str> = failing.iter().copied().filter(|w| orgs[*w] == *org).collect();
        let listed: BTreeSet<&str> = manifest.worker_errors.iter().map(|e| e.worker_id.as_str()).collect();
        assert_eq!(listed, mine, "{org}");
        assert!(manifest.worker_errors.iter().all(|e| e.org_id == *org));
        let sum: Decimal = computed
            .keys()
            .filter(|w| orgs[*w] == *org)
            .map(|w| expected_net[w].parse::<Decimal>().unwrap())
            .sum();
        assert_eq!(manifest.totals["net_pay"].parse::<Decimal>().unwrap(), sum, "{org}");
    }

    // Explaining a worker with an error says why there is nothing to explain.
    let err = payroll_pipeline::explain::explain(&out, record, "W000002")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WorkerNotComputed { .. }), "{err}");
    assert!(err.to_string().contains("component `site_allowance`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_none_of_whose_workers_computes_fails_naming_the_first() {
    let text = payroll_rules::EXAMPLE_RULESET.replace(
        "expr = \"basic + overtime + adjustment_earnings\"",
        "expr = \"basic + overtime + adjustment_earnings + CASE WHEN rate < 0 THEN 0 END\"",
    );
    let ruleset = Ruleset::parse(&text, std::path::Path::new("broken.toml")).unwrap();
    let out = store();
    let request = RunRequest {
        run_id: payroll_engine::run::new_run_id(),
        period: PERIOD,
        source: Source::Folder(sample()),
        ruleset: &ruleset,
        out: &out,
        org: Some("org0"),
        locked: &[],
    };
    let Err(err) = payroll_pipeline::run(request, &Quiet).await else {
        panic!("a run with no worker computed succeeded");
    };
    let Error::NoWorkerComputed { workers, first } = &err else {
        panic!("{err}");
    };
    let org0 = column("expected.csv", "org_id")
        .values()
        .filter(|o| *o == "org0")
        .count();
    assert_eq!(*workers, org0);
    assert_eq!(first.component, "gross");
    assert!(err.to_string().starts_with("no worker could be computed"), "{err}");
    assert!(
        out.list(&object_store::path::Path::from(layout::RUNS))
            .await
            .unwrap()
            .is_empty(),
        "nothing is written"
    );
}
