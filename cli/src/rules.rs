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
