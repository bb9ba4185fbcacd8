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

#[test]
fn amounts_use_an_indian_rupee_number_format() {
    let bytes = Renderer::new().unwrap().render_xlsx(&supervisor()).unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut styles = String::new();
    zip.by_name("xl/styles.xml")
        .unwrap()
        .read_to_string(&mut styles)
        .unwrap();
    assert!(styles.contains("[$₹-4009] #,##,##0.00"), "{styles}");
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
