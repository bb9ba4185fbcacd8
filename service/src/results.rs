//! A run's results as the service reads them: decoded rows indexed by worker (pay-to-date is a
//! lookup, not a scan), the last few runs' of each org cached, and cells as exact JSON.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Int64Type};
use datafusion::arrow::util::display::array_value_to_string;
use payroll_connectors::results::read_org_results;
use payroll_rules::vocabulary::PayPeriod;
use serde_json::{Map, Value};

use crate::app::App;
use crate::db::runs::{self, Run};
use crate::error::Result;

/// Result rows (a run's, or a live shard's) with an index by worker id, so pay-to-date is a
/// lookup, not a scan.
pub struct Rows {
    pub batches: Vec<RecordBatch>,
    index: HashMap<String, (usize, usize)>,
}

impl Rows {
    pub fn new(batches: Vec<RecordBatch>) -> Rows {
        let mut index = HashMap::new();
        for (b, batch) in batches.iter().enumerate() {
            if let Some(ids) = batch.column_by_name("worker_id") {
                for (row, id) in ids.as_string::<i32>().iter().enumerate() {
                    index.insert(id.unwrap_or_default().to_string(), (b, row));
                }
            }
        }
        Rows { batches, index }
    }

    pub fn contains(&self, worker: &str) -> bool {
        self.index.contains_key(worker)
    }

    /// The worker's row, every column, as JSON.
    pub fn worker(&self, worker: &str) -> Option<Map<String, Value>> {
        let &(b, row) = self.index.get(worker)?;
        let batch = &self.batches[b];
        let all: Vec<usize> = (0..batch.num_columns()).collect();
        Some(row_json(batch, row, &all))
    }
}

/// The last few runs' results of one org, decoded: pay-to-date and result pages read them
/// without going to the store each time. A run's results never change once written.
#[derive(Default)]
pub struct ResultsCache {
    runs: Mutex<VecDeque<(Version, Arc<Rows>)>>,
    /// The latest calculated run of an org's period, as read at a time: pay-to-date asks for it
    /// on every request.
    latest: Mutex<HashMap<(String, PayPeriod), ReadAt>>,
    /// Held while one request reads the latest run again, so the others wait for its answer
    /// instead of all asking the database at once.
    refreshing: tokio::sync::Mutex<()>,
    /// Likewise while one request reads a run's results from the store.
    loading: tokio::sync::Mutex<()>,
}

/// A run's results as of a time: its id and when it last changed (leaving a worker out of its
/// results moves it, so a cache of the rows before is never read again).
type Version = (String, DateTime<Utc>);

/// A latest run (or none) and when it was read.
type ReadAt = (Instant, Option<Arc<Run>>);

const CACHED_RUNS: usize = 8;
/// How stale "the latest calculated run" may be: a run calculated now (by this instance or
/// another sharing the database) shows in pay-to-date within this.
const LATEST_FOR: Duration = Duration::from_secs(1);

impl ResultsCache {
    /// The newest calculated run of an org's period (`db::runs::latest_calculated`), read from
    /// the database at most once a second.
    pub async fn latest(&self, ctx: &App, org: &str, period: PayPeriod) -> Result<Option<Arc<Run>>> {
        let key = (org.to_string(), period);
        let fresh = || {
            lock(&self.latest)
                .get(&key)
                .filter(|(read, _)| read.elapsed() < LATEST_FOR)
                .map(|(_, run)| run.clone())
        };
        if let Some(run) = fresh() {
            return Ok(run);
        }
        let _refreshing = self.refreshing.lock().await;
        if let Some(run) = fresh() {
            return Ok(run);
        }
        let run = runs::latest_calculated(&ctx.db, org, period).await?.map(Arc::new);
        lock(&self.latest).insert(key, (Instant::now(), run.clone()));
        Ok(run)
    }

    pub async fn get(&self, ctx: &App, run: &Run) -> Result<Arc<Rows>> {
        let cached = || {
            lock(&self.runs)
                .iter()
                .find(|((id, at), _)| *id == run.id && *at == run.updated_at)
                .map(|(_, rows)| Arc::clone(rows))
        };
        if let Some(rows) = cached() {
            return Ok(rows);
        }
        // One request reads a run's results; the others wait for them.
        let _loading = self.loading.lock().await;
        if let Some(rows) = cached() {
            return Ok(rows);
        }
        let batches = read_org_results(&ctx.store, &run.org_id, &run.period.to_string(), &run.id).await?;
        let rows = Arc::new(Rows::new(batches));
        let mut runs = lock(&self.runs);
        runs.push_front(((run.id.clone(), run.updated_at), Arc::clone(&rows)));
        runs.truncate(CACHED_RUNS);
        Ok(rows)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves a cache that is still valid to read.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A cell as JSON: decimals as exact strings (`"18314.05"`), flags as booleans, counts as
/// numbers, dates and text as strings.
pub fn cell(array: &dyn Array, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Decimal128(_, scale) => Value::String(
            payroll_engine::money::decimal(array.as_primitive::<Decimal128Type>().value(row), *scale).map_or_else(
                || array_value_to_string(array, row).unwrap_or_default(),
                |d| d.to_string(),
            ),
        ),
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int64 => Value::from(array.as_primitive::<Int64Type>().value(row)),
        _ => Value::String(array_value_to_string(array, row).unwrap_or_default()),
    }
}

/// The row's `columns` as JSON, by column name.
pub fn row_json(batch: &RecordBatch, row: usize, columns: &[usize]) -> Map<String, Value> {
    let schema = batch.schema();
    columns
        .iter()
        .map(|&i| (schema.field(i).name().clone(), cell(batch.column(i).as_ref(), row)))
        .collect()
}
