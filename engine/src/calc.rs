//! The calculator: a DataFusion plan from period inputs to one row per worker with every
//! component of the ruleset, computed in `Decimal128` across all cores.
//!
//! A worker whose formula gives no value for a component (a table with no row for their keys,
//! a division by zero, a `CASE` with no branch for their inputs) is that worker's
//! [`WorkerError`], naming the component and what was missing; every other worker is computed.
//! One bad master row or one gap in a table never sinks a run.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray, UInt32Array};
use datafusion::arrow::compute::{filter_record_batch, nullif, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::MemTable;
use datafusion::execution::context::{SessionConfig, SessionContext};
use payroll_rules::CompiledVersion;
use payroll_rules::vocabulary;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// The column live results carry beside the components: why the worker's pay could not be
/// computed (NULL when it was). See [`Calculator::calculate`].
pub const WORKER_ERROR_COLUMN: &str = "worker_error";

/// A worker whose pay could not be computed: a component that must have a value has none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerError {
    pub worker_id: String,
    pub org_id: String,
    /// The first component without a value (those computed from it have none either).
    pub component: String,
    /// What was missing: `no row of table `min_wage_day` for skill=`x``, `division by zero:
    /// `working_days` is 0`, `no branch of the CASE matches pay_basis=`weekly` ...`.
    pub reason: String,
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: component `{}`: {}", self.worker_id, self.component, self.reason)
    }
}

/// A run's calculation: the workers computed, and those that could not be.
#[derive(Debug, Default)]
pub struct Calculation {
    /// One row per computed worker, in input order: every component has a value.
    pub results: Vec<RecordBatch>,
    /// In input order; a worker appears once per component that failed on its own.
    pub errors: Vec<WorkerError>,
}

pub struct Calculator {
    ctx: SessionContext,
    partitions: usize,
}

impl Default for Calculator {
    fn default() -> Self {
        let partitions = crate::parallel::cores();
        Calculator::new(partitions)
    }
}

impl Calculator {
    pub fn new(partitions: usize) -> Self {
        let config = SessionConfig::new().with_target_partitions(partitions);
        Calculator {
            ctx: payroll_rules::session(config),
            partitions,
        }
    }

    /// A run's calculation: the workers in `inputs` (batches of `vocabulary::schema()`) whose
    /// every component has a value, and a [`WorkerError`] for each of the others.
    ///
    /// Workers with an error are left out of the results rather than kept with blanks: results
    /// are what payslips, the register, totals and every reader of the Parquet files take as
    /// paid, so a worker in them must have a whole, right amount. The errors travel beside the
    /// results (manifest, run record, the service's run) until they are fixed or the workers
    /// are excluded by someone who says why.
    pub async fn compute(&self, version: &CompiledVersion, inputs: Vec<RecordBatch>) -> Result<Calculation> {
        let mut calculation = Calculation::default();
        for (batch, errors) in self.evaluate(version, inputs).await? {
            if errors.is_empty() {
                calculation.results.push(batch);
                continue;
            }
            let keep: BooleanArray = (0..batch.num_rows())
                .map(|row| Some(!errors.iter().any(|(r, _)| *r == row)))
                .collect();
            let kept = filter_record_batch(&batch, &keep)?;
            if kept.num_rows() > 0 {
                calculation.results.push(kept);
            }
            calculation.errors.extend(errors.into_iter().map(|(_, e)| e));
        }
        Ok(calculation)
    }

    /// Every worker's row, in input order, with one more column, [`WORKER_ERROR_COLUMN`]: NULL
    /// for a computed worker; for one that could not be computed, why (`component `x`: reason`,
    /// several joined by `; `), and every computed component NULL: a component that still got
    /// a value (`greatest(missing, 0)` is 0) would be a figure nobody can trust.
    ///
    /// This is what live results keep: the stream never stalls on one worker, the others'
    /// pay stays current, and the worker's pay-to-date says why it has no figure. A SQL sum over
    /// these rows skips the NULLs; runs use [`Calculator::compute`], whose results hold only
    /// computed workers.
    pub async fn calculate(&self, version: &CompiledVersion, inputs: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
        self.evaluate(version, inputs)
            .await?
            .into_iter()
            .map(|(batch, errors)| {
                let mut reasons: Vec<Option<String>> = vec![None; batch.num_rows()];
                for (row, e) in errors {
                    let reason = format!("component `{}`: {}", e.component, e.reason);
                    match &mut reasons[row] {
                        Some(text) => {
                            text.push_str("; ");
                            text.push_str(&reason);
                        }
                        none => *none = Some(reason),
                    }
                }
                let failed: BooleanArray = reasons.iter().map(|r| Some(r.is_some())).collect();
                let schema = batch.schema();
                let computed = |field: &Field| version.component(field.name()).is_some_and(|c| !c.from_input);
                let mut columns = batch
                    .columns()
                    .iter()
                    .zip(schema.fields())
                    .map(|(column, field)| match computed(field) && failed.true_count() > 0 {
                        true => nullif(column, &failed),
                        false => Ok(Arc::clone(column)),
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                // Every component may be blank (DataFusion declares one computed from inputs
                // that always have a value non-nullable): one schema for every batch.
                let mut fields: Vec<Arc<Field>> = schema
                    .fields()
                    .iter()
                    .map(|f| match computed(f) {
                        true => Arc::new(f.as_ref().clone().with_nullable(true)),
                        false => Arc::clone(f),
                    })
                    .collect();
                fields.push(Arc::new(Field::new(WORKER_ERROR_COLUMN, DataType::Utf8, true)));
                columns.push(Arc::new(StringArray::from(reasons)) as ArrayRef);
                Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
            })
            .collect()
    }

    /// Computes every component; each result batch comes with its rows' worker errors (row
    /// index in the batch, error).
    async fn evaluate(
        &self,
        version: &CompiledVersion,
        inputs: Vec<RecordBatch>,
    ) -> Result<Vec<(RecordBatch, Vec<(usize, WorkerError)>)>> {
        // Contiguous runs of batches per partition, so collecting keeps the input order.
        let per_partition = inputs.len().div_ceil(self.partitions).max(1);
        let partitions: Vec<Vec<RecordBatch>> = inputs.chunks(per_partition).map(<[_]>::to_vec).collect();
        let table = MemTable::try_new(vocabulary::schema(), partitions)?;
        let df = self.ctx.read_table(Arc::new(table))?;
        let results = version.apply(df)?.collect().await?;
        results
            .into_iter()
            .map(|batch| {
                let errors = worker_errors(version, &batch)?;
                Ok((batch, errors))
            })
            .collect()
    }
}

/// The worker errors of one result batch. A component without a value is reported where it
/// fails on its own: where every component it reads has a value (those computed from it have
/// none either, and saying so again would only echo it).
fn worker_errors(version: &CompiledVersion, batch: &RecordBatch) -> Result<Vec<(usize, WorkerError)>> {
    let computed: Vec<_> = version.components.iter().filter(|c| !c.from_input).collect();
    let column = |name: &str| batch.column_by_name(name).filter(|c| c.null_count() > 0);
    if computed.iter().all(|c| column(&c.name).is_none()) {
        return Ok(Vec::new());
    }
    // (row, component) where the component fails on its own.
    let mut failures: Vec<(usize, usize)> = Vec::new();
    for (index, component) in computed.iter().enumerate() {
        let Some(values) = column(&component.name) else {
            continue;
        };
        let reads: Vec<&ArrayRef> = component
            .uses
            .iter()
            .filter(|u| version.component(u).is_some_and(|c| !c.from_input))
            .filter_map(|u| batch.column_by_name(u))
            .collect();
        failures.extend(
            (0..batch.num_rows())
                .filter(|&row| values.is_null(row) && reads.iter().all(|r| r.is_valid(row)))
                .map(|row| (row, index)),
        );
    }
    failures.sort_unstable();
    // Only the failing rows are explained: a few workers, not the batch.
    let mut rows: Vec<u32> = failures.iter().map(|&(row, _)| row as u32).collect();
    rows.dedup();
    let failing = take_record_batch(batch, &UInt32Array::from(rows.clone()))?;
    let position = |row: usize| rows.binary_search(&(row as u32)).unwrap_or_default();
    let mut reasons: Vec<Option<Vec<Option<String>>>> = vec![None; computed.len()];
    let text = |name: &str| {
        failing
            .column_by_name(name)
            .and_then(|c| c.as_string_opt::<i32>().cloned())
    };
    let (worker_ids, org_ids) = (text("worker_id"), text("org_id"));
    let errors = failures
        .into_iter()
        .map(|(row, index)| {
            let component = computed[index];
            let reason = reasons[index]
                .get_or_insert_with(|| version.why_no_value(&component.name, &failing))
                .get(position(row))
                .cloned()
                .flatten()
                .unwrap_or_else(|| format!("its formula (line {}) yielded no value", component.line));
            let at = position(row);
            let id = |ids: &Option<datafusion::arrow::array::StringArray>| {
                ids.as_ref().map(|ids| ids.value(at).to_string()).unwrap_or_default()
            };
            (
                row,
                WorkerError {
                    worker_id: id(&worker_ids),
                    org_id: id(&org_ids),
                    component: component.name.clone(),
                    reason,
                },
            )
        })
        .collect();
    Ok(errors)
}
