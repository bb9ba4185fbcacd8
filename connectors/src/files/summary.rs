//! Attendance summaries: one row per worker and period with the attendance part of the period
//! inputs, as CSV, XLSX or Parquet. Each row is decoded by the engine like any event; a bad row
//! becomes a dead letter naming its row (or line), column and reason.

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::Path;

use bytes::Bytes;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Type as PhysicalType;
use parquet::column::page::Page;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, FileReader, Length};
use parquet::file::serialized_reader::SerializedFileReader;
use payroll_engine::{Attendance, Invalid, Ledger};

use super::{csv, sheet};
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
                    .map(|c| c.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                original: r.original(),
            })
            .collect(),
        Some("xlsx") => xlsx_rows(path, bytes)?,
        Some("parquet") => unpanicked(path, "Parquet", || parquet_rows(path, bytes))?,
        _ => {
            return Err(Error::input(
                path.display(),
                "expected a .csv, .xlsx or .parquet attendance summary",
            ));
        }
    };
    let mut folded = 0;
    for row in rows {
        let org_id = row
            .cells
            .as_ref()
            .ok()
            .and_then(|cells| ledger.worker(cells.get("worker_id")?))
            .map(|worker| worker.org_id.clone());
        let applied = row.cells.and_then(|cells| {
            let (worker_id, period, summary) = Attendance::decode(|c| cells.get(c).map(String::as_str))?;
            // A row naming its org (an upload stamps the uploader's) is refused for another
            // org's worker; one without, as older files are, is the worker's.
            if let Some(org) = cells.get("org_id").map(|o| o.trim()).filter(|o| !o.is_empty()) {
                ledger.check_worker_org(&worker_id, org)?;
            }
            ledger.apply_summary(&worker_id, period, summary)
        });
        match applied {
            Ok(()) => folded += 1,
            Err(invalid) => dead_letters.push(name, row.position, invalid, &row.original, org_id.as_deref()),
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

/// Runs the Parquet reader, which may panic on a malformed file where it should return an
/// error: parquet 59 meets `unimplemented!` in a corrupt embedded Arrow schema (the XLSX reader
/// guards itself, [`sheet::read`]).
/// The panic becomes the file's error; the ledger is not touched until the rows are read.
fn unpanicked(path: &Path, format: &str, read: impl FnOnce() -> Result<Vec<Row>>) -> Result<Vec<Row>> {
    sheet::caught(read).unwrap_or_else(|reason| {
        Err(Error::input(
            path.display(),
            format!("not a readable {format} file: its reader failed ({reason})"),
        ))
    })
}

/// The first sheet, through the reader uploads use (measured unzipped first, read a cell at a
/// time): the first non-empty row is the header, rows are numbered as Excel shows them.
fn xlsx_rows(path: &Path, bytes: &[u8]) -> Result<Vec<Row>> {
    struct Collect {
        headers: Vec<String>,
        rows: Vec<Row>,
    }
    impl sheet::Rows for Collect {
        fn header(&mut self, columns: &[String]) -> std::result::Result<(), String> {
            match COLUMNS.iter().find(|c| !columns.iter().any(|h| h == *c)) {
                Some(absent) => Err(format!("missing column `{absent}`; expected {}", COLUMNS.join(","))),
                None => {
                    self.headers = columns.to_vec();
                    Ok(())
                }
            }
        }

        fn row(&mut self, number: u64, cells: &[String], _: u64, _: u64) -> ControlFlow<String> {
            // Spreadsheet numbers are floats; day counts like 20.5 print back exactly and are
            // validated as decimals by the engine, so no float reaches a computation.
            let cells: BTreeMap<String, String> = self.headers.iter().cloned().zip(cells.iter().cloned()).collect();
            self.rows.push(Row {
                position: Position::Row(number),
                original: json_original(&cells),
                cells: Ok(cells),
            });
            ControlFlow::Continue(())
        }
    }
    let mut collect = Collect {
        headers: Vec::new(),
        rows: Vec::new(),
    };
    sheet::read(sheet::Format::Xlsx, bytes, &mut collect).map_err(|e| Error::input(path.display(), e.0))?;
    Ok(collect.rows)
}

fn parquet_rows(path: &Path, bytes: &[u8]) -> Result<Vec<Row>> {
    let file = Bytes::copy_from_slice(bytes);
    check_file(&file)?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(EndIsAnError(file))?.build()?;
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

/// The file as parquet's reader reads it, but reading past its end is an error, not an empty
/// read: parquet 59 skips the bytes of a page header's unknown Thrift field by copying until it
/// has them or the input ends, and does not check which, so a header declaring a list of 2^31
/// doubles at the end of a 3 KB file spun for 19 s.
struct EndIsAnError(Bytes);

impl Length for EndIsAnError {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

impl ChunkReader for EndIsAnError {
    type T = EndIsAnErrorRead<<Bytes as ChunkReader>::T>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        self.0.get_read(start).map(EndIsAnErrorRead)
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.0.get_bytes(start, length)
    }
}

struct EndIsAnErrorRead<R>(R);

impl<R: Read> Read for EndIsAnErrorRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf)? {
            0 if !buf.is_empty() => Err(std::io::ErrorKind::UnexpectedEof.into()),
            read => Ok(read),
        }
    }
}

/// Checks what parquet 59 would trust before it reads a value. Its skipping of an unknown Thrift
/// field passes a list of booleans without reading a byte per element, so a list declaring 2^31
/// of them (8 bytes of file) in a page header spun for 23 s: the footer and every page header
/// are first walked with [`Thrift`], which does read them. And it sizes a column's dictionary
/// by the count its page header declares (a 3.5 KB file took 8.6 GB): a dictionary page is
/// refused when that count cannot fit in its bytes (a value takes at least its type's width).
fn check_file(file: &Bytes) -> parquet::errors::Result<()> {
    let corrupt = |what: String| ParquetError::General(format!("corrupt file: {what}"));
    let footer = file
        .len()
        .checked_sub(8)
        .filter(|&end| file[end + 4..] == *b"PAR1")
        .and_then(|end| {
            let length = u32::from_le_bytes([file[end], file[end + 1], file[end + 2], file[end + 3]]);
            file.get(end.checked_sub(usize::try_from(length).ok()?)?..end)
        });
    if let Some(footer) = footer {
        Thrift::new(footer)
            .fields()
            .ok_or_else(|| corrupt("its footer".into()))?;
    }
    let reader = SerializedFileReader::new(EndIsAnError(file.clone()))?;
    for group in 0..reader.num_row_groups() {
        let group = reader.get_row_group(group)?;
        for (index, column) in group.metadata().columns().iter().enumerate() {
            let (start, length) = column.byte_range();
            let mut at = start;
            while at < start.saturating_add(length) {
                let mut header = Thrift::new(
                    usize::try_from(at)
                        .ok()
                        .and_then(|at| file.get(at..))
                        .unwrap_or_default(),
                );
                let size = header.fields().flatten().and_then(|size| u64::try_from(size).ok());
                let size = size.ok_or_else(|| corrupt(format!("a page header of column {}", column.column_path())))?;
                at = at.saturating_add(header.at as u64).saturating_add(size);
            }
            let bits = match column.column_type() {
                PhysicalType::BOOLEAN => 1,
                PhysicalType::INT32 | PhysicalType::FLOAT | PhysicalType::BYTE_ARRAY => 32,
                PhysicalType::INT64 | PhysicalType::DOUBLE => 64,
                PhysicalType::INT96 => 96,
                PhysicalType::FIXED_LEN_BYTE_ARRAY => {
                    8 * u64::try_from(column.column_descr().type_length()).unwrap_or(0).max(1)
                }
            };
            let mut pages = group.get_column_page_reader(index)?;
            while let Some(page) = pages.get_next_page()? {
                if let Page::DictionaryPage { buf, num_values, .. } = page
                    && u64::from(num_values).saturating_mul(bits) > 8 * buf.len() as u64
                {
                    return Err(corrupt(format!(
                        "column {}: a dictionary page of {} bytes declares {num_values} values",
                        column.column_path(),
                        buf.len()
                    )));
                }
            }
        }
    }
    Ok(())
}

/// A walk over Thrift compact-protocol bytes that reads every byte it passes: a list, set or map
/// cannot declare more elements than bytes follow it (each element, a boolean too, takes one).
struct Thrift<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Thrift<'a> {
    /// Nesting deeper than this is refused, as parquet refuses it.
    const DEPTH: u8 = 64;

    fn new(bytes: &'a [u8]) -> Self {
        Thrift { bytes, at: 0 }
    }

    fn byte(&mut self) -> Option<u8> {
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn skip(&mut self, bytes: u64) -> Option<()> {
        self.at = self
            .at
            .checked_add(usize::try_from(bytes).ok()?)
            .filter(|&at| at <= self.bytes.len())?;
        Some(())
    }

    /// A struct's fields up to its stop; the value of its field 3 if that is an i32 (a page
    /// header's compressed size).
    fn fields(&mut self) -> Option<Option<i64>> {
        self.struct_at(Self::DEPTH)
    }

    fn struct_at(&mut self, depth: u8) -> Option<Option<i64>> {
        let depth = depth.checked_sub(1)?;
        let (mut id, mut field_3) = (0i64, None);
        loop {
            let header = self.byte()?;
            if header == 0 {
                return Some(field_3);
            }
            id = match header >> 4 {
                0 => zigzag(self.varint()?),
                delta => id + i64::from(delta),
            };
            match header & 0x0f {
                5 if id == 3 => field_3 = Some(zigzag(self.varint()?)),
                kind => self.value(kind, false, depth)?,
            }
        }
    }

    /// A value of compact type `kind`; a boolean takes a byte as an element, none as a field.
    fn value(&mut self, kind: u8, element: bool, depth: u8) -> Option<()> {
        match kind {
            1 | 2 if !element => Some(()),
            1..=3 => self.skip(1),
            4..=6 => self.varint().map(drop),
            7 => self.skip(8),
            8 => {
                let length = self.varint()?;
                self.skip(length)
            }
            9 | 10 => {
                let depth = depth.checked_sub(1)?;
                let header = self.byte()?;
                let size = match header >> 4 {
                    15 => self.varint()?,
                    size => u64::from(size),
                };
                (0..size).try_for_each(|_| self.value(header & 0x0f, true, depth))
            }
            11 => {
                let depth = depth.checked_sub(1)?;
                let size = self.varint()?;
                let kinds = if size > 0 { self.byte()? } else { 0 };
                (0..size).try_for_each(|_| {
                    self.value(kinds >> 4, true, depth)?;
                    self.value(kinds & 0x0f, true, depth)
                })
            }
            12 => self.struct_at(depth).map(drop),
            13 => self.skip(16),
            _ => None,
        }
    }
}

fn zigzag(value: u64) -> i64 {
    (value >> 1) as i64 ^ -((value & 1) as i64)
}

#[cfg(test)]
mod tests {
    use payroll_engine::{Site, Worker};

    use super::*;

    fn ledger() -> Ledger {
        let site = |id: &str, org: &str| {
            let fields = [
                ("site_id", id),
                ("org_id", org),
                ("name", "Pune"),
                ("state", "MH"),
                ("timezone", "Asia/Kolkata"),
                ("weekly_off", "SUN"),
            ];
            Site::decode(|f| fields.iter().find(|(k, _)| *k == f).map(|(_, v)| *v)).unwrap()
        };
        let mut ledger = Ledger::new([site("S1", "ORG1"), site("S2", "ORG2")]);
        let json = r#"{"worker_id": "W1", "org_id": "ORG1", "site_id": "S1", "name": "A", "gender": "F", "state": "MH",
            "skill": "skilled", "pay_basis": "daily", "rate": "700.00", "pf_applicable": "true",
            "esi_applicable": "true", "joined_on": "2025-01-01", "bank_account": "999999999999"}"#;
        ledger
            .upsert_worker(Worker::decode_json(json.as_bytes()).unwrap())
            .unwrap();
        ledger
    }

    #[test]
    fn a_row_naming_another_org_than_its_workers_is_a_dead_letter() {
        let csv = format!(
            "{},org_id\n\
             W1,2026-10,31,27,20,0,0,0,9600,0,0,ORG2\n\
             W1,2026-11,30,26,20,0,0,0,9600,0,0,ORG1\n\
             W1,2026-12,31,27,20,0,0,0,9600,0,0,\n",
            COLUMNS.join(",")
        );
        let (mut ledger, mut letters) = (ledger(), DeadLetters::default());
        let folded = fold("summary", Path::new("s.csv"), csv.as_bytes(), &mut ledger, &mut letters).unwrap();
        assert_eq!(folded, 2, "its own org's row and one naming no org");
        let refused: Vec<_> = letters
            .iter()
            .map(|l| (l.field.as_deref(), l.reason.as_str(), l.org_id.as_deref()))
            .collect();
        assert_eq!(
            refused,
            [(Some("worker_id"), "`W1` is not a worker of org `ORG2`", Some("ORG1"))],
            "the worker's own org sees the refusal"
        );
    }
}
