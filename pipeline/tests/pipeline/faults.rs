//! A run that dies part way, at every write it makes: the store refuses every write after the
//! first `n`, as if the process were killed there. No partial run is ever visible to `query`,
//! `latest` or the run record readers, and the run done again afterwards is counted once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::FaultyStore;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;
use object_store::path::Path;
use payroll_connectors::results::{latest_run, register_results};
use payroll_connectors::{Quiet, Store};
use payroll_engine::run::new_run_id;
use payroll_pipeline::run::{RunRequest, Source, run};
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;

const PERIOD: PayPeriod = PayPeriod { year: 2026, month: 10 };

/// A store that takes `limit` writes, then refuses every one, as a process killed there would;
/// and how many it was asked to take. Raising the limit revives it, as a restart would.
fn dying(limit: usize) -> (Store, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (asked, limit) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(limit)));
    let (counted, allowed) = (Arc::clone(&asked), Arc::clone(&limit));
    let store =
        FaultyStore::new(move |_: &Path| counted.fetch_add(1, Ordering::SeqCst) >= allowed.load(Ordering::SeqCst))
            .store();
    (store, asked, limit)
}

async fn run_sample(out: &Store, ruleset: &Ruleset) -> payroll_pipeline::Result<()> {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/data/sample");
    let request = RunRequest {
        run_id: new_run_id(),
        period: PERIOD,
        source: Source::Folder(sample),
        ruleset,
        out,
        org: None,
        locked: &[],
    };
    run(request, &Quiet).await.map(|_| ())
}

/// Rows of `table` as `payroll query` reads it; a store with no complete run has none.
async fn count(store: &Store, table: &str) -> i64 {
    let ctx = SessionContext::new();
    if let Err(e) = register_results(&ctx, store).await {
        assert!(e.to_string().contains("no complete run here yet"), "{e}");
        return 0;
    }
    let batches: Vec<RecordBatch> = ctx
        .sql(&format!("SELECT count(*) FROM {table}"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[tokio::test]
async fn a_run_killed_after_any_write_is_never_visible_and_its_rerun_counts_once() {
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/examples/india-contract.toml");
    let ruleset = Ruleset::load(&rules).unwrap();

    // How many writes a whole run makes.
    let (out, asked, _) = dying(usize::MAX);
    run_sample(&out, &ruleset).await.unwrap();
    let writes = asked.load(Ordering::SeqCst);
    assert!(
        writes >= 5,
        "results of two orgs, their manifests, the ruleset, the record: {writes}"
    );

    for allowed in 0..writes {
        let (out, _, limit) = dying(allowed);
        assert!(
            run_sample(&out, &ruleset).await.is_err(),
            "killed after {allowed} writes"
        );
        assert_eq!(count(&out, "results").await, 0, "killed after {allowed} writes");
        assert!(
            latest_run(&out, "2026-10").await.is_err(),
            "killed after {allowed} writes"
        );

        // Done again, it is counted once, whatever the first attempt left behind.
        limit.store(usize::MAX, Ordering::SeqCst);
        run_sample(&out, &ruleset).await.unwrap();
        assert_eq!(count(&out, "results").await, 80, "killed after {allowed} writes");
        assert_eq!(count(&out, "latest").await, 80, "killed after {allowed} writes");
    }
}
