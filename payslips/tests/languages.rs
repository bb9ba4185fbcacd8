//! A payslip in each of the eleven languages, read back as a reader and a person would see it:
//! `pdftotext` gives back the text in its logical order (golden files in
//! `tests/data/languages/`, rewritten with `UPDATE_GOLDEN=1` after a reviewed change),
//! `pdffonts` lists every font embedded as a subset with a ToUnicode map, the file stays within
//! 60 KB, and `pdftoppm` leaves a PNG of each page in `target/payslip-languages/` to look at.
//! Glyph order (that the text is shaped at all) is held by the shaper's own tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use payroll_payslips::{Catalogue, Item, Language, Layout, Payslip, Renderer, amount_in_words_in};

use common::{dec, lines, supervisor};

/// The worker's name as the master gives it, and labels a ruleset would give in the language
/// (basic wage, overtime; provident fund, professional tax; pension).
fn localised(language: Language) -> (&'static str, [&'static str; 5]) {
    match language {
        Language::En => (
            "Kavita Kulkarni",
            [
                "Basic wage",
                "Overtime (2x)",
                "Provident fund (EPF)",
                "Professional tax",
                "Pension (EPS)",
            ],
        ),
        Language::Hi => (
            "अनीता शर्मा",
            [
                "मूल वेतन",
                "ओवरटाइम (दोगुना)",
                "भविष्य निधि (EPF)",
                "व्यवसाय कर",
                "पेंशन (EPS)",
            ],
        ),
        Language::Mr => (
            "सुनीता पाटील",
            [
                "मूळ वेतन",
                "जादा काम (दुप्पट)",
                "भविष्य निर्वाह निधी (EPF)",
                "व्यवसाय कर",
                "निवृत्तिवेतन (EPS)",
            ],
        ),
        Language::Ta => (
            "கவிதா முருகன்",
            [
                "அடிப்படை ஊதியம்",
                "கூடுதல் நேரம் (2x)",
                "வருங்கால வைப்பு நிதி (EPF)",
                "தொழில் வரி",
                "ஓய்வூதியம் (EPS)",
            ],
        ),
        Language::Te => (
            "లక్ష్మి రెడ్డి",
            ["మూల వేతనం", "ఓవర్‌టైమ్ (2x)", "భవిష్య నిధి (EPF)", "వృత్తి పన్ను", "పింఛను (EPS)"],
        ),
        Language::Kn => (
            "ರಮೇಶ್ ಗೌಡ",
            ["ಮೂಲ ವೇತನ", "ಹೆಚ್ಚುವರಿ ಸಮಯ (2x)", "ಭವಿಷ್ಯ ನಿಧಿ (EPF)", "ವೃತ್ತಿ ತೆರಿಗೆ", "ಪಿಂಚಣಿ (EPS)"],
        ),
        Language::Ml => (
            "അനിൽ കുമാർ",
            [
                "അടിസ്ഥാന ശമ്പളം",
                "ഓവർടൈം (2x)",
                "പ്രോവിഡന്റ് ഫണ്ട് (EPF)",
                "തൊഴിൽ നികുതി",
                "പെൻഷൻ (EPS)",
            ],
        ),
        Language::Bn => (
            "সুব্রত দাস",
            [
                "মূল বেতন",
                "ওভারটাইম (দ্বিগুণ)",
                "ভবিষ্য তহবিল (EPF)",
                "বৃত্তি কর",
                "পেনশন (EPS)",
            ],
        ),
        Language::Gu => (
            "કિરણ પટેલ",
            [
                "મૂળ પગાર",
                "ઓવરટાઇમ (બમણો)",
                "ભવિષ્ય નિધિ (EPF)",
                "વ્યવસાય વેરો",
                "પેન્શન (EPS)",
            ],
        ),
        Language::Pa => (
            "ਗੁਰਪ੍ਰੀਤ ਸਿੰਘ",
            ["ਮੂਲ ਤਨਖਾਹ", "ਓਵਰਟਾਈਮ (ਦੁੱਗਣਾ)", "ਭਵਿੱਖ ਨਿਧੀ (EPF)", "ਪੇਸ਼ਾ ਟੈਕਸ", "ਪੈਨਸ਼ਨ (EPS)"],
        ),
        Language::Or => (
            "ପ୍ରିୟଙ୍କା ମହାନ୍ତି",
            ["ମୂଳ ଦରମା", "ଅତିରିକ୍ତ ସମୟ (ଦୁଇଗୁଣ)", "ଭବିଷ୍ୟ ନିଧି (EPF)", "ବୃତ୍ତି କର", "ପେନସନ (EPS)"],
        ),
    }
}

/// The sample supervisor's payslip as the pipeline makes it for a worker reading `language`.
fn payslip(language: Language) -> Payslip {
    let words = language.catalogue();
    let (name, [basic, overtime, pf, pt, eps]) = localised(language);
    let mut p = supervisor();
    p.language = language;
    p.period_label = words.month_year(2026, 10);
    p.worker.name = name.into();
    p.attendance = vec![
        Item::new(&words.working_days, "27"),
        Item::new(&words.days_present, "20.5"),
        Item::new(&words.paid_leave, "2"),
        Item::new(&words.lop_days, "1.5"),
        Item::new(&words.overtime_hours, "6.0"),
        Item::new(&words.missed_punches, "1"),
    ];
    p.earnings = lines(&[(basic, "18200.00"), (overtime, "1250.50")]);
    p.deductions = lines(&[(pf, "1800.00"), (pt, "200.00")]);
    p.employer_contributions = lines(&[(eps, "1250.00")]);
    p.gross = dec("19450.50");
    p.total_deductions = dec("2000.00");
    p.net_pay = dec("17450.50");
    p.net_payable = dec("17450.50");
    p
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/payslip-languages");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed: apt-get install poppler-utils (scripts/test does): {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn a_payslip_in_each_language_reads_back_as_written() {
    let renderer = Renderer::new().unwrap();
    let dir = out_dir();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for language in Language::ALL {
        let p = payslip(language);
        let pdf = renderer.render_pdf(&p).unwrap();
        assert!(pdf.len() <= 60 * 1024, "{language}: {} bytes", pdf.len());
        let file = dir.join(format!("{language}.pdf"));
        std::fs::write(&file, &pdf).unwrap();
        let file = file.to_str().unwrap();

        // The text a reader extracts: every string in its logical order, whatever order the
        // glyphs are drawn in.
        let text = run("pdftotext", &["-enc", "UTF-8", file, "-"]);
        let words = language.catalogue();
        let (name, labels) = localised(language);
        let expected = [
            name,
            &Catalogue::with_period(&words.title, &words.month_year(2026, 10)),
            &words.net_pay,
            &words.earnings,
            &words.deductions,
            &words.footer,
            &amount_in_words_in(language, p.net_pay),
        ];
        for wanted in expected.into_iter().chain(labels) {
            assert!(text.contains(wanted), "{language}: `{wanted}` not in the text:\n{text}");
        }
        let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/languages/{language}.txt"));
        if update {
            std::fs::write(&golden, &text).unwrap();
        } else if std::fs::read_to_string(&golden).ok().as_deref() != Some(text.as_str()) {
            stale.push(format!(
                "{language}: the text differs from {}:\n{text}",
                golden.display()
            ));
        }

        // Every font embedded, as a subset, with a ToUnicode map; the worker's script among them.
        let fonts = run("pdffonts", &[file]);
        let rows: Vec<&str> = fonts.lines().skip(2).collect();
        assert!(rows.len() >= 2, "{language}: {fonts}");
        for row in &rows {
            let columns: Vec<&str> = row.split_whitespace().collect();
            // name type encoding emb sub uni object id
            let n = columns.len();
            assert_eq!(&columns[n - 5..n - 2], ["yes", "yes", "yes"], "{language}: {row}");
            assert!(columns[0].contains('+'), "{language}: not a subset: {row}");
        }
        if language != Language::En {
            assert!(rows.iter().any(|r| r.contains("+NotoSans")), "{language}: {fonts}");
        }

        // For a person to look at.
        let png = dir.join(language.code());
        run(
            "pdftoppm",
            &["-r", "72", "-png", "-singlefile", file, png.to_str().unwrap()],
        );
    }
    assert!(stale.is_empty(), "{}", stale.join("\n\n"));
}

/// Two scripts in one payslip (a Tamil payslip of a worker whose name the master gives in
/// Devanagari): both faces are embedded, each a subset, and the file stays small.
#[test]
fn two_scripts_in_one_payslip_stay_small() {
    let mut p = payslip(Language::Ta);
    p.worker.name = "अनीता शर्मा".into();
    let pdf = Renderer::new().unwrap().render_pdf(&p).unwrap();
    assert!(pdf.len() <= 60 * 1024, "{} bytes", pdf.len());
    let file = out_dir().join("ta-with-devanagari-name.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let fonts = run("pdffonts", &[file.to_str().unwrap()]);
    assert!(fonts.contains("+NotoSansTamil-"), "{fonts}");
    assert!(fonts.contains("+NotoSansDevanagari-"), "{fonts}");
    let text = run("pdftotext", &["-enc", "UTF-8", file.to_str().unwrap(), "-"]);
    assert!(text.contains("अनीता शर्मा"), "{text}");
}

/// English payslips are what they were: no script face is embedded.
#[test]
fn an_english_payslip_embeds_only_dejavu() {
    let pdf = Renderer::new().unwrap().render_pdf(&payslip(Language::En)).unwrap();
    let file = out_dir().join("en-only.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let fonts = run("pdffonts", &[file.to_str().unwrap()]);
    assert!(!fonts.contains("Noto"), "{fonts}");
    assert_eq!(fonts.lines().count(), 4, "{fonts}");
}

/// The bilingual layout, an org's choice: each label in the worker's language with English
/// beneath it (frame, attendance and component labels); the single layout has no English.
#[test]
fn the_bilingual_layout_prints_english_beneath_each_label() {
    let (_, english_labels) = localised(Language::En);
    let en = Language::En.catalogue();
    let mut p = payslip(Language::Hi);
    let with_english = |lines: Vec<payroll_payslips::Line>, english: &[&str]| -> Vec<payroll_payslips::Line> {
        lines
            .into_iter()
            .zip(english)
            .map(|(l, e)| l.with_english(*e))
            .collect()
    };
    p.earnings = with_english(p.earnings, &english_labels[..2]);
    p.deductions = with_english(p.deductions, &english_labels[2..4]);
    p.employer_contributions = with_english(p.employer_contributions, &english_labels[4..]);
    let attendance = [
        &en.working_days,
        &en.days_present,
        &en.paid_leave,
        &en.lop_days,
        &en.overtime_hours,
        &en.missed_punches,
    ];
    p.attendance = p
        .attendance
        .into_iter()
        .zip(attendance)
        .map(|(i, e)| i.with_english(e))
        .collect();
    let renderer = Renderer::new().unwrap();
    let dir = out_dir();

    let single = renderer.render_pdf(&p).unwrap();
    p.layout = Layout::Bilingual;
    let bilingual = renderer.render_pdf(&p).unwrap();
    assert!(bilingual.len() <= 60 * 1024, "{} bytes", bilingual.len());
    let text = |name: &str, pdf: &[u8]| {
        let file = dir.join(name);
        std::fs::write(&file, pdf).unwrap();
        run("pdftotext", &["-enc", "UTF-8", file.to_str().unwrap(), "-"])
    };
    let single = text("hi-single.pdf", &single);
    let bilingual = text("hi-bilingual.pdf", &bilingual);
    let file = dir.join("hi-bilingual.pdf");
    run(
        "pdftoppm",
        &[
            "-r",
            "72",
            "-png",
            "-singlefile",
            file.to_str().unwrap(),
            dir.join("hi-bilingual").to_str().unwrap(),
        ],
    );

    let hindi = Language::Hi.catalogue();
    let pairs = [
        (hindi.net_pay.as_str(), en.net_pay.as_str()),
        (&hindi.earnings, &en.earnings),
        (&hindi.deductions, &en.deductions),
        (&hindi.attendance, &en.attendance),
        (&hindi.working_days, &en.working_days),
        (&hindi.employee_id, &en.employee_id),
        (&hindi.footer, &en.footer),
        ("मूल वेतन", "Basic wage"),
        ("व्यवसाय कर", "Professional tax"),
        ("पेंशन (EPS)", "Pension (EPS)"),
    ];
    for (local, english) in pairs {
        assert!(bilingual.contains(local), "`{local}` not in:\n{bilingual}");
        assert!(bilingual.contains(english), "`{english}` not in:\n{bilingual}");
        assert!(single.contains(local), "`{local}` not in:\n{single}");
        assert!(!single.contains(english), "`{english}` in the single layout:\n{single}");
    }
    assert!(bilingual.contains("Payslip for October 2026"), "{bilingual}");
}
