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

    /// The bytes the record spans.
    pub fn text(&self) -> &'a [u8] {
        self.text
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
            newlines_before: memchr::memchr_iter(b'\n', before).count() as u64,
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
    Ok(Csv::open(path, bytes, required)?.records())
}

/// A CSV file whose header is read: its records are read in one run ([`Csv::records`]) or in
/// several, one per core ([`Csv::runs`]).
pub struct Csv<'a> {
    headers: Arc<Headers>,
    bytes: &'a [u8],
    /// Where the first record starts.
    body: usize,
}

impl<'a> Csv<'a> {
    /// Reads the header; a missing required column fails the whole file, naming it.
    pub fn open(path: &Path, bytes: &'a [u8], required: &[&str]) -> Result<Csv<'a>> {
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
        Ok(Csv {
            headers,
            bytes,
            body: reader.position().byte() as usize,
        })
    }

    /// Every record, in the file's order.
    pub fn records(&self) -> impl Iterator<Item = Record<'a>> + 'a + use<'a> {
        self.run(self.body..self.bytes.len())
    }

    /// The records in about `parts` runs of whole records, in the file's order, each read on
    /// its own: a million-row master is read on every core. A run starts only after a line end
    /// before the file's first quote: a quoted cell may hold a line end, and only before any
    /// quote is every line end certain to end a record.
    pub fn runs(&self, parts: usize) -> Vec<impl Iterator<Item = Record<'a>> + 'a + use<'a>> {
        let unquoted = memchr::memchr(b'"', self.bytes).unwrap_or(self.bytes.len());
        let length = self.bytes.len() - self.body;
        let mut starts = vec![self.body];
        for part in 1..parts.max(1) {
            let target = (self.body + length * part / parts).max(starts[starts.len() - 1]);
            let Some(end) = self.bytes.get(target..unquoted).and_then(|b| memchr::memchr(b'\n', b)) else {
                break;
            };
            if target + end + 1 < self.bytes.len() {
                starts.push(target + end + 1);
            }
        }
        starts.dedup();
        let ends = starts.iter().skip(1).copied().chain([self.bytes.len()]);
        starts
            .iter()
            .zip(ends)
            .map(|(&start, end)| self.run(start..end))
            .collect()
    }

    /// The record spanning `text`, on `line`, read again: what a row refused after it was
    /// read shows in its dead letter.
    pub fn record(&self, line: u64, text: &'a [u8]) -> Record<'a> {
        let mut reader = ::csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(text);
        let mut record = ::csv::StringRecord::new();
        let cells = match reader.read_record(&mut record) {
            Ok(_) => Ok(record),
            Err(e) => Err(format!("malformed CSV: {e}")),
        };
        Record {
            line,
            text,
            headers: Arc::clone(&self.headers),
            cells,
        }
    }

    /// The records of `range`, which starts a record.
    fn run(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = Record<'a>> + 'a + use<'a> {
        let bytes = &self.bytes[range.clone()];
        let mut reader = ::csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(bytes);
        let headers = Arc::clone(&self.headers);
        let mut lines = Lines::after(&self.bytes[..range.start]);
        let mut start = 0;
        // Each record is sized as the one before it was: grown from empty, its vectors were
        // reallocated several times a row (a million workers' master is a million records).
        // The one before, not the largest: one huge malformed line must not size every record
        // after.
        let fields = headers.names.len();
        let mut room = (0, fields);
        std::iter::from_fn(move || {
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
        })
    }
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

    /// A record as a run reads it: its line, text and cells (or why it has none). The text
    /// without the line end before it, which a CRLF file's record spans or not, as the run
    /// starts.
    type Read = (u64, String, Result<Vec<String>, String>);

    fn read(records: impl Iterator<Item = Record<'static>>) -> Vec<Read> {
        records
            .map(|r| {
                let cells = r.cells.as_ref().map(|c| c.iter().map(str::to_string).collect());
                let text = String::from_utf8_lossy(r.text).trim().to_string();
                (r.line, text, cells.map_err(String::clone))
            })
            .collect()
    }

    #[test]
    fn runs_read_every_record_as_one_run_does() {
        let path = Path::new("workers.csv");
        let files: [&'static [u8]; 5] = [
            b"worker_id,org_id\nW1,org1\nW2,org1\r\n\n \nW3,org2\nW4,org2\nW5,org3",
            b"worker_id,org_id\r\nW1,org1\r\nW2,org1\r\nW3,org1\r\n",
            b"worker_id,org_id\nW1,org1\nW2,\"two\nlines\"\nW3,\"a\nb\nc\"\nW4,x\n",
            b"worker_id,org_id\nW1,\"quoted\"\nW2,x\"y,\"q\nr\"\nW3,z\nW4,w\n",
            b"worker_id,org_id\n",
        ];
        for bytes in files {
            let file = Csv::open(path, bytes, &["worker_id"]).unwrap();
            let whole = read(file.records());
            for parts in 1..8 {
                let runs = file.runs(parts);
                assert!(runs.len() <= parts.max(1));
                assert_eq!(read(runs.into_iter().flatten()), whole, "{parts} runs of {bytes:?}");
            }
        }
        // Split where it can be: before the first quote.
        let bytes = files[0];
        assert_eq!(Csv::open(path, bytes, &[]).unwrap().runs(3).len(), 3);
    }

    #[test]
    fn a_record_read_again_is_the_record_read() {
        let files: [&'static [u8]; 2] = [
            b"worker_id,bank_account\nW1,12345678901\nW2,\"1\n2\"\n",
            b"worker_id,bank_account\r\nW1,12345678901\r\n\r\nW2,\"1\r\n2\"\r\n",
        ];
        for bytes in files {
            let file = Csv::open(Path::new("workers.csv"), bytes, &[]).unwrap();
            for r in file.records() {
                let again = file.record(r.line, r.text);
                assert_eq!((again.line, again.original()), (r.line, r.original()));
                assert_eq!(again.cells.ok(), r.cells.ok(), "{:?}", r.text);
            }
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
