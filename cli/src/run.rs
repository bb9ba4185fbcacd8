//! `payroll run`: a period's payroll from an input folder or from a stream's checkpoints. Read
//! and fold the inputs (or merge every shard's latest state), compute every worker's components
//! with the ruleset in force, write results, manifests and dead letters to the output store.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use payroll_connectors::Progress;
use payroll_connectors::checkpoints::Checkpoints;
use payroll_connectors::files;
use payroll_connectors::results::{RunOutput, RunRecord, write_run};
use payroll_connectors::{DeadLetters, Store};
use payroll_engine::run::{RulesetRef, new_run_id};
use payroll_engine::{Calculator, Ledger, inputs_batches};
use payroll_rules::vocabulary::PayPeriod;
use payroll_rules::{Category, Ruleset};

use crate::ui::{self, Bar};

/// Where a run's inputs come from.
pub enum Source {
    /// An input folder (POLICY.md's format).
    Folder(PathBuf),
    /// A stream's state store, with the sites file the stream ran with.
    State { url: String, sites: PathBuf },
}

pub struct RunRequest<'a> {
    pub period: PayPeriod,
    pub source: Source,
    pub ruleset: &'a Ruleset,
    pub out: String,
}

pub struct RunReport {
    pub record: RunRecord,
    pub dead_letters: DeadLetters,
    pub out: Store,
    pub events: u64,
    pub elapsed: Duration,
    /// Time per stage: read and fold, compute, write.
    pub stages: [Duration; 3],
}

pub async fn run(request: RunRequest<'_>, bar: &Bar) -> Result<RunReport> {
    let started = Instant::now();
    let RunRequest {
        period,
        source,
        ruleset,
        out,
    } = request;
    let version = ruleset.version_on(period.first_day())?;
    let store = Store::open(&out).with_context(|| format!("opening output {out}"))?;

    let mut dead_letters = DeadLetters::default();
    let folded = match source {
        Source::Folder(dir) => {
            let folder = files::read_folder(&dir, &mut dead_letters, bar as &dyn Progress)?;
            Folded {
                ledger: folder.ledger,
                inputs: folder.inputs,
                offsets: BTreeMap::new(),
                events: folder.events,
            }
        }
        Source::State { url, sites } => {
            bar.spin("loading checkpoints");
            let sites = Ledger::new(files::read_sites(&sites)?);
            let state = Store::open(&url).with_context(|| format!("opening state {url}"))?;
            let merged = Checkpoints::new(state).merged(&sites).await?;
            Folded {
                ledger: merged.ledger,
                inputs: Vec::new(),
                offsets: merged.offsets,
                events: 0,
            }
        }
    };
    let read = started.elapsed();

    bar.spin("computing");
    let rows = folded.ledger.period_inputs(period);
    let batches = inputs_batches(period, &rows);
    drop(rows);
    let results = Calculator::default().calculate(version, batches).await?;
    let computed = started.elapsed();

    bar.spin("writing results");
    let now = Utc::now();
    let run_id = new_run_id(now);
    let period_text = period.to_string();
    let created_at = now.to_rfc3339();
    let output = RunOutput {
        run_id: &run_id,
        period: &period_text,
        created_at: &created_at,
        ruleset_text: &ruleset.text,
        ruleset: RulesetRef::new(ruleset, version),
        version,
        inputs: folded.inputs,
        offsets: folded.offsets,
        dead_letters: dead_letters.counts(),
        results: &results,
    };
    let record = write_run(&store, &output).await?;
    dead_letters.write(&store).await?;
    bar.finish();
    let elapsed = started.elapsed();
    Ok(RunReport {
        record,
        dead_letters,
        out: store,
        events: folded.events,
        elapsed,
        stages: [read, computed - read, elapsed - computed],
    })
}

/// What a run computes from: the folded ledger and what it was folded from.
struct Folded {
    ledger: Ledger,
    inputs: Vec<payroll_engine::run::InputDigest>,
    offsets: BTreeMap<String, i64>,
    events: u64,
}

/// An exact total as the summary shows it: `12,34,567.50`.
fn rupees(total: &str) -> String {
    total
        .parse()
        .map_or_else(|_| total.to_string(), payroll_payslips::format_inr)
}

/// The summary a person reads at the end of a run.
pub fn summary(report: &RunReport, ruleset: &Ruleset) -> String {
    let r = &report.record;
    let mut rows = vec![
        ("Run".to_string(), r.run_id.clone()),
        ("Period".to_string(), r.period.clone()),
        (
            "Ruleset".to_string(),
            format!("{} {}", r.ruleset.name, r.ruleset.version),
        ),
        ("Workers".to_string(), r.rows.to_string()),
        ("Events folded".to_string(), report.events.to_string()),
    ];
    let version = ruleset.version(&r.ruleset.version);
    for component in version
        .into_iter()
        .flat_map(|v| &v.components)
        .filter(|c| c.category == Category::Total)
    {
        if let Some(total) = r.totals.get(&component.name) {
            rows.push((component.label.clone(), rupees(total)));
        }
    }
    rows.push(("Dead letters".to_string(), report.dead_letters.total().to_string()));
    rows.push(("Time".to_string(), format!("{:.2} s", report.elapsed.as_secs_f64())));
    if let Some(mib) = ui::peak_rss_mib() {
        rows.push(("Peak memory".to_string(), format!("{mib:.0} MiB")));
    }
    let mut text = ui::table(&rows);
    if report.dead_letters.total() > 0 {
        text.push_str("\n\nRefused (see dead-letter/ in the output):\n");
        for letter in report.dead_letters.iter().take(5) {
            text.push_str(&format!("  {letter}\n"));
        }
        if report.dead_letters.total() > 5 {
            text.push_str(&format!("  ... and {} more\n", report.dead_letters.total() - 5));
        }
    }
    text.push_str(&format!(
        "\nResults: {}\n",
        report
            .out
            .url_of(&object_store::path::Path::from(payroll_connectors::layout::RESULTS))
    ));
    text
}
