//! The payroll register of a run: one row per worker, one column per
//! component, totals, and a summary by organisation and site.

use std::collections::BTreeMap;

use payroll_engine::spreadsheet::neutralise;
use rust_decimal::Decimal;
use rust_xlsxwriter::{Color, Format, FormatBorder, Formula, Workbook, Worksheet, XlsxError, column_number_to_name};

use crate::Error;
use crate::model::{Register, RegisterRow};
use crate::xlsx::{RUPEES, excel_number};

/// Columns before the component amounts on the register sheet.
const KEY_COLUMNS: [&str; 4] = ["Worker ID", "Name", "Org", "Site"];

struct Formats {
    head: Format,
    text: Format,
    amount: Format,
    total: Format,
    total_amount: Format,
    title: Format,
}

/// The register workbook (XLSX bytes) of rows in memory: see [`RegisterWriter`].
pub fn render_register(r: &Register) -> Result<Vec<u8>, Error> {
    let mut writer = RegisterWriter::new(r)?;
    for row in &r.rows {
        writer.add(row)?;
    }
    writer.finish()
}

/// The register workbook, written as rows come: sheet "Register" with a frozen header, an
/// autofilter and a totals row, and sheet "Summary" by org and site. The register sheet is kept
/// in constant memory (rust_xlsxwriter spills its rows to a temporary file) and the summary is
/// running totals, so a million workers' register never holds their rows at once.
pub struct RegisterWriter {
    workbook: Workbook,
    formats: Formats,
    head: Register,
    /// Rows written so far.
    rows: u32,
    totals: Vec<Decimal>,
    /// Per (org, site): workers and component totals.
    groups: BTreeMap<(String, String), (u64, Vec<Decimal>)>,
}

impl RegisterWriter {
    /// A register with the title and columns of `head` (its rows are not read).
    pub fn new(head: &Register) -> Result<RegisterWriter, Error> {
        let mut workbook = Workbook::new();
        crate::xlsx::fix_creation_date(&mut workbook, head.generated_on)?;
        // The register is deflated once all rows are in, on one core while the other waits:
        // at the default level 6 that was 0.7 s of a 100k-worker finalization, at the end of
        // it. Level 1, as the payslips' workbooks.
        workbook.set_zip_compression_level(1);
        let formats = Formats::new();
        let ws = workbook.add_worksheet_with_constant_memory()?;
        ws.set_name("Register")?;
        // Row formatting first: a constant-memory sheet writes a row out once it moves past it.
        ws.set_row_height(0, 30)?;
        let labels = KEY_COLUMNS
            .iter()
            .copied()
            .chain(head.columns.iter().map(|c| c.label.as_str()));
        for (col, label) in labels.enumerate() {
            ws.write_string_with_format(0, col as u16, neutralise(label), &formats.head)?;
        }
        Ok(RegisterWriter {
            workbook,
            formats,
            head: Register {
                period_label: head.period_label.clone(),
                run_id: head.run_id.clone(),
                generated_on: head.generated_on,
                columns: head.columns.clone(),
                rows: Vec::new(),
            },
            rows: 0,
            totals: vec![Decimal::ZERO; head.columns.len()],
            groups: BTreeMap::new(),
        })
    }

    pub fn add(&mut self, row: &RegisterRow) -> Result<(), Error> {
        let want = self.head.columns.len();
        if row.amounts.len() != want {
            return Err(Error::RegisterShape {
                worker_id: row.worker_id.clone(),
                got: row.amounts.len(),
                want,
            });
        }
        let ws = self.workbook.worksheet_from_index(0)?;
        let n = self.rows + 1;
        let keys = [&row.worker_id, &row.name, &row.org_id, &row.site];
        for (col, key) in keys.into_iter().enumerate() {
            // `write_string` never makes a formula; neutralised all the same, so the sheet
            // saved as CSV stays safe.
            ws.write_string(n, col as u16, neutralise(key.as_str()))?;
        }
        let first_amount = KEY_COLUMNS.len() as u16;
        for (j, amount) in row.amounts.iter().enumerate() {
            ws.write_number_with_format(n, first_amount + j as u16, excel_number(*amount), &self.formats.amount)?;
        }
        self.rows += 1;
        add_to(&mut self.totals, &row.amounts);
        let group = self
            .groups
            .entry((row.org_id.clone(), row.site.clone()))
            .or_insert_with(|| (0, vec![Decimal::ZERO; want]));
        group.0 += 1;
        add_to(&mut group.1, &row.amounts);
        Ok(())
    }

    pub fn finish(mut self) -> Result<Vec<u8>, Error> {
        let ws = self.workbook.worksheet_from_index(0)?;
        finish_register_sheet(ws, &self.head, self.rows, &self.totals, &self.formats)?;
        let ws = self.workbook.add_worksheet();
        summary_sheet(ws, &self.head, &self.groups, &self.formats)?;
        Ok(self.workbook.save_to_buffer()?)
    }
}

impl Formats {
    fn new() -> Formats {
        Formats {
            head: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_font_color(Color::RGB(0x1C3660))
                .set_background_color(Color::RGB(0xE2E9F4))
                .set_border_bottom(FormatBorder::Thin),
            text: Format::new(),
            amount: Format::new().set_num_format(RUPEES),
            total: Format::new().set_bold().set_border_top(FormatBorder::Thin),
            total_amount: Format::new()
                .set_bold()
                .set_border_top(FormatBorder::Thin)
                .set_num_format(RUPEES),
            title: Format::new().set_bold().set_font_size(13),
        }
    }
}

fn add_to(totals: &mut [Decimal], amounts: &[Decimal]) {
    for (t, a) in totals.iter_mut().zip(amounts) {
        *t += a;
    }
}

/// The totals row under the `rows` written, the frozen header, the filter and the widths.
fn finish_register_sheet(
    ws: &mut Worksheet,
    r: &Register,
    rows: u32,
    totals: &[Decimal],
    f: &Formats,
) -> Result<(), XlsxError> {
    let first_amount = KEY_COLUMNS.len() as u16;
    // SUBTOTAL(9, ...) so the totals follow the autofilter when a user narrows
    // the rows; the cached result is the exact Decimal sum, which is what a
    // reader that does not recalculate (or a test) sees.
    let last = rows;
    let total_row = last + 1;
    ws.write_string_with_format(total_row, 0, "Total", &f.total)?;
    for col in 1..first_amount {
        ws.write_blank(total_row, col, &f.total)?;
    }
    for (j, total) in totals.iter().enumerate() {
        let col = first_amount + j as u16;
        let letter = column_number_to_name(col);
        let formula =
            Formula::new(format!("=SUBTOTAL(9,{letter}2:{letter}{})", last + 1)).set_result(total.to_string());
        ws.write_formula_with_format(total_row, col, formula, &f.total_amount)?;
    }

    let last_col = first_amount + r.columns.len() as u16 - 1;
    ws.set_freeze_panes(1, 2)?;
    ws.autofilter(0, 0, last.max(1), last_col)?;
    for (col, width) in [12.0, 24.0, 10.0, 16.0].into_iter().enumerate() {
        ws.set_column_width(col as u16, width)?;
    }
    for col in first_amount..=last_col {
        ws.set_column_width(col, 15)?;
    }
    Ok(())
}

/// One row per (org, site) with headcount and component totals, a subtotal
/// per org and a grand total; orgs and sites in sorted order.
fn summary_sheet(
    ws: &mut Worksheet,
    r: &Register,
    groups: &BTreeMap<(String, String), (u64, Vec<Decimal>)>,
    f: &Formats,
) -> Result<(), XlsxError> {
    ws.set_name("Summary")?;
    let title = format!("Payroll register, {} (run {})", r.period_label, r.run_id);
    ws.write_string_with_format(0, 0, title, &f.title)?;

    let header = ["Org", "Site", "Workers"]
        .into_iter()
        .chain(r.columns.iter().map(|c| c.label.as_str()));
    for (col, label) in header.enumerate() {
        ws.write_string_with_format(2, col as u16, neutralise(label), &f.head)?;
    }
    let width = r.columns.len();
    let totals = (&f.total, &f.total_amount);
    let mut all = (0, vec![Decimal::ZERO; width]);
    let mut n = 3;
    let mut orgs = groups.iter().peekable();
    while let Some(((org, _), _)) = orgs.peek() {
        let org = org.clone();
        let mut org_total = (0, vec![Decimal::ZERO; width]);
        while let Some(((_, site), group)) = orgs.next_if(|((o, _), _)| *o == org) {
            write_summary_row(ws, n, (&org, site), group, (&f.text, &f.amount))?;
            org_total.0 += group.0;
            add_to(&mut org_total.1, &group.1);
            n += 1;
        }
        write_summary_row(ws, n, (&org, "All sites"), &org_total, totals)?;
        all.0 += org_total.0;
        add_to(&mut all.1, &org_total.1);
        n += 2;
    }
    write_summary_row(ws, n, ("All orgs", "All sites"), &all, totals)?;

    ws.set_freeze_panes(3, 0)?;
    ws.set_row_height(2, 30)?;
    for (col, w) in [12.0, 16.0, 9.0].into_iter().enumerate() {
        ws.set_column_width(col as u16, w)?;
    }
    for col in 0..width {
        ws.set_column_width(3 + col as u16, 15)?;
    }
    Ok(())
}

/// `style` is (text, amount) format: plain for a site, totals for a subtotal.
fn write_summary_row(
    ws: &mut Worksheet,
    n: u32,
    (org, site): (&str, &str),
    (workers, totals): &(u64, Vec<Decimal>),
    (text, amount): (&Format, &Format),
) -> Result<(), XlsxError> {
    ws.write_string_with_format(n, 0, neutralise(org), text)?;
    ws.write_string_with_format(n, 1, neutralise(site), text)?;
    ws.write_number_with_format(n, 2, *workers as f64, text)?;
    for (j, total) in totals.iter().enumerate() {
        ws.write_number_with_format(n, 3 + j as u16, excel_number(*total), amount)?;
    }
    Ok(())
}
