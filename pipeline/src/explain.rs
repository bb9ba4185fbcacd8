//! How each component of one worker's pay was computed in a run: its formula, the values it
//! used and its result. `payroll explain` prints it; the API returns it as JSON.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::util::display::array_value_to_string;
use payroll_connectors::Store;
use payroll_connectors::results::{RunRecord, applied_ruleset, read_results};
use payroll_rules::Category;
use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub worker_id: String,
    pub name: String,
    pub org_id: String,
    pub site_id: String,
    pub run_id: String,
    pub period: String,
    pub ruleset: String,
    pub ruleset_version: String,
    pub ruleset_sha256: String,
    pub components: Vec<Step>,
}

/// One component: `value = formula` (when `condition`), with the values of what it `uses`.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    pub label: String,
    pub category: String,
    pub round: String,
    pub value: String,
    /// `None` for an input the engine computes from attendance, leave and adjustments.
    pub formula: Option<String>,
    pub condition: Option<String>,
    pub uses: Vec<(String, String)>,
}

#[allow(clippy::expect_used, reason = "applied_ruleset checks the version")]
pub async fn explain(store: &Store, record: &RunRecord, worker: &str) -> Result<Explanation> {
    let ruleset = applied_ruleset(store, record).await?;
    let version = ruleset
        .version(&record.ruleset.version)
        .expect("applied_ruleset checks the version");
    let errors: Vec<_> = record
        .worker_errors
        .iter()
        .filter(|e| e.worker_id == worker)
        .cloned()
        .collect();
    if !errors.is_empty() {
        return Err(Error::WorkerNotComputed {
            worker: worker.to_string(),
            run: record.run_id.clone(),
            errors,
        });
    }
    let batches = read_results(store, record).await?;
    let (batch, row) = find_worker(&batches, worker).ok_or_else(|| Error::WorkerNotInRun {
        worker: worker.to_string(),
        run: record.run_id.clone(),
        period: record.period.clone(),
    })?;
    let value = |name: &str| -> String {
        batch
            .column_by_name(name)
            .map(|c| array_value_to_string(c, row).unwrap_or_default())
            .unwrap_or_else(|| "?".into())
    };
    let components = version
        .components
        .iter()
        .map(|c| Step {
            name: c.name.clone(),
            label: c.label.clone(),
            category: c.category.as_str().to_string(),
            round: match c.category {
                Category::Flag => String::new(),
                _ => c.rounding.to_string(),
            },
            value: value(&c.name),
            formula: c.formula.as_deref().map(one_line),
            condition: c.condition.as_deref().map(one_line),
            uses: match c.formula {
                Some(_) => c.uses.iter().map(|u| (u.clone(), value(u))).collect(),
                None => Vec::new(),
            },
        })
        .collect();
    Ok(Explanation {
        worker_id: worker.to_string(),
        name: value("name"),
        org_id: value("org_id"),
        site_id: value("site_id"),
        run_id: record.run_id.clone(),
        period: record.period.clone(),
        ruleset: record.ruleset.name.clone(),
        ruleset_version: record.ruleset.version.clone(),
        ruleset_sha256: record.ruleset.sha256.clone(),
        components,
    })
}

fn find_worker<'a>(batches: &'a [RecordBatch], worker: &str) -> Option<(&'a RecordBatch, usize)> {
    batches.iter().find_map(|b| {
        let ids = b.column_by_name("worker_id")?.as_string::<i32>();
        (0..ids.len()).find(|&i| ids.value(i) == worker).map(|i| (b, i))
    })
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
