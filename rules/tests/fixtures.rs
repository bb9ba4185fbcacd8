//! Rulesets as data: every valid ruleset under `tests/cases` and `examples` passes its own
//! inline tests, and every invalid one under `tests/invalid` reports exactly the faults in its
//! `.err` file (set UPDATE_GOLDEN=1 to rewrite them after a deliberate change).

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use std::path::{Path, PathBuf};

use payroll_rules::Ruleset;

fn files(dir: &str, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .{extension} files in {dir}");
    files
}

#[tokio::test]
async fn valid_rulesets_pass_their_inline_tests() {
    for file in files("tests/cases", "toml")
        .into_iter()
        .chain(files("examples", "toml"))
    {
        let ruleset = Ruleset::load(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(!ruleset.tests.is_empty(), "{} has no inline tests", file.display());
        if let Err(e) = ruleset.run_tests().await {
            panic!("{e}");
        }
    }
}

#[test]
fn invalid_rulesets_name_file_line_component_and_fault() {
    for file in files("tests/invalid", "toml") {
        let got = match Ruleset::load(&file) {
            Ok(_) => panic!("{} should be refused", file.display()),
            Err(e) => format!("{e}\n"),
        };
        let golden = file.with_extension("err");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &got).unwrap();
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_else(|_| panic!("missing {}", golden.display()));
        assert_eq!(got, want, "{}", file.display());
    }
}

#[test]
fn a_period_before_the_first_version_has_no_rules() {
    let ruleset = Ruleset::load(Path::new("tests/cases/revisions.toml")).unwrap();
    let err = ruleset.version_on("2026-03-31".parse().unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no version of ruleset `revisions` is in force on 2026-03-31: the earliest applies from 2026-04-01"
    );
}

#[test]
fn component_labels_in_a_language_fall_back_to_the_components_own() {
    let ruleset = Ruleset::parse(payroll_rules::EXAMPLE_RULESET, Path::new("india-contract.toml")).unwrap();
    let version = ruleset.versions.last().unwrap();
    let basic = version.component("basic").unwrap();
    assert_eq!(version.label_in(basic, "hi"), "मूल वेतन");
    assert_eq!(version.label_in(basic, "ta"), "அடிப்படை ஊதியம்");
    // A language without a table, and one whose table leaves the component out: its own label.
    assert_eq!(version.label_in(basic, "ur"), "Basic wage");
    let text = payroll_rules::EXAMPLE_RULESET.replace("basic = \"মূল বেতন\"\n", "");
    let partial = Ruleset::parse(&text, Path::new("india-contract.toml")).unwrap();
    let version = partial.versions.last().unwrap();
    assert_eq!(
        version.label_in(version.component("basic").unwrap(), "bn"),
        "Basic wage"
    );
    assert_eq!(partial.labels.missing("bn", version), ["basic"]);
    assert!(partial.labels.missing("hi", version).is_empty());
    // Totals, flags and intermediates are not payslip lines: no label is asked of them.
    assert!(!partial.labels.missing("fr", version).contains(&"gross"));
}
