//! The calculator: a DataFusion plan from period inputs to one row per worker with every
//! component of the ruleset, computed in `Decimal128` across all cores.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::catalog::MemTable;
use datafusion::execution::context::{SessionConfig, SessionContext};
use payroll_rules::CompiledVersion;
use payroll_rules::vocabulary;

use crate::error::{Error, Result};

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
            ctx: SessionContext::new_with_config(config),
            partitions,
        }
    }

    /// Computes every component for the workers in `inputs` (batches of `vocabulary::schema()`).
    /// Rows come back in input order.
    pub async fn calculate(&self, version: &CompiledVersion, inputs: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
        // Contiguous runs of batches per partition, so collecting keeps the input order.
        let per_partition = inputs.len().div_ceil(self.partitions).max(1);
        let partitions: Vec<Vec<RecordBatch>> = inputs.chunks(per_partition).map(<[_]>::to_vec).collect();
        let table = MemTable::try_new(vocabulary::schema(), partitions)?;
        let df = self.ctx.read_table(Arc::new(table))?;
        let results = version.apply(df)?.collect().await?;
        check_complete(version, &results)?;
        Ok(results)
    }
}

/// A component without a value means a formula fell through (a CASE with no matching branch)
/// or read a NULL: fail loudly, naming the worker, rather than pay a wrong amount.
fn check_complete(version: &CompiledVersion, results: &[RecordBatch]) -> Result<()> {
    for batch in results {
        for component in version.components.iter().filter(|c| !c.from_input) {
            let column = batch
                .column_by_name(&component.name)
                .expect("every component is a column");
            if column.null_count() > 0 {
                let row = (0..column.len()).find(|&i| column.is_null(i)).expect("a null exists");
                let worker = batch
                    .column_by_name("worker_id")
                    .expect("inputs carry worker_id")
                    .as_string::<i32>()
                    .value(row);
                return Err(Error::Calculation(format!(
                    "component `{}` has no value for worker {worker}: its formula (line {}) has no branch for this worker's inputs",
                    component.name, component.line
                )));
            }
        }
    }
    Ok(())
}
