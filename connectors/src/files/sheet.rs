//! A sheet (an uploaded file, or an input folder's attendance summary), read a row at a time:
//! the first non-empty row is the header, each row after it is handed over as text cells in the
//! header's order and then forgotten, so memory holds one row, not the file's rows. Rows are
//! numbered as the file shows them: a CSV's line, a spreadsheet's row as Excel numbers it. An
//! XLSX is measured unzipped before it is read: a few MB of zip can unzip to gigabytes.

use std::io::Cursor;
use std::ops::ControlFlow;

use calamine::{Data, DataRef, Reader, Xlsx, open_workbook_from_rs};

use super::csv::Lines;

/// How a sheet is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated lines of UTF-8.
    Csv,
    /// An Excel workbook: its first sheet.
    Xlsx,
}

/// Why a file could not be read as a whole: said in the upload's `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

/// What the reader is told: the header once, then each row.
pub trait Rows {
    /// The header's cells; an `Err` (a required column missing) stops reading with that message.
    fn header(&mut self, columns: &[String]) -> Result<(), String>;
    /// A data row, and how far into the file it is (`done` of `of`, in bytes or rows, an
    /// estimate); `Break` stops reading (more rows than allowed) with that message.
    fn row(&mut self, number: u64, cells: &[String], done: u64, of: u64) -> ControlFlow<String>;
}

/// Reads `bytes` to the end or until `rows` stops it.
pub fn read(format: Format, bytes: &[u8], rows: &mut dyn Rows) -> Result<(), Unreadable> {
    match format {
        Format::Csv => csv(bytes, rows),
        Format::Xlsx => unpanicked(|| {
            measure(bytes, UNZIPPED)?;
            xlsx(bytes, rows)
        }),
    }
}

/// The most an XLSX may hold unzipped: 100,000 rows of workers take about 60 MB.
const UNZIPPED: u64 = 512 << 20;

/// Unzips every part of an XLSX, counting, before calamine reads it: calamine keeps the shared
/// strings whole, and a few MB of zip can unzip to gigabytes (the sizes a zip declares may lie,
/// so the bytes themselves are counted).
fn measure(bytes: &[u8], limit: u64) -> Result<(), Unreadable> {
    let bad = |e: &dyn std::fmt::Display| Unreadable(format!("not a readable XLSX file: {e}"));
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(&e))?;
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let part = archive.by_index(i).map_err(|e| bad(&e))?;
        let left = limit.saturating_sub(total);
        let read =
            std::io::copy(&mut std::io::Read::take(part, left + 1), &mut std::io::sink()).map_err(|e| bad(&e))?;
        total += read;
        if total > limit {
            return Err(Unreadable(format!(
                "the XLSX unzips to more than {} MiB: save the sheet again, or split it",
                limit >> 20
            )));
        }
    }
    Ok(())
}

fn csv(bytes: &[u8], rows: &mut dyn Rows) -> Result<(), Unreadable> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = ::csv::ByteRecord::new();
    let mut header: Option<usize> = None;
    let mut cells: Vec<String> = Vec::new();
    let (mut start, mut lines) = (0usize, Lines::after(&[]));
    loop {
        let read = reader.read_byte_record(&mut record);
        let end = reader.position().byte() as usize;
        let text = bytes.get(start..end).unwrap_or_default();
        start = end;
        let line = lines.next(text);
        match read {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(Unreadable(format!("line {line}: not CSV the reader understands ({e})")));
            }
        }
        if record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        let text = |c: &[u8]| String::from_utf8_lossy(c).trim().to_string();
        match header {
            None => {
                let columns: Vec<String> = record.iter().map(text).collect();
                header = Some(columns.len());
                rows.header(&columns).map_err(Unreadable)?;
            }
            Some(width) => {
                if record.iter().any(|c| std::str::from_utf8(c).is_err()) {
                    // Still handed over (lossily): the row is refused by whoever checks it.
                    tracing::debug!(line, "a CSV row that is not UTF-8");
                }
                cells.clear();
                cells.extend(record.iter().take(width).map(text));
                cells.resize(width, String::new());
                if let ControlFlow::Break(why) = rows.row(line, &cells, end as u64, bytes.len() as u64) {
                    return Err(Unreadable(why));
                }
            }
        }
    }
    match header {
        Some(_) => Ok(()),
        None => Err(Unreadable(
            "the file is empty: expected a header row and rows under it".into(),
        )),
    }
}

/// The first sheet, cell by cell as it is stored (never as the sheet's bounding box: a cell at
/// A1 and one at XFD1048576 would make that 17 billion cells). Rows must come in order, as
/// every spreadsheet program writes them.
fn xlsx(bytes: &[u8], rows: &mut dyn Rows) -> Result<(), Unreadable> {
    let bad = |e: calamine::XlsxError| Unreadable(format!("not a readable XLSX file: {e}"));
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).map_err(bad)?;
    let first = workbook
        .sheet_names()
        .into_iter()
        .next()
        .ok_or_else(|| Unreadable("the workbook has no sheet".into()))?;
    let mut reader = workbook.worksheet_cells_reader(&first).map_err(bad)?;
    // The rows the sheet declares it spans: an estimate, for progress only.
    let last = u64::from(reader.dimensions().end.0) + 1;
    // The header's columns by position, once read.
    let mut header: Option<Vec<u32>> = None;
    let mut current: Option<u32> = None;
    let mut pending: Vec<(u32, String)> = Vec::new();
    let mut cells: Vec<String> = Vec::new();
    let mut flush = |row: u32, pending: &mut Vec<(u32, String)>, header: &mut Option<Vec<u32>>| {
        match header {
            None => {
                let columns: Vec<String> = pending.iter().map(|(_, text)| text.clone()).collect();
                *header = Some(pending.iter().map(|(column, _)| *column).collect());
                rows.header(&columns).map_err(Unreadable)?;
            }
            Some(positions) => {
                cells.clear();
                cells.resize(positions.len(), String::new());
                for (column, text) in pending.drain(..) {
                    if let Some(i) = positions.iter().position(|p| *p == column) {
                        cells[i] = text;
                    }
                }
                let number = u64::from(row) + 1;
                if let ControlFlow::Break(why) = rows.row(number, &cells, number, last.max(number)) {
                    return Err(Unreadable(why));
                }
            }
        }
        pending.clear();
        Ok(())
    };
    while let Some(cell) = reader.next_cell().map_err(bad)? {
        if *cell.get_value() == DataRef::Empty {
            continue;
        }
        let (row, column) = cell.get_position();
        let text = Data::from(cell.get_value().clone()).to_string().trim().to_string();
        if text.is_empty() {
            continue;
        }
        match current {
            Some(r) if r == row => {}
            Some(r) if row < r => {
                return Err(Unreadable(format!(
                    "row {} comes after row {} in the file: save the sheet again from a spreadsheet program",
                    u64::from(row) + 1,
                    u64::from(r) + 1
                )));
            }
            Some(r) => {
                flush(r, &mut pending, &mut header)?;
                current = Some(row);
            }
            None => current = Some(row),
        }
        pending.push((column, text));
    }
    if let Some(r) = current {
        flush(r, &mut pending, &mut header)?;
    }
    match header {
        Some(_) => Ok(()),
        None => Err(Unreadable(
            "the sheet is empty: expected a header row and rows under it".into(),
        )),
    }
}

/// calamine may panic on a malformed file where it should return an error (a cell reference of
/// seven letters overflowed in 0.38, tafia/calamine#709): the panic becomes the file's error.
fn unpanicked(read: impl FnOnce() -> Result<(), Unreadable>) -> Result<(), Unreadable> {
    caught(read).unwrap_or_else(|reason| {
        Err(Unreadable(format!(
            "not a readable XLSX file: its reader failed ({reason})"
        )))
    })
}

/// Runs a third-party reader that may panic on a malformed file: what it returned, or why it
/// panicked.
pub(crate) fn caught<T>(read: impl FnOnce() -> T) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        header: Vec<String>,
        rows: Vec<(u64, Vec<String>)>,
    }

    impl Rows for Collect {
        fn header(&mut self, columns: &[String]) -> Result<(), String> {
            self.header = columns.to_vec();
            Ok(())
        }

        fn row(&mut self, number: u64, cells: &[String], _: u64, _: u64) -> ControlFlow<String> {
            self.rows.push((number, cells.to_vec()));
            ControlFlow::Continue(())
        }
    }

    #[test]
    fn csv_rows_are_numbered_by_line_and_padded_to_the_header() {
        let mut got = Collect::default();
        read(Format::Csv, b"a,b\n1,2\n\n3\n\"x\ny\",4,5\n", &mut got).unwrap();
        assert_eq!(got.header, ["a", "b"]);
        assert_eq!(
            got.rows,
            vec![
                (2, vec!["1".into(), "2".into()]),
                (4, vec!["3".into(), String::new()]),
                (5, vec!["x\ny".into(), "4".into()]),
            ]
        );
    }

    #[test]
    fn xlsx_rows_are_numbered_as_excel_shows_them() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(1, 1, "a").unwrap();
        sheet.write_string(1, 2, "b").unwrap();
        sheet.write_number(2, 1, 1500.5).unwrap();
        sheet.write_string(4, 2, "late").unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let mut got = Collect::default();
        read(Format::Xlsx, &bytes, &mut got).unwrap();
        assert_eq!(got.header, ["a", "b"]);
        assert_eq!(
            got.rows,
            vec![
                (3, vec!["1500.5".into(), String::new()]),
                (5, vec![String::new(), "late".into()]),
            ]
        );
    }

    #[test]
    fn a_zip_that_unzips_to_too_much_is_refused() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "a").unwrap();
        for row in 1..2000 {
            sheet
                .write_string(row, 0, format!("{row}{}", "x".repeat(1000)))
                .unwrap();
        }
        let bytes = book.save_to_buffer().unwrap();
        assert!(measure(&bytes, 64 << 20).is_ok());
        let refused = measure(&bytes, 1 << 20).unwrap_err();
        assert!(refused.0.contains("unzips to more than 1 MiB"), "{refused:?}");
    }

    #[test]
    fn garbage_is_unreadable_not_a_panic() {
        for bytes in [&b"PK\x03\x04 not really a zip"[..], b""] {
            assert!(read(Format::Xlsx, bytes, &mut Collect::default()).is_err());
        }
        assert!(read(Format::Csv, b"", &mut Collect::default()).is_err());
    }
}
