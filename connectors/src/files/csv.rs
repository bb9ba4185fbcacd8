//! CSV files with a header row: each record as named cells, with its line and original text
//! (its bank account and PAN cells masked, as everything outside the worker master shows them).

use std::collections::HashMap;

use foldhash::fast::RandomState;
use std::path::Path;
use std::sync::Arc;

use payroll_engine::Invalid;
use payroll_engine::masking::{SENSITIVE_FIELDS, mask_field};

use crate::error::{Error, Result};

/// A file's header row: its names in order, and each name's column (of a name given twice, the
/// later column), looked up for every cell read: a fast hash, since a header is the file's own.
struct Headers {
    names: Vec<String>,
    columns: HashMap<String, usize, RandomState>,
    /// Whether a column holds bank accounts or PANs, to be masked in the original line.
    sensitive: bool,
}

/// A record of the file. Its original line is made only when asked for (a dead letter): a
/// million-row master is read without writing each row out again.
pub struct Record<'a> {
    pub line: u64,
    text: &'a [u8],
    headers: Arc<Headers>,
    /// The cells, or why the line could not be split into cells.
    cells: Result<::csv::StringRecord, String>,
}

impl<'a> Record<'a> {
    /// The cells by column name, or why the line has none.
    pub fn cells(&self) -> Result<Cells<'_>, Invalid> {
        match &self.cells {
            Ok(record) => Ok(Cells {
                headers: &self.headers,
                record,
            }),
            Err(reason) => Err(Invalid::record(reason.clone())),
        }
    }

    /// The org a master row (a site or a worker) says it belongs to, if it says.
    pub fn org_id(&self) -> Option<&str> {
        let org = self.cells().ok()?.get("org_id")?;
        (!org.is_empty()).then_some(org)
    }

    /// The line as the file has it, its bank account and PAN cells masked.
    pub fn original(&self) -> String {
        match &self.cells {
            Ok(record) if self.headers.sensitive => masked_line(&self.headers.names, record),
            _ => String::from_utf8_lossy(self.text).trim().to_string(),
        }
    }
}

/// A record's cells by column name.
pub struct Cells<'r> {
    headers: &'r Headers,
    record: &'r ::csv::StringRecord,
}

impl<'r> Cells<'r> {
    pub fn get(&self, name: &str) -> Option<&'r str> {
        self.record.get(*self.headers.columns.get(name)?)
    }

    /// Every named cell the record has, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&'r str, &'r str)> + use<'r> {
        let record = self.record;
        self.headers
            .columns
            .iter()
            .filter_map(move |(name, &column)| Some((name.as_str(), record.get(column)?)))
    }
}

/// As the JSON object of its named cells (what a master row published to a topic is).
impl serde::Serialize for Cells<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
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
        self.newlines_before += memchr::memchr_iter(b'\n', text).count() as u64;
        line
    }
}

/// The records of `bytes`; a missing required column fails the whole file, naming it.
pub fn records<'a>(path: &Path, bytes: &'a [u8], required: &[&str]) -> Result<impl Iterator<Item = Record<'a>> + 'a> {
    let mut reader = ::csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| Error::input(path.display(), e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if let Some(absent) = required.iter().find(|c| !names.iter().any(|h| h == *c)) {
        return Err(Error::input(
            path.display(),
            format!("line 1: missing column `{absent}`; expected {}", required.join(",")),
        ));
    }
    let headers = Arc::new(Headers {
        sensitive: names.iter().any(|h| SENSITIVE_FIELDS.contains(&h.as_str())),
        columns: names.iter().enumerate().map(|(i, name)| (name.clone(), i)).collect(),
        names,
    });
    let mut start = reader.position().byte() as usize;
    let mut lines = Lines::after(&bytes[..start]);
    // Each record is sized as the one before it was: grown from empty, its vectors were
    // reallocated several times a row (a million workers' master is a million records). The
    // one before, not the largest: one huge malformed line must not size every record after.
    let fields = headers.names.len();
    let mut room = (0, fields);
    Ok(std::iter::from_fn(move || {
        loop {
            let mut record = ::csv::StringRecord::with_capacity(room.0, room.1);
            let read = reader.read_record(&mut record);
            room = (record.as_slice().len(), fields.max(record.len()));
            let end = reader.position().byte() as usize;
            let text = &bytes[start..end];
            start = end;
            let line = lines.next(text);
            let cells = match read {
                Ok(false) => return None,
                Ok(true) if is_blank(text) => continue,
                Ok(true) => Ok(record),
                Err(e) => Err(format!("malformed CSV: {e}")),
            };
            return Some(Record {
                line,
                text,
                headers: Arc::clone(&headers),
                cells,
            });
        }
    }))
}

/// Whether a record's text is only white space (Unicode's, as `str::trim` takes it). Decided
/// at its first byte that is not ASCII white space, for nearly every record its first.
fn is_blank(text: &[u8]) -> bool {
    match text.iter().find(|&&b| !(b.is_ascii() && char::from(b).is_whitespace())) {
        None => true,
        Some(b) if b.is_ascii() => false,
        Some(_) => String::from_utf8_lossy(text).trim().is_empty(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// As `str::trim` sees the text, whatever its bytes: every pair of bytes, and records with
    /// Unicode spaces, invalid UTF-8 and a cell after white space.
    #[test]
    fn a_blank_record_is_one_trim_leaves_empty() {
        let trimmed_empty = |text: &[u8]| String::from_utf8_lossy(text).trim().is_empty();
        for a in 0..=u8::MAX {
            for b in 0..=u8::MAX {
                assert_eq!(is_blank(&[a, b]), trimmed_empty(&[a, b]), "{a:#x} {b:#x}");
            }
        }
        for text in [
            &b""[..],
            b" \t\r\n\x0b\x0c ",
            " \u{a0}\u{2003}\n".as_bytes(),
            b" \x85 \xa0",
            b"  \n  W1,org1",
            "\u{3000}\u{a0}x".as_bytes(),
        ] {
            assert_eq!(is_blank(text), trimmed_empty(text), "{text:?}");
        }
    }

    #[test]
    fn a_record_starts_on_its_line_past_blank_lines() {
        let mut lines = Lines::after(b"worker_id,org_id\n");
        assert_eq!(lines.next(b"W1,org1\n"), 2);
        assert_eq!(lines.next(b"\n \nW2,\"two\nlines\"\n"), 5);
        assert_eq!(lines.next(b"W3,org1"), 7);
    }
}
