//! The register workbook read back with calamine.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

mod common;

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use common::dec;
use payroll_payslips::{Error, Register, RegisterColumn, RegisterRow, render_register};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

fn register() -> Register {
    let columns = [
        ("basic", "Basic"),
        ("hra", "HRA"),
        ("pf_ee", "PF (Employee)"),
        ("net", "Net Pay"),
    ]
    .map(|(name, label)| RegisterColumn {
        name: name.into(),
        label: label.into(),
    })
    .to_vec();
    let row = |id: &str, org: &str, site: &str, amounts: [&str; 4]| RegisterRow {
        worker_id: id.into(),
        name: format!("Worker {id}"),
        org_id: org.into(),
        site: site.into(),
        amounts: amounts.map(dec).to_vec(),
    };
    Register {
        period_label: "October 2026".into(),
        run_id: "run-2026-10-0007".into(),
        generated_on: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        columns,
        rows: vec![
            row("W1", "sfs", "Pune", ["15000.00", "6000.00", "1800.00", "19200.00"]),
            row("W2", "sfs", "Mumbai", ["12000.10", "4800.05", "1440.01", "15360.14"]),
            row("W3", "acme", "Chennai", ["9000.33", "0", "1080.04", "7920.29"]),
            row("W4", "sfs", "Pune", ["16000.00", "6400.00", "1800.00", "-200.75"]),
        ],
    }
}

fn sheet(bytes: &[u8], name: &str) -> calamine::Range<Data> {
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    wb.worksheet_range(name).unwrap()
}

fn money(c: &Data) -> Decimal {
    match c {
        Data::Float(x) => Decimal::from_f64(*x).unwrap().round_dp(2),
        Data::Int(i) => Decimal::from(*i),
        other => panic!("expected a number, got {other:?}"),
    }
}

fn text(c: &Data) -> String {
    match c {
        Data::String(s) => s.clone(),
        other => panic!("expected text, got {other:?}"),
    }
}

fn sums(r: &Register, keep: impl Fn(&RegisterRow) -> bool) -> Vec<Decimal> {
    (0..r.columns.len())
        .map(|j| r.rows.iter().filter(|row| keep(row)).map(|row| row.amounts[j]).sum())
        .collect()
}

#[test]
fn one_row_per_worker_and_a_totals_row_equal_to_the_sums() {
    let r = register();
    let ws = sheet(&render_register(&r).unwrap(), "Register");
    let rows: Vec<&[Data]> = ws.rows().collect();
    let header: Vec<String> = rows[0].iter().map(text).collect();
    assert_eq!(
        header,
        [
            "Worker ID",
            "Name",
            "Org",
            "Site",
            "Basic",
            "HRA",
            "PF (Employee)",
            "Net Pay"
        ]
    );
    for (want, got) in r.rows.iter().zip(&rows[1..]) {
        assert_eq!(text(&got[0]), want.worker_id);
        assert_eq!(text(&got[2]), want.org_id);
        assert_eq!(text(&got[3]), want.site);
        let amounts: Vec<Decimal> = got[4..].iter().map(money).collect();
        assert_eq!(amounts, want.amounts);
    }
    let totals = rows[r.rows.len() + 1];
    assert_eq!(text(&totals[0]), "Total");
    let got: Vec<Decimal> = totals[4..].iter().map(money).collect();
    assert_eq!(got, sums(&r, |_| true));
    assert_eq!(rows.len(), r.rows.len() + 2);
}

#[test]
fn header_is_frozen_and_filtered() {
    let bytes = render_register(&register()).unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut xml).unwrap();
    assert!(xml.contains(r#"<autoFilter ref="A1:H5"/>"#), "{xml}");
    assert!(
        xml.contains(r#"state="frozen""#) && xml.contains(r#"topLeftCell="C2""#),
        "{xml}"
    );
    assert!(xml.contains("SUBTOTAL(9,E2:E5)"), "{xml}");
}

#[test]
fn summary_by_org_and_site() {
    let r = register();
    let ws = sheet(&render_register(&r).unwrap(), "Summary");
    let rows: Vec<(String, String, Decimal, Vec<Decimal>)> = ws
        .rows()
        .filter(|row| matches!(row.get(2), Some(Data::Float(_) | Data::Int(_))))
        .map(|row| {
            (
                text(&row[0]),
                text(&row[1]),
                money(&row[2]),
                row[3..].iter().map(money).collect(),
            )
        })
        .collect();
    let site = |org: &str, s: &str| sums(&r, |row| row.org_id == org && row.site == s);
    let org = |o: &str| sums(&r, |row| row.org_id == o);
    let want = vec![
        ("acme".into(), "Chennai".into(), dec("1"), site("acme", "Chennai")),
        ("acme".into(), "All sites".into(), dec("1"), org("acme")),
        ("sfs".into(), "Mumbai".into(), dec("1"), site("sfs", "Mumbai")),
        ("sfs".into(), "Pune".into(), dec("2"), site("sfs", "Pune")),
        ("sfs".into(), "All sites".into(), dec("3"), org("sfs")),
        ("All orgs".into(), "All sites".into(), dec("4"), sums(&r, |_| true)),
    ];
    assert_eq!(rows, want);
}

#[test]
fn a_row_with_the_wrong_number_of_amounts_is_rejected() {
    let mut r = register();
    r.rows[1].amounts.pop();
    let err = render_register(&r).unwrap_err();
    assert!(matches!(err, Error::RegisterShape { got: 3, want: 4, .. }), "{err}");
}

#[test]
fn text_that_would_start_a_formula_is_neutralised_and_amounts_stay_numbers() {
    let mut r = register();
    r.rows[0].name = r#"=HYPERLINK("http://x","y")"#.into();
    r.rows[0].site = "@SUM(1)".into();
    let bytes = render_register(&r).unwrap();
    let ws = sheet(&bytes, "Register");
    assert_eq!(
        ws.get((1, 1)),
        Some(&Data::String(r#"'=HYPERLINK("http://x","y")"#.into()))
    );
    assert_eq!(ws.get((1, 3)), Some(&Data::String("'@SUM(1)".into())));
    let net = ws.rows().find(|row| row[0] == Data::String("W4".into())).unwrap()[7].clone();
    assert_eq!(money(&net), dec("-200.75"));
    let summary = sheet(&bytes, "Summary");
    assert!(
        summary.cells().any(|(_, _, c)| *c == Data::String("'@SUM(1)".into())),
        "{summary:?}"
    );
}
