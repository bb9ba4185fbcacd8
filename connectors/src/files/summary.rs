//! Attendance summaries: one row per worker and period with the attendance part of the period
//! inputs, as CSV, XLSX or Parquet. Each row is decoded by the engine like any event; a bad row
//! becomes a dead letter naming its row (or line), column and reason.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use payroll_engine::{Attendance, Invalid, Ledger};

use super::csv;
use crate::dead_letter::{DeadLetters, Position};
use crate::error::{Error, Result};

/// The columns a summary must have (`days_in_period` may be added, and is then checked).
pub const COLUMNS: [&str; 11] = [
    "worker_id",
    "period",
    "employment_days",
    "working_days",
    "present_days",
    "paid_leave_days",
    "unpaid_leave_days",
    "lop_days",
    "worked_minutes",
    "ot_hours",
    "missed_punch_days",
];

/// A summary row as named text cells.
struct Row {
    position: Position,
    cells: Result<BTreeMap<String, String>, Invalid>,
    original: String,
}

pub fn fold(name: &str, path: &Path, bytes: &[u8], ledger: &mut Ledger, dead_letters: &mut DeadLetters) -> Result<u64> {
    let rows = match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => csv::records(path, bytes, &COLUMNS)?
            .map(|r| Row {
                position: Position::Line(r.line),
                cells: r
                    .cells()
                    .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                original: r.original,
            })
            .collect(),
        Some("xlsx") => xlsx_rows(path, bytes)?,
        Some("parquet") => parquet_rows(path, bytes)?,
        _ => {
            return Err(Error::input(
                path.display(),
                "expected a .csv, .xlsx or .parquet attendance summary",
            ));
        }
    };
    let mut folded = 0;
    for row in rows {
        let applied = row.cells.and_then(|cells| {
            let (worker_id, period, summary) = Attendance::decode(|c| cells.get(c).map(String::as_str))?;
            ledger.apply_summary(&worker_id, period, summary)
        });
        match applied {
            Ok(()) => folded += 1,
            Err(invalid) => dead_letters.push(name, row.position, invalid, &row.original),
        }
    }
    Ok(folded)
}

fn check_columns(path: &Path, headers: &[String]) -> Result<()> {
    match COLUMNS.iter().find(|c| !headers.iter().any(|h| h == *c)) {
        Some(absent) => Err(Error::input(
            path.display(),
            format!("missing column `{absent}`; expected {}", COLUMNS.join(",")),
        )),
        None => Ok(()),
    }
}

fn json_original(cells: &BTreeMap<String, String>) -> String {
    serde_json::to_string(cells).unwrap_or_default()
}

/// The first sheet; the first non-empty row is the header. Rows are numbered as Excel shows them.
fn xlsx_rows(path: &Path, bytes: &[u8]) -> Result<Vec<Row>> {
    let bad = |e: calamine::XlsxError| Error::input(path.display(), e.to_string());
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).map_err(bad)?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| Error::input(path.display(), "the workbook has no sheet"))?
        .map_err(bad)?;
    let first_row = range.start().map_or(0, |(row, _)| row) as u64;
    let mut rows = range.rows();
    let headers: Vec<String> = rows
        .next()
        .unwrap_or_default()
        .iter()
        .map(|c| c.to_string().trim().to_string())
        .collect();
    check_columns(path, &headers)?;
    Ok(rows
        .enumerate()
        .filter(|(_, cells)| cells.iter().any(|c| *c != Data::Empty))
        .map(|(i, cells)| {
            // Spreadsheet numbers are floats; day counts like 20.5 print back exactly and are
            // validated as decimals by the engine, so no float reaches a computation.
            let cells: BTreeMap<String, String> = headers
                .iter()
                .cloned()
                .zip(cells.iter().map(|c| c.to_string().trim().to_string()))
                .collect();
            Row {
                position: Position::Row(first_row + i as u64 + 2),
                original: json_original(&cells),
                cells: Ok(cells),
            }
        })
        .collect())
}

fn parquet_rows(path: &Path, bytes: &[u8]) -> Result<Vec<Row>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))?.build()?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch?;
        let headers: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        check_columns(path, &headers)?;
        let columns = batch
            .columns()
            .iter()
            .map(|c| cast(c, &DataType::Utf8))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..batch.num_rows() {
            let cells: BTreeMap<String, String> = headers
                .iter()
                .zip(&columns)
                .filter(|(_, c)| c.is_valid(i))
                .map(|(h, c)| (h.clone(), c.as_string::<i32>().value(i).to_string()))
                .collect();
            rows.push(Row {
                position: Position::Row(rows.len() as u64 + 1),
                original: json_original(&cells),
                cells: Ok(cells),
            });
        }
    }
    Ok(rows)
}
