//! A run: its id, and the manifest that makes it reproducible (ruleset hash, input digests,
//! engine version) and checkable (row count, dead letters, a total per component).

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use payroll_rules::{Category, CompiledVersion, Ruleset};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

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
    /// Refused events and rows per source, for the whole run.
    pub dead_letters: BTreeMap<String, u64>,
    /// Sum of each amount component and input; count of `true` for each flag.
    pub totals: BTreeMap<String, String>,
    pub files: Vec<String>,
}

/// Totals of a run's (or an org's) results: every decimal column summed exactly, every flag
/// counted.
pub fn totals(version: &CompiledVersion, results: &[RecordBatch]) -> BTreeMap<String, Decimal> {
    let mut totals = BTreeMap::new();
    let Some(schema) = results.first().map(|b| b.schema()) else {
        return totals;
    };
    for (index, field) in schema.fields().iter().enumerate() {
        let is_flag = version
            .component(field.name())
            .is_some_and(|c| c.category == Category::Flag);
        let sum = match field.data_type() {
            DataType::Decimal128(_, scale) => {
                let unscaled: i128 = results
                    .iter()
                    .flat_map(|b| b.column(index).as_primitive::<Decimal128Type>().iter().flatten())
                    .sum();
                Decimal::from_i128_with_scale(unscaled, *scale as u32)
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
    totals
}

/// Rows of `results` whose `org_id` is `org`, as batches.
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
