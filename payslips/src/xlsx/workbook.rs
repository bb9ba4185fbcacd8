//! A payslip workbook written from a template: every part that is the same for every worker
//! (styles, theme, page setup, the package's relationships) is taken once per renderer from a
//! workbook rust_xlsxwriter writes, compressed once, and copied into each payslip's zip; only
//! the sheet's cells and the creation date are written per payslip.
//!
//! rust_xlsxwriter builds a whole workbook model, its styles and a shared-string table for
//! every file, and that was five times the cost of the PDF. The template keeps its output as
//! the reference: the styles the cells point at are the indices it gave each format.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{Cursor, Read};

use chrono::NaiveDate;
use flate2::Compression;
use rust_decimal::Decimal;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use crate::Error;
use crate::deflate::{Wrapping, deflate};
use crate::xlsx::fix_creation_date;

/// The sheet's part; everything else in the package is fixed but the creation date.
const SHEET: &str = "xl/worksheets/sheet1.xml";
const CORE: &str = "docProps/core.xml";
/// The creation date the template is written with, replaced by each payslip's.
const TEMPLATE_DATE: &str = "2000-01-01T00:00:00Z";
/// Level 1 is about twice as fast as the default 6; a payslip grows by about 1 KB.
const LEVEL: u32 = 1;

/// A cell style: the index of one of the sheet's formats among the template's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style(u32);

/// The package parts a payslip shares with every other, and where its own go.
pub(crate) struct Template {
    /// Zip entries, in the template's order; the sheet and core properties are written per
    /// payslip at their places.
    parts: Vec<Part>,
    /// The sheet's XML before `<dimension ref="`, between the dimension and `<sheetData>`, and
    /// after `</sheetData>` (page setup).
    sheet_head: String,
    sheet_middle: String,
    sheet_tail: String,
    core: String,
}

enum Part {
    Fixed(Entry),
    Sheet,
    Core,
}

/// A zip entry, compressed.
struct Entry {
    name: Cow<'static, str>,
    crc: u32,
    size: u32,
    deflated: Vec<u8>,
}

impl Template {
    /// Writes a workbook with `setup` applied to its sheet and a number cell per format in
    /// `formats` (A1 the first, A2 the next, ...: a number, as a blank cell in the default
    /// format would not be written), and keeps its parts; returns the style each format was
    /// given, in the same order.
    pub(crate) fn new(
        setup: impl FnOnce(&mut Worksheet) -> Result<(), XlsxError>,
        formats: &[Format],
    ) -> Result<(Template, Vec<Style>), Error> {
        let mut wb = Workbook::new();
        let template_day = NaiveDate::from_ymd_opt(2000, 1, 1).ok_or_else(|| unexpected("no template date"))?;
        fix_creation_date(&mut wb, template_day)?;
        let ws = wb.add_worksheet();
        setup(ws)?;
        for (row, format) in formats.iter().enumerate() {
            ws.write_number_with_format(row as u32, 0, 0, format)?;
        }
        let bytes = wb.save_to_buffer()?;
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unexpected)?;

        let mut parts = Vec::new();
        let (mut sheet, mut core) = (None, None);
        for i in 0..zip.len() {
            let mut file = zip.by_index(i).map_err(unexpected)?;
            let mut text = String::new();
            file.read_to_string(&mut text).map_err(unexpected)?;
            let name = file.name().map_err(unexpected)?.into_owned();
            match name.as_str() {
                SHEET => {
                    sheet = Some(text);
                    parts.push(Part::Sheet);
                }
                CORE => {
                    core = Some(text);
                    parts.push(Part::Core);
                }
                _ => parts.push(Part::Fixed(Entry::deflate(Cow::Owned(name), text.as_bytes())?)),
            }
        }
        let sheet = sheet.ok_or_else(|| unexpected("the template has no sheet"))?;
        let core = core.ok_or_else(|| unexpected("the template has no core properties"))?;
        if !core.contains(TEMPLATE_DATE) {
            return Err(unexpected("the template's core properties have no creation date"));
        }
        let styles = (1..=formats.len())
            .map(|row| style_of(&sheet, &format!("A{row}")))
            .collect::<Result<Vec<_>, _>>()?;

        let (head, rest) = sheet
            .split_once("<dimension ref=\"")
            .ok_or_else(|| unexpected("the template's sheet has no dimension"))?;
        let (_, rest) = rest
            .split_once('"')
            .ok_or_else(|| unexpected("the template's dimension is not closed"))?;
        let (middle, rest) = rest
            .split_once("<sheetData>")
            .ok_or_else(|| unexpected("the template's sheet has no data"))?;
        let (_, tail) = rest
            .split_once("</sheetData>")
            .ok_or_else(|| unexpected("the template's sheet data is not closed"))?;
        let template = Template {
            parts,
            sheet_head: head.to_string(),
            sheet_middle: middle.to_string(),
            sheet_tail: tail.to_string(),
            core,
        };
        Ok((template, styles))
    }

    /// The workbook of one sheet, created on `created` (`YYYY-MM-DD`).
    pub(crate) fn workbook(&self, sheet: &Sheet, created: &str) -> Result<Vec<u8>, Error> {
        let mut zip = ZipWriter::default();
        for part in &self.parts {
            match part {
                Part::Fixed(entry) => zip.add(entry),
                Part::Sheet => zip.add(&Entry::deflate(Cow::Borrowed(SHEET), self.sheet_xml(sheet).as_bytes())?),
                Part::Core => {
                    let core = self.core.replace(TEMPLATE_DATE, &format!("{created}T00:00:00Z"));
                    zip.add(&Entry::deflate(Cow::Borrowed(CORE), core.as_bytes())?)
                }
            }
        }
        Ok(zip.finish())
    }

    fn sheet_xml(&self, sheet: &Sheet) -> String {
        let mut cells = sheet.cells.iter().collect::<Vec<_>>();
        cells.sort_by_key(|c| (c.row, c.col));
        let last_row = cells.last().map_or(0, |c| c.row);
        let last_col = cells.iter().map(|c| c.col).max().unwrap_or(0);

        let mut xml = String::with_capacity(self.sheet_head.len() + self.sheet_tail.len() + 96 * cells.len());
        xml.push_str(&self.sheet_head);
        let _ = write!(xml, "<dimension ref=\"A1:{}{}\"", column(last_col), last_row + 1);
        xml.push_str(&self.sheet_middle);
        xml.push_str("<sheetData>");
        let mut open_row = None;
        for cell in cells {
            if open_row != Some(cell.row) {
                if open_row.is_some() {
                    xml.push_str("</row>");
                }
                let _ = write!(xml, "<row r=\"{}\"", cell.row + 1);
                if let Some((_, height)) = sheet.heights.iter().find(|(row, _)| *row == cell.row) {
                    let _ = write!(xml, " ht=\"{height}\" customHeight=\"1\"");
                }
                xml.push('>');
                open_row = Some(cell.row);
            }
            let _ = write!(
                xml,
                "<c r=\"{}{}\" s=\"{}\"",
                column(cell.col),
                cell.row + 1,
                cell.style.0
            );
            match &cell.value {
                Value::Text(text) => {
                    let space = if text.starts_with(['\t', '\n', ' ']) || text.ends_with(['\t', '\n', ' ']) {
                        " xml:space=\"preserve\""
                    } else {
                        ""
                    };
                    let _ = write!(xml, " t=\"inlineStr\"><is><t{space}>");
                    escape(&mut xml, text);
                    xml.push_str("</t></is></c>");
                }
                Value::Number(n) => {
                    let _ = write!(xml, "><v>{n}</v></c>");
                }
                Value::Blank => xml.push_str("/>"),
            }
        }
        if open_row.is_some() {
            xml.push_str("</row>");
        }
        xml.push_str("</sheetData>");
        if !sheet.merges.is_empty() {
            let _ = write!(xml, "<mergeCells count=\"{}\">", sheet.merges.len());
            for (row, first, last) in &sheet.merges {
                let _ = write!(
                    xml,
                    "<mergeCell ref=\"{}{r}:{}{r}\"/>",
                    column(*first),
                    column(*last),
                    r = row + 1
                );
            }
            xml.push_str("</mergeCells>");
        }
        xml.push_str(&self.sheet_tail);
        xml
    }
}

/// The cells of one payslip's sheet, in any order.
#[derive(Default)]
pub(crate) struct Sheet {
    cells: Vec<Cell>,
    /// Rows with a height of their own, in points.
    heights: Vec<(u32, u32)>,
    /// Merged ranges within one row: (row, first column, last column).
    merges: Vec<(u32, u16, u16)>,
}

struct Cell {
    row: u32,
    col: u16,
    style: Style,
    value: Value,
}

enum Value {
    Text(String),
    /// Written as the decimal it is: a reader parses it into its own number type.
    Number(Decimal),
    Blank,
}

impl Sheet {
    pub(crate) fn text(&mut self, row: u32, col: u16, text: impl Into<String>, style: Style) {
        self.cells.push(Cell {
            row,
            col,
            style,
            value: Value::Text(text.into()),
        });
    }

    pub(crate) fn number(&mut self, row: u32, col: u16, n: Decimal, style: Style) {
        self.cells.push(Cell {
            row,
            col,
            style,
            value: Value::Number(n.normalize()),
        });
    }

    /// `text` across columns `first..=last` of `row`, the other cells blank in the same style.
    pub(crate) fn merged_text(&mut self, row: u32, first: u16, last: u16, text: impl Into<String>, style: Style) {
        self.text(row, first, text, style);
        for col in first + 1..=last {
            self.cells.push(Cell {
                row,
                col,
                style,
                value: Value::Blank,
            });
        }
        self.merges.push((row, first, last));
    }

    pub(crate) fn row_height(&mut self, row: u32, points: u32) {
        self.heights.push((row, points));
    }
}

/// The style rust_xlsxwriter gave the template's cell `reference`: none written is the
/// default, 0.
fn style_of(sheet: &str, reference: &str) -> Result<Style, Error> {
    let cell = format!("<c r=\"{reference}\"");
    let missing = || unexpected(format!("the template has no cell {reference}"));
    let (_, rest) = sheet.split_once(&cell).ok_or_else(missing)?;
    let Some(rest) = rest.strip_prefix(" s=\"") else {
        return Ok(Style(0));
    };
    rest.split_once('"')
        .and_then(|(index, _)| index.parse().ok())
        .map(Style)
        .ok_or_else(missing)
}

/// Column letters of a 0-based index (A..Z, AA..; the sheet uses four).
fn column(col: u16) -> String {
    let mut n = u32::from(col) + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8_lossy(&letters).into_owned()
}

/// XML character data as Excel expects it: markup escaped, control characters (which XML 1.0
/// cannot carry) as `_xHHHH_`, and a literal `_xHHHH_` kept literal by escaping its underscore.
fn escape(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    for (i, ch) in text.char_indices() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' => out.push(ch),
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => {
                let _ = write!(out, "_x{:04X}_", u32::from(ch));
            }
            '_' if bytes.get(i + 1) == Some(&b'x')
                && bytes.get(i + 6) == Some(&b'_')
                && bytes
                    .get(i + 2..i + 6)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
            {
                out.push_str("_x005F_");
            }
            _ => out.push(ch),
        }
    }
}

fn unexpected(e: impl std::fmt::Display) -> Error {
    Error::Template(e.to_string())
}

impl Entry {
    fn deflate(name: Cow<'static, str>, data: &[u8]) -> Result<Entry, Error> {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        Ok(Entry {
            name,
            crc: crc.sum(),
            size: u32::try_from(data.len()).map_err(unexpected)?,
            deflated: deflate(data, Compression::new(LEVEL), Wrapping::Raw)?,
        })
    }
}

/// A zip archive of deflated entries, written as rust_xlsxwriter's are: no extra fields, the
/// DOS epoch as every entry's time, so the bytes depend on the content only.
#[derive(Default)]
struct ZipWriter {
    out: Vec<u8>,
    directory: Vec<u8>,
    entries: u16,
}

/// 1980-01-01 in DOS date form; time 00:00.
const DOS_DATE: u16 = (1 << 5) | 1;

impl ZipWriter {
    fn add(&mut self, entry: &Entry) {
        let offset = self.out.len() as u32;
        let name = entry.name.as_bytes();
        let deflated = entry.deflated.len() as u32;
        // Local file header.
        self.out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        self.common(entry, deflated, Target::Local);
        self.out.extend_from_slice(name);
        self.out.extend_from_slice(&entry.deflated);
        // Central directory entry.
        self.directory.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        self.directory.extend_from_slice(&20u16.to_le_bytes()); // made by
        self.common(entry, deflated, Target::Directory);
        self.directory.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        self.directory.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        self.directory.extend_from_slice(&offset.to_le_bytes());
        self.directory.extend_from_slice(name);
        self.entries += 1;
    }

    /// The fields local header and directory entry share, from "version needed" to "extra
    /// field length".
    fn common(&mut self, entry: &Entry, deflated: u32, target: Target) {
        let out = match target {
            Target::Local => &mut self.out,
            Target::Directory => &mut self.directory,
        };
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed: deflate
        out.extend_from_slice(&0u16.to_le_bytes()); // flags
        out.extend_from_slice(&8u16.to_le_bytes()); // method: deflate
        out.extend_from_slice(&0u16.to_le_bytes()); // time
        out.extend_from_slice(&DOS_DATE.to_le_bytes());
        out.extend_from_slice(&entry.crc.to_le_bytes());
        out.extend_from_slice(&deflated.to_le_bytes());
        out.extend_from_slice(&entry.size.to_le_bytes());
        out.extend_from_slice(&(entry.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra field length
    }

    fn finish(mut self) -> Vec<u8> {
        let directory_offset = self.out.len() as u32;
        let directory_size = self.directory.len() as u32;
        self.out.append(&mut self.directory);
        self.out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        self.out.extend_from_slice(&[0; 4]); // this disk, the directory's disk
        self.out.extend_from_slice(&self.entries.to_le_bytes());
        self.out.extend_from_slice(&self.entries.to_le_bytes());
        self.out.extend_from_slice(&directory_size.to_le_bytes());
        self.out.extend_from_slice(&directory_offset.to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes()); // comment length
        self.out
    }
}

enum Target {
    Local,
    Directory,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_lettered_as_in_excel() {
        assert_eq!(
            [0, 3, 25, 26, 27, 701, 702].map(column),
            ["A", "D", "Z", "AA", "AB", "ZZ", "AAA"]
        );
    }

    #[test]
    fn text_is_escaped_for_xml_and_excel() {
        let mut out = String::new();
        escape(&mut out, "a<b & c>\u{1}d_x0041_e_x00G_\tf");
        assert_eq!(out, "a&lt;b &amp; c&gt;_x0001_d_x005F_x0041_e_x00G_\tf");
    }
}
