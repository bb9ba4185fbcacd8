//! The ruleset file as written: TOML, deserialised with spans so every fault can name its line.
//! Meaning (names, types, cycles) is checked later, in `compile`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::rounding::Rounding;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesetFile {
    pub name: Spanned<String>,
    pub version: Spanned<String>,
    pub effective_from: Spanned<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default, rename = "component")]
    pub components: Vec<Spanned<ComponentDef>>,
    #[serde(default)]
    pub tables: BTreeMap<String, Spanned<TableDef>>,
    #[serde(default, rename = "revision")]
    pub revisions: Vec<Spanned<RevisionDef>>,
    /// Which totals a payslip prints as gross, total deductions and net pay.
    #[serde(default)]
    pub payslip: Option<Spanned<PayslipDef>>,
    /// Which components feed which column of the statutory returns (EPFO ECR, ESIC).
    #[serde(default)]
    pub returns: Option<Spanned<ReturnsDef>>,
    /// Conditions on each worker's row: what fires is a finding of the run (see `check`).
    #[serde(default, rename = "check")]
    pub checks: Vec<Spanned<CheckDef>>,
    /// Component labels per language: `[labels.hi] basic = "मूल वेतन"` (see `labels`).
    #[serde(default)]
    pub labels: BTreeMap<String, Spanned<BTreeMap<String, String>>>,
    /// Inputs every test case starts from, before its own `inputs`.
    #[serde(default)]
    pub test_defaults: BTreeMap<String, toml::Value>,
    #[serde(default, rename = "test")]
    pub tests: Vec<Spanned<TestDef>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Earning,
    Deduction,
    EmployerContribution,
    Total,
    Flag,
    /// Computed for other components and for `explain`, not shown on payslips.
    Intermediate,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Earning => "earning",
            Category::Deduction => "deduction",
            Category::EmployerContribution => "employer_contribution",
            Category::Total => "total",
            Category::Flag => "flag",
            Category::Intermediate => "intermediate",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentDef {
    pub name: Spanned<String>,
    pub category: Category,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub round: Rounding,
    /// A condition: when false the component is zero (false for a flag).
    #[serde(default)]
    pub when: Option<Spanned<String>>,
    #[serde(default)]
    pub expr: Option<Spanned<String>>,
    /// Declares an engine input (e.g. `adjustment_earnings`) as a line of this category, so
    /// payslips show it in the ruleset's order with the ruleset's label.
    #[serde(default)]
    pub input: bool,
}

/// A check as written: `when` is true of a worker whose row someone should look at before the
/// run is paid, `message` says why (quoting columns as `{name}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDef {
    pub name: Spanned<String>,
    #[serde(default)]
    pub label: Option<String>,
    pub severity: Spanned<String>,
    pub when: Spanned<String>,
    pub message: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDef {
    #[serde(default)]
    pub description: String,
    /// Columns matched exactly against the leading arguments; a missing cell or `*` matches any.
    #[serde(default, rename = "match")]
    pub match_columns: Vec<String>,
    /// Name of the last argument, compared with each row's `upto` (<=) or `below` (<) bound.
    #[serde(default)]
    pub range: Option<String>,
    #[serde(default)]
    pub rows: Option<Vec<Spanned<BTreeMap<String, toml::Value>>>>,
    /// A CSV file, relative to the ruleset, with the same columns as `rows`.
    #[serde(default)]
    pub file: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisionDef {
    pub version: Spanned<String>,
    pub effective_from: Spanned<String>,
    #[serde(default)]
    pub description: String,
    /// Components replaced (same name, same place) or added (at the end).
    #[serde(default, rename = "component")]
    pub components: Vec<Spanned<ComponentDef>>,
    #[serde(default)]
    pub remove: Vec<String>,
    #[serde(default)]
    pub tables: BTreeMap<String, Spanned<TableDef>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayslipDef {
    pub gross: String,
    pub deductions: String,
    pub net: String,
}

/// `[returns]`: for each column of a statutory return, the component or input (or several,
/// summed) that fills it. Each return is optional; a ruleset without one cannot produce it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnsDef {
    pub ecr: Option<EcrDef>,
    pub esic: Option<EsicDef>,
}

/// The EPFO ECR 2.0 columns a ruleset fills (UAN and name come from the worker master).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcrDef {
    /// A boolean input or flag: who is a member (`pf_applicable` by default).
    #[serde(default = "pf_applicable")]
    pub member: String,
    pub gross_wages: Names,
    pub epf_wages: Names,
    pub eps_wages: Names,
    pub edli_wages: Names,
    /// The employee's share (EPF contribution remitted).
    pub epf_contribution: Names,
    /// The employer's pension share (EPS contribution remitted).
    pub eps_contribution: Names,
    /// The employer's EPF share (EPF - EPS difference remitted).
    pub epf_eps_difference: Names,
    /// Non-contributing days (loss of pay).
    pub ncp_days: Names,
    /// Refund of advances; zero when not named.
    #[serde(default)]
    pub refund_of_advances: Option<Names>,
}

/// The ESIC monthly contribution columns a ruleset fills (IP number and name come from the
/// worker master; the reason code for zero days and the last working day from the employment
/// dates and leave).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EsicDef {
    /// A boolean input or flag: who is an insured person (`esi_applicable` by default).
    #[serde(default = "esi_applicable")]
    pub member: String,
    /// Days for which wages were paid or are payable.
    pub days_paid: Names,
    /// Total monthly wages.
    pub wages: Names,
}

fn pf_applicable() -> String {
    "pf_applicable".to_string()
}

fn esi_applicable() -> String {
    "esi_applicable".to_string()
}

/// A component or input, or a list of them summed: `"pf_wage"`, `["present_days", "paid_leave_days"]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Names {
    One(String),
    Sum(Vec<String>),
}

impl Names {
    pub fn names(&self) -> &[String] {
        match self {
            Names::One(name) => std::slice::from_ref(name),
            Names::Sum(names) => names,
        }
    }
}

impl EcrDef {
    /// Each amount column's name in the file and what fills it.
    pub fn columns(&self) -> Vec<(&'static str, &Names)> {
        let mut columns = vec![
            ("gross_wages", &self.gross_wages),
            ("epf_wages", &self.epf_wages),
            ("eps_wages", &self.eps_wages),
            ("edli_wages", &self.edli_wages),
            ("epf_contribution", &self.epf_contribution),
            ("eps_contribution", &self.eps_contribution),
            ("epf_eps_difference", &self.epf_eps_difference),
            ("ncp_days", &self.ncp_days),
        ];
        if let Some(refund) = &self.refund_of_advances {
            columns.push(("refund_of_advances", refund));
        }
        columns
    }
}

impl EsicDef {
    pub fn columns(&self) -> Vec<(&'static str, &Names)> {
        vec![("days_paid", &self.days_paid), ("wages", &self.wages)]
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestDef {
    pub name: String,
    pub period: Spanned<String>,
    #[serde(default)]
    pub inputs: BTreeMap<String, toml::Value>,
    pub expect: BTreeMap<String, toml::Value>,
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A TOML value as the text a cell would hold: `"7500"`, `7500` and `7500.0`-free decimals alike.
pub fn cell_text(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Float(f) => Err(format!(
            "{f} is a float; write amounts as strings (\"{f}\") so they stay exact"
        )),
        other => Err(format!("expected a string or integer, found {}", other.type_str())),
    }
}
