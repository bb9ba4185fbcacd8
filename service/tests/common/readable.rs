//! A response body as the program that opens it shows it: PDF text, spreadsheet cells, Parquet
//! values, anything else as text. A scan for personal data reads these, not the raw bytes, where
//! compression (PDF streams, zipped XLSX, Parquet pages) hides what a reader sees. The same
//! readings as `cli/tests/cli/personal_data.rs` gives the files a run writes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use calamine::{Reader, Xlsx, open_workbook_from_rs};
use datafusion::arrow::util::display::array_value_to_string;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The formats decoded, by the extension of the path they were served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pdf,
    Xlsx,
    Parquet,
    Text,
}

impl Format {
    /// By the path's last segment, ignoring a query: `.../payslips/W000000.pdf?x=1` is a PDF.
    pub fn of(path: &str) -> Format {
        let path = path.split('?').next().unwrap_or_default();
        let name = path.rsplit('/').next().unwrap_or_default();
        match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("pdf") => Format::Pdf,
            Some("xlsx") => Format::Xlsx,
            Some("parquet") => Format::Parquet,
            _ => Format::Text,
        }
    }
}

/// `bytes` served from `path`, as its reader shows them. A body that does not decode as its
/// format fails the test: a scan of nothing would pass.
pub fn as_read(path: &str, bytes: &[u8]) -> String {
    match Format::of(path) {
        Format::Pdf => super::pdf_text(bytes),
        Format::Xlsx => xlsx_text(bytes),
        Format::Parquet => parquet_text(bytes),
        Format::Text => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Every used cell of every sheet, one a line.
pub fn xlsx_text(bytes: &[u8]) -> String {
    let mut workbook: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .unwrap_or_else(|e| panic!("not an XLSX workbook: {e}"));
    let mut text = String::new();
    for (_, range) in workbook.worksheets() {
        for cell in range.used_cells() {
            text.push_str(&cell.2.to_string());
            text.push('\n');
        }
    }
    text
}

/// Every value of every column, one a line.
pub fn parquet_text(bytes: &[u8]) -> String {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
        .unwrap_or_else(|e| panic!("not a Parquet file: {e}"))
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
