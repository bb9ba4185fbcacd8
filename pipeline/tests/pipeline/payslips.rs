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

/// Payslips print org ids, in English.
static NO_ORGS: payroll_pipeline::payslips::PayslipOrgs = std::collections::BTreeMap::new();

/// A store whose writes to paths ending with `fail_suffix` fail.
fn store(fail_suffix: &'static str) -> Store {
    FaultyStore::new(move |path: &Path| path.as_ref().ends_with(fail_suffix)).store()
}

fn sample_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/data/sample")
}

/// Runs the reference sample (or a copy of it in `sample`) into `store`, as `payroll run` does.
async fn run_sample(
    store: &Store,
    ruleset: &Ruleset,
    sample: &std::path::Path,
) -> (RunRecord, Vec<datafusion::arrow::array::RecordBatch>) {
    let folder = files::read_folder(sample, &mut DeadLetters::default(), &Quiet).unwrap();
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
        Sample::run_from(store, &sample_dir()).await
    }

    async fn run_from(store: Store, sample: &std::path::Path) -> Sample {
        let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/examples/india-contract.toml");
        let ruleset = Ruleset::load(rules).unwrap();
        let (run, results) = run_sample(&store, &ruleset, sample).await;
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
            orgs: &NO_ORGS,
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

/// The text of a PDF in the store, as `pdftotext` reads it.
async fn pdf_text(store: &Store, path: &str) -> String {
    let bytes = store.get(&Path::from(path)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payslip.pdf");
    std::fs::write(&file, &bytes).unwrap();
    let output = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext is needed: apt-get install poppler-utils (scripts/test does)");
    String::from_utf8(output.stdout).unwrap()
}

/// Each worker reads their payslip in their language: the master's (W000000: `hi`), else their
/// org's (org1: Marathi, bilingual), else English; the frame's words from the payslips' catalogue and the
/// component labels from the ruleset's `[labels.*]` tables.
#[tokio::test]
async fn each_worker_reads_their_payslip_in_their_language() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(sample_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let workers = std::fs::read_to_string(sample_dir().join("workers.csv")).unwrap();
    let with_language: String = workers
        .lines()
        .enumerate()
        .map(|(i, line)| match i {
            0 => format!("{line},language\n"),
            _ if line.starts_with("W000000,") => format!("{line},hi\n"),
            _ => format!("{line},\n"),
        })
        .collect();
    std::fs::write(dir.path().join("workers.csv"), with_language).unwrap();

    let sample = Sample::run_from(store("never"), dir.path()).await;
    let orgs: payroll_pipeline::payslips::PayslipOrgs = [(
        "org1".to_string(),
        payroll_pipeline::payslips::PayslipOrg {
            name: None,
            language: Some(payroll_payslips::Language::Mr),
            layout: payroll_payslips::Layout::Bilingual,
        },
    )]
    .into();
    let batch = Batch {
        orgs: &orgs,
        ..sample.batch()
    };
    batch.write(&sample.results, &Quiet).await.unwrap();

    let run = "period=2026-10/run_id=20261101T000000Z-0001";
    let hindi = pdf_text(&sample.store, &format!("payslips/org_id=org0/{run}/W000000.pdf")).await;
    for wanted in [
        "अक्टूबर 2026 की वेतन पर्ची",
        "मूल वेतन",
        "भविष्य निधि (EPF)",
        "शुद्ध वेतन",
        "रुपये",
        "मात्र",
    ] {
        assert!(hindi.contains(wanted), "`{wanted}` not in W000000's payslip:\n{hindi}");
    }
    assert!(!hindi.contains("Basic wage"), "org0 has the single layout:\n{hindi}");
    // org1 chose the bilingual layout: English beneath the Marathi labels.
    let marathi = pdf_text(&sample.store, &format!("payslips/org_id=org1/{run}/W000001.pdf")).await;
    for wanted in [
        "ऑक्टोबर 2026 चे वेतन पत्रक",
        "मूळ वेतन",
        "निव्वळ वेतन",
        "फक्त",
        "Basic wage",
        "Net Pay",
    ] {
        assert!(
            marathi.contains(wanted),
            "`{wanted}` not in W000001's payslip:\n{marathi}"
        );
    }
    let english = pdf_text(&sample.store, &format!("payslips/org_id=org0/{run}/W000002.pdf")).await;
    for wanted in ["Payslip for October 2026", "Basic wage", "Net Pay", "Rupees"] {
        assert!(
            english.contains(wanted),
            "`{wanted}` not in W000002's payslip:\n{english}"
        );
    }
}
