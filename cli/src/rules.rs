//! `payroll rules`: check a ruleset, run its inline tests, list the inputs formulas can use.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use payroll_rules::{Error, Ruleset, vocabulary};

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Validate a ruleset: names, types, dependency cycles, tables, dates
    Check { file: PathBuf },
    /// Run the ruleset's inline test cases
    Test { file: PathBuf },
    /// List the inputs formulas can use, with their types
    Inputs,
}

pub async fn rules(command: RulesCommand) -> Result<ExitCode> {
    match command {
        RulesCommand::Check { file } => {
            let Some(ruleset) = load(&file) else {
                return Ok(ExitCode::FAILURE);
            };
            println!(
                "{}: ruleset `{}` is valid (sha256 {})",
                file.display(),
                ruleset.name,
                &ruleset.hash[..12]
            );
            for version in &ruleset.versions {
                println!(
                    "\nversion {} from {}: {} components, {} tables",
                    version.version,
                    version.effective_from,
                    version.components.len(),
                    version.tables.len()
                );
                if !version.description.is_empty() {
                    println!("  {}", version.description);
                }
                for c in &version.components {
                    let source = if c.from_input {
                        "input".to_string()
                    } else {
                        c.rounding.to_string()
                    };
                    println!(
                        "  {:<24} {:<22} {:<14} {}",
                        c.name,
                        c.category.as_str(),
                        source,
                        c.label
                    );
                }
            }
            for warning in label_warnings(&ruleset) {
                println!("warning: {warning}");
            }
            println!(
                "\n{} inline test cases (run them with `payroll rules test {}`)",
                ruleset.tests.len(),
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Test { file } => {
            let Some(ruleset) = load(&file) else {
                return Ok(ExitCode::FAILURE);
            };
            let outcomes = match ruleset.run_tests().await {
                Ok(outcomes) => outcomes,
                Err(Error::TestsFailed { failed, total, details }) => {
                    for d in &details {
                        println!("FAILED {d}");
                    }
                    println!("\n{} passed, {failed} failed", total - failed);
                    return Ok(ExitCode::FAILURE);
                }
                Err(e) => return Err(e.into()),
            };
            for o in &outcomes {
                println!("ok     {}:{}: {}", file.display(), o.line, o.name);
            }
            println!("\n{} passed, 0 failed", outcomes.len());
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Inputs => {
            for input in vocabulary::INPUTS {
                println!(
                    "{:<24} {:<18} {}",
                    input.name,
                    input.data_type.to_string(),
                    input.description
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads a ruleset, printing every fault found; `None` when there were any.
fn load(file: &PathBuf) -> Option<Ruleset> {
    match Ruleset::load(file) {
        Ok(r) => Some(r),
        Err(Error::Invalid(diagnostics)) => {
            for d in &diagnostics {
                eprintln!("error: {d}");
            }
            eprintln!(
                "{} error{} in {}",
                diagnostics.len(),
                if diagnostics.len() == 1 { "" } else { "s" },
                file.display()
            );
            None
        }
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

/// What payslips in a worker's language will print in English: each payslip line a
/// `[labels.<code>]` table leaves out, and the payslip languages with no table at all.
fn label_warnings(ruleset: &payroll_rules::Ruleset) -> Vec<String> {
    let mut warnings = Vec::new();
    for language in ruleset.labels.languages() {
        for version in &ruleset.versions {
            let missing = ruleset.labels.missing(language, version);
            if !missing.is_empty() {
                warnings.push(format!(
                    "version {}: `[labels.{language}]` has no label for {}; payslips in `{language}` print their English labels",
                    version.version,
                    missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    let without: Vec<&str> = payroll_payslips::Language::ALL
        .iter()
        .filter(|l| **l != payroll_payslips::Language::En)
        .map(|l| l.code())
        .filter(|code| !ruleset.labels.languages().any(|l| l == *code))
        .collect();
    if !without.is_empty() {
        warnings.push(format!(
            "no `[labels.<code>]` table for {}: payslips in these languages print the English component labels",
            without.join(", ")
        ));
    }
    warnings
}
