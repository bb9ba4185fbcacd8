//! The stream's state over months: months of events folded into shards as the stream folds
//! them (message by message, `Shard::fold`), each month locked once the next begins, so its
//! events go to the archive and leave the state (`connectors::archive::pass`, as the stream
//! runs it). Three months with the first two locked are measured against one month alone and
//! against three months kept whole (the stream before it archived), each in a process of its
//! own so one's memory does not count in another's.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use payroll_connectors::archive;
use payroll_connectors::{DeadLetters, Store, files};
use payroll_engine::parallel::{cores, map_in_order};
use payroll_engine::{Checkpoint, Feed, Ledger, Record, Shard};
use payroll_rules::vocabulary::PayPeriod;

use super::generate;
use crate::ui;

/// Lines decoded at a time: a batch's events are folded before the next is read, so memory
/// holds a batch, never a file.
const BATCH_LINES: usize = 200_000;

pub async fn months(workers: usize, last: PayPeriod, months: u32, shards: u32) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut periods = vec![last];
    while periods.len() < months.max(1) as usize {
        periods.insert(0, previous(periods[0]));
    }
    println!(
        "{workers} workers' months {} to {last}, streamed into {shards} shards, {} cores:",
        periods[0],
        cores()
    );
    let last_only = &periods[periods.len() - 1..];
    for (streamed, lock) in [(last_only, true), (&periods[..], false), (&periods[..], true)] {
        let mut child = Command::new(std::env::current_exe()?);
        child.args(["bench", "stream-months", "--dir"]).arg(dir.path());
        child.args(["--workers", &workers.to_string(), "--shards", &shards.to_string()]);
        if !lock {
            child.arg("--keep-all");
        }
        for period in streamed {
            child.args(["--period", &period.to_string()]);
        }
        let output = child.output()?;
        if !output.status.success() {
            bail!(
                "streaming {} month(s) failed: {}",
                streamed.len(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        print!("{}", String::from_utf8_lossy(&output.stdout));
    }
    Ok(())
}

fn previous(period: PayPeriod) -> PayPeriod {
    let before = period.first_day().pred_opt().unwrap_or(period.first_day());
    PayPeriod::of(before)
}

/// One measurement, in this process: `periods` generated and streamed in order (a month's
/// files are removed once streamed: a million workers' month is 7.6 GB), every one but the
/// last locked once the next is streamed, unless `keep_all`.
pub async fn stream_months(
    dir: &Path,
    workers: usize,
    periods: &[PayPeriod],
    shards: u32,
    keep_all: bool,
) -> Result<()> {
    let Some(&live) = periods.last() else {
        bail!("no --period to stream");
    };
    let archive_dir = dir.join(format!("archive-{}-{keep_all}", periods.len()));
    let store = Store::open(&archive_dir.display().to_string())?;
    let mut state: Option<(Vec<Shard>, Vec<String>)> = None;
    let (mut folding, mut archiving, mut archived) = (0.0, 0.0, 0);
    let mut offsets = [0i64; 4];
    for (n, period) in periods.iter().enumerate() {
        let inputs = dir.join(period.to_string());
        generate(workers, *period, &inputs)?;
        let (shards_state, orgs) = match &mut state {
            Some(state) => state,
            None => state.insert(new_shards(&inputs, shards)?),
        };
        let started = Instant::now();
        fold_workers(&inputs, shards_state, &mut offsets[3])?;
        for (feed, offset) in Feed::ALL.into_iter().zip(&mut offsets) {
            fold_events(&inputs, feed, shards_state, offset)?;
        }
        folding += started.elapsed().as_secs_f64();
        std::fs::remove_dir_all(&inputs)?;
        if n + 1 < periods.len() && !keep_all {
            let started = Instant::now();
            let locked: Vec<(String, PayPeriod)> = orgs.iter().map(|org| (org.clone(), *period)).collect();
            for shard in shards_state.iter_mut() {
                archived += archive::pass(&store, shards, shard, &locked, Some(live))
                    .await?
                    .archived;
            }
            archiving += started.elapsed().as_secs_f64();
        }
    }
    let Some((state, _)) = state else {
        bail!("nothing streamed");
    };

    let punches: usize = state
        .iter()
        .map(|s| {
            let ledger = s.ledger();
            ledger
                .worker_ids()
                .filter_map(|id| ledger.state(id))
                .map(|w| w.punch_count())
                .sum::<usize>()
        })
        .sum();
    let rss = ui::rss_mib().unwrap_or(f64::NAN);
    let peak = ui::peak_rss_mib().unwrap_or(f64::NAN);
    let checkpoint_bytes: usize = state
        .iter()
        .map(|s| Checkpoint::encode_parts(s.id, 1, &Default::default(), s.ledger()).len())
        .sum();
    println!(
        "  {} month(s), {} locked: {punches} punches in the state, {:.0} MB as checkpoints; RSS {rss:.0} MiB after, peak {peak:.0} MiB; \
         fold {folding:.1} s, archive {archiving:.1} s ({archived} events, {:.0} MB of Parquet)",
        periods.len(),
        if keep_all { 0 } else { periods.len() - 1 },
        checkpoint_bytes as f64 / 1e6,
        dir_bytes(&archive_dir) as f64 / 1e6,
    );
    Ok(())
}

/// Empty shards over the generated sites, and the orgs of those sites.
fn new_shards(inputs: &Path, shards: u32) -> Result<(Vec<Shard>, Vec<String>)> {
    let sites = files::read_sites(&inputs.join("sites.csv"))?;
    let mut orgs: Vec<String> = sites.iter().map(|s| s.org_id.to_string()).collect();
    orgs.sort_unstable();
    orgs.dedup();
    let sites = Ledger::new(sites);
    Ok(((0..shards.max(1)).map(|n| Shard::new(n, &sites)).collect(), orgs))
}

/// The shard a worker's messages go to, as a partitioner spreads its keys.
fn shard_of(worker_id: &str, shards: usize) -> usize {
    let hash = std::hash::BuildHasher::hash_one(
        &std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default(),
        worker_id,
    );
    (hash % shards as u64) as usize
}

fn fold_workers(dir: &Path, state: &mut [Shard], offset: &mut i64) -> Result<()> {
    let path = dir.join("workers.csv");
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut master = state[0].ledger().empty_like();
    files::fold_workers(&path, &bytes, &mut master, &mut DeadLetters::default())?;
    let shards = state.len();
    for worker in master.workers() {
        let shard = &mut state[shard_of(&worker.worker_id, shards)];
        shard
            .fold("workers", *offset, Ok(Record::Worker(Box::new(worker.clone()))))
            .map_err(|e| anyhow::anyhow!("worker {}: {}", worker.worker_id, e.reason))?;
        *offset += 1;
    }
    Ok(())
}

fn fold_events(dir: &Path, feed: Feed, state: &mut [Shard], offset: &mut i64) -> Result<()> {
    let path = dir.join(feed.file_name());
    let Ok(file) = std::fs::File::open(&path) else {
        return Ok(());
    };
    let mut reader = BufReader::with_capacity(8 << 20, file);
    let shards = state.len();
    loop {
        let mut lines = Vec::with_capacity(BATCH_LINES);
        let mut line = Vec::new();
        while lines.len() < BATCH_LINES && reader.read_until(b'\n', &mut line)? > 0 {
            lines.push(std::mem::take(&mut line));
        }
        if lines.is_empty() {
            return Ok(());
        }
        let parts = lines.chunks(lines.len().div_ceil(cores()));
        let decoded = map_in_order(parts, |part| {
            part.iter()
                .map(|line| feed.decode(line.trim_ascii_end()).map(Record::Event))
                .collect::<Vec<_>>()
        });
        for record in decoded.into_iter().flatten() {
            // Bad lines (the generator's noise) are refused as the stream refuses them.
            if let Ok(Record::Event(event)) = &record {
                let shard = &mut state[shard_of(event.worker_id(), shards)];
                let _refused = shard.fold(feed.name(), *offset, record);
            }
            *offset += 1;
        }
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}
