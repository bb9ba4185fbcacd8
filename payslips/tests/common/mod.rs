//! Sample payslips shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use chrono::NaiveDate;
use payroll_payslips::{Item, Language, Layout, Line, Payslip, WorkerBlock};
use rust_decimal::Decimal;

pub fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

pub fn lines(pairs: &[(&str, &str)]) -> Vec<Line> {
    pairs.iter().map(|(l, a)| Line::new(*l, dec(a))).collect()
}

pub const ACCOUNT: &str = "50100234561340";
pub const PAN: &str = "ABCPK1234F";

/// A supervisor whose net pay is the example amount.
pub fn supervisor() -> Payslip {
    Payslip {
        language: Language::En,
        layout: Layout::Single,
        org_name: "Sahyadri Facility Services Pvt. Ltd.".into(),
        period: "2026-10".into(),
        period_label: "October 2026".into(),
        run_id: "run-2026-10-0007".into(),
        generated_on: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        worker: WorkerBlock {
            worker_id: "SFS-004512".into(),
            name: "Kavita Ramesh Kulkarni".into(),
            designation: "Site Supervisor".into(),
            site: "Pune – Hinjewadi Phase 2".into(),
            uan: "100987654321".into(),
            esic_no: "3112345678".into(),
            bank_account: ACCOUNT.into(),
            pan: PAN.into(),
        },
        attendance: vec![
            Item::new("Days present", "20.5"),
            Item::new("Paid leave", "2"),
            Item::new("LOP days", "1.5"),
            Item::new("Weekly offs", "4"),
            Item::new("OT hours", "6.0"),
            Item::new("Missed punches", "1"),
        ],
        earnings: lines(&[
            ("Basic", "72500.00"),
            ("House Rent Allowance", "29000.00"),
            ("Conveyance Allowance", "1600.00"),
            ("Special Allowance", "36400.00"),
            ("Overtime", "3500.00"),
            ("Attendance Bonus", "2000.00"),
        ]),
        deductions: lines(&[
            ("Provident Fund (Employee)", "1800.00"),
            ("Professional Tax", "200.00"),
            ("Income Tax (TDS)", "18943.50"),
            ("Labour Welfare Fund", "25.00"),
            ("Salary Advance Recovery", "575.00"),
        ]),
        employer_contributions: lines(&[
            ("Provident Fund (Employer)", "550.00"),
            ("Pension Scheme (EPS)", "1250.00"),
            ("EDLI", "75.00"),
            ("PF Admin Charges", "75.00"),
            ("Labour Welfare Fund (Employer)", "75.00"),
        ]),
        gross: dec("145000.00"),
        total_deductions: dec("21543.50"),
        net_pay: dec("123456.50"),
        arrears: Vec::new(),
        net_payable: dec("123456.50"),
    }
}

/// A housekeeping worker covered by ESIC, with a negative net pay after an
/// advance recovery, and fewer lines than the supervisor.
pub fn housekeeper() -> Payslip {
    let mut p = supervisor();
    p.worker.worker_id = "SFS-009731".into();
    p.worker.name = "Sunil Yadav".into();
    p.worker.designation = "Housekeeping Associate".into();
    p.worker.bank_account = "000123459876".into();
    p.worker.pan = String::new();
    p.attendance = vec![Item::new("Days present", "3"), Item::new("LOP days", "23")];
    p.earnings = lines(&[("Basic", "1800.00"), ("Special Allowance", "450.50")]);
    p.deductions = lines(&[
        ("Provident Fund (Employee)", "216.00"),
        ("ESIC (Employee)", "16.88"),
        ("Salary Advance Recovery", "3000.00"),
    ]);
    p.employer_contributions = lines(&[("ESIC (Employer)", "73.14")]);
    p.gross = dec("2250.50");
    p.total_deductions = dec("3232.88");
    p.net_pay = dec("-982.38");
    p
}
