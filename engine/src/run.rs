//! A run: its id, and the manifest that makes it reproducible (ruleset hash, input digests,
//! engine version) and checkable (row count, dead letters, a total per component).

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use payroll_rules::{Category, CompiledVersion, Ruleset};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calc::WorkerError;

pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A UUIDv7: unique across instances without coordination, and sortable by creation time, so
/// "the latest run" is the greatest id.
pub fn new_run_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesetRef {
    pub name: String,
    pub version: String,
    pub effective_from: String,
    pub sha256: String,
}

impl RulesetRef {
    pub fn new(ruleset: &Ruleset, version: &CompiledVersion) -> Self {
        RulesetRef {
            name: ruleset.name.clone(),
            version: version.version.clone(),
            effective_from: version.effective_from.to_string(),
            sha256: ruleset.hash.clone(),
        }
    }
}

/// A file a run read, by content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputDigest {
    pub name: String,
    pub bytes: u64,
    pub blake3: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub run_id: String,
    pub period: String,
    pub org_id: String,
    pub created_at: String,
    pub engine_version: String,
    pub ruleset: RulesetRef,
    pub inputs: Vec<InputDigest>,
    /// For a run over a stream's state: `topic/partition` to the next offset the state holds.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub offsets: BTreeMap<String, i64>,
    pub rows: u64,
    /// This org's refused events and rows per source (the run record counts the whole run's,
    /// those of no org with them).
    pub dead_letters: BTreeMap<String, u64>,
    /// Sum of each amount component and input; count of `true` for each flag. Over the
    /// computed workers only: a worker with an error is in no total.
    pub totals: BTreeMap<String, String>,
    pub files: Vec<String>,
    /// This org's workers the run could not compute (not in `rows`, the results or the
    /// totals), each with the component and what was missing.
    #[serde(default)]
    pub worker_errors: Vec<WorkerError>,
}

/// Totals of a run's (or an org's) results: every decimal column summed exactly (checked: a sum
/// that does not fit is an error naming the column), every flag counted.
pub fn totals(version: &CompiledVersion, results: &[RecordBatch]) -> crate::Result<BTreeMap<String, Decimal>> {
    let mut totals = BTreeMap::new();
    let Some(schema) = results.first().map(|b| b.schema()) else {
        return Ok(totals);
    };
    for (index, field) in schema.fields().iter().enumerate() {
        let is_flag = version
            .component(field.name())
            .is_some_and(|c| c.category == Category::Flag);
        let sum = match field.data_type() {
            DataType::Decimal128(_, scale) => {
                let overflow = || crate::Error::TotalOverflow {
                    column: field.name().clone(),
                };
                let unscaled = results
                    .iter()
                    .flat_map(|b| b.column(index).as_primitive::<Decimal128Type>().iter().flatten())
                    .try_fold(0i128, i128::checked_add)
                    .ok_or_else(overflow)?;
                let scale = u32::try_from(*scale).map_err(|_| overflow())?;
                Decimal::try_from_i128_with_scale(unscaled, scale).map_err(|_| overflow())?
            }
            DataType::Boolean if is_flag => Decimal::from(
                results
                    .iter()
                    .map(|b| b.column(index).as_boolean().true_count())
                    .sum::<usize>(),
            ),
            _ => continue,
        };
        totals.insert(field.name().clone(), sum);
    }
    Ok(totals)
}

/// Rows of `results` whose `org_id` is `org`, as batches.
#[allow(clippy::expect_used, reason = "results carry org_id")]
pub fn rows_of_org(results: &[RecordBatch], org: &str) -> datafusion::arrow::error::Result<Vec<RecordBatch>> {
    results
        .iter()
        .map(|batch| {
            let org_ids = batch
                .column_by_name("org_id")
                .expect("results carry org_id")
                .as_string::<i32>();
            let mask = datafusion::arrow::compute::kernels::cmp::eq(
                org_ids,
                &datafusion::arrow::array::StringArray::new_scalar(org),
            )?;
            datafusion::arrow::compute::filter_record_batch(batch, &mask)
        })
        .filter(|b| b.as_ref().map_or(true, |b| b.num_rows() > 0))
        .collect()
}

/// The distinct `org_id`s of `results`, sorted.
#[allow(clippy::expect_used, reason = "results carry org_id")]
pub fn orgs(results: &[RecordBatch]) -> Vec<String> {
    let mut orgs: Vec<String> = results
        .iter()
        .flat_map(|b| {
            let ids = b
                .column_by_name("org_id")
                .expect("results carry org_id")
                .as_string::<i32>();
            (0..ids.len()).map(|i| ids.value(i).to_string()).collect::<Vec<_>>()
        })
        .collect();
    orgs.sort_unstable();
    orgs.dedup();
    orgs
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Decimal128Array;
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;

    fn ruleset() -> Ruleset {
        Ruleset::parse(
            payroll_rules::EXAMPLE_RULESET,
            std::path::Path::new("india-contract.toml"),
        )
        .unwrap()
    }

    fn batch(values: &[i128], scale: i8) -> RecordBatch {
        let array = Decimal128Array::from(values.to_vec())
            .with_precision_and_scale(38, scale)
            .unwrap();
        let schema = Schema::new(vec![Field::new("net_pay", DataType::Decimal128(38, scale), true)]);
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(array)]).unwrap()
    }

    #[test]
    fn totals_are_exact_and_overflow_is_an_error_naming_the_column() {
        let ruleset = ruleset();
        let version = ruleset
            .version_on(chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap())
            .unwrap();
        let sums = totals(version, &[batch(&[1_831_405, 1], 2)]).unwrap();
        assert_eq!(sums["net_pay"].to_string(), "18314.06");

        // Two values whose sum wraps i128 (it used to wrap in release and panic in debug).
        let huge = [i128::MAX / 2 + 1, i128::MAX / 2 + 1];
        let err = totals(version, &[batch(&huge, 2)]).unwrap_err().to_string();
        assert!(err.contains("`net_pay`"), "{err}");
        // A sum that fits i128 but not a decimal (96 bits) is refused the same way.
        let err = totals(version, &[batch(&[i128::MAX / 4], 2)]).unwrap_err().to_string();
        assert!(err.contains("does not fit"), "{err}");
    }
}
