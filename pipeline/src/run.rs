//! A period's payroll from an input folder or from a stream's checkpoints: read and fold the
//! inputs (or merge every shard's latest state), compute every worker's components with the
//! ruleset in force, write results, manifests and dead letters to the output store, the run
//! record last.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::execution::context::SessionContext;
use payroll_connectors::archive;
use payroll_connectors::checkpoints::Checkpoints;
use payroll_connectors::files;
use payroll_connectors::results::{DaysFile, ResultsWriter, RunOutput, RunRecord};
use payroll_connectors::{DeadLetters, Progress, Store};
use payroll_engine::arrears::with_payable;
use payroll_engine::days::DaysBatch;
use payroll_engine::findings::{self, Finding, Paid, Previous};
use payroll_engine::parallel::map_shares;
use payroll_engine::run::{InputDigest, RulesetRef};
use payroll_engine::{
    Arrear, Calculation, Calculator, Ledger, PeriodInputs, Site, Worker, WorkerError, inputs_batches,
};
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;
use rust_decimal::Decimal;

use crate::arrears::{self, Carried, LockedRun};
use crate::error::{Error, Result};

/// Workers computed and written at a time: a run holds one chunk's Arrow inputs and results in
/// memory, never the whole run's (a million workers' results are gigabytes). A chunk of 2^18
/// workers was 0.5 GB on top of the folded month, and the peak of a million workers' run.
const CHUNK: usize = 1 << 17;

/// Where a run's inputs come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// An input folder (POLICY.md's format).
    Folder(PathBuf),
    /// A stream's state store, with the sites file the stream ran with.
    State { url: String, sites: PathBuf },
}

pub struct RunRequest<'a> {
    /// The id results are written under: `payroll_engine::run::new_run_id()`, or the id the
    /// service recorded before it started the run.
    pub run_id: String,
    pub period: PayPeriod,
    pub source: Source,
    pub ruleset: &'a Ruleset,
    pub out: &'a Store,
    /// Only this org's workers; every org of the inputs when `None`.
    pub org: Option<&'a str>,
    /// The org's locked periods: the run carries the arrears late events give them.
    pub locked: &'a [LockedRun],
}

pub struct RunReport {
    pub record: RunRecord,
    /// What the run read: input files by content, or the stream offsets its state held.
    pub inputs: Vec<InputDigest>,
    pub offsets: BTreeMap<String, i64>,
    pub dead_letters: DeadLetters,
    pub events: u64,
    pub elapsed: Duration,
    /// Time per stage: read and fold, compute (the findings included), write.
    pub stages: [Duration; 3],
    /// What the ruleset's checks and the built-in ones found, worker by worker.
    pub findings: Vec<Finding>,
    /// Time the checks took (part of the compute stage).
    pub checking: Duration,
    /// Time the `attendance_days` fact table took, counted and written (part of the write stage).
    pub days: Duration,
    /// The master and the worker states the run computed from, handed back rather than freed
    /// here: a million workers' take most of a second to free, which a command that exits
    /// once it has printed its summary need not wait for.
    pub ledger: Ledger,
}

pub async fn run(request: RunRequest<'_>, progress: &dyn Progress) -> Result<RunReport> {
    let started = Instant::now();
    let RunRequest {
        run_id,
        period,
        source,
        ruleset,
        out,
        org,
        locked,
    } = request;
    let version = ruleset.version_on(period.first_day())?;

    let mut dead_letters = DeadLetters::default();
    let folded = match source {
        Source::Folder(dir) => {
            let folder = files::read_folder(&dir, &mut dead_letters, progress)?;
            Folded {
                ledger: folder.ledger,
                state: None,
                inputs: folder.inputs,
                offsets: BTreeMap::new(),
                events: folder.events,
            }
        }
        Source::State { url, sites } => {
            progress.stage("loading checkpoints");
            let sites = Ledger::new(files::read_sites(&sites)?);
            let state = Store::open(&url)?;
            let merged = Checkpoints::open(state.clone())?.merged(&sites).await?;
            let mut ledger = merged.ledger;
            // A locked period's events went to the archive: a run of it reads them back.
            let closed: Vec<String> = ledger
                .closed()
                .filter(|(_, closed)| *closed == period)
                .map(|(org, _)| org.to_string())
                .collect();
            for org in closed {
                ledger.fold_archived(archive::read(&state, &org, period, None).await?);
            }
            Folded {
                ledger,
                state: Some(state),
                inputs: Vec::new(),
                offsets: merged.offsets,
                events: 0,
            }
        }
    };
    // A run of one org keeps that org's refused rows; rows naming no org or worker of the
    // master are set aside for the operator, counted but shown to no org.
    let (dead_letters, unattributed) = match org {
        Some(org) => dead_letters.split_for(org),
        None => (dead_letters, DeadLetters::default()),
    };
    let mut folded = folded;
    let carried = match org {
        Some(org) => {
            arrears::carried(
                &mut folded.ledger,
                folded.state.as_ref(),
                out,
                org,
                period,
                locked,
                progress,
            )
            .await?
        }
        None => Carried::default(),
    };
    let net = version.payslip.as_ref().map(|p| p.net.as_str());
    let nets = match net {
        Some(net) => payroll_engine::arrears::nets(&carried.arrears, net)?,
        None if carried.arrears.is_empty() => BTreeMap::new(),
        None => return Err(Error::NoNetComponent(version.version.clone())),
    };
    let read = started.elapsed();

    progress.stage("computing");
    let computing_started = Instant::now();
    // Arrears are carried by the worker's row of this run: a worker it does not pay has them
    // carried by a later run.
    let owed: BTreeSet<&str> = carried.arrears.iter().map(|a| a.worker_id.as_str()).collect();
    // A leaver owed arrears is listed, with nothing worked in this period: no later run would
    // ever pay them.
    let workers = folded.ledger.payable(period, org, owed.iter().copied());
    if let Some(org) = org
        && workers.is_empty()
    {
        return Err(Error::NoWorkers {
            org: org.to_string(),
            period: period.to_string(),
        });
    }
    // Bank details are checked again where money leaves (a payout lists these workers as
    // exceptions, and pays them once the master is corrected); counted here, where the master
    // enters a run, so they can be corrected before. The count names no account. On every
    // core: a million workers' checks were a tenth of a second with the other core idle.
    let bank_faults: usize = map_shares(&workers, |part| {
        part.iter()
            .filter(|(worker, _)| !payroll_engine::bank::faults(worker).is_empty())
            .count()
    })
    .into_iter()
    .sum();
    if bank_faults > 0 {
        tracing::warn!(
            run = %run_id,
            workers = bank_faults,
            "workers with bank details (account, IFSC or name) out of format: paid in the results, payout exceptions until the master is corrected"
        );
    }
    let period_text = period.to_string();
    let created_at = Utc::now().to_rfc3339();
    let mut writer = ResultsWriter::new(
        out,
        RunOutput {
            run_id: &run_id,
            period: &period_text,
            created_at: &created_at,
            ruleset_text: &ruleset.text,
            ruleset: RulesetRef::new(ruleset, version),
            version,
            inputs: folded.inputs.clone(),
            offsets: folded.offsets.clone(),
            dead_letters: &dead_letters,
            unattributed_dead_letters: unattributed.total(),
        },
    );
    // The checks read each worker's values in the org's last finalized period.
    let previous = match (
        org,
        locked.iter().filter(|l| l.period < period).max_by_key(|l| l.period),
    ) {
        (Some(org), Some(last)) => {
            let results =
                payroll_connectors::results::read_org_results(out, org, &last.period.to_string(), &last.run_id).await?;
            Previous::of(version, &results, net)?
        }
        _ => Previous::none(),
    };
    let checks = SessionContext::new();
    let mut checking = Duration::ZERO;
    let mut found: Vec<Finding> = Vec::new();
    // Looked up by worker, never walked in order: hashed (a B-tree of a million ids cost a
    // second in cache misses).
    let mut net_pay: HashMap<String, Decimal, foldhash::fast::RandomState> = HashMap::default();
    // Workers the ruleset gives no value for are worker errors, left out of the results and
    // recorded with them; the run goes on for the others.
    let calculator = Calculator::default();
    // Computing counts from the period inputs on: they are most of it for a large month.
    let (mut computing, mut writing) = (computing_started.elapsed(), Duration::ZERO);
    let mut paid_here: BTreeSet<String> = BTreeSet::new();
    let mut days = Duration::ZERO;
    for chunk in workers.chunks(CHUNK) {
        let started = Instant::now();
        let Chunk {
            rows,
            days: days_files,
            days_spent,
        } = inputs_and_days(&folded.ledger, period, chunk)?;
        let calculating = Instant::now();
        let Calculation { results, errors } = calculator.compute(version, inputs_batches(period, &rows)).await?;
        let results = match net {
            Some(net) => with_payable(&results, net, &nets)?,
            None => results,
        };
        if !owed.is_empty() {
            paid_here.extend(
                results
                    .iter()
                    .flat_map(worker_ids)
                    .filter(|w| owed.contains(w.as_str())),
            );
        }
        let checking_at = Instant::now();
        for batch in &results {
            found.extend(findings::of_rows(&checks, version, batch, &previous).await?);
            if let Some(net) = net {
                net_pay.extend(findings::nets(batch, net));
            }
        }
        let writing_at = Instant::now();
        writer.write(&results, errors).await?;
        let days_at = Instant::now();
        writer.write_days(days_files).await?;
        let done = Instant::now();
        computing += (calculating - started).saturating_sub(days_spent) + (writing_at - calculating);
        checking += writing_at - checking_at;
        writing += days_spent + (done - writing_at);
        days += days_spent + (done - days_at);
        tracing::debug!(
            workers = chunk.len(),
            inputs_and_days = ?calculating - started,
            calculated = ?checking_at - calculating,
            checked = ?writing_at - checking_at,
            results_written = ?days_at - writing_at,
            days_written = ?done - days_at,
            "chunk of the run"
        );
    }
    // The checks across workers, org by org: of every worker the run read, computed or not.
    let at = Instant::now();
    let mut by_org: BTreeMap<&str, Vec<Paid>> = BTreeMap::new();
    for (worker, _) in &workers {
        by_org.entry(&worker.org_id).or_default().push(Paid {
            worker,
            net: net_pay.get(worker.worker_id.as_str()).copied(),
        });
    }
    for (org, run) in by_org {
        found.extend(findings::across(org, &run, period, &previous));
    }
    computing += at.elapsed();
    checking += at.elapsed();
    // A run none of whose workers computed has nothing to write or pay (and wrote nothing): it
    // fails, naming the first error.
    if writer.rows() == 0
        && let Some(first) = writer.worker_errors().first()
    {
        let mut workers: Vec<&str> = writer.worker_errors().iter().map(|e| e.worker_id.as_str()).collect();
        workers.sort_unstable();
        workers.dedup();
        return Err(Error::NoWorkerComputed {
            workers: workers.len(),
            first: first.clone(),
        });
    }

    progress.stage("writing results");
    let at = Instant::now();
    let (arrears, unpaid): (Vec<_>, Vec<_>) = carried
        .arrears
        .into_iter()
        .partition(|a| paid_here.contains(&a.worker_id));
    writer.write_arrears(&arrears).await?;
    writer.write_findings(&found).await?;
    writer.note_errors(carried.errors.into_iter().chain(not_carried(unpaid)));
    // Everything of the run before its record: a run is visible only once complete.
    dead_letters.write(out, &run_id).await?;
    unattributed.write_unattributed(out, &run_id).await?;
    if unattributed.total() > 0 {
        tracing::warn!(
            run = %run_id,
            letters = unattributed.total(),
            "refused rows naming no org or worker of the master, set aside under dead-letter/run_id={run_id}/unattributed/"
        );
    }
    let record = writer.finish().await?;
    writing += at.elapsed();
    let elapsed = started.elapsed();
    Ok(RunReport {
        record,
        inputs: folded.inputs,
        offsets: folded.offsets,
        dead_letters,
        events: folded.events,
        elapsed,
        stages: [read, computing, writing],
        findings: found,
        checking,
        days,
        ledger: folded.ledger,
    })
}

/// Rows of the fact table encoded at a time: a core's share of a chunk is millions.
const DAYS_BATCH: usize = 1 << 16;

/// A chunk's period inputs, and its days of the `attendance_days` fact table as Parquet.
struct Chunk<'a> {
    rows: Vec<(&'a Worker, &'a Site, PeriodInputs)>,
    /// `(org, file)` per org of each core's share.
    days: Vec<(String, Vec<u8>)>,
    /// What the fact table added to the chunk's time: the longest of the cores' shares of it.
    days_spent: Duration,
}

/// The inputs of a chunk of the run's workers and their days, counted once for both, on
/// every core: each takes a share of the workers and encodes its share of the days.
fn inputs_and_days<'a>(ledger: &'a Ledger, period: PayPeriod, workers: &[(&'a Worker, &'a Site)]) -> Result<Chunk<'a>> {
    let shares = map_shares(workers, |part| -> Result<Chunk<'a>> {
        let mut rows = Vec::with_capacity(part.len());
        let mut files = Vec::new();
        let mut spent = Duration::ZERO;
        let mut days = Vec::new();
        // Workers come ordered by org: a file per org of the share.
        for org in part.chunk_by(|(a, _), (b, _)| a.org_id == b.org_id) {
            let mut file = DaysFile::new()?;
            let mut batch = DaysBatch::default();
            for &(worker, site) in org {
                let Some(inputs) = ledger.run_inputs(worker, site, period, &mut days) else {
                    continue;
                };
                rows.push((worker, site, inputs));
                let at = Instant::now();
                batch.push(worker, &days);
                if batch.len() >= DAYS_BATCH {
                    file.write(&std::mem::take(&mut batch).finish()?)?;
                }
                spent += at.elapsed();
            }
            let at = Instant::now();
            if !batch.is_empty() {
                file.write(&batch.finish()?)?;
            }
            if let Some((worker, _)) = org.first()
                && file.rows() > 0
            {
                files.push((worker.org_id.to_string(), file.finish()?));
            }
            spent += at.elapsed();
        }
        Ok(Chunk {
            rows,
            days: files,
            days_spent: spent,
        })
    });
    let mut chunk = Chunk {
        rows: Vec::with_capacity(workers.len()),
        days: Vec::new(),
        days_spent: Duration::ZERO,
    };
    for share in shares {
        let share = share?;
        chunk.rows.extend(share.rows);
        chunk.days.extend(share.days);
        chunk.days_spent = chunk.days_spent.max(share.days_spent);
    }
    Ok(chunk)
}

/// What a run computes from: the folded ledger and what it was folded from.
struct Folded {
    ledger: Ledger,
    /// The stream's state store, for a run over one.
    state: Option<Store>,
    inputs: Vec<InputDigest>,
    offsets: BTreeMap<String, i64>,
    events: u64,
}

/// The worker ids of a batch of results.
#[allow(clippy::expect_used, reason = "results carry worker_id")]
fn worker_ids(batch: &RecordBatch) -> impl Iterator<Item = String> + '_ {
    let ids = batch
        .column_by_name("worker_id")
        .expect("results carry worker_id")
        .as_string::<i32>();
    ids.iter().flatten().map(str::to_string)
}

/// Arrears of workers the run does not pay (not employed in its period, or a worker error):
/// recorded with its errors, and left for a later run to carry.
fn not_carried(arrears: Vec<Arrear>) -> impl Iterator<Item = WorkerError> {
    let mut seen = BTreeSet::new();
    arrears
        .into_iter()
        .filter(move |a| seen.insert((a.worker_id.clone(), a.original_period)))
        .map(|a| WorkerError {
            worker_id: a.worker_id,
            org_id: a.org_id,
            component: payroll_engine::arrears::ARREARS_NET.to_string(),
            reason: format!(
                "arrears for locked period {} not carried: the worker is not paid in this run; a later run carries them",
                a.original_period
            ),
        })
}
