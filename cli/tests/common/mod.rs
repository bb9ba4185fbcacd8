//! Shared by the CLI's end-to-end tests: running the binary and comparing results with
//! `expected.csv`. Each test binary uses a part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use datafusion::arrow::util::display::array_value_to_string;
use payroll_connectors::Store;
use payroll_connectors::results::{latest_run, read_results};
use rust_decimal::Decimal;

pub const PERIOD: &str = "2026-10";

/// The dead letters a run wrote to `out` of input `source`; `out` must hold one run.
pub fn dead_letter_file(out: &Path, source: &str) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(out.join("dead-letter"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "dead letters of one run: {runs:?}");
    assert!(runs[0].file_name().unwrap().to_string_lossy().starts_with("run_id="));
    runs[0].join(source)
}

pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample")
}

pub fn rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/examples/india-contract.toml")
}

pub fn payroll<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_payroll"))
        .args(args)
        .output()
        .expect("the payroll binary runs");
    if !output.status.success() {
        let args: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
        eprintln!(
            "payroll {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// `payroll run` of the reference period with the example ruleset, and any `extra` flags.
pub fn run_args(inputs: &Path, out: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["run", "--period", PERIOD, "--inputs"].map(String::from).to_vec();
    args.push(inputs.display().to_string());
    args.extend([
        "--rules".into(),
        rules().display().to_string(),
        "--out".into(),
        out.into(),
    ]);
    args.extend(extra.iter().map(|e| e.to_string()));
    args
}

pub fn run(inputs: &Path, out: &Path) -> Output {
    payroll(&run_args(inputs, &out.display().to_string(), &[]))
}

/// The latest run's results in `out`, every org.
pub async fn results(out: &Path) -> Vec<RecordBatch> {
    let store = Store::open(&out.display().to_string()).unwrap();
    let run = latest_run(&store, PERIOD).await.unwrap();
    read_results(&store, &run).await.unwrap()
}

/// Asserts that the latest run in `out` pays the sample's `expected.csv` to the paisa.
pub async fn assert_pays_expected(out: &Path, context: &str) {
    let differences = differences(&results(out).await, &sample().join("expected.csv"));
    assert!(
        differences.is_empty(),
        "{context}: {} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

/// Every column of `expected.csv` against the results: decimals by value, to the paisa.
/// Returns one line per difference.
pub fn differences(results: &[RecordBatch], expected_csv: &Path) -> Vec<String> {
    differences_in(results, expected_csv, None)
}

/// As [`differences`], comparing only `columns` of `expected.csv` when given (for a table that
/// holds some of them, such as the payroll register); every row is still expected.
pub fn differences_in(results: &[RecordBatch], expected_csv: &Path, columns: Option<&[&str]>) -> Vec<String> {
    let mut rows: HashMap<String, (&RecordBatch, usize)> = HashMap::new();
    for batch in results {
        let ids = batch.column_by_name("worker_id").unwrap().as_string::<i32>();
        for i in 0..batch.num_rows() {
            rows.insert(ids.value(i).to_string(), (batch, i));
        }
    }
    let mut reader = csv::Reader::from_path(expected_csv).unwrap();
    let headers = reader.headers().unwrap().clone();
    let mut differences = Vec::new();
    let mut expected_rows = 0;
    for record in reader.records() {
        let record = record.unwrap();
        expected_rows += 1;
        let worker = &record[0];
        let Some((batch, row)) = rows.get(worker) else {
            differences.push(format!("{worker}: no result row"));
            continue;
        };
        for (column, want) in headers.iter().zip(record.iter()) {
            if columns.is_some_and(|only| !only.contains(&column)) {
                continue;
            }
            let Some(array) = batch.column_by_name(column) else {
                differences.push(format!("results have no column `{column}`"));
                continue;
            };
            let same = match array.data_type() {
                DataType::Decimal128(_, scale) if array.is_valid(*row) => {
                    let got = Decimal::from_i128_with_scale(
                        array.as_primitive::<Decimal128Type>().value(*row),
                        *scale as u32,
                    );
                    want.parse::<Decimal>().is_ok_and(|w| w == got)
                }
                _ => array_value_to_string(array, *row).unwrap() == want,
            };
            if !same {
                differences.push(format!(
                    "{worker} {column}: expected {want}, got {}",
                    array_value_to_string(array, *row).unwrap()
                ));
            }
        }
    }
    if rows.len() != expected_rows {
        differences.push(format!("{} result rows, {expected_rows} expected", rows.len()));
    }
    differences
}

/// A copy of the sample folder to modify.
pub fn sample_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(sample()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}
