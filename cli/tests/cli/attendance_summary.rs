//! Sites whose time system already aggregates upload one row per worker and period instead of
//! punches: CSV, XLSX or Parquet give the same pay, and a bad row is reported by row and column.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::sync::Arc;

use common::*;
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use payroll_connectors::files::SUMMARY_COLUMNS as COLUMNS;

/// The summary rows of expected.csv, as text, with one cell optionally broken.
fn summary_rows(break_row: Option<(usize, &str, &str)>) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_path(sample().join("expected.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .enumerate()
        .map(|(i, r)| {
            let r = r.unwrap();
            COLUMNS
                .iter()
                .map(|c| match break_row {
                    Some((row, column, value)) if row == i && column == *c => value.to_string(),
                    _ => r[headers.iter().position(|h| h == *c).unwrap()].to_string(),
                })
                .collect()
        })
        .collect()
}

/// The sample folder with its punches and leave replaced by a summary file.
fn folder_with_summary(format: &str, rows: &[Vec<String>]) -> tempfile::TempDir {
    let dir = sample_copy();
    std::fs::remove_file(dir.path().join("attendance.ndjson")).unwrap();
    std::fs::remove_file(dir.path().join("leave.ndjson")).unwrap();
    let path = dir.path().join(format!("attendance_summary.{format}"));
    match format {
        "csv" => {
            let mut w = csv::Writer::from_path(&path).unwrap();
            w.write_record(COLUMNS).unwrap();
            for row in rows {
                w.write_record(row).unwrap();
            }
            w.flush().unwrap();
        }
        "xlsx" => {
            let mut book = rust_xlsxwriter::Workbook::new();
            let sheet = book.add_worksheet();
            for (c, name) in COLUMNS.iter().enumerate() {
                sheet.write_string(0, c as u16, *name).unwrap();
            }
            for (r, row) in rows.iter().enumerate() {
                for (c, value) in row.iter().enumerate() {
                    // Numbers as spreadsheet numbers, the way HR's files hold them.
                    match value.parse::<f64>() {
                        Ok(n) if c >= 2 => sheet.write_number(r as u32 + 1, c as u16, n).unwrap(),
                        _ => sheet.write_string(r as u32 + 1, c as u16, value).unwrap(),
                    };
                }
            }
            book.save(&path).unwrap();
        }
        "parquet" => {
            let schema = Arc::new(Schema::new(
                COLUMNS
                    .iter()
                    .map(|c| Field::new(*c, DataType::Utf8, false))
                    .collect::<Vec<_>>(),
            ));
            let columns: Vec<ArrayRef> = (0..COLUMNS.len())
                .map(|c| Arc::new(StringArray::from(rows.iter().map(|r| r[c].clone()).collect::<Vec<_>>())) as ArrayRef)
                .collect();
            let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
            let mut w =
                parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
        }
        _ => unreachable!(),
    }
    dir
}

#[tokio::test]
async fn a_summary_in_any_format_gives_the_expected_pay() {
    for format in ["csv", "xlsx", "parquet"] {
        let inputs = folder_with_summary(format, &summary_rows(None));
        let out = tempfile::tempdir().unwrap();
        assert!(run(inputs.path(), out.path()).status.success(), "{format}");
        assert_pays_expected(out.path(), format).await;
    }
}

#[test]
fn a_bad_summary_row_is_reported_by_row_and_column() {
    for (format, position) in [("csv", ("line", 4)), ("xlsx", ("row", 4)), ("parquet", ("row", 3))] {
        let rows = summary_rows(Some((2, "present_days", "20.3")));
        let inputs = folder_with_summary(format, &rows);
        let out = tempfile::tempdir().unwrap();
        assert!(run(inputs.path(), out.path()).status.success(), "{format}");
        let text = std::fs::read_to_string(dead_letter_file(out.path(), "attendance_summary.ndjson")).unwrap();
        let letter: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(letter[position.0], position.1, "{format}: {letter}");
        assert_eq!(letter["field"], "present_days", "{format}");
        assert_eq!(
            letter["reason"], "`20.3`: expected a non-negative multiple of 0.5",
            "{format}"
        );
        assert_eq!(text.lines().count(), 1, "{format}");
    }
}
