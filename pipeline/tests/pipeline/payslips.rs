//! A run's payslips as a batch, against stores that misbehave: a write that fails is recorded
//! in the manifest and the others still land; a batch run again after losing files writes only
//! what is missing or wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::FaultyStore;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use payroll_connectors::results::{ResultsWriter, RunOutput, RunRecord};
use payroll_connectors::{DeadLetters, Quiet, Store, files};
use payroll_engine::run::RulesetRef;
use payroll_engine::{Calculator, InputsBatch};
use payroll_pipeline::payslips::{Batch, Formats};
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;

const PERIOD: PayPeriod = PayPeriod { year: 2026, month: 10 };

/// Payslips print org ids.
static NO_NAMES: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();

/// A store whose writes to paths ending with `fail_suffix` fail.
fn store(fail_suffix: &'static str) -> Store {
    FaultyStore::new(move |path: &Path| path.as_ref().ends_with(fail_suffix)).store()
}

/// Runs the reference sample into `store`, as `payroll run` does.
async fn run_sample(store: &Store, ruleset: &Ruleset) -> (RunRecord, Vec<datafusion::arrow::array::RecordBatch>) {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/data/sample");
    let folder = files::read_folder(&sample, &mut DeadLetters::default(), &Quiet).unwrap();
    let mut inputs = InputsBatch::new(PERIOD, 100);
    for (worker, site, period_inputs) in folder.ledger.period_inputs(PERIOD) {
        inputs.push(worker, site, &period_inputs);
    }
    let version = ruleset.version_on(PERIOD.first_day()).unwrap();
    let results = Calculator::new(2)
        .compute(version, vec![inputs.finish()])
        .await
        .unwrap()
        .results;
    let no_dead_letters = DeadLetters::default();
    let output = RunOutput {
        run_id: "20261101T000000Z-0001",
        period: "2026-10",
        created_at: "2026-11-01T00:00:00+00:00",
        ruleset_text: &ruleset.text,
        ruleset: RulesetRef::new(ruleset, version),
        version,
        inputs: folder.inputs,
        offsets: Default::default(),
        dead_letters: &no_dead_letters,
        unattributed_dead_letters: 0,
    };
    let mut writer = ResultsWriter::new(store, output);
    writer.write(&results, Vec::new()).await.unwrap();
    (writer.finish().await.unwrap(), results)
}

/// The reference sample, run into a store, ready for its payslips.
struct Sample {
    store: Store,
    ruleset: Ruleset,
    run: RunRecord,
    results: Vec<datafusion::arrow::array::RecordBatch>,
}

impl Sample {
    async fn run(store: Store) -> Sample {
        let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/examples/india-contract.toml");
        let ruleset = Ruleset::load(rules).unwrap();
        let (run, results) = run_sample(&store, &ruleset).await;
        Sample {
            store,
            ruleset,
            run,
            results,
        }
    }

    fn batch(&self) -> Batch<'_> {
        Batch {
            store: &self.store,
            run: &self.run,
            version: self.ruleset.version_on(PERIOD.first_day()).unwrap(),
            formats: Formats { pdf: true, xlsx: true },
            org_names: &NO_NAMES,
        }
    }
}

#[tokio::test]
async fn a_failed_write_is_recorded_and_the_rest_of_the_batch_lands() {
    let sample = Sample::run(store("W000001.pdf")).await;
    let report = sample.batch().write(&sample.results, &Quiet).await.unwrap();

    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        (failures[0].worker_id.as_str(), failures[0].file.as_str()),
        ("W000001", "W000001.pdf")
    );
    assert!(
        failures[0].error.contains("injected write failure"),
        "{}",
        failures[0].error
    );
    // 80 workers, 2 files each, a register per org, less the one that failed.
    assert_eq!(report.written, 80 * 2 + 2 - 1);
    let org1 = report.manifests.iter().find(|m| m.org_id == "org1").unwrap();
    assert!(org1.files.iter().any(|f| f.name == "W000001.xlsx"));
    assert!(!org1.files.iter().any(|f| f.name == "W000001.pdf"));
}

#[tokio::test]
async fn a_batch_run_again_writes_only_what_is_missing_or_wrong() {
    let sample = Sample::run(store("never")).await;
    let (store, batch) = (&sample.store, sample.batch());
    let first = batch.write(&sample.results, &Quiet).await.unwrap();
    assert_eq!((first.written, first.kept), (162, 0));

    let dir = Path::from("payslips/org_id=org0/period=2026-10/run_id=20261101T000000Z-0001");
    store.delete(&dir.clone().join("W000000.pdf")).await.unwrap();
    store.delete(&dir.clone().join("W000002.xlsx")).await.unwrap();
    store.delete(&dir.clone().join("register.xlsx")).await.unwrap();
    // A torn or foreign file of the right size must not pass for the real one.
    let size = store
        .head(&dir.clone().join("W000004.pdf"))
        .await
        .unwrap()
        .unwrap()
        .size as usize;
    store
        .put(&dir.clone().join("W000004.pdf"), vec![b'x'; size])
        .await
        .unwrap();

    let second = batch.write(&sample.results, &Quiet).await.unwrap();
    assert_eq!((second.written, second.kept), (4, 158));
    assert_eq!(second.manifests, first.manifests, "the same files, byte for byte");
    let inner = store.object_store();
    let restored = inner
        .get(&dir.clone().join("W000004.pdf"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(restored.starts_with(b"%PDF"));
}
