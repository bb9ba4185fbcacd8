//! `payroll preview`: what the PF wage ceiling at 25,000 would cost over the sample month's
//! run, printed from the run's own inputs; nothing is written, and a ruleset that does not
//! validate is refused naming its line.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::*;

/// Every file under `dir`.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(files(&path));
        } else {
            all.push(path);
        }
    }
    all.sort();
    all
}

#[test]
fn a_preview_prints_what_a_revision_would_cost_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert!(run(&sample(), &out).status.success());
    let record = files(&out.join("runs"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let id = record.file_stem().unwrap().to_string_lossy().to_string();
    let raised = dir.path().join("raised.toml");
    let text = payroll_rules::EXAMPLE_RULESET.replace("least(basic, 15000.00)", "least(basic, 25000.00)");
    std::fs::write(&raised, &text).unwrap();
    let before = files(&out);

    let o = out.display().to_string();
    let output = payroll(&[
        "preview",
        "--run",
        &id,
        "--rules",
        &raised.display().to_string(),
        "--out",
        &o,
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pf = stdout
        .lines()
        .find(|l| l.contains("pf_employee"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        pf.contains("1,22,155.00") && pf.contains("1,72,919.00") && pf.contains("50,764.00"),
        "{pf}"
    );
    assert!(stdout.contains("80 workers: 0 gain, 62 lose, 18 same"), "{stdout}");
    assert_eq!(files(&out), before, "a preview writes nothing");

    std::fs::write(&raised, text.replace("least(basic, 25000.00)", "least(basic, 25000.00")).unwrap();
    let refused = payroll(&[
        "preview",
        "--run",
        &id,
        "--rules",
        &raised.display().to_string(),
        "--out",
        &o,
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("raised.toml:55"), "{stderr}");
}
