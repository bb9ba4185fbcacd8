//! Stream mode: the service consumes the Kafka topics itself (the same `kafka::stream` as
//! `payroll stream`, on a thread of its own) and answers pay-to-date of the open period from
//! the live results the stream keeps current in its state store.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use datafusion::arrow::array::Array;
use object_store::path::Path;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use payroll_connectors::kafka::StreamStatus;
use payroll_connectors::locks::{self, Lock};
use payroll_connectors::{Store, layout};
use payroll_engine::calc::WORKER_ERROR_COLUMN;
use payroll_rules::vocabulary::PayPeriod;

use crate::db::{Db, runs};
use crate::domain::insights::BoardDay;
use crate::error::{Error, Result};
use crate::results::{Rows, WorkerRow};

/// Live results are re-listed at most this often: a punch shows in pay-to-date within the
/// stream's `live_every` plus this.
const FRESH_FOR: Duration = Duration::from_millis(200);

/// The stream the service runs, and what it has computed.
pub struct LiveStream {
    pub status: Arc<StreamStatus>,
    /// The open period whose pay the stream keeps current.
    pub period: PayPeriod,
    pub state: Store,
    stop: Arc<AtomicBool>,
    cache: tokio::sync::Mutex<Shards>,
    /// Locks already published to the state store by this instance.
    published: tokio::sync::Mutex<BTreeSet<(String, PayPeriod)>>,
    board: tokio::sync::Mutex<Board>,
}

/// Each shard's live board file, decoded, and when the files were last listed.
#[derive(Default)]
struct Board {
    read_at: Option<Instant>,
    files: HashMap<Path, (DateTime<Utc>, Arc<BoardDays>)>,
}

/// A shard's board: each worker's recent day, with the worker's org.
type BoardDays = Vec<(String, BoardDay)>;

/// Each shard's live results file, decoded, with the version it was read at.
#[derive(Default)]
struct Shards {
    read_at: Option<Instant>,
    files: HashMap<Path, Shard>,
}

struct Shard {
    modified: DateTime<Utc>,
    rows: Arc<Rows>,
    /// Workers of the shard whose pay the stream could not compute (their row says why).
    worker_errors: u64,
}

/// A worker's live pay and when its shard's results were written.
pub struct LivePay {
    pub pay: WorkerRow,
    pub as_of: DateTime<Utc>,
}

impl LiveStream {
    pub fn new(status: Arc<StreamStatus>, period: PayPeriod, state: Store, stop: Arc<AtomicBool>) -> LiveStream {
        LiveStream {
            status,
            period,
            state,
            stop,
            cache: tokio::sync::Mutex::default(),
            published: tokio::sync::Mutex::default(),
            board: tokio::sync::Mutex::default(),
        }
    }

    /// Publishes every period lock in the database to the stream's state store, where the
    /// stream reads them and archives the locked periods' events (`connectors::locks`). Called
    /// after each approval and by the janitor, so a lock committed just before a crash is
    /// published all the same.
    pub async fn publish_locks(&self, db: &Db) -> Result<()> {
        let mut published = self.published.lock().await;
        for (org, period, run_id, locked_at) in runs::locked_periods(db).await? {
            let key = (org, period);
            if published.contains(&key) {
                continue;
            }
            locks::publish(&self.state, &key.0, period, &Lock { run_id, locked_at }).await?;
            tracing::info!(org = key.0, %period, "period lock published to the stream");
            published.insert(key);
        }
        Ok(())
    }

    /// Asks the stream to checkpoint what it holds and return.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn running(&self) -> bool {
        self.status.running.load(Ordering::Relaxed)
    }

    /// The worker's row in the live results, re-reading shards whose file changed.
    pub async fn pay(&self, worker: &str) -> Result<Option<LivePay>> {
        let shards = self.fresh().await?;
        Ok(shards.files.values().find_map(|shard| {
            shard.rows.worker(worker).map(|pay| LivePay {
                pay,
                as_of: shard.modified,
            })
        }))
    }

    /// Workers in the live results whose pay could not be computed (a component without a
    /// value): the stream goes on for every other worker, and this says how many are left out.
    pub async fn worker_errors(&self) -> Result<u64> {
        Ok(self.fresh().await?.files.values().map(|s| s.worker_errors).sum())
    }

    /// Every worker's recent days of `org` on the live board (`payroll_engine::days::LiveBoard`),
    /// and when the newest shard file was written; files re-read only when they changed.
    pub async fn board(&self, org: &str) -> Result<(Vec<BoardDay>, Option<DateTime<Utc>>)> {
        let mut board = self.board.lock().await;
        if board.read_at.is_none_or(|at| at.elapsed() >= FRESH_FOR) {
            let listed = self
                .state
                .list(&layout::live_board_dir(&self.period.to_string()))
                .await?;
            let mut files = HashMap::new();
            for meta in listed.into_iter().filter(|m| m.location.extension() == Some("parquet")) {
                let kept = board
                    .files
                    .remove(&meta.location)
                    .filter(|(at, _)| *at == meta.last_modified);
                let days = match kept {
                    Some((_, days)) => days,
                    None => Arc::new(
                        read_board(&self.state.get(&meta.location).await?)
                            .map_err(|e| Error::Internal(format!("live board {}: {e}", meta.location)))?,
                    ),
                };
                files.insert(meta.location, (meta.last_modified, days));
            }
            board.files = files;
            board.read_at = Some(Instant::now());
        }
        let as_of = board.files.values().map(|(at, _)| *at).max();
        let days = board
            .files
            .values()
            .flat_map(|(_, days)| days.iter())
            .filter(|(o, _)| o == org)
            .map(|(_, day)| day.clone())
            .collect();
        Ok((days, as_of))
    }

    async fn fresh(&self) -> Result<tokio::sync::MutexGuard<'_, Shards>> {
        let mut shards = self.cache.lock().await;
        if shards.read_at.is_none_or(|at| at.elapsed() >= FRESH_FOR) {
            self.refresh(&mut shards).await?;
        }
        Ok(shards)
    }

    async fn refresh(&self, shards: &mut Shards) -> Result<()> {
        let listed = self.state.list(&layout::live_dir(&self.period.to_string())).await?;
        let mut files = HashMap::new();
        for meta in listed.into_iter().filter(|m| m.location.extension() == Some("parquet")) {
            let unchanged = shards
                .files
                .remove(&meta.location)
                .filter(|s| s.modified == meta.last_modified);
            let shard = match unchanged {
                Some(shard) => shard,
                None => {
                    let bytes = self.state.get(&meta.location).await?;
                    let batches = ParquetRecordBatchReaderBuilder::try_new(bytes)
                        .and_then(|b| b.build())
                        .and_then(|reader| reader.collect::<std::result::Result<Vec<_>, _>>().map_err(Into::into))
                        .map_err(|e| Error::Internal(format!("live results {}: {e}", meta.location)))?;
                    let worker_errors = batches
                        .iter()
                        .filter_map(|b| b.column_by_name(WORKER_ERROR_COLUMN))
                        .map(|c| (c.len() - c.null_count()) as u64)
                        .sum();
                    Shard {
                        modified: meta.last_modified,
                        rows: Arc::new(Rows::new(batches)),
                        worker_errors,
                    }
                }
            };
            files.insert(meta.location, shard);
        }
        shards.files = files;
        shards.read_at = Some(Instant::now());
        Ok(())
    }
}

/// A shard's live board file: `(org_id, day)` per worker and recent day.
fn read_board(bytes: &bytes::Bytes) -> std::result::Result<BoardDays, String> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::{Date32Type, Int32Type};
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes.clone())
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    let mut days = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let column = |name: &str| batch.column_by_name(name).ok_or_else(|| format!("no column `{name}`"));
        let text = |name: &str| {
            column(name).and_then(|c| c.as_string_opt::<i32>().ok_or_else(|| format!("`{name}` is not text")))
        };
        let flag =
            |name: &str| column(name).and_then(|c| c.as_boolean_opt().ok_or_else(|| format!("`{name}` is not a flag")));
        let (orgs, sites, status) = (text("org_id")?, text("site_id")?, text("status")?);
        let dates = column("date")?
            .as_primitive_opt::<Date32Type>()
            .ok_or("`date` is not a date")?;
        let minutes = column("first_in_minute")?
            .as_primitive_opt::<Int32Type>()
            .ok_or("`first_in_minute` is not a number")?;
        let (missed, open) = (flag("missed_punch")?, flag("open")?);
        for row in 0..batch.num_rows() {
            let date = Date32Type::to_naive_date_opt(dates.value(row)).ok_or("a date out of range")?;
            days.push((
                orgs.value(row).to_string(),
                BoardDay {
                    site_id: sites.value(row).to_string(),
                    date,
                    first_in_minute: (!minutes.is_null(row)).then(|| minutes.value(row)),
                    present: matches!(status.value(row), "present" | "half"),
                    missed_punch: missed.value(row),
                    open: open.value(row),
                },
            ));
        }
    }
    Ok(days)
}
