//! No bank account or PAN in clear outside the worker master: a month run with payslips, a
//! refused worker row and logs at their most talkative, then every file the run wrote read as
//! its reader shows it (PDF text, spreadsheet cells, Parquet values, JSON text) and its log.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use calamine::{Reader, Xlsx, open_workbook};
use common::*;
use datafusion::arrow::util::display::array_value_to_string;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The refused row: a `weekly` pay basis, with an account and PAN no valid row has.
const BAD_ROW: &str = "W900000,org0,S00,Bad Worker,M,MH,unskilled,Helper,weekly,783.00,true,true,1,2,998877665544,IFSC,ZYXWV9876K,2026-01-01,";

#[test]
fn no_bank_account_or_pan_leaves_the_master_in_clear() {
    let inputs = sample_copy();
    let mut workers = std::fs::OpenOptions::new()
        .append(true)
        .open(inputs.path().join("workers.csv"))
        .unwrap();
    writeln!(workers, "{BAD_ROW}").unwrap();
    let secrets = secrets(&inputs.path().join("workers.csv"));
    assert_eq!(secrets.len(), 81 * 2);

    let out = tempfile::tempdir().unwrap();
    let args = run_args(inputs.path(), &out.path().display().to_string(), &["--payslips"]);
    let output = Command::new(env!("CARGO_BIN_EXE_payroll"))
        .args(&args)
        .env("PAYROLL_LOG", "trace")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(log.contains("dead letter"), "logging was on: {log}");

    let mut read = vec![("the log".to_string(), log)];
    for file in files(out.path()) {
        read.push((file.display().to_string(), as_read(&file)));
    }
    let kinds = |ext: &str| read.iter().filter(|(name, _)| name.ends_with(ext)).count();
    assert!(kinds(".pdf") >= 80 && kinds(".xlsx") >= 80 && kinds(".parquet") >= 2 && kinds(".ndjson") >= 1);

    for (name, text) in &read {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{secret} in clear in {name}");
        }
    }
    // Masked, they are there: the check above looked where they would be.
    let shown = |ext: &str, masked: &str| read.iter().any(|(n, t)| n.ends_with(ext) && t.contains(masked));
    for ext in [".pdf", ".xlsx", ".parquet"] {
        assert!(shown(ext, "XXXXXXXX0832") && shown(ext, "XXXXX0001X"), "{ext}");
    }
    assert!(shown(".ndjson", "XXXXXXXX5544") && shown(".ndjson", "XXXXX9876X"));
}

/// Every bank account and PAN of a workers file.
fn secrets(workers_csv: &Path) -> Vec<String> {
    let mut reader = csv::Reader::from_path(workers_csv).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (account, pan) = (column("bank_account"), column("pan"));
    reader
        .records()
        .flat_map(|r| {
            let r = r.unwrap();
            [r[account].to_string(), r[pan].to_string()]
        })
        .collect()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        match path.is_dir() {
            true => found.extend(files(&path)),
            false => found.push(path),
        }
    }
    found
}

/// A file's content as the program that opens it shows it.
fn as_read(file: &Path) -> String {
    match file.extension().and_then(|e| e.to_str()) {
        Some("pdf") => {
            let output = Command::new("pdftotext").arg(file).arg("-").output();
            let output = output.expect("pdftotext is needed: apt-get install poppler-utils (scripts/test does)");
            String::from_utf8(output.stdout).unwrap()
        }
        Some("xlsx") => {
            let mut workbook: Xlsx<_> = open_workbook(file).unwrap();
            let mut text = String::new();
            for (_, range) in workbook.worksheets() {
                for cell in range.used_cells() {
                    text.push_str(&cell.2.to_string());
                    text.push('\n');
                }
            }
            text
        }
        Some("parquet") => {
            let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap())
                .unwrap()
                .build()
                .unwrap();
            let mut text = String::new();
            for batch in reader {
                let batch = batch.unwrap();
                for column in batch.columns() {
                    for row in 0..batch.num_rows() {
                        text.push_str(&array_value_to_string(column, row).unwrap());
                        text.push('\n');
                    }
                }
            }
            text
        }
        _ => String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned(),
    }
}
