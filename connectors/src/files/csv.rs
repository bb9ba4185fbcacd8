//! CSV files with a header row: each record as named cells, with its line and original text
//! (its bank account and PAN cells masked, as everything outside the worker master shows them).

use std::collections::HashMap;
use std::path::Path;

use payroll_engine::Invalid;
use payroll_engine::masking::{SENSITIVE_FIELDS, mask_field};

use crate::error::{Error, Result};

pub struct Record {
    pub line: u64,
    pub original: String,
    /// The named cells, or why the line could not be split into cells.
    cells: Result<HashMap<String, String>, String>,
}

impl Record {
    /// The cells by column name, or why the line has none.
    pub fn cells(&self) -> Result<&HashMap<String, String>, Invalid> {
        self.cells.as_ref().map_err(|reason| Invalid::record(reason.clone()))
    }

    /// The org a master row (a site or a worker) says it belongs to, if it says.
    pub fn org_id(&self) -> Option<&str> {
        let org = self.cells.as_ref().ok()?.get("org_id")?.as_str();
        (!org.is_empty()).then_some(org)
    }
}

/// Which line of the file each record starts on, counted from the bytes each record spans: the
/// CSV reader's own positions point at the previous line's end and pass over blank lines.
pub(crate) struct Lines {
    newlines_before: u64,
}

impl Lines {
    /// Counting from the end of `before` (the header, or nothing).
    pub(crate) fn after(before: &[u8]) -> Lines {
        Lines {
            newlines_before: before.iter().filter(|&&b| b == b'\n').count() as u64,
        }
    }

    /// The line the record spanning `text` starts on, past the blank lines before it.
    pub(crate) fn next(&mut self, text: &[u8]) -> u64 {
        let leading = text
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .filter(|&&b| b == b'\n')
            .count() as u64;
        let line = self.newlines_before + leading + 1;
        self.newlines_before += text.iter().filter(|&&b| b == b'\n').count() as u64;
        line
    }
}

/// The records of `bytes`; a missing required column fails the whole file, naming it.
pub fn records<'a>(path: &Path, bytes: &'a [u8], required: &[&str]) -> Result<impl Iterator<Item = Record> + 'a> {
    let mut reader = ::csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::input(path.display(), e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if let Some(absent) = required.iter().find(|c| !headers.iter().any(|h| h == *c)) {
        return Err(Error::input(
            path.display(),
            format!("line 1: missing column `{absent}`; expected {}", required.join(",")),
        ));
    }
    let sensitive = headers.iter().any(|h| SENSITIVE_FIELDS.contains(&h.as_str()));
    let mut record = ::csv::StringRecord::new();
    let mut start = reader.position().byte() as usize;
    let mut lines = Lines::after(&bytes[..start]);
    Ok(std::iter::from_fn(move || {
        loop {
            let read = reader.read_record(&mut record);
            let end = reader.position().byte() as usize;
            let text = &bytes[start..end];
            start = end;
            let line = lines.next(text);
            let mut original = String::from_utf8_lossy(text).trim().to_string();
            match read {
                Ok(false) => return None,
                Ok(true) if original.is_empty() => continue,
                Ok(true) => {
                    if sensitive {
                        original = masked_line(&headers, &record);
                    }
                    let cells = headers.iter().cloned().zip(record.iter().map(str::to_string)).collect();
                    return Some(Record {
                        line,
                        original,
                        cells: Ok(cells),
                    });
                }
                Err(e) => {
                    return Some(Record {
                        line,
                        original,
                        cells: Err(format!("malformed CSV: {e}")),
                    });
                }
            }
        }
    }))
}

/// `record` written back as a CSV line with its sensitive cells masked.
fn masked_line(headers: &[String], record: &::csv::StringRecord) -> String {
    let cells = record
        .iter()
        .enumerate()
        .map(|(i, cell)| headers.get(i).map_or(cell.into(), |h| mask_field(h, cell)).into_owned());
    let mut writer = ::csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    // Writing to a Vec cannot fail; the scan in `DeadLetters::push` stays the net under it.
    let _ = writer.write_record(cells);
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim_end().to_string()
}
