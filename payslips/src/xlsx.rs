//! Per-worker payslip workbook: the PDF's content on one sheet, with amounts
//! as real numbers in an Indian-grouped rupee format.

mod workbook;

use payroll_engine::masking::{mask_account, mask_pan};
use payroll_engine::spreadsheet::neutralise;
use rust_decimal::Decimal;
use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

use crate::Error;
use crate::format::or_dash;
use crate::lang::Catalogue;
use crate::model::{Line, Payslip};
use crate::words::amount_in_words_in;
use workbook::{Sheet, Style, Template};

/// Rupees with lakh/crore grouping; `-4009` is the en-IN locale id.
pub(crate) const RUPEES: &str = "[$₹-4009] #,##,##0.00;-[$₹-4009] #,##,##0.00";
const BRAND: Color = Color::RGB(0x1C3660);
const BRAND_TINT: Color = Color::RGB(0xE2E9F4);

/// rust_xlsxwriter takes numbers as IEEE doubles, so the register is the one place money
/// leaves `Decimal` (a payslip's sheet carries its decimals as written); amounts in paise, far
/// below 2^53, survive the trip exactly as far as Excel can display them.
pub(crate) fn excel_number(d: Decimal) -> f64 {
    d.as_f64()
}

/// The payslip workbook's template and the style of each kind of cell in it.
pub(crate) struct XlsxRenderer {
    template: Template,
    title: Style,
    subtitle: Style,
    section: Style,
    label: Style,
    value: Style,
    head: Style,
    head_amount: Style,
    text: Style,
    amount: Style,
    total: Style,
    total_amount: Style,
    net: Style,
    net_amount: Style,
    words: Style,
}

impl XlsxRenderer {
    pub(crate) fn new() -> Result<Self, Error> {
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
        let formats = [
            Format::new().set_bold().set_font_size(15).set_font_color(BRAND),
            Format::new().set_font_size(11),
            Format::new().set_bold().set_font_color(BRAND),
            Format::new().set_font_color(Color::RGB(0x626C78)),
            Format::new().set_bold().set_align(FormatAlign::Left),
            head.clone(),
            head.set_align(FormatAlign::Right),
            Format::new(),
            Format::new().set_num_format(RUPEES),
            total.clone(),
            total.set_num_format(RUPEES),
            net.clone(),
            net.set_num_format(RUPEES),
            Format::new().set_italic().set_text_wrap(),
        ];
        let (template, styles) = Template::new(page_setup, &formats)?;
        let [
            title,
            subtitle,
            section,
            label,
            value,
            head,
            head_amount,
            text,
            amount,
            total,
            total_amount,
            net,
            net_amount,
            words,
        ] = styles[..]
        else {
            return Err(Error::Template(format!(
                "{} styles for {} formats",
                styles.len(),
                formats.len()
            )));
        };
        Ok(XlsxRenderer {
            template,
            title,
            subtitle,
            section,
            label,
            value,
            head,
            head_amount,
            text,
            amount,
            total,
            total_amount,
            net,
            net_amount,
            words,
        })
    }

    pub(crate) fn render(&self, p: &Payslip) -> Result<Vec<u8>, Error> {
        let mut sheet = Sheet::default();
        self.sheet(&mut sheet, p);
        // The run's date, not the clock's: a batch rendered again is byte-identical, which is
        // how a resumed batch recognises the files it already wrote.
        self.template
            .workbook(&sheet, &p.generated_on.format("%Y-%m-%d").to_string())
    }

    fn sheet(&self, ws: &mut Sheet, p: &Payslip) {
        // Text from the master, the ruleset or the run is neutralised: a text cell never makes
        // a formula, but the sheet saved as CSV would.
        ws.text(0, 0, neutralise(p.org_name.as_str()), self.title);
        let words = p.language.catalogue();
        let title = Catalogue::with_period(&words.title, &p.period_label);
        ws.text(1, 0, title, self.subtitle);
        let meta = format!(
            "{} {} · {} {} · {} {}",
            words.period,
            p.period,
            words.run_id,
            p.run_id,
            words.generated,
            p.language.date(p.generated_on)
        );
        ws.text(2, 0, meta, self.label);

        let w = &p.worker;
        ws.text(4, 0, &words.employee_details, self.section);
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
            ws.text(row, 0, l1, self.label);
            ws.text(row, 1, neutralise(or_dash(&v1)), self.value);
            ws.text(row, 2, l2, self.label);
            ws.text(row, 3, neutralise(or_dash(&v2)), self.value);
            row += 1;
        }

        if !p.attendance.is_empty() {
            row += 1;
            ws.text(row, 0, &words.attendance, self.section);
            row += 1;
            // Label/value pairs two to a row, as in the identity block.
            for pair in p.attendance.chunks(2) {
                for (i, item) in pair.iter().enumerate() {
                    let col = 2 * i as u16;
                    ws.text(row, col, neutralise(item.label.as_str()), self.label);
                    ws.text(row, col + 1, neutralise(item.value.as_str()), self.value);
                }
                row += 1;
            }
        }

        row += 1;
        ws.text(row, 0, &words.earnings, self.head);
        ws.text(row, 1, &words.amount, self.head_amount);
        ws.text(row, 2, &words.deductions, self.head);
        ws.text(row, 3, &words.amount, self.head_amount);
        row += 1;
        let body = p.earnings.len().max(p.deductions.len()) as u32;
        self.lines(ws, row, 0, &p.earnings);
        self.lines(ws, row, 2, &p.deductions);
        row += body;
        ws.text(row, 0, &words.gross_earnings, self.total);
        ws.number(row, 1, p.gross, self.total_amount);
        ws.text(row, 2, &words.total_deductions, self.total);
        ws.number(row, 3, p.total_deductions, self.total_amount);
        row += 1;

        if !p.employer_contributions.is_empty() {
            row += 1;
            ws.text(row, 0, &words.employer_contributions, self.head);
            ws.text(row, 1, &words.amount, self.head_amount);
            row += 1;
            self.lines(ws, row, 0, &p.employer_contributions);
            row += p.employer_contributions.len() as u32;
        }

        let (title, paid) = if p.arrears.is_empty() {
            (&words.net_pay, p.net_pay)
        } else {
            row += 1;
            ws.text(row, 0, &words.arrears, self.head);
            ws.text(row, 1, &words.difference, self.head_amount);
            row += 1;
            for period in &p.arrears {
                ws.text(row, 0, neutralise(period.period_label.as_str()), self.total);
                row += 1;
                self.lines(ws, row, 0, &period.lines);
                row += period.lines.len() as u32;
                let net = Catalogue::with_period(&words.arrears_net, &period.period_label);
                ws.text(row, 0, &net, self.total);
                ws.number(row, 1, period.net, self.total_amount);
                row += 1;
            }
            ws.text(row, 0, &words.net_pay_of_period, self.total);
            ws.number(row, 1, p.net_pay, self.total_amount);
            row += 1;
            (&words.net_payable, p.net_payable)
        };
        row += 1;
        ws.text(row, 0, title, self.net);
        ws.number(row, 1, paid, self.net_amount);
        row += 1;
        ws.merged_text(row, 0, 3, amount_in_words_in(p.language, paid), self.words);
        ws.row_height(row, 30);
    }

    fn lines(&self, ws: &mut Sheet, first_row: u32, col: u16, lines: &[Line]) {
        for (i, line) in lines.iter().enumerate() {
            let row = first_row + i as u32;
            ws.text(row, col, neutralise(line.label.as_str()), self.text);
            ws.number(row, col + 1, line.amount, self.amount);
        }
    }
}

/// Column widths and the printed page: A4, portrait, on one page, without gridlines.
fn page_setup(ws: &mut Worksheet) -> Result<(), XlsxError> {
    ws.set_name("Payslip")?;
    for (col, width) in [32.0, 18.0, 32.0, 18.0].into_iter().enumerate() {
        ws.set_column_width(col as u16, width)?;
    }
    ws.set_screen_gridlines(false)
        .set_paper_size(9) // A4
        .set_portrait()
        .set_print_fit_to_pages(1, 1);
    Ok(())
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
