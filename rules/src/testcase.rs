//! Inline test cases: a ruleset carries examples of its own results, and `payroll rules test`
//! runs them through the same compiled plan the calculator uses.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, Schema};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::common::ScalarValue;
use datafusion::execution::context::SessionContext;
use rust_decimal::Decimal;
use toml::Spanned;

use crate::check::PREV;
use crate::compile::{CompiledVersion, Source};
use crate::error::{Diagnostic, Error, Location, Result};
use crate::file::{TestDef, cell_text, line_of};
use crate::ruleset::Ruleset;
use crate::vocabulary::{self, PayPeriod};

#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: String,
    pub line: usize,
    pub period: PayPeriod,
    inputs: BTreeMap<String, String>,
    expect: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct TestOutcome {
    pub name: String,
    pub line: usize,
    /// One line per expectation not met; empty when the case passed.
    pub failures: Vec<String>,
}

impl TestCase {
    pub(crate) fn from_def(
        def: &Spanned<TestDef>,
        defaults: &BTreeMap<String, toml::Value>,
        source: &Source<'_>,
        versions: &[CompiledVersion],
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<TestCase> {
        let t = def.get_ref();
        let line = line_of(source.text, def.span().start);
        let mut fault = |message: String| {
            diagnostics.push(Diagnostic {
                location: Location {
                    file: source.file.to_path_buf(),
                    line,
                    component: None,
                },
                message: format!("test `{}`: {message}", t.name),
            })
        };
        let period: PayPeriod = match t.period.get_ref().parse() {
            Ok(p) => p,
            Err(e) => {
                fault(e);
                return None;
            }
        };
        let cells = |map: &BTreeMap<String, toml::Value>, fault: &mut dyn FnMut(String)| {
            map.iter()
                .filter_map(|(k, v)| match cell_text(v) {
                    Ok(v) => Some((k.clone(), v)),
                    Err(e) => {
                        fault(format!("`{k}`: {e}"));
                        None
                    }
                })
                .collect::<BTreeMap<_, _>>()
        };
        let mut inputs = cells(defaults, &mut fault);
        inputs.extend(cells(&t.inputs, &mut fault));
        let expect = cells(&t.expect, &mut fault);
        let version = versions.iter().rev().find(|v| v.effective_from <= period.first_day());
        // A component's value last period, for the checks: `prev_net_pay`.
        let prev = |name: &str| {
            name.strip_prefix(PREV)
                .is_some_and(|c| version.is_some_and(|v| v.component(c).is_some_and(|c| !c.from_input)))
        };
        for name in inputs.keys() {
            if vocabulary::get(name).is_none() && !prev(name) {
                fault(format!(
                    "`{name}` is not an input (see `payroll rules inputs`) or a component's prev_ value"
                ));
            }
        }
        if version.is_none() && !versions.is_empty() {
            fault(format!(
                "period {period} is before the first version ({})",
                versions[0].effective_from
            ));
            return None;
        }
        for name in expect.keys() {
            let known = vocabulary::get(name).is_some()
                || version.is_some_and(|v| v.component(name).is_some() || v.checks.iter().any(|c| c.name == *name));
            if !known {
                fault(format!(
                    "expects `{name}`, which is neither a component, a check nor an input"
                ));
            }
        }
        Some(TestCase {
            name: t.name.clone(),
            line,
            period,
            inputs,
            expect,
        })
    }

    fn inputs_batch(&self) -> Result<RecordBatch> {
        inputs_row(self.period, &self.inputs)
    }

    #[allow(clippy::expect_used, reason = "names checked on load")]
    async fn run(&self, version: &CompiledVersion) -> Result<TestOutcome> {
        let batches = version.evaluate(self.inputs_batch()?).await?;
        let batches = match version.checks.is_empty() {
            true => batches,
            false => self.checked(version, &batches[0]).await?,
        };
        let row = &batches[0];
        let failures = self
            .expect
            .iter()
            .filter_map(|(name, want)| {
                let got = row.column_by_name(name).expect("names checked on load");
                (!same_value(got, want)).then(|| format!("{name}: expected {want}, got {}", display(got)))
            })
            .collect();
        Ok(TestOutcome {
            name: self.name.clone(),
            line: self.line,
            failures,
        })
    }
}

impl TestCase {
    /// The computed row with each check's column: the case's `prev_` values (NULL where it
    /// gives none) beside it, as a run has the last finalized period's.
    async fn checked(&self, version: &CompiledVersion, row: &RecordBatch) -> Result<Vec<RecordBatch>> {
        let mut fields: Vec<Arc<Field>> = row.schema().fields().iter().cloned().collect();
        let mut columns = row.columns().to_vec();
        for (name, _, data_type) in version.prev_columns() {
            let value = match self.inputs.get(&name) {
                Some(text) => ScalarValue::try_from_string(text.clone(), &data_type)?,
                None => ScalarValue::try_from(&data_type)?,
            };
            fields.push(Arc::new(Field::new(name, data_type, true)));
            columns.push(value.to_array()?);
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        let ctx = SessionContext::new();
        Ok(version.check_columns(ctx.read_batch(batch)?)?.collect().await?)
    }
}

/// A one-row batch of period inputs: `inputs` (as text), the period's own fields, and neutral
/// defaults (empty text, zero, false) for the rest.
pub(crate) fn inputs_row(p: PayPeriod, inputs: &BTreeMap<String, String>) -> Result<RecordBatch> {
    let derived = |name: &str| -> Option<String> {
        Some(match name {
            "period" => p.to_string(),
            "year" => p.year.to_string(),
            "month" => p.month.to_string(),
            "period_start" => p.first_day().to_string(),
            "period_end" => p.last_day().to_string(),
            "days_in_period" => p.days().to_string(),
            "joined_on" => "2000-01-01".into(),
            _ => return None,
        })
    };
    let columns = vocabulary::INPUTS
        .iter()
        .map(|input| {
            let text = inputs.get(input.name).cloned().or_else(|| derived(input.name));
            let value = match (text, &input.data_type) {
                (None, _) if input.nullable => ScalarValue::try_from(&input.data_type)?,
                (None, DataType::Utf8) => ScalarValue::from(""),
                (None, DataType::Boolean) => ScalarValue::from(false),
                (None, t) => ScalarValue::try_from_string("0".into(), t)?,
                (Some(text), t) => ScalarValue::try_from_string(text, t)?,
            };
            Ok(value.to_array()?)
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new(vocabulary::schema(), columns)?)
}

fn display(array: &ArrayRef) -> String {
    if array.is_null(0) {
        return "NULL".into();
    }
    array_value_to_string(array, 0).unwrap_or_else(|e| e.to_string())
}

/// Decimals compare by value (`282` equals `282.00`), everything else by its text.
fn same_value(array: &ArrayRef, want: &str) -> bool {
    if array.is_null(0) {
        return want.eq_ignore_ascii_case("null");
    }
    match array.data_type() {
        DataType::Decimal128(_, scale) => {
            let got = Decimal::from_i128_with_scale(array.as_primitive::<Decimal128Type>().value(0), *scale as u32);
            want.parse::<Decimal>().is_ok_and(|w| w == got)
        }
        _ => display(array) == want,
    }
}

impl Ruleset {
    /// Runs every inline test case; `Err(TestsFailed)` lists each expectation not met.
    pub async fn run_tests(&self) -> Result<Vec<TestOutcome>> {
        let mut outcomes = Vec::with_capacity(self.tests.len());
        for case in &self.tests {
            let version = self.version_on(case.period.first_day())?;
            outcomes.push(case.run(version).await?);
        }
        let details: Vec<String> = outcomes
            .iter()
            .filter(|o| !o.failures.is_empty())
            .map(|o| {
                format!(
                    "{}:{}: test `{}`: {}",
                    self.file.display(),
                    o.line,
                    o.name,
                    o.failures.join("; ")
                )
            })
            .collect();
        if details.is_empty() {
            Ok(outcomes)
        } else {
            Err(Error::TestsFailed {
                failed: details.len(),
                total: outcomes.len(),
                details,
            })
        }
    }
}
