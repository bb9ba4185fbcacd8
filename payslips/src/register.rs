//! The payroll register of a run: one row per worker, one column per
//! component, totals, and a summary by organisation and site.

use std::collections::BTreeMap;

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

/// The register workbook (XLSX bytes): sheet "Register" with a frozen header,
/// an autofilter and a totals row, and sheet "Summary" by org and site.
pub fn render_register(r: &Register) -> Result<Vec<u8>, Error> {
    let want = r.columns.len();
    if let Some(row) = r.rows.iter().find(|row| row.amounts.len() != want) {
        return Err(Error::RegisterShape {
            worker_id: row.worker_id.clone(),
            got: row.amounts.len(),
            want,
        });
    }
    let f = Formats {
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
    };
    let mut wb = Workbook::new();
    crate::xlsx::fix_creation_date(&mut wb, r.generated_on)?;
    register_sheet(wb.add_worksheet(), r, &f)?;
    summary_sheet(wb.add_worksheet(), r, &f)?;
    Ok(wb.save_to_buffer()?)
}

fn register_sheet(ws: &mut Worksheet, r: &Register, f: &Formats) -> Result<(), XlsxError> {
    ws.set_name("Register")?;
    let labels = KEY_COLUMNS
        .iter()
        .copied()
        .chain(r.columns.iter().map(|c| c.label.as_str()));
    for (col, label) in labels.enumerate() {
        ws.write_string_with_format(0, col as u16, label, &f.head)?;
    }
    let first_amount = KEY_COLUMNS.len() as u16;
    for (i, row) in r.rows.iter().enumerate() {
        let n = i as u32 + 1;
        let keys = [&row.worker_id, &row.name, &row.org_id, &row.site];
        for (col, key) in keys.into_iter().enumerate() {
            ws.write_string(n, col as u16, key)?;
        }
        for (j, amount) in row.amounts.iter().enumerate() {
            ws.write_number_with_format(n, first_amount + j as u16, excel_number(*amount), &f.amount)?;
        }
    }

    // SUBTOTAL(9, ...) so the totals follow the autofilter when a user narrows
    // the rows; the cached result is the exact Decimal sum, which is what a
    // reader that does not recalculate (or a test) sees.
    let last = r.rows.len() as u32;
    let total_row = last + 1;
    ws.write_string_with_format(total_row, 0, "Total", &f.total)?;
    for col in 1..first_amount {
        ws.write_blank(total_row, col, &f.total)?;
    }
    for (j, total) in column_totals(r.rows.iter(), r.columns.len()).into_iter().enumerate() {
        let col = first_amount + j as u16;
        let letter = column_number_to_name(col);
        let formula =
            Formula::new(format!("=SUBTOTAL(9,{letter}2:{letter}{})", last + 1)).set_result(total.to_string());
        ws.write_formula_with_format(total_row, col, formula, &f.total_amount)?;
    }

    let last_col = first_amount + r.columns.len() as u16 - 1;
    ws.set_freeze_panes(1, 2)?;
    ws.autofilter(0, 0, last.max(1), last_col)?;
    ws.set_row_height(0, 30)?;
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
fn summary_sheet(ws: &mut Worksheet, r: &Register, f: &Formats) -> Result<(), XlsxError> {
    ws.set_name("Summary")?;
    let title = format!("Payroll register, {} (run {})", r.period_label, r.run_id);
    ws.write_string_with_format(0, 0, title, &f.title)?;

    let mut groups: BTreeMap<(&str, &str), Vec<&RegisterRow>> = BTreeMap::new();
    for row in &r.rows {
        groups.entry((&row.org_id, &row.site)).or_default().push(row);
    }

    let header = ["Org", "Site", "Workers"]
        .into_iter()
        .chain(r.columns.iter().map(|c| c.label.as_str()));
    for (col, label) in header.enumerate() {
        ws.write_string_with_format(2, col as u16, label, &f.head)?;
    }
    let width = r.columns.len();
    let totals = (&f.total, &f.total_amount);
    let mut n = 3;
    let mut orgs = groups.iter().peekable();
    while let Some(((org, _), _)) = orgs.peek() {
        let org = *org;
        let mut org_rows = Vec::new();
        while let Some(((_, site), rows)) = orgs.next_if(|((o, _), _)| *o == org) {
            write_summary_row(ws, n, (org, site), rows, width, (&f.text, &f.amount))?;
            org_rows.extend(rows.iter().copied());
            n += 1;
        }
        write_summary_row(ws, n, (org, "All sites"), &org_rows, width, totals)?;
        n += 2;
    }
    let all: Vec<&RegisterRow> = r.rows.iter().collect();
    write_summary_row(ws, n, ("All orgs", "All sites"), &all, width, totals)?;

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
    rows: &[&RegisterRow],
    width: usize,
    (text, amount): (&Format, &Format),
) -> Result<(), XlsxError> {
    ws.write_string_with_format(n, 0, org, text)?;
    ws.write_string_with_format(n, 1, site, text)?;
    ws.write_number_with_format(n, 2, rows.len() as f64, text)?;
    for (j, total) in column_totals(rows.iter().copied(), width).into_iter().enumerate() {
        ws.write_number_with_format(n, 3 + j as u16, excel_number(total), amount)?;
    }
    Ok(())
}

fn column_totals<'a>(rows: impl Iterator<Item = &'a RegisterRow>, width: usize) -> Vec<Decimal> {
    let mut totals = vec![Decimal::ZERO; width];
    for row in rows {
        for (t, a) in totals.iter_mut().zip(&row.amounts) {
            *t += a;
        }
    }
    totals
}
