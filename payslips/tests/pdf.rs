//! PDF payslips checked through their extracted text, as a reader would see them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

mod common;

use std::process::Command;

use common::{ACCOUNT, PAN, dec, housekeeper, lines, supervisor};
use payroll_payslips::{Error, Payslip, Renderer, format_inr};

const MAX_PDF_BYTES: usize = 40 * 1024;

/// Runs a poppler tool on the PDF and returns its stdout. Panics, rather
/// than skipping, when poppler is missing.
fn poppler(tool: &str, options: &[&str], pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payslip.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new(tool)
        .args(options)
        .arg(&path)
        // pdftotext writes to a file unless told "-" (stdout).
        .args((tool == "pdftotext").then_some("-"))
        .output()
        .unwrap_or_else(|e| {
            panic!("{tool} not runnable ({e}): install poppler-utils (apt-get install -y poppler-utils)")
        });
    assert!(
        out.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Extracted text with whitespace collapsed, so that wrapped lines still match.
fn pdf_text(pdf: &[u8]) -> String {
    poppler("pdftotext", &[], pdf)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn poppler_layout(pdf: &[u8]) -> String {
    poppler("pdftotext", &["-layout"], pdf)
}

fn render(p: &Payslip) -> (Vec<u8>, String) {
    let pdf = Renderer::new().unwrap().render_pdf(p).unwrap();
    let text = pdf_text(&pdf);
    (pdf, text)
}

#[test]
fn shows_net_pay_in_figures_and_words() {
    let (_, text) = render(&supervisor());
    assert!(text.contains("Net Pay"), "{text}");
    assert!(text.contains("₹1,23,456.50"), "{text}");
    assert!(
        text.contains("Rupees One Lakh Twenty Three Thousand Four Hundred Fifty Six and Fifty Paise Only"),
        "{text}"
    );
}

#[test]
fn masks_bank_account_and_pan() {
    let (pdf, text) = render(&supervisor());
    assert!(text.contains("XXXXXXXXXX1340"), "{text}");
    assert!(text.contains("XXXXX1234X"), "{text}");
    assert!(!text.contains(ACCOUNT) && !text.contains(PAN), "{text}");
    let raw = String::from_utf8_lossy(&pdf);
    assert!(!raw.contains(ACCOUNT) && !raw.contains(PAN));
}

/// Index of the physical line (pdftotext -layout) holding `label`, checking
/// that the next amount after the label on that line is `amount`.
fn line_of(layout: &[&str], label: &str, amount: &str) -> usize {
    layout
        .iter()
        .position(|l| {
            l.find(label).is_some_and(|at| {
                let rest = &l[at + label.len()..];
                rest.split_whitespace().find(|w| w.contains('₹')) == Some(amount)
            })
        })
        .unwrap_or_else(|| panic!("no line with {label} followed by {amount}:\n{}", layout.join("\n")))
}

#[test]
fn every_line_sits_beside_its_amount_in_the_given_order() {
    let p = supervisor();
    let pdf = Renderer::new().unwrap().render_pdf(&p).unwrap();
    let layout = poppler_layout(&pdf);
    let layout: Vec<&str> = layout.lines().collect();
    for (block, ordered) in [
        (&p.earnings, true),
        (&p.deductions, true),
        (&p.employer_contributions, false),
    ] {
        let rows: Vec<usize> = block
            .iter()
            .map(|l| line_of(&layout, &l.label, &format!("₹{}", format_inr(l.amount))))
            .collect();
        if ordered {
            assert!(rows.windows(2).all(|w| w[0] < w[1]), "out of order: {rows:?}");
        }
    }
    line_of(&layout, "Gross earnings", "₹1,45,000.00");
    line_of(&layout, "Total deductions", "₹21,543.50");
    line_of(&layout, "Net Pay", "₹1,23,456.50");

    for item in &p.attendance {
        cell_of(&layout, &item.label, &item.value);
    }
    let text = pdf_text(&pdf);
    assert!(text.contains("Sahyadri Facility Services Pvt. Ltd."), "{text}");
    for (label, value) in [
        ("Payslip for", "October 2026"),
        ("Run ID", "run-2026-10-0007"),
        ("Generated", "02 Nov 2026"),
        ("Period", "2026-10"),
        ("Employee ID", "SFS-004512"),
        ("Name", "Kavita Ramesh Kulkarni"),
        ("Designation", "Site Supervisor"),
        ("Site", "Pune – Hinjewadi Phase 2"),
        ("UAN", "100987654321"),
        ("ESIC No.", "3112345678"),
        ("Bank A/c", "XXXXXXXXXX1340"),
        ("PAN", "XXXXX1234X"),
    ] {
        beside(&layout, label, value);
    }
}

/// Checks that a line (pdftotext -layout) holds `label` followed, after blanks only, by `value`:
/// a value printed beside another label would be found on the page all the same.
fn beside(layout: &[&str], label: &str, value: &str) {
    let found = layout.iter().any(|l| {
        l.match_indices(label)
            .any(|(at, _)| l[at + label.len()..].trim_start().starts_with(value))
    });
    assert!(found, "no line with {label} then {value}:\n{}", layout.join("\n"));
}

/// Checks an attendance cell: `value` is printed under `label`, on the next line (pdftotext
/// -layout) and starting in the label's column (give or take one for rounding).
fn cell_of(layout: &[&str], label: &str, value: &str) {
    let found = layout.windows(2).any(|pair| {
        let [labels, values] = pair else { return false };
        labels.match_indices(label).any(|(at, _)| {
            let column = labels[..at].chars().count();
            words(values)
                .into_iter()
                .min_by_key(|(start, _)| start.abs_diff(column))
                .is_some_and(|(start, word)| word == value && start.abs_diff(column) <= 1)
        })
    });
    assert!(found, "no cell with {label} over {value}:\n{}", layout.join("\n"));
}

/// The words of a line, each with the column (in characters) it starts at.
fn words(line: &str) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut start = None;
    for (column, (at, c)) in line.char_indices().chain([(line.len(), ' ')]).enumerate() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some((column, at)),
            (true, Some((column, from))) => {
                words.push((column, &line[from..at]));
                start = None;
            }
            _ => {}
        }
    }
    words
}

#[test]
fn labels_come_from_the_data() {
    let mut p = supervisor();
    p.earnings = lines(&[("Night Shift Allowance", "1234.00"), ("Basic Wage", "9000")]);
    p.deductions.clear();
    let (_, text) = render(&p);
    let night = text.find("Night Shift Allowance").unwrap();
    let basic = text.find("Basic Wage").unwrap();
    assert!(night < basic);
    assert!(!text.contains("House Rent Allowance"));
}

#[test]
fn negative_net_pay_is_printed_as_minus() {
    let (pdf, text) = render(&housekeeper());
    line_of(&poppler_layout(&pdf).lines().collect::<Vec<_>>(), "Net Pay", "-₹982.38");
    assert!(
        text.contains("Minus Rupees Nine Hundred Eighty Two and Thirty Eight Paise Only"),
        "{text}"
    );
}

#[test]
fn stays_one_small_page() {
    for p in [supervisor(), housekeeper()] {
        let pdf = Renderer::new().unwrap().render_pdf(&p).unwrap();
        assert!(pdf.len() <= MAX_PDF_BYTES, "{} bytes", pdf.len());
        let info = poppler("pdfinfo", &[], &pdf);
        assert!(info.lines().any(|l| l.split_whitespace().eq(["Pages:", "1"])), "{info}");
        assert!(info.contains("595 x 842 pts (A4)"), "{info}");
    }
}

#[test]
fn too_many_lines_for_a_page_is_an_error() {
    let mut p = supervisor();
    p.earnings = (0..60)
        .map(|i| payroll_payslips::Line::new(format!("Allowance {i}"), dec("10")))
        .collect();
    let err = Renderer::new().unwrap().render_pdf(&p).unwrap_err();
    assert!(matches!(err, Error::PageOverflow { .. }), "{err}");
}

#[test]
fn characters_outside_the_prepared_fonts_still_render_and_extract() {
    let mut p = supervisor();
    p.worker.name = "Zoë Ñúñez D’Souza".into();
    p.org_name = "Ōm Façade Services".into();
    let pdf = Renderer::new().unwrap().render_pdf(&p).unwrap();
    let text = pdf_text(&pdf);
    assert!(text.contains("Zoë Ñúñez D’Souza"), "{text}");
    assert!(text.contains("Ōm Façade Services"), "{text}");
    assert!(text.contains("₹1,23,456.50"), "{text}");
    let fonts = poppler("pdffonts", &[], &pdf);
    assert_eq!(
        fonts.lines().filter(|l| l.contains("CID TrueType")).count(),
        2,
        "{fonts}"
    );
}

#[test]
fn a_missing_identity_number_shows_a_dash() {
    let (_, text) = render(&housekeeper());
    assert!(text.contains("PAN —"), "{text}");
}

#[test]
fn one_renderer_gives_the_same_bytes_on_every_thread() {
    let renderer = Renderer::new().unwrap();
    let p = supervisor();
    let want = renderer.render_pdf(&p).unwrap();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..2).map(|_| s.spawn(|| renderer.render_pdf(&p).unwrap())).collect();
        for w in workers {
            assert!(w.join().unwrap() == want);
        }
    });
}
