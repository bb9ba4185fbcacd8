//! What-if previews: a period's pay under another ruleset, or other rates, computed from a
//! calculated run's period inputs. A run's results carry every input beside the components, so
//! a preview reads them instead of folding the events again; it is never a run: no record, no
//! lock, no payslip. What it says: per component the base's total and the preview's, per worker
//! the base's net pay and the preview's, and how many workers' findings would change.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, RecordBatch, new_null_array};
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use datafusion::common::ScalarValue;
use datafusion::execution::context::SessionContext;
use payroll_engine::findings::{self, Finding, Previous};
use payroll_engine::{Calculator, WorkerError};
use payroll_rules::vocabulary::{self, PayPeriod};
use payroll_rules::{BuiltIn, Category, Ruleset};
use rust_decimal::Decimal;

use crate::error::Result;

/// What a preview is asked.
pub struct PreviewRequest<'a> {
    /// The base run's results of one org (inputs and components).
    pub base: &'a [RecordBatch],
    pub period: PayPeriod,
    /// The ruleset to preview: the version in force on the period's first day applies.
    pub ruleset: &'a Ruleset,
    /// New rates by worker, in the unit of each worker's pay basis.
    pub rates: &'a BTreeMap<String, Decimal>,
    /// The base run's net pay component, and the preview ruleset's.
    pub base_net: &'a str,
    /// The org's last finalized period, as the checks read it.
    pub previous: &'a Previous,
    /// The base run's findings of the ruleset's checks: (worker, check).
    pub base_findings: &'a BTreeSet<(String, String)>,
}

/// A component's total in the base run and in the preview.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ComponentTotals {
    pub component: String,
    pub base: Option<Decimal>,
    pub preview: Option<Decimal>,
}

/// A site's net pay in the base run and in the preview, and its workers in either.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SiteNets {
    pub site_id: String,
    pub workers: u64,
    pub base: Decimal,
    pub preview: Decimal,
}

/// A worker's net pay in the base run and in the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerNets {
    pub worker_id: String,
    pub base: Option<Decimal>,
    pub preview: Option<Decimal>,
}

impl WorkerNets {
    pub fn difference(&self) -> Decimal {
        self.preview.unwrap_or_default() - self.base.unwrap_or_default()
    }
}

/// What a preview found, in figures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub workers: u64,
    pub gain: u64,
    pub lose: u64,
    pub same: u64,
    /// Workers whose findings of the ruleset's checks differ from the base run's.
    pub findings_changed: u64,
    /// Workers the preview's rules give no value for (worker errors).
    pub worker_errors: u64,
    pub totals: Vec<ComponentTotals>,
    /// Per site, in the order of their ids.
    pub sites: Vec<SiteNets>,
}

pub struct Preview {
    /// One row per computed worker, in a run's result schema (inputs, then components).
    pub results: Vec<RecordBatch>,
    pub errors: Vec<WorkerError>,
    pub findings: Vec<Finding>,
    /// Every worker of the base or the preview, the biggest change first.
    pub workers: Vec<WorkerNets>,
    pub summary: Summary,
}

/// Computes the preview.
pub async fn preview(request: PreviewRequest<'_>) -> Result<Preview> {
    let PreviewRequest {
        base,
        period,
        ruleset,
        rates,
        base_net,
        previous,
        base_findings,
    } = request;
    let version = ruleset.version_on(period.first_day())?;
    let inputs = base.iter().map(|b| inputs_of(b, rates)).collect::<Result<Vec<_>>>()?;
    let calculation = Calculator::default().compute(version, inputs).await?;
    let checks = SessionContext::new();
    let mut found = Vec::new();
    for batch in &calculation.results {
        found.extend(findings::of_rows(&checks, version, batch, previous).await?);
    }

    let net = version.payslip.as_ref().map_or(base_net, |p| p.net.as_str());
    let base_nets: BTreeMap<String, Decimal> = base.iter().flat_map(|b| findings::nets(b, base_net)).collect();
    let preview_nets: BTreeMap<String, Decimal> = calculation
        .results
        .iter()
        .flat_map(|b| findings::nets(b, net))
        .collect();
    let ids: BTreeSet<&String> = base_nets.keys().chain(preview_nets.keys()).collect();
    let mut workers: Vec<WorkerNets> = ids
        .into_iter()
        .map(|id| WorkerNets {
            worker_id: id.clone(),
            base: base_nets.get(id).copied(),
            preview: preview_nets.get(id).copied(),
        })
        .collect();
    crate::variance::biggest_change_first(&mut workers, WorkerNets::difference, |w| &w.worker_id);
    let gain = workers.iter().filter(|w| w.difference() > Decimal::ZERO).count() as u64;
    let lose = workers.iter().filter(|w| w.difference() < Decimal::ZERO).count() as u64;

    let built_in = |check: &str| BuiltIn::ALL.iter().any(|b| b.name() == check);
    let of = |findings: &mut dyn Iterator<Item = (String, String)>| -> BTreeMap<String, BTreeSet<String>> {
        let mut by_worker: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (worker, check) in findings.filter(|(_, c)| !built_in(c)) {
            by_worker.entry(worker).or_default().insert(check);
        }
        by_worker
    };
    let before = of(&mut base_findings.iter().cloned());
    let after = of(&mut found.iter().map(|f| (f.worker_id.clone(), f.check.clone())));
    let changed: BTreeSet<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|w| before.get(*w) != after.get(*w))
        .collect();

    let site_of: BTreeMap<String, String> = base
        .iter()
        .chain(&calculation.results)
        .flat_map(|b| {
            let text = |name: &str| b.column_by_name(name).and_then(|c| c.as_string_opt::<i32>().cloned());
            let (ids, sites) = (text("worker_id"), text("site_id"));
            (0..b.num_rows())
                .filter_map(move |i| Some((ids.as_ref()?.value(i).to_string(), sites.as_ref()?.value(i).to_string())))
        })
        .collect();
    let mut sites: BTreeMap<String, SiteNets> = BTreeMap::new();
    for w in &workers {
        let site_id = site_of.get(&w.worker_id).cloned().unwrap_or_default();
        let site = sites.entry(site_id.clone()).or_insert_with(|| SiteNets {
            site_id,
            workers: 0,
            base: Decimal::ZERO,
            preview: Decimal::ZERO,
        });
        site.workers += 1;
        site.base += w.base.unwrap_or_default();
        site.preview += w.preview.unwrap_or_default();
    }
    let base_totals = payroll_engine::run::totals(version, base)?;
    let preview_totals = payroll_engine::run::totals(version, &calculation.results)?;
    let totals = version
        .components
        .iter()
        .filter(|c| !matches!(c.category, Category::Flag | Category::Intermediate))
        .map(|c| ComponentTotals {
            component: c.name.clone(),
            base: base_totals.get(&c.name).copied(),
            preview: preview_totals.get(&c.name).copied(),
        })
        .collect();
    Ok(Preview {
        summary: Summary {
            workers: workers.len() as u64,
            gain,
            lose,
            same: workers.len() as u64 - gain - lose,
            findings_changed: changed.len() as u64,
            worker_errors: calculation.errors.len() as u64,
            totals,
            sites: sites.into_values().collect(),
        },
        results: calculation.results,
        errors: calculation.errors,
        findings: found,
        workers,
    })
}

/// The period inputs a result batch carries, in `vocabulary::schema()`, with `rates` in place
/// of the workers' own. An input the base run did not have yet is the neutral value a run
/// gives when there is nothing to count (zero, false, empty).
fn inputs_of(results: &RecordBatch, rates: &BTreeMap<String, Decimal>) -> Result<RecordBatch> {
    let rows = results.num_rows();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(vocabulary::INPUTS.len());
    for input in vocabulary::INPUTS {
        let column = match results.column_by_name(input.name) {
            Some(c) if c.data_type() == &input.data_type => Arc::clone(c),
            _ if input.nullable => new_null_array(&input.data_type, rows),
            _ => {
                let neutral = match &input.data_type {
                    DataType::Utf8 => ScalarValue::from(""),
                    DataType::Boolean => ScalarValue::from(false),
                    t => ScalarValue::new_zero(t)?,
                };
                neutral.to_array_of_size(rows)?
            }
        };
        columns.push(column);
    }
    if !rates.is_empty() {
        let at = vocabulary::INPUTS
            .iter()
            .position(|i| i.name == "rate")
            .unwrap_or_default();
        let DataType::Decimal128(precision, scale) = vocabulary::MONEY else {
            return Ok(RecordBatch::try_new(vocabulary::schema(), columns)?);
        };
        let ids = results
            .column_by_name("worker_id")
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| payroll_connectors::Error::input("results", "no worker_id column"))?;
        let old = columns[at].as_primitive::<Decimal128Type>();
        let rate: Decimal128Array = (0..rows)
            .map(|row| match rates.get(ids.value(row)) {
                Some(rate) => Some(rate.mantissa() * 10i128.pow(u32::from(scale as u8).saturating_sub(rate.scale()))),
                None => old.is_valid(row).then(|| old.value(row)),
            })
            .collect::<Decimal128Array>()
            .with_precision_and_scale(precision, scale)?;
        columns[at] = Arc::new(rate);
    }
    Ok(RecordBatch::try_new(vocabulary::schema(), columns)?)
}

/// The per-worker figures as a batch to keep: `worker_id, base_net, preview_net, difference`,
/// amounts as decimal text (a page of them is read back whole, never summed).
pub fn workers_batch(workers: &[WorkerNets]) -> Result<RecordBatch> {
    let text = |value: Option<Decimal>| value.map(|v| format!("{v:.2}"));
    let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
        datafusion::arrow::datatypes::Field::new("worker_id", DataType::Utf8, false),
        datafusion::arrow::datatypes::Field::new("base_net", DataType::Utf8, true),
        datafusion::arrow::datatypes::Field::new("preview_net", DataType::Utf8, true),
    ]));
    let column =
        |values: Vec<Option<String>>| Arc::new(datafusion::arrow::array::StringArray::from(values)) as ArrayRef;
    Ok(RecordBatch::try_new(
        schema,
        vec![
            column(workers.iter().map(|w| Some(w.worker_id.clone())).collect()),
            column(workers.iter().map(|w| text(w.base)).collect()),
            column(workers.iter().map(|w| text(w.preview)).collect()),
        ],
    )?)
}

/// The per-worker figures [`workers_batch`] kept, in their order, from its Parquet bytes.
pub fn workers_of(parquet: bytes::Bytes) -> Result<Vec<WorkerNets>> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(parquet)
        .map_err(|e| payroll_connectors::Error::input("workers.parquet", e.to_string()))?
        .build()
        .map_err(|e| payroll_connectors::Error::input("workers.parquet", e.to_string()))?;
    let mut workers = Vec::new();
    for batch in reader {
        let batch = batch?;
        let text = |i: usize| batch.column(i).as_string::<i32>().clone();
        let (ids, base, preview) = (text(0), text(1), text(2));
        let amount = |array: &datafusion::arrow::array::StringArray, row: usize| {
            array
                .is_valid(row)
                .then(|| array.value(row).parse::<Decimal>().ok())
                .flatten()
        };
        for row in 0..batch.num_rows() {
            workers.push(WorkerNets {
                worker_id: ids.value(row).to_string(),
                base: amount(&base, row),
                preview: amount(&preview, row),
            });
        }
    }
    Ok(workers)
}

/// The (worker, check) pairs of a run's findings, from the findings files beside its results
/// (none for a run written before checks were).
pub async fn findings_of_run(
    store: &payroll_connectors::Store,
    record: &payroll_connectors::results::RunRecord,
) -> Result<BTreeSet<(String, String)>> {
    let mut pairs = BTreeSet::new();
    for org in &record.orgs {
        let path = payroll_connectors::layout::findings_part(org, &record.period, &record.run_id);
        let Some(bytes) = store.get_opt(&path).await? else {
            continue;
        };
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .and_then(|b| b.build())
            .map_err(|e| payroll_connectors::Error::input(path.as_ref(), e.to_string()))?;
        for batch in reader {
            let batch = batch?;
            let column = |name: &str| {
                batch
                    .column_by_name(name)
                    .and_then(|c| c.as_string_opt::<i32>().cloned())
            };
            let (Some(workers), Some(checks)) = (column("worker_id"), column("check")) else {
                continue;
            };
            pairs.extend((0..batch.num_rows()).map(|i| (workers.value(i).to_string(), checks.value(i).to_string())));
        }
    }
    Ok(pairs)
}
