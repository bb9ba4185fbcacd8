//! The declarative wage-rule language.
//!
//! A ruleset is a TOML file of components: SQL expressions over the period inputs (see
//! [`vocabulary`]), the worker's fields and earlier components, each with a category, a label,
//! an optional condition and its own rounding; lookup tables called as functions; dated
//! revisions; checks whose findings an approver reviews ([`check`]); and inline test cases. [`Ruleset::load`] parses and validates it (every fault with
//! file, line and component), orders components by dependency and compiles each version to
//! DataFusion expressions over `Decimal128`, so money stays exact end to end.
//!
//! This crate knows nothing about Kafka, files or workers' events: the engine hands it the
//! period inputs as Arrow batches.

mod arith;
mod branches;
pub mod check;
mod choose;
mod compile;
mod diagnose;
mod eager;
mod error;
mod file;
mod labels;
mod rounding;
mod ruleset;
mod session;
mod table;
mod testcase;
pub mod vocabulary;

pub use check::{BuiltIn, Check, Severity};
pub use compile::{CompiledVersion, Component};
pub use error::{Diagnostic, Error, Location, Result};
pub use file::{Category, EcrDef, EsicDef, Names, PayslipDef, ReturnsDef};
pub use labels::Labels;
pub use rounding::Rounding;
pub use ruleset::Ruleset;
pub use session::session;
pub use testcase::{TestCase, TestOutcome};

/// The reference policy's ruleset (POLICY.md), built in so the demo and the embedded service
/// need no file.
pub const EXAMPLE_RULESET: &str = include_str!("../examples/india-contract.toml");
