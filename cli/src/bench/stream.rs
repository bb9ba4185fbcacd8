//! Streaming benchmarks: ingest from a broker against a bare consume loop, checkpoint and
//! restore of a large shard, incremental against full recalculation, and event-to-live-pay
//! latency.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use chrono::NaiveDate;
use datafusion::arrow::array::{AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::Date32Type;
use datafusion::arrow::util::display::array_value_to_string;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use payroll_connectors::checkpoints::Checkpoints;
use payroll_connectors::kafka::{self, KafkaConfig, Live, StreamConfig, Topics};
use payroll_connectors::layout::CheckpointName;
use payroll_connectors::seal::Seal;
use payroll_connectors::{DeadLetters, Quiet, Store, files, layout};
use payroll_engine::parallel::cores;
use payroll_engine::{Calculator, Checkpoint, Ledger, inputs_batches};
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::generate;
use crate::EXAMPLE_RULESET;

const PARTITIONS: usize = 8;

fn ruleset() -> Result<Arc<Ruleset>> {
    Ok(Arc::new(Ruleset::parse(
        EXAMPLE_RULESET,
        Path::new("india-contract.toml"),
    )?))
}

/// A generated month folded into one ledger, as one shard would hold it.
fn folded(workers: usize, period: PayPeriod, dir: &Path) -> Result<files::Folder> {
    let inputs = dir.join("inputs");
    generate(workers, period, &inputs)?;
    Ok(files::read_folder(&inputs, &mut DeadLetters::default(), &Quiet)?)
}

pub async fn checkpoint(workers: usize, period: PayPeriod, shards: u32) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let folder = folded(workers, period, dir.path())?;
    let events = folder.events;
    let sites = folder.ledger.empty_like();
    // Workers spread over the shards as a partitioner spreads its keys.
    let ledgers = folder.ledger.split(shards as usize, |id| {
        (std::hash::BuildHasher::hash_one(
            &std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default(),
            id,
        ) % u64::from(shards.max(1))) as usize
    });
    let offsets = [("attendance".to_string(), 0)].into();
    println!(
        "checkpoint of {workers} workers' month ({events} events) over {shards} shard(s), {} cores:",
        cores()
    );
    for sealed in [false, true] {
        let store = Store::open(&dir.path().join(format!("state-{sealed}")).display().to_string())?;
        let checkpoints = Checkpoints::new(store, sealed.then(|| Seal::new(&[7; 32])));
        let started = Instant::now();
        let mut size = 0;
        let mut encode = 0.0;
        for (shard, ledger) in (0..shards).zip(&ledgers) {
            let at = Instant::now();
            let bytes = Checkpoint::encode_parts(shard, 1, &offsets, ledger);
            encode += at.elapsed().as_secs_f64();
            size += bytes.len();
            let name = CheckpointName {
                partitions: shards,
                shard,
                epoch: 0,
                seq: 1,
            };
            checkpoints.save(name, bytes).await?;
        }
        let write = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let mut restored = 0;
        for shard in 0..shards {
            let checkpoint = checkpoints
                .restore(shards, shard, &sites)
                .await?
                .checkpoint
                .ok_or_else(|| anyhow::anyhow!("shard {shard}: the checkpoint just written is not there"))?;
            restored += checkpoint.ledger.worker_count();
        }
        let restore = started.elapsed().as_secs_f64();
        println!(
            "  {}: write {write:.2} s (encode {encode:.2} s), restore {restore:.2} s (get, open and decode); \
             {:.1} MB, {:.0} bytes per worker-month; {restored} workers restored",
            if sealed { "sealed" } else { "clear " },
            size as f64 / 1e6,
            size as f64 / workers as f64,
        );
    }
    Ok(())
}

pub async fn live(workers: usize, period: PayPeriod, share: f64) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ledger = folded(workers, period, dir.path())?.ledger;
    let ruleset = ruleset()?;
    let version = ruleset.version_on(period.first_day())?;
    let calculator = Calculator::default();
    let mut ids: Vec<&str> = ledger.worker_ids().collect();
    ids.sort_unstable();
    let changed = ((ids.len() as f64 * share).round() as usize).max(1);
    let step = (ids.len() / changed).max(1);
    let some: Vec<&str> = ids.iter().step_by(step).take(changed).copied().collect();

    let recalculate = async |ids: &[&str]| -> Result<f64> {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            let rows = ledger.period_inputs_of(ids.iter().copied(), period);
            let batches = inputs_batches(period, &rows);
            calculator.calculate(version, batches).await?;
            best = best.min(started.elapsed().as_secs_f64());
        }
        Ok(best)
    };
    let full = recalculate(&ids).await?;
    let incremental = recalculate(&some).await?;
    println!(
        "live recalculation, {} cores: all {} workers {:.1} ms; {} changed workers ({:.1} %) {:.1} ms = {:.1} % of the full cost",
        cores(),
        ids.len(),
        full * 1e3,
        some.len(),
        share * 100.0,
        incremental * 1e3,
        incremental / full * 100.0
    );
    Ok(())
}

pub async fn ingest(
    brokers: &str,
    workers: usize,
    period: PayPeriod,
    live_every: Duration,
    rounds: usize,
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let inputs = dir.path().join("inputs");
    generate(workers, period, &inputs)?;
    let sites = Ledger::new(files::read_sites(&inputs.join("sites.csv"))?);
    let run = format!("bench{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
    let topics = Topics {
        attendance: format!("{run}-attendance"),
        leave: format!("{run}-leave"),
        adjustments: format!("{run}-adjustments"),
        workers: format!("{run}-workers"),
    };
    let config = |group: &str| KafkaConfig {
        brokers: brokers.to_string(),
        group: group.to_string(),
        options: Vec::new(),
    };
    let started = Instant::now();
    let published = kafka::publish_folder(&config(&run), &topics, &inputs, PARTITIONS, &Quiet).await?;
    let messages: u64 = published.values().sum();
    let punches = published[&topics.attendance];
    println!(
        "published {messages} messages ({punches} punches, {PARTITIONS} partitions) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let state_of = |round: usize| -> Result<Checkpoints> {
        let path = dir.path().join(format!("state{round}"));
        Ok(Checkpoints::open(Store::open(&path.display().to_string())?)?)
    };
    let runtime = tokio::runtime::Handle::current();
    let stop = Arc::new(AtomicBool::new(false));
    let mut ratios = Vec::new();
    for round in 1..=rounds.max(1) {
        // The same messages, all topics, as the stream folds.
        let bare = messages as f64 / bare_loop(&config(&format!("{run}-bare{round}")), &topics.names(), messages)?;
        let stream_config = StreamConfig {
            kafka: config(&format!("{run}-stream{round}")),
            topics: topics.clone(),
            sites: sites.empty_like(),
            state: state_of(round)?,
            checkpoint_every: Duration::from_secs(3600),
            live: None,
            until_caught_up: true,
            report_every: Duration::from_secs(3600),
            status: Default::default(),
        };
        let report = {
            let (stop, runtime) = (Arc::clone(&stop), runtime.clone());
            tokio::task::spawn_blocking(move || kafka::stream(stream_config, stop, runtime)).await??
        };
        let c = &report.counters;
        let (Some(first), Some(last)) = (c.first_folded, c.last_folded) else {
            bail!("the stream folded nothing");
        };
        let rate = c.folded as f64 / (last - first).as_secs_f64();
        ratios.push(rate / bare);
        println!(
            "round {round}: bare rdkafka loop {bare:.0} msgs/s; stream ingest to folded state {rate:.0} msgs/s = {:.2}x ({} messages, all topics)",
            rate / bare,
            c.folded
        );
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "stream ingest: median {:.2}x the bare loop over {} rounds (range {:.2}x-{:.2}x; {} cores, broker on this machine)",
        ratios[ratios.len() / 2],
        ratios.len(),
        ratios[0],
        ratios[ratios.len() - 1],
        cores()
    );

    // Event to live pay: a resumed stream keeps the period live; a new punch pair must show in
    // the live results within --live-every plus the time to recalculate.
    let state = state_of(rounds.max(1))?;
    let live_config = StreamConfig {
        kafka: config(&format!("{run}-live")),
        topics: topics.clone(),
        sites: sites.empty_like(),
        state: state.clone(),
        checkpoint_every: Duration::from_secs(5),
        live: Some(Live {
            period,
            ruleset: ruleset()?,
            every: live_every,
        }),
        until_caught_up: false,
        report_every: Duration::from_secs(3600),
        status: Default::default(),
    };
    let streaming = {
        let (stop, runtime) = (Arc::clone(&stop), runtime.clone());
        tokio::task::spawn_blocking(move || kafka::stream(live_config, stop, runtime))
    };
    let store = state.store().clone();
    let worker = "W0000001";
    let mut before = loop {
        if let Some(row) = live_row(&store, period, worker).await? {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let producer: ThreadedProducer<DefaultProducerContext> = config(&run).producer().create()?;
    let mut latencies = Vec::new();
    for round in 0..5 {
        let day = period.first_day() + chrono::Days::new(round);
        let sent = Instant::now();
        for (n, (hour, direction)) in [(20, "in"), (23, "out")].into_iter().enumerate() {
            let json = format!(
                r#"{{"event_id": "{run}-{round}-{n}", "worker_id": "{worker}", "ts": "{day}T{hour}:00:00Z", "direction": "{direction}"}}"#
            );
            producer
                .send(BaseRecord::to(&topics.attendance).key(worker).payload(&json))
                .map_err(|(e, _)| e)?;
        }
        producer.flush(Duration::from_secs(10))?;
        let after = loop {
            match live_row(&store, period, worker).await? {
                Some(row) if row != before => break row,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        latencies.push(sent.elapsed().as_secs_f64());
        before = after;
    }

    // A punch to the live board (what `insights/today` shows), every worker of the month on it:
    // punches on the period's last day between the day and night shifts (19:00-20:15 at the
    // sites), in and out in turn; each changes the worker's row of that day.
    let day = period.last_day();
    let (on_board, Some(shard)) = board_workers(&store, period, worker).await? else {
        bail!("{worker} is not on the live board: the generated month gave them no punch");
    };
    let mut board_before = board_row(&store, period, shard, worker, day).await?;
    let mut board = Vec::new();
    for round in 0..6u32 {
        let direction = if round % 2 == 0 { "in" } else { "out" };
        let minutes = 13 * 60 + 30 + 15 * round;
        let json = format!(
            r#"{{"event_id": "{run}-board-{round}", "worker_id": "{worker}", "ts": "{day}T{:02}:{:02}:00Z", "direction": "{direction}"}}"#,
            minutes / 60,
            minutes % 60
        );
        let sent = Instant::now();
        producer
            .send(BaseRecord::to(&topics.attendance).key(worker).payload(&json))
            .map_err(|(e, _)| e)?;
        producer.flush(Duration::from_secs(10))?;
        let deadline = sent + live_every + Duration::from_secs(60);
        let after = loop {
            match board_row(&store, period, shard, worker, day).await? {
                row if row.is_some() && row != board_before => break row,
                _ if Instant::now() > deadline => bail!("the punch `{json}` did not reach the live board in 60 s"),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        board.push(sent.elapsed().as_secs_f64());
        board_before = after;
    }
    stop.store(true, Ordering::Relaxed);
    streaming.await??;
    latencies.sort_by(f64::total_cmp);
    board.sort_by(f64::total_cmp);
    println!(
        "event to live pay with --live-every {:?}: median {:.2} s, worst {:.2} s of {} punches pairs",
        live_every,
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
        latencies.len()
    );
    println!(
        "punch to live board ({on_board} workers on it) with --live-every {:?}: median {:.2} s, worst {:.2} s of {} punches",
        live_every,
        board[board.len() / 2],
        board[board.len() - 1],
        board.len()
    );
    Ok(())
}

/// A plain consumer counting messages: the client's own limit, with the engine's fetch settings.
fn bare_loop(config: &KafkaConfig, topics: &[&str], expected: u64) -> Result<f64> {
    let consumer: BaseConsumer = config.consumer().create()?;
    let mut assignment = TopicPartitionList::new();
    for topic in topics {
        for partition in 0..PARTITIONS as i32 {
            assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
        }
    }
    consumer.assign(&assignment)?;
    let (mut count, mut first) = (0, None);
    let deadline = Instant::now() + Duration::from_secs(600);
    while count < expected {
        match consumer.poll(Duration::from_millis(100)) {
            Some(message) => {
                message?;
                if first.is_none() {
                    first = Some(Instant::now());
                }
                count += 1;
            }
            // The clock is read only when idle, so as not to slow the loop it measures.
            None if Instant::now() > deadline => break,
            None => {}
        }
    }
    if count < expected {
        bail!("the bare loop read {count} of {expected} messages");
    }
    Ok(first.map_or(0.0, |f| f.elapsed().as_secs_f64()))
}

/// The worker's row in the live results, as text, if it is there yet.
async fn live_row(store: &Store, period: PayPeriod, worker: &str) -> Result<Option<String>> {
    for shard in 0..PARTITIONS as u32 {
        let path = layout::live_part(&period.to_string(), shard);
        if store.head(&path).await?.is_none() {
            continue;
        }
        let bytes = store.get(&path).await?;
        for batch in ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()? {
            if let Some(row) = find(&batch?, worker)? {
                return Ok(Some(row));
            }
        }
    }
    Ok(None)
}

/// The worker's row of `day` on the live board, as text, if it is there yet: read from their
/// shard's file alone, so the polling takes little from the stream it measures.
async fn board_row(
    store: &Store,
    period: PayPeriod,
    shard: u32,
    worker: &str,
    day: NaiveDate,
) -> Result<Option<String>> {
    for batch in board_batches(store, period, shard).await? {
        let dates = batch
            .column_by_name("date")
            .and_then(|c| c.as_primitive_opt::<Date32Type>())
            .ok_or_else(|| anyhow::anyhow!("the live board has no date column"))?;
        let on_day: Vec<u32> = (0..batch.num_rows())
            .filter(|&i| dates.value(i) == Date32Type::from_naive_date(day))
            .map(|i| i as u32)
            .collect();
        if let Some(row) = find(&take_record_batch(&batch, &UInt32Array::from(on_day))?, worker)? {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// Workers on the live board, and the shard whose file has `worker`.
async fn board_workers(store: &Store, period: PayPeriod, worker: &str) -> Result<(usize, Option<u32>)> {
    let (mut workers, mut shard_of) = (std::collections::HashSet::new(), None);
    for shard in 0..PARTITIONS as u32 {
        for batch in board_batches(store, period, shard).await? {
            let ids = batch
                .column_by_name("worker_id")
                .map(|c| c.as_string::<i32>())
                .ok_or_else(|| anyhow::anyhow!("the live board has no worker_id column"))?;
            if ids.iter().any(|id| id == Some(worker)) {
                shard_of = Some(shard);
            }
            workers.extend(ids.iter().flatten().map(str::to_string));
        }
    }
    Ok((workers.len(), shard_of))
}

async fn board_batches(store: &Store, period: PayPeriod, shard: u32) -> Result<Vec<RecordBatch>> {
    let path = layout::live_board_part(&period.to_string(), shard);
    if store.head(&path).await?.is_none() {
        return Ok(Vec::new());
    }
    Ok(ParquetRecordBatchReaderBuilder::try_new(store.get(&path).await?)?
        .build()?
        .collect::<Result<_, _>>()?)
}

#[allow(clippy::expect_used, reason = "results carry worker_id")]
fn find(batch: &RecordBatch, worker: &str) -> Result<Option<String>> {
    let ids = batch
        .column_by_name("worker_id")
        .expect("results carry worker_id")
        .as_string::<i32>();
    let Some(row) = (0..batch.num_rows()).find(|&i| ids.value(i) == worker) else {
        return Ok(None);
    };
    let cells = batch
        .columns()
        .iter()
        .map(|c| array_value_to_string(c, row))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(cells.join(",")))
}
