//! A run's results written in parts, a chunk of workers at a time, read back as one: the same
//! rows, the same totals, the same payslips as written whole.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use object_store::memory::InMemory;
use payroll_connectors::results::{ResultsWriter, RunOutput, RunRecord, read_results, results_parts};
use payroll_connectors::{DeadLetters, Quiet, Store, files, layout};
use payroll_engine::run::{Manifest, RulesetRef};
use payroll_engine::{Calculator, InputsBatch};
use payroll_pipeline::payslips::{Formats, render};
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;

const PERIOD: PayPeriod = PayPeriod { year: 2026, month: 10 };

/// The reference sample's results, in batches of `rows` workers.
async fn sample_results(ruleset: &Ruleset, rows: usize) -> Vec<RecordBatch> {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/data/sample");
    let folder = files::read_folder(&sample, &mut DeadLetters::default(), &Quiet).unwrap();
    let all = folder.ledger.period_inputs(PERIOD);
    let version = ruleset.version_on(PERIOD.first_day()).unwrap();
    let mut results = Vec::new();
    for chunk in all.chunks(rows) {
        let mut inputs = InputsBatch::new(PERIOD, chunk.len());
        for (worker, site, period_inputs) in chunk {
            inputs.push(worker, site, period_inputs);
        }
        let calculation = Calculator::new(2)
            .compute(version, vec![inputs.finish()])
            .await
            .unwrap();
        results.extend(calculation.results);
    }
    results
}

/// Writes `chunks` (one `ResultsWriter::write` each) as one run.
async fn write(store: &Store, ruleset: &Ruleset, chunks: std::slice::Chunks<'_, RecordBatch>) -> RunRecord {
    let version = ruleset.version_on(PERIOD.first_day()).unwrap();
    let no_dead_letters = DeadLetters::default();
    let mut writer = ResultsWriter::new(
        store,
        RunOutput {
            run_id: "0193f0a0-0000-7000-8000-000000000001",
            period: "2026-10",
            created_at: "2026-11-01T00:00:00+00:00",
            ruleset_text: &ruleset.text,
            ruleset: RulesetRef::new(ruleset, version),
            version,
            inputs: Vec::new(),
            offsets: BTreeMap::new(),
            dead_letters: &no_dead_letters,
            unattributed_dead_letters: 0,
        },
    );
    for chunk in chunks {
        writer.write(chunk, Vec::new()).await.unwrap();
    }
    writer.finish().await.unwrap()
}

/// Every row of `batches` as its `column=value` cells, sorted: rows compared whole, so a figure
/// moved from one worker to another shows even where every total agrees.
fn rows_of(batches: &[RecordBatch]) -> Vec<String> {
    let mut rows = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        let cells: Vec<ArrayFormatter<'_>> = batch
            .columns()
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default()).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            let row: Vec<String> = schema
                .fields()
                .iter()
                .zip(&cells)
                .map(|(field, cells)| format!("{}={}", field.name(), cells.value(row)))
                .collect();
            rows.push(row.join(", "));
        }
    }
    rows.sort();
    rows
}

fn memory() -> Store {
    Store::new(Arc::new(InMemory::new()), "memory:///".parse().unwrap())
}

#[tokio::test]
async fn results_written_in_parts_read_back_as_when_written_whole() {
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/examples/india-contract.toml");
    let ruleset = Ruleset::load(&rules).unwrap();

    let whole = memory();
    let whole_record = write(&whole, &ruleset, sample_results(&ruleset, usize::MAX).await.chunks(1)).await;
    let parted = memory();
    let chunks = sample_results(&ruleset, 25).await;
    assert_eq!(chunks.len(), 4, "80 workers in chunks of 25");
    let parted_record = write(&parted, &ruleset, chunks.chunks(1)).await;

    assert_eq!(parted_record.rows, 80);
    assert_eq!(parted_record.totals, whole_record.totals);
    assert_eq!(parted_record.orgs, whole_record.orgs);
    let parted_rows = rows_of(&read_results(&parted, &parted_record).await.unwrap());
    let whole_rows = rows_of(&read_results(&whole, &whole_record).await.unwrap());
    assert_eq!(parted_rows.len(), 80);
    let only_in = |these: &[String], those: &[String]| -> Vec<String> {
        these.iter().filter(|r| !those.contains(r)).cloned().collect()
    };
    assert!(
        parted_rows == whole_rows,
        "rows only in parts: {:#?}\nrows only whole: {:#?}",
        only_in(&parted_rows, &whole_rows),
        only_in(&whole_rows, &parted_rows)
    );
    for org in &parted_record.orgs {
        let parts = results_parts(&parted, org, "2026-10", &parted_record.run_id)
            .await
            .unwrap();
        assert!(parts.len() > 1, "{org}: {parts:?}");
        let manifest: Manifest = serde_json::from_slice(
            &parted
                .get(&layout::manifest(org, "2026-10", &parted_record.run_id))
                .await
                .unwrap(),
        )
        .unwrap();
        let names: Vec<&str> = parts.iter().filter_map(|p| p.filename()).collect();
        assert_eq!(manifest.files, names, "{org}");
        let whole_manifest: Manifest = serde_json::from_slice(
            &whole
                .get(&layout::manifest(org, "2026-10", &whole_record.run_id))
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            (manifest.rows, &manifest.totals),
            (whole_manifest.rows, &whole_manifest.totals)
        );
    }

    // Payslips of a run in parts: one a worker, as ever.
    let formats = Formats { pdf: true, xlsx: false };
    let report = render(&parted, &parted_record, formats, &BTreeMap::new(), &Quiet)
        .await
        .unwrap();
    assert_eq!(report.payslips, 80);
}

#[tokio::test]
async fn a_large_share_of_an_org_is_encoded_on_every_core_and_reads_back_whole() {
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/examples/india-contract.toml");
    let ruleset = Ruleset::load(&rules).unwrap();
    // One org's rows, over and over, until a chunk of them passes the size that splits it.
    let sample = datafusion::arrow::compute::concat_batches(
        &sample_results(&ruleset, usize::MAX).await[0].schema(),
        &sample_results(&ruleset, usize::MAX).await,
    )
    .unwrap();
    let org = sample.column_by_name("org_id").unwrap();
    let first_org = datafusion::arrow::array::Scalar::new(org.slice(0, 1));
    let of_first_org = datafusion::arrow::compute::kernels::cmp::eq(org, &first_org).unwrap();
    let one_org = datafusion::arrow::compute::filter_record_batch(&sample, &of_first_org).unwrap();
    let copies = (1 << 16) / one_org.num_rows() + 1;
    let large = datafusion::arrow::compute::concat_batches(&one_org.schema(), &vec![one_org.clone(); copies]).unwrap();
    let batches: Vec<RecordBatch> = (0..large.num_rows())
        .step_by(8192)
        .map(|at| large.slice(at, 8192.min(large.num_rows() - at)))
        .collect();

    // Written in one go, as a run's chunk is: its calculator's batches.
    let split = memory();
    let split_record = write(&split, &ruleset, batches.chunks(batches.len())).await;
    let [org] = &split_record.orgs[..] else {
        panic!("one org: {:?}", split_record.orgs)
    };
    let parts = results_parts(&split, org, "2026-10", &split_record.run_id)
        .await
        .unwrap();
    let cores = payroll_engine::parallel::cores().min(batches.len());
    assert_eq!(parts.len(), cores, "a part file per core");

    // The same rows written a batch at a time: each below the size, a part file each.
    let small = memory();
    let small_record = write(&small, &ruleset, batches.chunks(1)).await;
    assert_eq!(split_record.rows, large.num_rows() as u64);
    assert_eq!(split_record.totals, small_record.totals);
    let split_rows = rows_of(&read_results(&split, &split_record).await.unwrap());
    assert!(split_rows == rows_of(&read_results(&small, &small_record).await.unwrap()));
}
