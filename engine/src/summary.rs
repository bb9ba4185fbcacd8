//! A run's figures per site, as an HR head reads them at a glance (the `summary` table a run
//! writes beside its results): headcount, gross, net and the employer's cost, overtime hours,
//! loss-of-pay days and the attendance rate. Summed exactly from the results rows, so the
//! summary of a site is the sum of its workers' results to the paisa.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, Int64Type, Schema, SchemaRef};
use payroll_rules::{Category, CompiledVersion};
use rust_decimal::Decimal;

use crate::error::{Error, Result};

/// The columns a site's figures are summed from, besides the ruleset's gross and net.
const DAYS: [&str; 5] = [
    "ot_hours",
    "lop_days",
    "present_days",
    "paid_leave_days",
    "working_days",
];

/// What the summary of a run sums for a site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteFigures {
    pub headcount: i64,
    /// `None` when the ruleset names no gross and net (no `[payslip]` section).
    pub gross: Option<Decimal>,
    pub net: Option<Decimal>,
    /// Gross pay and every employer contribution.
    pub employer_cost: Option<Decimal>,
    pub ot_hours: Decimal,
    pub lop_days: Decimal,
    pub present_days: Decimal,
    pub paid_leave_days: Decimal,
    pub working_days: Decimal,
}

impl SiteFigures {
    /// Working days attended (worked, not taken as paid leave or lost) per working day, to four
    /// places; `None` for a site with no working day.
    pub fn attendance_rate(&self) -> Option<Decimal> {
        if self.working_days.is_zero() {
            return None;
        }
        let attended = self.working_days - self.lop_days - self.paid_leave_days;
        Some((attended / self.working_days).round_dp(4))
    }

    /// Adds another site's (or chunk's) figures; a sum past an exact decimal is an error.
    pub fn add(&mut self, other: &SiteFigures) -> Result<()> {
        let sum = |a: Decimal, b: Decimal, column: &str| {
            a.checked_add(b).ok_or_else(|| Error::TotalOverflow {
                column: column.to_string(),
            })
        };
        let maybe = |a: Option<Decimal>, b: Option<Decimal>, column: &str| match (a, b) {
            (Some(a), Some(b)) => sum(a, b, column).map(Some),
            (a, b) => Ok(a.or(b)),
        };
        self.headcount += other.headcount;
        self.gross = maybe(self.gross, other.gross, "gross")?;
        self.net = maybe(self.net, other.net, "net")?;
        self.employer_cost = maybe(self.employer_cost, other.employer_cost, "employer_cost")?;
        self.ot_hours = sum(self.ot_hours, other.ot_hours, "ot_hours")?;
        self.lop_days = sum(self.lop_days, other.lop_days, "lop_days")?;
        self.present_days = sum(self.present_days, other.present_days, "present_days")?;
        self.paid_leave_days = sum(self.paid_leave_days, other.paid_leave_days, "paid_leave_days")?;
        self.working_days = sum(self.working_days, other.working_days, "working_days")?;
        Ok(())
    }
}

/// The components a summary sums, named by the ruleset version a run applied.
#[derive(Debug, Clone)]
pub struct Measures {
    gross: Option<String>,
    net: Option<String>,
    employer_contributions: Vec<String>,
}

impl Measures {
    pub fn of(version: &CompiledVersion) -> Measures {
        Measures {
            gross: version.payslip.as_ref().map(|p| p.gross.clone()),
            net: version.payslip.as_ref().map(|p| p.net.clone()),
            employer_contributions: version
                .components
                .iter()
                .filter(|c| c.category == Category::EmployerContribution)
                .map(|c| c.name.clone())
                .collect(),
        }
    }
}

/// A run's figures per org and site, added to chunk by chunk as its results are written.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    sites: BTreeMap<(String, String), SiteFigures>,
}

impl Summary {
    /// Adds a batch of results rows (the calculator's columns: `org_id`, `site_id`, the inputs
    /// and the components).
    pub fn add(&mut self, measures: &Measures, results: &RecordBatch) -> Result<()> {
        let text = |name: &str| {
            results
                .column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(|| missing(name))
        };
        let (orgs, sites) = (text("org_id")?, text("site_id")?);
        let amount = |name: &str| Amounts::of(results, name);
        let gross = measures.gross.as_deref().map(amount).transpose()?;
        let net = measures.net.as_deref().map(amount).transpose()?;
        let contributions = measures
            .employer_contributions
            .iter()
            .map(|name| amount(name))
            .collect::<Result<Vec<_>>>()?;
        let [ot, lop, present, paid_leave, working] = DAYS.map(amount);
        let (ot, lop, present, paid_leave, working) = (ot?, lop?, present?, paid_leave?, working?);
        for row in 0..results.num_rows() {
            let gross = gross.as_ref().map(|g| g.at(row)).transpose()?;
            let employer_cost = match gross {
                Some(gross) => Some(contributions.iter().try_fold(gross, |cost, c| {
                    cost.checked_add(c.at(row)?).ok_or_else(|| Error::TotalOverflow {
                        column: "employer_cost".to_string(),
                    })
                })?),
                None => None,
            };
            let figures = SiteFigures {
                headcount: 1,
                gross,
                net: net.as_ref().map(|n| n.at(row)).transpose()?,
                employer_cost,
                ot_hours: ot.at(row)?,
                lop_days: lop.at(row)?,
                present_days: present.at(row)?,
                paid_leave_days: paid_leave.at(row)?,
                working_days: working.at(row)?,
            };
            self.sites
                .entry((orgs.value(row).to_string(), sites.value(row).to_string()))
                .or_default()
                .add(&figures)?;
        }
        Ok(())
    }

    pub fn orgs(&self) -> impl Iterator<Item = &str> {
        let mut orgs: Vec<&str> = self.sites.keys().map(|(org, _)| org.as_str()).collect();
        orgs.dedup();
        orgs.into_iter()
    }

    /// The sites of `org`, by site id.
    pub fn sites_of<'a>(&'a self, org: &'a str) -> impl Iterator<Item = (&'a str, &'a SiteFigures)> {
        self.sites
            .iter()
            .filter(move |((o, _), _)| o == org)
            .map(|((_, site), figures)| (site.as_str(), figures))
    }

    /// `org`'s rows of the summary table (see [`schema`]).
    pub fn batch_of(&self, org: &str, period: &str) -> Result<RecordBatch> {
        let rows: Vec<(&str, &SiteFigures)> = self.sites_of(org).collect();
        let text = |value: &dyn Fn(&(&str, &SiteFigures)) -> String| {
            Arc::new(StringArray::from_iter_values(rows.iter().map(value))) as ArrayRef
        };
        let money = |value: &dyn Fn(&SiteFigures) -> Option<Decimal>| decimals(rows.iter().map(|(_, f)| value(f)), 2);
        let days = |value: &dyn Fn(&SiteFigures) -> Decimal| decimals(rows.iter().map(|(_, f)| Some(value(f))), 1);
        let columns: Vec<ArrayRef> = vec![
            text(&|_| org.to_string()),
            text(&|_| period.to_string()),
            text(&|(site, _)| site.to_string()),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|(_, f)| f.headcount))),
            money(&|f| f.gross)?,
            money(&|f| f.net)?,
            money(&|f| f.employer_cost)?,
            days(&|f| f.ot_hours)?,
            days(&|f| f.lop_days)?,
            days(&|f| f.present_days)?,
            days(&|f| f.paid_leave_days)?,
            days(&|f| f.working_days)?,
            decimals(rows.iter().map(|(_, f)| f.attendance_rate()), 4)?,
        ];
        Ok(RecordBatch::try_new(schema(), columns)?)
    }
}

/// The summary table: `org_id, period, site_id, headcount, gross, net, employer_cost,
/// ot_hours, lop_days, present_days, paid_leave_days, working_days, attendance_rate`.
pub fn schema() -> SchemaRef {
    let text = |name| Field::new(name, DataType::Utf8, false);
    let decimal = |name, scale| Field::new(name, DataType::Decimal128(18, scale), true);
    Arc::new(Schema::new(vec![
        text("org_id"),
        text("period"),
        text("site_id"),
        Field::new("headcount", DataType::Int64, false),
        decimal("gross", 2),
        decimal("net", 2),
        decimal("employer_cost", 2),
        decimal("ot_hours", 1),
        decimal("lop_days", 1),
        decimal("present_days", 1),
        decimal("paid_leave_days", 1),
        decimal("working_days", 1),
        decimal("attendance_rate", 4),
    ]))
}

/// Reads the summary table's rows back: `(site_id, figures)`.
pub fn read(batch: &RecordBatch) -> Result<Vec<(String, SiteFigures)>> {
    let sites = batch
        .column_by_name("site_id")
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| missing("site_id"))?;
    let headcount = batch
        .column_by_name("headcount")
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .ok_or_else(|| missing("headcount"))?;
    let amounts = |name: &str| Amounts::of(batch, name);
    let [gross, net, cost, ot, lop, present, paid_leave, working] = [
        "gross",
        "net",
        "employer_cost",
        "ot_hours",
        "lop_days",
        "present_days",
        "paid_leave_days",
        "working_days",
    ]
    .map(amounts);
    let (gross, net, cost) = (gross?, net?, cost?);
    let (ot, lop, present, paid_leave, working) = (ot?, lop?, present?, paid_leave?, working?);
    (0..batch.num_rows())
        .map(|row| {
            Ok((
                sites.value(row).to_string(),
                SiteFigures {
                    headcount: headcount.value(row),
                    gross: gross.maybe_at(row)?,
                    net: net.maybe_at(row)?,
                    employer_cost: cost.maybe_at(row)?,
                    ot_hours: ot.at(row)?,
                    lop_days: lop.at(row)?,
                    present_days: present.at(row)?,
                    paid_leave_days: paid_leave.at(row)?,
                    working_days: working.at(row)?,
                },
            ))
        })
        .collect()
}

/// A column read as exact decimals: a decimal column as it is, a count as whole units.
enum Amounts<'a> {
    Decimal(&'a Decimal128Array, i8, String),
    Whole(&'a Int64Array),
}

impl<'a> Amounts<'a> {
    fn of(batch: &'a RecordBatch, name: &str) -> Result<Amounts<'a>> {
        let column = batch.column_by_name(name).ok_or_else(|| missing(name))?;
        match column.data_type() {
            DataType::Decimal128(_, scale) => Ok(Amounts::Decimal(
                column.as_primitive::<Decimal128Type>(),
                *scale,
                name.to_string(),
            )),
            DataType::Int64 => Ok(Amounts::Whole(column.as_primitive::<Int64Type>())),
            other => Err(Error::Column {
                column: name.to_string(),
                reason: format!("{other}: expected a decimal or a count"),
            }),
        }
    }

    /// The value of `row`; a null (a component the ruleset gave the worker no value for) is 0.
    fn at(&self, row: usize) -> Result<Decimal> {
        Ok(self.maybe_at(row)?.unwrap_or_default())
    }

    fn maybe_at(&self, row: usize) -> Result<Option<Decimal>> {
        match self {
            Amounts::Decimal(values, _, _) if values.is_null(row) => Ok(None),
            Amounts::Decimal(values, scale, name) => crate::money::decimal(values.value(row), *scale)
                .map(Some)
                .ok_or_else(|| Error::TotalOverflow { column: name.clone() }),
            Amounts::Whole(values) if values.is_null(row) => Ok(None),
            Amounts::Whole(values) => Ok(Some(Decimal::from(values.value(row)))),
        }
    }
}

/// Exact decimals as an Arrow column of `scale` (every figure here has at most that many places).
fn decimals(values: impl Iterator<Item = Option<Decimal>>, scale: i8) -> Result<ArrayRef> {
    let unscaled = values
        .map(|value| {
            value.map(|mut v| {
                v.rescale(scale as u32);
                v.mantissa()
            })
        })
        .collect::<Decimal128Array>()
        .with_precision_and_scale(18, scale)?;
    Ok(Arc::new(unscaled))
}

fn missing(name: &str) -> Error {
    Error::Column {
        column: name.to_string(),
        reason: "missing".to_string(),
    }
}
