//! What the caller hands us: one payslip's content, already computed by the
//! engine. Labels and line order come from the ruleset through these vectors;
//! the renderers lay out whatever they are given and never add or reorder lines.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::lang::{Language, Layout};

/// One worker's payslip for one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Payslip {
    /// The language of the frame's words and the amount in words ([`Language::choose`]); the
    /// labels given here (components, attendance, period) are expected in it already.
    pub language: Language,
    /// English beneath each label, or not ([`Layout::Bilingual`] applies to a payslip not in
    /// English; lines and items then carry their English).
    pub layout: Layout,
    pub org_name: String,
    /// Machine form of the period, e.g. "2026-10".
    pub period: String,
    /// Human form of the period in the payslip's language, e.g. "October 2026".
    pub period_label: String,
    pub run_id: String,
    pub generated_on: NaiveDate,
    pub worker: WorkerBlock,
    pub attendance: Vec<Item>,
    pub earnings: Vec<Line>,
    pub deductions: Vec<Line>,
    /// Shown for information; they are not part of net pay.
    pub employer_contributions: Vec<Line>,
    /// Totals are the engine's figures, printed as given rather than re-added
    /// here, so a payslip can never disagree with the run it came from.
    pub gross: Decimal,
    pub total_deductions: Decimal,
    pub net_pay: Decimal,
    /// Differences carried for earlier, locked periods, a block per period, oldest first
    /// (empty when the run carries none for the worker).
    pub arrears: Vec<PeriodArrears>,
    /// What the worker is paid: net pay plus the arrears' nets.
    pub net_payable: Decimal,
}

/// What late events changed in one earlier (paid) period: each component's difference, and the
/// difference in net pay, which is what it adds to this payslip (negative: a recovery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodArrears {
    /// Human form of the original period in the payslip's language, e.g. "October 2026".
    pub period_label: String,
    /// The same in English, for the bilingual layout.
    pub english_period_label: Option<String>,
    pub lines: Vec<Line>,
    pub net: Decimal,
}

/// Identity of the worker. `bank_account` and `pan` are the full values; the
/// renderers mask them by the engine's one policy ([`payroll_engine::masking`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerBlock {
    pub worker_id: String,
    pub name: String,
    pub designation: String,
    pub site: String,
    pub uan: String,
    pub esic_no: String,
    pub bank_account: String,
    pub pan: String,
}

/// A labelled value that is shown, not computed with, e.g. ("Days present", "20.5").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub label: String,
    pub value: String,
    /// The label in English, printed beneath it in the bilingual layout.
    pub english: Option<String>,
}

/// A labelled amount of money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub label: String,
    pub amount: Decimal,
    /// The label in English, printed beneath it in the bilingual layout.
    pub english: Option<String>,
}

/// The payroll register of one run: one row per worker, one column per component.
#[derive(Debug, Clone, PartialEq)]
pub struct Register {
    pub period_label: String,
    pub run_id: String,
    pub generated_on: NaiveDate,
    pub columns: Vec<RegisterColumn>,
    pub rows: Vec<RegisterRow>,
}

/// A component column of the register; `name` is the ruleset's identifier,
/// `label` the heading shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterColumn {
    pub name: String,
    pub label: String,
}

/// One worker's row; `amounts` follows [`Register::columns`] in order.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterRow {
    pub worker_id: String,
    pub name: String,
    pub org_id: String,
    pub site: String,
    pub amounts: Vec<Decimal>,
}

impl Item {
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Item {
            label: label.into(),
            value: value.into(),
            english: None,
        }
    }

    /// The same item with its English label.
    pub fn with_english(mut self, english: impl Into<String>) -> Self {
        self.english = Some(english.into());
        self
    }
}

impl Line {
    pub fn new(label: impl Into<String>, amount: Decimal) -> Self {
        Line {
            label: label.into(),
            amount,
            english: None,
        }
    }

    /// The same line with its English label.
    pub fn with_english(mut self, english: impl Into<String>) -> Self {
        self.english = Some(english.into());
        self
    }
}
