//! XLSX payslips read back with calamine: every amount must come back as a
//! number equal to the Decimal it was written from.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

mod common;

use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use common::{ACCOUNT, PAN, housekeeper, supervisor};
use payroll_payslips::{Payslip, Renderer, amount_in_words};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

fn sheet(bytes: &[u8]) -> calamine::Range<Data> {
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    wb.worksheet_range("Payslip").unwrap()
}

/// (label, amount) for every numeric cell with a text label to its left.
fn amounts(range: &calamine::Range<Data>) -> Vec<(String, Decimal)> {
    let mut out = Vec::new();
    for row in range.rows() {
        for pair in row.windows(2) {
            if let [Data::String(label), Data::Float(x)] = pair {
                let d = Decimal::from_f64(*x).unwrap().round_dp(2);
                out.push((label.clone(), d));
            }
        }
    }
    out
}

fn strings(range: &calamine::Range<Data>) -> Vec<String> {
    range
        .cells()
        .filter_map(|(_, _, c)| match c {
            Data::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn expected(p: &Payslip) -> Vec<(String, Decimal)> {
    let mut want: Vec<(String, Decimal)> = p
        .earnings
        .iter()
        .chain(&p.deductions)
        .chain(&p.employer_contributions)
        .map(|l| (l.label.clone(), l.amount))
        .collect();
    want.push(("Gross earnings".into(), p.gross));
    want.push(("Total deductions".into(), p.total_deductions));
    want.push(("Net Pay".into(), p.net_pay));
    want.sort();
    want
}

#[test]
fn every_amount_reads_back_as_the_same_number() {
    for p in [supervisor(), housekeeper()] {
        let bytes = Renderer::new().unwrap().render_xlsx(&p).unwrap();
        let mut got = amounts(&sheet(&bytes));
        got.sort();
        assert_eq!(got, expected(&p));
    }
}

#[test]
fn carries_the_same_content_as_the_pdf() {
    let p = supervisor();
    let bytes = Renderer::new().unwrap().render_xlsx(&p).unwrap();
    let text = strings(&sheet(&bytes));
    for needle in [
        p.org_name.as_str(),
        "Payslip for October 2026",
        "Kavita Ramesh Kulkarni",
        "XXXXXXXXXX1340",
        "XXXXX1234X",
        "Days present",
        "20.5",
        "Missed punches",
        &amount_in_words(p.net_pay),
    ] {
        assert!(text.iter().any(|s| s == needle), "{needle} missing in {text:?}");
    }
    assert!(text.iter().any(|s| s.contains("run-2026-10-0007")));
    assert!(!text.iter().any(|s| s.contains(ACCOUNT) || s.contains(PAN)));
}

fn part(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut text = String::new();
    zip.by_name(name).unwrap().read_to_string(&mut text).unwrap();
    text
}

/// The value of the first `attribute` in `text`, which starts inside a tag (after its name).
fn attribute<'a>(text: &'a str, attribute: &str) -> Option<&'a str> {
    let want = format!("{attribute}=\"");
    let start = if text.starts_with(&want) {
        0
    } else {
        text.find(&format!(" {want}"))? + 1
    };
    Some(text[start + want.len()..].split_once('"')?.0)
}

#[test]
fn amounts_use_an_indian_rupee_number_format() {
    let bytes = Renderer::new().unwrap().render_xlsx(&supervisor()).unwrap();
    let styles = part(&bytes, "xl/styles.xml");
    let rupees = styles
        .split("<numFmt ")
        .skip(1)
        .find(|f| attribute(f, "formatCode") == Some("[$₹-4009] #,##,##0.00;-[$₹-4009] #,##,##0.00"))
        .and_then(|f| attribute(f, "numFmtId"))
        .unwrap_or_else(|| panic!("no rupee format in {styles}"));
    // The number format of each cell style, by index.
    let (_, xfs) = styles.split_once("<cellXfs").unwrap();
    let (xfs, _) = xfs.split_once("</cellXfs>").unwrap();
    let formats: Vec<&str> = xfs
        .split("<xf ")
        .skip(1)
        .map(|xf| attribute(xf, "numFmtId").unwrap())
        .collect();

    // Every number cell points at a style with the rupee format, and no text cell does.
    let sheet = part(&bytes, "xl/worksheets/sheet1.xml");
    let (mut numbers, mut texts) = (0, 0);
    for cell in sheet.split("<c ").skip(1) {
        let (tag, _) = cell.split_once('>').unwrap();
        let style: usize = attribute(tag, "s").unwrap_or("0").parse().unwrap();
        if cell.contains("<v>") {
            assert_eq!(formats[style], rupees, "number cell {tag}");
            numbers += 1;
        } else if attribute(tag, "t") == Some("inlineStr") {
            assert_ne!(formats[style], rupees, "text cell {tag}");
            texts += 1;
        }
    }
    let p = supervisor();
    let lines = p.earnings.len() + p.deductions.len() + p.employer_contributions.len();
    assert_eq!(numbers, lines + 3, "every line, two totals and net pay");
    assert!(texts > lines, "{texts} text cells");
}

#[test]
fn the_amount_in_words_spans_the_sheet_on_a_taller_row() {
    let bytes = Renderer::new().unwrap().render_xlsx(&supervisor()).unwrap();
    let sheet = part(&bytes, "xl/worksheets/sheet1.xml");
    let words = sheet
        .split("<row ")
        .find(|row| row.contains(&amount_in_words(supervisor().net_pay)))
        .expect("a row with the amount in words");
    let r = attribute(words, "r").unwrap();
    assert_eq!(attribute(words, "ht"), Some("30"), "{words}");
    assert!(sheet.contains(&format!("<mergeCell ref=\"A{r}:D{r}\"/>")), "{sheet}");
    // The last row is the words' row, and the dimension covers it.
    assert!(sheet.contains(&format!("<dimension ref=\"A1:D{r}\"/>")), "{sheet}");
}

#[test]
fn a_payslip_rendered_again_is_the_same_bytes_and_carries_the_run_date() {
    let p = supervisor();
    let renderer = Renderer::new().unwrap();
    let bytes = renderer.render_xlsx(&p).unwrap();
    assert_eq!(bytes, Renderer::new().unwrap().render_xlsx(&p).unwrap());
    let core = part(&bytes, "docProps/core.xml");
    assert!(core.contains(&format!("{}T00:00:00Z", p.generated_on)), "{core}");
}

#[test]
fn text_that_would_start_a_formula_is_neutralised() {
    let mut p = supervisor();
    p.worker.name = r#"=HYPERLINK("http://x","y")"#.into();
    p.org_name = "+cmd".into();
    p.earnings[0].label = "@SUM(1)".into();
    let bytes = Renderer::new().unwrap().render_xlsx(&p).unwrap();
    let text = strings(&sheet(&bytes));
    for want in [r#"'=HYPERLINK("http://x","y")"#, "'+cmd", "'@SUM(1)"] {
        assert!(text.iter().any(|t| t == want), "{want} not in {text:?}");
    }
    assert!(!text.iter().any(|t| t.starts_with(['=', '+', '@'])), "{text:?}");
}
