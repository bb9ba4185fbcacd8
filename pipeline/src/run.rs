//! A period's payroll from an input folder or from a stream's checkpoints: read and fold the
//! inputs (or merge every shard's latest state), compute every worker's components with the
//! ruleset in force, write results, manifests and dead letters to the output store, the run
//! record last.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use payroll_connectors::archive;
use payroll_connectors::checkpoints::Checkpoints;
use payroll_connectors::files;
use payroll_connectors::results::{ResultsWriter, RunOutput, RunRecord};
use payroll_connectors::{DeadLetters, Progress, Store};
use payroll_engine::run::{InputDigest, RulesetRef};
use payroll_engine::{Calculation, Calculator, Ledger, inputs_batches};
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;

use crate::error::{Error, Result};

/// Workers computed and written at a time: a run holds one chunk's Arrow inputs and results in
/// memory, never the whole run's (a million workers' results are gigabytes).
const CHUNK: usize = 1 << 18;

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
}

pub struct RunReport {
    pub record: RunRecord,
    /// What the run read: input files by content, or the stream offsets its state held.
    pub inputs: Vec<InputDigest>,
    pub offsets: BTreeMap<String, i64>,
    pub dead_letters: DeadLetters,
    pub events: u64,
    pub elapsed: Duration,
    /// Time per stage: read and fold, compute, write.
    pub stages: [Duration; 3],
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
    } = request;
    let version = ruleset.version_on(period.first_day())?;

    let mut dead_letters = DeadLetters::default();
    let folded = match source {
        Source::Folder(dir) => {
            let folder = files::read_folder(&dir, &mut dead_letters, progress)?;
            Folded {
                ledger: folder.ledger,
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
                inputs: Vec::new(),
                offsets: merged.offsets,
                events: 0,
            }
        }
    };
    let read = started.elapsed();

    progress.stage("computing");
    let mut rows = folded.ledger.period_inputs(period);
    if let Some(org) = org {
        rows.retain(|(worker, ..)| worker.org_id == org);
        if rows.is_empty() {
            return Err(Error::NoWorkers {
                org: org.to_string(),
                period: period.to_string(),
            });
        }
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
            dead_letters: dead_letters.counts(),
        },
    );
    // Workers the ruleset gives no value for are worker errors, left out of the results and
    // recorded with them; the run goes on for the others.
    let calculator = Calculator::default();
    let (mut computing, mut writing) = (Duration::ZERO, Duration::ZERO);
    for chunk in rows.chunks(CHUNK) {
        let at = Instant::now();
        let Calculation { results, errors } = calculator.compute(version, inputs_batches(period, chunk)).await?;
        computing += at.elapsed();
        let at = Instant::now();
        writer.write(&results, errors).await?;
        writing += at.elapsed();
    }
    drop(rows);
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
    // Everything of the run before its record: a run is visible only once complete.
    dead_letters.write(out, &run_id).await?;
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
    })
}

/// What a run computes from: the folded ledger and what it was folded from.
struct Folded {
    ledger: Ledger,
    inputs: Vec<InputDigest>,
    offsets: BTreeMap<String, i64>,
    events: u64,
}
