//! Per-worker payslip workbook: the PDF's content on one sheet, with amounts
//! as real numbers in an Indian-grouped rupee format.

use payroll_engine::masking::{mask_account, mask_pan};
use payroll_engine::spreadsheet::neutralise;
use rust_decimal::Decimal;
use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

use crate::Error;
use crate::format::or_dash;
use crate::lang::Catalogue;
use crate::model::{Line, Payslip};
use crate::words::amount_in_words_in;

/// Rupees with lakh/crore grouping; `-4009` is the en-IN locale id.
pub(crate) const RUPEES: &str = "[$₹-4009] #,##,##0.00;-[$₹-4009] #,##,##0.00";
const BRAND: Color = Color::RGB(0x1C3660);
const BRAND_TINT: Color = Color::RGB(0xE2E9F4);

/// XLSX stores numbers as IEEE doubles, so this is the one place money leaves
/// `Decimal`; payslip amounts (paise, far below 2^53) survive the trip exactly
/// as far as Excel can display them.
pub(crate) fn excel_number(d: Decimal) -> f64 {
    d.as_f64()
}

/// Cell formats shared by every payslip of a batch.
pub(crate) struct XlsxRenderer {
    title: Format,
    subtitle: Format,
    section: Format,
    label: Format,
    value: Format,
    head: Format,
    head_amount: Format,
    text: Format,
    amount: Format,
    total: Format,
    total_amount: Format,
    net: Format,
    net_amount: Format,
    words: Format,
}

impl XlsxRenderer {
    pub(crate) fn new() -> Self {
        let head = Format::new()
            .set_bold()
            .set_font_color(BRAND)
            .set_background_color(BRAND_TINT)
            .set_border_bottom(FormatBorder::Thin);
        let total = Format::new()
            .set_bold()
            .set_background_color(BRAND_TINT)
            .set_border_top(FormatBorder::Thin);
        let net = Format::new()
            .set_bold()
            .set_font_size(13)
            .set_font_color(BRAND)
            .set_background_color(BRAND_TINT);
        XlsxRenderer {
            title: Format::new().set_bold().set_font_size(15).set_font_color(BRAND),
            subtitle: Format::new().set_font_size(11),
            section: Format::new().set_bold().set_font_color(BRAND),
            label: Format::new().set_font_color(Color::RGB(0x626C78)),
            value: Format::new().set_bold().set_align(FormatAlign::Left),
            head_amount: head.clone().set_align(FormatAlign::Right),
            head,
            text: Format::new(),
            amount: Format::new().set_num_format(RUPEES),
            total_amount: total.clone().set_num_format(RUPEES),
            total,
            net_amount: net.clone().set_num_format(RUPEES),
            net,
            words: Format::new().set_italic().set_text_wrap(),
        }
    }

    pub(crate) fn render(&self, p: &Payslip) -> Result<Vec<u8>, Error> {
        let mut wb = Workbook::new();
        // Deflate dominates the cost of a small workbook; level 1 is about
        // twice as fast as the default 6 and the file grows by about 1 KB.
        wb.set_zip_compression_level(1);
        fix_creation_date(&mut wb, p.generated_on)?;
        let ws = wb.add_worksheet();
        ws.set_name("Payslip")?;
        self.sheet(ws, p)?;
        Ok(wb.save_to_buffer()?)
    }

    fn sheet(&self, ws: &mut Worksheet, p: &Payslip) -> Result<(), XlsxError> {
        for (col, width) in [32.0, 18.0, 32.0, 18.0].into_iter().enumerate() {
            ws.set_column_width(col as u16, width)?;
        }
        ws.set_screen_gridlines(false)
            .set_paper_size(9) // A4
            .set_portrait()
            .set_print_fit_to_pages(1, 1);

        // Text from the master, the ruleset or the run is neutralised: `write_string` never
        // makes a formula, but the sheet saved as CSV would.
        ws.write_string_with_format(0, 0, neutralise(p.org_name.as_str()), &self.title)?;
        let words = p.language.catalogue();
        let title = Catalogue::with_period(&words.title, &p.period_label);
        ws.write_string_with_format(1, 0, title, &self.subtitle)?;
        let meta = format!(
            "{} {} · {} {} · {} {}",
            words.period,
            p.period,
            words.run_id,
            p.run_id,
            words.generated,
            p.language.date(p.generated_on)
        );
        ws.write_string_with_format(2, 0, meta, &self.label)?;

        let w = &p.worker;
        ws.write_string_with_format(4, 0, &words.employee_details, &self.section)?;
        let pairs = [
            (&words.employee_id, w.worker_id.clone(), &words.uan, w.uan.clone()),
            (&words.name, w.name.clone(), &words.esic_no, w.esic_no.clone()),
            (
                &words.designation,
                w.designation.clone(),
                &words.bank_account,
                mask_account(&w.bank_account),
            ),
            (&words.site, w.site.clone(), &words.pan, mask_pan(&w.pan)),
        ];
        let mut row = 5;
        for (l1, v1, l2, v2) in pairs {
            ws.write_string_with_format(row, 0, l1, &self.label)?;
            ws.write_string_with_format(row, 1, neutralise(or_dash(&v1)), &self.value)?;
            ws.write_string_with_format(row, 2, l2, &self.label)?;
            ws.write_string_with_format(row, 3, neutralise(or_dash(&v2)), &self.value)?;
            row += 1;
        }

        if !p.attendance.is_empty() {
            row += 1;
            ws.write_string_with_format(row, 0, &words.attendance, &self.section)?;
            row += 1;
            // Label/value pairs two to a row, as in the identity block.
            for pair in p.attendance.chunks(2) {
                for (i, item) in pair.iter().enumerate() {
                    let col = 2 * i as u16;
                    ws.write_string_with_format(row, col, neutralise(item.label.as_str()), &self.label)?;
                    ws.write_string_with_format(row, col + 1, neutralise(item.value.as_str()), &self.value)?;
                }
                row += 1;
            }
        }

        row += 1;
        ws.write_string_with_format(row, 0, &words.earnings, &self.head)?;
        ws.write_string_with_format(row, 1, &words.amount, &self.head_amount)?;
        ws.write_string_with_format(row, 2, &words.deductions, &self.head)?;
        ws.write_string_with_format(row, 3, &words.amount, &self.head_amount)?;
        row += 1;
        let body = p.earnings.len().max(p.deductions.len()) as u32;
        self.lines(ws, row, 0, &p.earnings)?;
        self.lines(ws, row, 2, &p.deductions)?;
        row += body;
        ws.write_string_with_format(row, 0, &words.gross_earnings, &self.total)?;
        ws.write_number_with_format(row, 1, excel_number(p.gross), &self.total_amount)?;
        ws.write_string_with_format(row, 2, &words.total_deductions, &self.total)?;
        ws.write_number_with_format(row, 3, excel_number(p.total_deductions), &self.total_amount)?;
        row += 1;

        if !p.employer_contributions.is_empty() {
            row += 1;
            ws.write_string_with_format(row, 0, &words.employer_contributions, &self.head)?;
            ws.write_string_with_format(row, 1, &words.amount, &self.head_amount)?;
            row += 1;
            self.lines(ws, row, 0, &p.employer_contributions)?;
            row += p.employer_contributions.len() as u32;
        }

        let (title, paid) = if p.arrears.is_empty() {
            (&words.net_pay, p.net_pay)
        } else {
            row += 1;
            ws.write_string_with_format(row, 0, &words.arrears, &self.head)?;
            ws.write_string_with_format(row, 1, &words.difference, &self.head_amount)?;
            row += 1;
            for period in &p.arrears {
                ws.write_string_with_format(row, 0, neutralise(period.period_label.as_str()), &self.total)?;
                row += 1;
                self.lines(ws, row, 0, &period.lines)?;
                row += period.lines.len() as u32;
                let net = Catalogue::with_period(&words.arrears_net, &period.period_label);
                ws.write_string_with_format(row, 0, &net, &self.total)?;
                ws.write_number_with_format(row, 1, excel_number(period.net), &self.total_amount)?;
                row += 1;
            }
            ws.write_string_with_format(row, 0, &words.net_pay_of_period, &self.total)?;
            ws.write_number_with_format(row, 1, excel_number(p.net_pay), &self.total_amount)?;
            row += 1;
            (&words.net_payable, p.net_payable)
        };
        row += 1;
        ws.write_string_with_format(row, 0, title, &self.net)?;
        ws.write_number_with_format(row, 1, excel_number(paid), &self.net_amount)?;
        row += 1;
        ws.merge_range(row, 0, row, 3, &amount_in_words_in(p.language, paid), &self.words)?;
        ws.set_row_height(row, 30)?;
        Ok(())
    }

    fn lines(&self, ws: &mut Worksheet, first_row: u32, col: u16, lines: &[Line]) -> Result<(), XlsxError> {
        for (i, line) in lines.iter().enumerate() {
            let row = first_row + i as u32;
            ws.write_string_with_format(row, col, neutralise(line.label.as_str()), &self.text)?;
            ws.write_number_with_format(row, col + 1, excel_number(line.amount), &self.amount)?;
        }
        Ok(())
    }
}

/// Workbooks record their creation time; the run's date instead of the clock's keeps a file
/// byte-identical when a batch is rendered again, which is how a resumed batch recognises the
/// files it already wrote.
pub(crate) fn fix_creation_date(wb: &mut Workbook, day: chrono::NaiveDate) -> Result<(), XlsxError> {
    use chrono::Datelike;
    let created = rust_xlsxwriter::ExcelDateTime::from_ymd(day.year() as u16, day.month() as u8, day.day() as u8)?;
    wb.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
    Ok(())
}
