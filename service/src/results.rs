//! A run's results as the service reads them: decoded rows indexed by worker (pay-to-date is a
//! lookup, not a scan), the last few runs' of each org cached, and cells as exact JSON.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Date32Type, Decimal128Type, Int64Type};
use datafusion::arrow::util::display::array_value_to_string;
use payroll_connectors::results::read_org_results;
use payroll_rules::vocabulary::PayPeriod;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::app::App;
use crate::db::runs::{self, Run};
use crate::error::Result;

/// Result rows (a run's, or a live shard's) with an index by worker id, so pay-to-date is a
/// lookup, not a scan.
pub struct Rows {
    pub batches: Vec<RecordBatch>,
    index: HashMap<String, (usize, usize)>,
    /// Each batch's columns in the order of their names, as a worker's row is written.
    by_name: Vec<Vec<usize>>,
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
        let by_name = batches.iter().map(by_name).collect();
        Rows {
            batches,
            index,
            by_name,
        }
    }

    pub fn contains(&self, worker: &str) -> bool {
        self.index.contains_key(worker)
    }

    /// The worker's row, every column.
    pub fn worker(self: &Arc<Rows>, worker: &str) -> Option<WorkerRow> {
        let &(batch, row) = self.index.get(worker)?;
        Some(self.row(batch, row))
    }

    /// Row `row` of batch `batch`, every column.
    pub fn row(self: &Arc<Rows>, batch: usize, row: usize) -> WorkerRow {
        WorkerRow {
            rows: Arc::clone(self),
            batch,
            row,
            shown: Shown::AllBut(None),
        }
    }
}

/// One worker's row of [`Rows`]: serialized as a JSON object of its columns by name, cells as
/// [`cell`] gives them, written straight to the response rather than through a
/// `serde_json::Map` of every column (58 in the reference ruleset's results): pay-to-date
/// answers one on every request, a page of results up to a thousand.
pub struct WorkerRow {
    rows: Arc<Rows>,
    batch: usize,
    row: usize,
    shown: Shown,
}

/// The columns a [`WorkerRow`] writes.
#[derive(Debug)]
enum Shown {
    /// Every column but one, if named.
    AllBut(Option<&'static str>),
    /// Those whose index is `true`: what a caller may read.
    Only(Arc<[bool]>),
}

impl WorkerRow {
    /// A text column's value; `None` when null, absent or not text.
    pub fn text(&self, column: &str) -> Option<&str> {
        let array = self.rows.batches[self.batch].column_by_name(column)?;
        let text = array.as_string_opt::<i32>()?;
        text.is_valid(self.row).then(|| text.value(self.row))
    }

    /// The same row without `column` when serialized.
    pub fn leaving_out(self, column: &'static str) -> WorkerRow {
        WorkerRow {
            shown: Shown::AllBut(Some(column)),
            ..self
        }
    }

    /// The same row with only the columns whose index is `true` in `columns` when serialized.
    pub fn only(self, columns: Arc<[bool]>) -> WorkerRow {
        WorkerRow {
            shown: Shown::Only(columns),
            ..self
        }
    }
}

impl fmt::Debug for WorkerRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerRow")
            .field("batch", &self.batch)
            .field("row", &self.row)
            .field("shown", &self.shown)
            .finish()
    }
}

impl Serialize for WorkerRow {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let batch = &self.rows.batches[self.batch];
        let schema = batch.schema();
        let mut map = serializer.serialize_map(None)?;
        for &i in &self.rows.by_name[self.batch] {
            let name = schema.field(i).name().as_str();
            let shown = match &self.shown {
                Shown::AllBut(left_out) => Some(name) != *left_out,
                Shown::Only(columns) => columns.get(i).copied().unwrap_or(false),
            };
            if shown {
                map.serialize_entry(name, &Cell(batch.column(i).as_ref(), self.row))?;
            }
        }
        map.end()
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
    // Serializing a cell into a `Value` cannot fail: it is a string, number, flag or null.
    serde_json::to_value(Cell(array, row)).unwrap_or(Value::Null)
}

/// The columns of `batch` in the order of their names, as a `serde_json::Map` holds them.
fn by_name(batch: &RecordBatch) -> Vec<usize> {
    let schema = batch.schema();
    let mut sorted: Vec<usize> = (0..schema.fields().len()).collect();
    sorted.sort_by(|&a, &b| schema.field(a).name().cmp(schema.field(b).name()));
    sorted
}

/// A cell of a result row, serialized as [`cell`] describes; the common types without an
/// intermediate string.
struct Cell<'a>(&'a dyn Array, usize);

impl Serialize for Cell<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let Cell(array, row) = *self;
        if array.is_null(row) {
            return serializer.serialize_unit();
        }
        match array.data_type() {
            // rust_decimal holds 96 bits and a scale to 28; a wider value prints as Arrow has it.
            &DataType::Decimal128(_, scale) => {
                let unscaled = array.as_primitive::<Decimal128Type>().value(row);
                match payroll_engine::money::decimal(unscaled, scale) {
                    Some(decimal) => serializer.collect_str(&decimal),
                    None => serializer.serialize_str(&array_value_to_string(array, row).unwrap_or_default()),
                }
            }
            DataType::Boolean => serializer.serialize_bool(array.as_boolean().value(row)),
            DataType::Int64 => serializer.serialize_i64(array.as_primitive::<Int64Type>().value(row)),
            DataType::Utf8 => serializer.serialize_str(array.as_string::<i32>().value(row)),
            DataType::Date32 => match array.as_primitive::<Date32Type>().value_as_date(row) {
                Some(date) => serializer.collect_str(&date),
                None => serializer.serialize_str(&array_value_to_string(array, row).unwrap_or_default()),
            },
            _ => serializer.serialize_str(&array_value_to_string(array, row).unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int64Array, StringArray};
    use datafusion::arrow::util::display::array_value_to_string;

    use super::*;

    #[test]
    fn decimals_print_as_arrow_prints_them() {
        let values = [
            0,
            5,
            -5,
            10,
            -10,
            99,
            100,
            1_831_405,
            -1_831_405,
            i128::from(i64::MAX),
            i128::from(i64::MIN),
            10_i128.pow(37),
            // The most a Decimal128 of precision 38 holds.
            10_i128.pow(38) - 1,
            1 - 10_i128.pow(38),
        ];
        for scale in [0_i8, 1, 2, 3, 18, 30, 38] {
            let array = Decimal128Array::from(values.to_vec())
                .with_precision_and_scale(38, scale)
                .unwrap_or_else(|e| panic!("{e}"));
            for (row, &unscaled) in values.iter().enumerate() {
                let arrows = array_value_to_string(&array, row).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(cell(&array, row), Value::String(arrows), "{unscaled} at scale {scale}");
            }
        }
    }

    #[test]
    fn a_worker_row_is_its_columns_by_name() {
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("worker_id", Arc::new(StringArray::from(vec!["W1", "W\"2"]))),
            (
                "net_pay",
                Arc::new(
                    Decimal128Array::from(vec![Some(1_831_405), None])
                        .with_precision_and_scale(38, 2)
                        .unwrap_or_else(|e| panic!("{e}")),
                ),
            ),
            ("joined_on", Arc::new(Date32Array::from(vec![Some(19_397), None]))),
            ("days_in_period", Arc::new(Int64Array::from(vec![31, -1]))),
            ("esi_applicable", Arc::new(BooleanArray::from(vec![true, false]))),
            ("name", Arc::new(StringArray::from(vec![Some("Asha \u{0939}"), None]))),
        ];
        let batch = RecordBatch::try_from_iter(columns).unwrap_or_else(|e| panic!("{e}"));
        let rows = Arc::new(Rows::new(vec![batch.clone()]));
        let written = |worker: &str| {
            let row = rows.worker(worker).unwrap_or_else(|| panic!("{worker} is in the rows"));
            serde_json::to_string(&row).unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(
            written("W1"),
            r#"{"days_in_period":31,"esi_applicable":true,"joined_on":"2023-02-09","name":"Asha ह","net_pay":"18314.05","worker_id":"W1"}"#
        );
        assert_eq!(
            written("W\"2"),
            r#"{"days_in_period":-1,"esi_applicable":false,"joined_on":null,"name":null,"net_pay":null,"worker_id":"W\"2"}"#
        );
        // A page of results writes the columns its caller may read: here not `name` (index 5)
        // nor `joined_on` (2).
        let readable: Arc<[bool]> = Arc::from([true, true, false, true, true, false]);
        assert_eq!(
            serde_json::to_string(&rows.row(0, 1).only(readable)).unwrap_or_else(|e| panic!("{e}")),
            r#"{"days_in_period":-1,"esi_applicable":false,"net_pay":null,"worker_id":"W\"2"}"#
        );
        let row = rows.worker("W1").unwrap_or_else(|| panic!("W1 is in the rows"));
        assert_eq!(row.text("name"), Some("Asha ह"));
        assert_eq!(row.text("net_pay"), None, "not text");
        assert_eq!(
            serde_json::to_string(&row.leaving_out("name")).unwrap_or_else(|e| panic!("{e}")),
            r#"{"days_in_period":31,"esi_applicable":true,"joined_on":"2023-02-09","net_pay":"18314.05","worker_id":"W1"}"#
        );
    }
}
