//! An upload's error report, CSV or XLSX: one line per fault, naming the row as the file shows
//! it, the column, the value (masked if it is a bank account or PAN) and why, followed by the
//! rejected row's original cells under the file's own header, so HR sees what they wrote beside
//! what is wrong with it.

use payroll_engine::spreadsheet::neutralise;
use rust_xlsxwriter::{Format as CellFormat, Workbook, XlsxError};

use crate::db::uploads::Rejection;
use crate::domain::uploads::Format;
use crate::error::{Error, Result};

/// The report's own columns, before the file's.
pub const COLUMNS: [&str; 4] = ["row", "column", "value", "reason"];

/// The report of the rejections `next` hands over a page at a time, in row order.
pub fn render(
    format: Format,
    columns: &[String],
    next: &mut dyn FnMut() -> Result<Option<Vec<Rejection>>>,
) -> Result<Vec<u8>> {
    match format {
        Format::Csv => csv(columns, next),
        Format::Xlsx => xlsx(columns, next).map_err(Error::from),
    }
}

/// The report's columns and then the file's own header, which is the uploader's text.
fn header(columns: &[String]) -> Vec<String> {
    COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain(columns.iter().map(|c| neutralise(c.as_str()).into_owned()))
        .collect()
}

fn csv(columns: &[String], next: &mut dyn FnMut() -> Result<Option<Vec<Rejection>>>) -> Result<Vec<u8>> {
    let internal = |e: ::csv::Error| Error::Internal(format!("the CSV error report: {e}"));
    let mut writer = ::csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    writer.write_record(header(columns)).map_err(internal)?;
    while let Some(page) = next()? {
        for rejection in &page {
            let row = rejection.row.to_string();
            for fault in &rejection.faults {
                // Every cell but the row number is the uploader's text, or quotes it.
                let fields: Vec<_> = [&row, &fault.column, &fault.value, &fault.reason]
                    .into_iter()
                    .chain(&rejection.cells)
                    .map(|cell| neutralise(cell.as_str()))
                    .collect();
                writer
                    .write_record(fields.iter().map(|cell| cell.as_bytes()))
                    .map_err(internal)?;
            }
        }
    }
    writer
        .into_inner()
        .map_err(|e| Error::Internal(format!("the CSV error report: {e}")))
}

fn xlsx(
    columns: &[String],
    next: &mut dyn FnMut() -> Result<Option<Vec<Rejection>>>,
) -> std::result::Result<Vec<u8>, XlsxReport> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory()?;
    sheet.set_name("errors")?;
    let bold = CellFormat::new().set_bold();
    for (i, name) in header(columns).iter().enumerate() {
        let i = column(i)?;
        sheet.write_string_with_format(0, i, name, &bold)?;
        sheet.set_column_width(i, if i == 3 { 60 } else { 16 })?;
    }
    let mut at: u32 = 1;
    while let Some(page) = next().map_err(XlsxReport::Source)? {
        for rejection in &page {
            for fault in &rejection.faults {
                // The row number as a number, so the sheet sorts and filters by it.
                sheet.write_number(at, 0, rejection.row as f64)?;
                // `write_string` never makes a formula; neutralised all the same, so the sheet
                // saved as CSV stays safe.
                sheet.write_string(at, 1, neutralise(fault.column.as_str()))?;
                sheet.write_string(at, 2, neutralise(fault.value.as_str()))?;
                sheet.write_string(at, 3, neutralise(fault.reason.as_str()))?;
                for (i, cell) in rejection.cells.iter().enumerate() {
                    // Text, as read: a PAN or a period stays what was typed.
                    sheet.write_string(at, column(COLUMNS.len() + i)?, neutralise(cell.as_str()))?;
                }
                at += 1;
            }
        }
    }
    Ok(book.save_to_buffer()?)
}

fn column(i: usize) -> std::result::Result<u16, XlsxReport> {
    u16::try_from(i).map_err(|_| XlsxReport::Xlsx(XlsxError::ParameterError("too many columns".into())))
}

#[derive(Debug, thiserror::Error)]
enum XlsxReport {
    #[error(transparent)]
    Xlsx(#[from] XlsxError),
    #[error(transparent)]
    Source(Error),
}

impl From<XlsxReport> for Error {
    fn from(e: XlsxReport) -> Self {
        match e {
            XlsxReport::Source(e) => e,
            XlsxReport::Xlsx(e) => Error::Internal(format!("the XLSX error report: {e}")),
        }
    }
}
