//! `payroll bench`: performance measured, never asserted. Figures are printed for the README
//! and the release notes; run them on a release build (`cargo run --release -- bench ...`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use payroll_connectors::DeadLetters;
use payroll_connectors::Quiet;
use payroll_connectors::files;
use payroll_engine::parallel::cores;
use payroll_engine::{Calculator, InputsBatch, Worker};
use payroll_pipeline::Source;
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;

use crate::{EXAMPLE_RULESET, run, ui};

mod archive;
mod arrears;
mod notices;
mod payout;
mod serve;
mod stream;
mod upload;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// The calculator alone: period inputs in memory to results (the sample's workers,
    /// replicated), and DuckDB on the same work in the same run when it is installed
    Calc {
        #[arg(long, default_value_t = 1_000_000)]
        workers: usize,
        /// The reference sample folder whose workers are replicated
        #[arg(long, default_value = "../shared/reference/sample")]
        sample: PathBuf,
        #[arg(long, default_value = "2026-10")]
        period: PayPeriod,
        /// The DuckDB baseline script (needs `pip install duckdb pyarrow`)
        #[arg(long, default_value = "../shared/baselines/duckdb_calc.py")]
        duckdb: PathBuf,
        /// Timed repetitions; the best is reported
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// Payslips: render and write every worker's PDF and XLSX and the registers to a local
    /// folder, and the openpyxl + LibreOffice baseline on the sample in the same run
    Payslips {
        #[arg(long, default_value_t = 10_000)]
        workers: usize,
        #[arg(long, default_value = "2026-10")]
        period: PayPeriod,
        /// The reference sample folder, for the baseline
        #[arg(long, default_value = "../shared/reference/sample")]
        sample: PathBuf,
        /// The baseline script (needs `pip install openpyxl` and LibreOffice)
        #[arg(long, default_value = "../shared/baselines/payslips_openpyxl_libreoffice.py")]
        baseline: PathBuf,
        /// `en`: every payslip in English; `all`: worker i reads the i-th of the eleven payslip
        /// languages in turn
        #[arg(long, default_value = "en", value_parser = ["en", "all"])]
        languages: String,
    },
    /// Kafka ingest into folded state against a bare rdkafka loop over the same topic, and the
    /// time from a punch to the updated live pay and live board (needs a broker: start one with
    /// scripts/broker)
    Ingest {
        #[arg(long, env = "PAYROLL_BROKERS")]
        brokers: String,
        #[arg(long, default_value_t = 20_000)]
        workers: usize,
        #[arg(long, default_value = "2026-10")]
        period: PayPeriod,
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        live_every: Duration,
        /// Rounds of bare loop then stream over the same topics: this machine's speed varies
        /// from run to run, so the ratio is taken within each round and the median reported
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Checkpoint and restore of every worker's month, over as many shards as a stream has
    /// partitions, in clear and sealed (AES-256-GCM)
    Checkpoint {
        #[arg(long, default_value_t = 100_000)]
        workers: usize,
        #[arg(long, default_value = "2026-10")]
        period: PayPeriod,
        /// Shards the workers are spread over (the source topics' partitions)
        #[arg(long, default_value_t = 1)]
        shards: u32,
    },
    /// The stream's state over months: the last --months months folded into shards as the
    /// stream folds them, each locked (archived and dropped) once the next is folded, against
    /// the last month alone and against every month kept; state size and RSS of each
    Archive {
        #[arg(long, default_value_t = 100_000)]
        workers: usize,
        /// The last (open) month
        #[arg(long, default_value = "2026-10")]
        period: PayPeriod,
        #[arg(long, default_value_t = 3)]
        months: u32,
        /// Shards the workers are spread over (the source topics' partitions)
        #[arg(long, default_value_t = 32)]
        shards: u32,
    },
    /// One measurement of `bench archive`, in a process of its own
    #[command(hide = true)]
    StreamMonths {
        /// Where each month is generated (and removed once streamed) and archived
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        workers: usize,
        /// The months to stream, in order; all but the last are locked
        #[arg(long = "period")]
        periods: Vec<PayPeriod>,
        #[arg(long)]
        shards: u32,
        /// Lock nothing: every month stays in the state (the stream before it archived)
        #[arg(long)]
        keep_all: bool,
    },
    /// Recalculating the changed workers against recalculating everyone
    Live {
        #[arg(long, default_value_t = 100_000)]
        workers: usize,
        #[arg(long, default_value = "2026-10")]
        period: PayPeriod,
        /// The share of workers changed, 0.01 for 1 %
        #[arg(long, default_value_t = 0.01)]
        changed: f64,
    },
    /// The service under load: a final run of an org through the API (trigger to finalized,
    /// payslips included), then concurrent clients on pay-to-date
    Serve {
        /// Workers of the org whose final run is timed (a month of about twice as many is
        /// generated: the org is one of three)
        #[arg(long, default_value_t = 100_000)]
        org_workers: usize,
        /// Concurrent clients reading pay-to-date
        #[arg(long, default_value_t = 200)]
        clients: usize,
        /// How long the clients read
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(long, default_value = "2026-10")]
        period: PayPeriod,
    },
    /// A what-if preview through the service: the PF ceiling raised to 25,000 over a
    /// calculated run of an org, timed from the POST to done
    Preview {
        /// Workers of the org whose run is previewed (a month of about twice as many is
        /// generated)
        #[arg(long, default_value_t = 100_000)]
        org_workers: usize,
        #[arg(long, default_value = "2026-10")]
        period: PayPeriod,
    },
    /// Insights through the service: an org's runs of --periods periods (the generated month
    /// and the ones before it), then `GET /insights` over all of them with the heatmap, timed
    /// for an HR admin and an analyst
    Insights {
        /// Workers of the org (a month of about twice as many is generated)
        #[arg(long, default_value_t = 100_000)]
        org_workers: usize,
        /// The newest period: the generated month. The example ruleset applies from 2026-04, so
        /// twelve periods end in 2027-03 at the earliest
        #[arg(long, default_value = "2027-03")]
        period: PayPeriod,
        #[arg(long, default_value_t = 12)]
        periods: u32,
    },
    /// A bulk upload through the service: an XLSX of --rows rows uploaded to a service in
    /// this process (embedded SQLite, a generated month as its input folder), timed from the
    /// POST to done (read, checked and applied)
    Upload {
        #[arg(long, default_value_t = 50_000)]
        rows: usize,
        /// adjustments or attendance_summary
        #[arg(long, default_value = "adjustments")]
        kind: String,
        #[arg(long, default_value = "2026-10")]
        period: PayPeriod,
    },
    /// Payslip notices through the outbox to a vendor server on loopback in this process:
    /// notices per second and the time to drain
    Notices {
        #[arg(long, default_value_t = 100_000)]
        notices: usize,
        /// Notices a dispatcher claims at once
        #[arg(long, default_value_t = 256)]
        batch: u32,
        /// Notices sent at once
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// A bank payout of a generated month's final results: pain.001, NEFT CSV and exceptions
    /// for every worker, timed by stage, with the files' sizes
    Payout {
        #[arg(long, default_value_t = 100_000)]
        workers: usize,
        #[arg(long, default_value = "2026-10")]
        period: PayPeriod,
    },
    /// What a locked period costs the next run in files mode: a generated month run and locked,
    /// a late approved adjustment for --late of its workers, then the next month run with the
    /// locked month (its arrears carried) and without it
    Arrears {
        #[arg(long, default_value_t = 100_000)]
        workers: usize,
        /// Workers of org0 given a late adjustment for the locked month
        #[arg(long, default_value_t = 1_000)]
        late: usize,
        #[arg(long, default_value = "2026-10")]
        period: PayPeriod,
    },
    /// A whole run from raw punch files: generate a month, then run it; DuckDB's reading of the
    /// same attendance file is the floor printed beside it (when `duckdb` is importable)
    Run {
        #[arg(long, default_value_t = 100_000)]
        workers: usize,
        #[arg(long, default_value = "2026-10")]
        period: PayPeriod,
        /// Working folder (inputs and results); a temporary one if omitted
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

pub async fn bench(command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Calc {
            workers,
            sample,
            period,
            duckdb,
            repeat,
        } => calc(workers, &sample, period, &duckdb, repeat).await,
        BenchCommand::Run { workers, period, dir } => end_to_end(workers, period, dir).await,
        BenchCommand::Arrears { workers, late, period } => arrears::arrears(workers, late, period)
            .await
            .map(|()| ExitCode::SUCCESS),
        BenchCommand::Payout { workers, period } => payout::payout(workers, period).await.map(|()| ExitCode::SUCCESS),
        BenchCommand::Notices {
            notices,
            batch,
            concurrency,
        } => notices::notices(notices, batch, concurrency)
            .await
            .map(|()| ExitCode::SUCCESS),
        BenchCommand::Upload { rows, kind, period } => {
            upload::upload(rows, &kind, period).await.map(|()| ExitCode::SUCCESS)
        }
        BenchCommand::Serve {
            org_workers,
            clients,
            seconds,
            period,
        } => serve::serve(org_workers, clients, seconds, period)
            .await
            .map(|()| ExitCode::SUCCESS),
        BenchCommand::Insights {
            org_workers,
            period,
            periods,
        } => serve::insights(org_workers, period, periods)
            .await
            .map(|()| ExitCode::SUCCESS),
        BenchCommand::Preview { org_workers, period } => {
            serve::preview(org_workers, period).await.map(|()| ExitCode::SUCCESS)
        }
        BenchCommand::Ingest {
            brokers,
            workers,
            period,
            live_every,
            rounds,
        } => stream::ingest(&brokers, workers, period, live_every, rounds)
            .await
            .map(|()| ExitCode::SUCCESS),
        BenchCommand::Checkpoint {
            workers,
            period,
            shards,
        } => stream::checkpoint(workers, period, shards)
            .await
            .map(|()| ExitCode::SUCCESS),
        BenchCommand::Archive {
            workers,
            period,
            months,
            shards,
        } => archive::months(workers, period, months, shards)
            .await
            .map(|()| ExitCode::SUCCESS),
        BenchCommand::StreamMonths {
            dir,
            workers,
            periods,
            shards,
            keep_all,
        } => archive::stream_months(&dir, workers, &periods, shards, keep_all)
            .await
            .map(|()| ExitCode::SUCCESS),
        BenchCommand::Live {
            workers,
            period,
            changed,
        } => stream::live(workers, period, changed).await.map(|()| ExitCode::SUCCESS),
        BenchCommand::Payslips {
            workers,
            period,
            sample,
            baseline,
            languages,
        } => payslips(workers, period, &sample, &baseline, languages == "all").await,
    }
}

async fn calc(workers: usize, sample: &Path, period: PayPeriod, duckdb: &Path, repeat: usize) -> Result<ExitCode> {
    let ruleset = Ruleset::parse(EXAMPLE_RULESET, Path::new("india-contract.toml"))?;
    let version = ruleset.version_on(period.first_day())?;
    let folder = files::read_folder(sample, &mut DeadLetters::default(), &Quiet)?;
    let rows = folder.ledger.period_inputs(period);
    if rows.is_empty() {
        bail!("no worker of {} is employed in {period}", sample.display());
    }
    let mut batches = Vec::new();
    let mut batch = InputsBatch::new(period, 8192);
    for i in 0..workers {
        let (worker, site, inputs) = &rows[i % rows.len()];
        let worker = Worker {
            worker_id: format!("W{i:08}").into(),
            ..(*worker).clone()
        };
        batch.push(&worker, site, inputs);
        if batch.len() == 8192 {
            batches.push(std::mem::replace(&mut batch, InputsBatch::new(period, 8192)).finish());
        }
    }
    if !batch.is_empty() {
        batches.push(batch.finish());
    }
    let calculator = Calculator::default();
    let mut best = Duration::MAX;
    for _ in 0..repeat.max(1) {
        let started = Instant::now();
        let results = calculator.calculate(version, batches.clone()).await?;
        best = best.min(started.elapsed());
        let rows: usize = results.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, workers, "every worker has a result row");
    }
    let ours = best.as_secs_f64();
    println!(
        "calc, {workers} workers, {} cores: {ours:.3} s ({:.0} workers/s)",
        cores(),
        workers as f64 / ours
    );
    match duckdb_calc(duckdb, sample, workers, period) {
        Ok(theirs) => println!(
            "duckdb, same work, same run: {theirs:.3} s; payroll/duckdb time ratio {:.2}",
            ours / theirs
        ),
        Err(e) => println!("duckdb baseline not run: {e:#}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the DuckDB baseline on the same replicated inputs and returns its `calc` seconds.
fn duckdb_calc(script: &Path, sample: &Path, workers: usize, period: PayPeriod) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let inputs = dir.path().join("inputs.parquet");
    let python = |args: &[&str]| -> Result<String> {
        let out = Command::new("python3")
            .arg(script)
            .args(args)
            .output()
            .context("running python3")?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    python(&[
        "make-inputs",
        &sample.display().to_string(),
        &workers.to_string(),
        &inputs.display().to_string(),
    ])?;
    let mut best = f64::MAX;
    for _ in 0..3 {
        let out = python(&["bench", &inputs.display().to_string(), &period.to_string()])?;
        let seconds = out
            .split_whitespace()
            .skip_while(|w| *w != "calc")
            .nth(1)
            .and_then(|s| s.trim_end_matches('s').parse::<f64>().ok())
            .with_context(|| format!("unexpected baseline output: {out}"))?;
        best = best.min(seconds);
    }
    Ok(best)
}

async fn payslips(
    workers: usize,
    period: PayPeriod,
    sample: &Path,
    baseline: &Path,
    every_language: bool,
) -> Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let inputs = dir.path().join("inputs");
    generate(workers, period, &inputs)?;
    set_languages(&inputs.join("workers.csv"), every_language)?;
    let ruleset = Ruleset::parse(EXAMPLE_RULESET, Path::new("india-contract.toml"))?;
    let out = dir.path().join("out").display().to_string();
    let (mut report, store) = run::run(period, Source::Folder(inputs.clone()), &ruleset, &out, &ui::Bar::new()).await?;
    // Payslips are rendered from the results, not from the folded month.
    drop(std::mem::take(&mut report.ledger));
    let formats = payroll_pipeline::payslips::Formats { pdf: true, xlsx: true };
    let started = Instant::now();
    let batch = crate::payslips::render(&store, &report.record, formats, &ui::Bar::new()).await?;
    let seconds = started.elapsed().as_secs_f64();
    let sizes = |extension: &str| -> (f64, u64) {
        let sizes: Vec<u64> = batch
            .manifests
            .iter()
            .flat_map(|m| &m.files)
            .filter(|f| f.name.ends_with(extension) && f.name != "register.xlsx")
            .map(|f| f.bytes)
            .collect();
        (
            sizes.iter().sum::<u64>() as f64 / sizes.len().max(1) as f64,
            sizes.iter().copied().max().unwrap_or(0),
        )
    };
    let ((pdf_mean, pdf_max), (xlsx_mean, _)) = (sizes(".pdf"), sizes(".xlsx"));
    println!(
        "payslips, {} workers{} (PDF and XLSX each, plus registers), {} cores: {seconds:.2} s, {:.0} payslips/s; \
         PDF mean {:.1} KB, max {:.1} KB; XLSX mean {:.1} KB",
        batch.payslips,
        if every_language {
            " in 11 languages"
        } else {
            " in English"
        },
        cores(),
        batch.payslips as f64 / seconds,
        pdf_mean / 1024.0,
        pdf_max as f64 / 1024.0,
        xlsx_mean / 1024.0,
    );
    let baseline_out = dir.path().join("baseline");
    match Command::new("python3")
        .arg(baseline)
        .arg(sample)
        .arg(&baseline_out)
        .output()
    {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let rate = text
                .split_whitespace()
                .skip_while(|w| *w != "payslips/s")
                .nth(1)
                .and_then(|r| r.parse::<f64>().ok());
            match rate {
                Some(rate) => println!(
                    "openpyxl + LibreOffice, the sample, same run: {}; ratio {:.0}x",
                    text.trim(),
                    batch.payslips as f64 / seconds / rate
                ),
                None => println!("baseline output not understood: {text}"),
            }
        }
        Ok(o) => println!(
            "openpyxl + LibreOffice baseline not run: {} (pip install openpyxl; apt-get install libreoffice-calc-nogui)",
            python_error(&String::from_utf8_lossy(&o.stderr))
        ),
        Err(e) => println!("openpyxl + LibreOffice baseline not run: {e}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The generated master's `language` column (its last) set for the benchmark: every worker
/// English (none given), or worker i reading the i-th payslip language in turn, so a batch
/// renders every script.
fn set_languages(workers_csv: &Path, every_language: bool) -> Result<()> {
    let text = std::fs::read_to_string(workers_csv)?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    if !header.ends_with(",language") {
        bail!("{}: expected `language` as the last column", workers_csv.display());
    }
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    out.push_str(header);
    out.push('\n');
    let languages = payroll_payslips::Language::ALL;
    for (i, line) in lines.enumerate() {
        let row = line.rsplit_once(',').map_or(line, |(row, _)| row);
        out.push_str(row);
        out.push(',');
        if every_language {
            out.push_str(languages[i % languages.len()].code());
        }
        out.push('\n');
    }
    std::fs::write(workers_csv, out)?;
    Ok(())
}

/// `payroll gen` in a child process, so this process's peak memory is the run's alone.
fn generate(workers: usize, period: PayPeriod, inputs: &Path) -> Result<()> {
    let status = Command::new(std::env::current_exe()?)
        .args([
            "gen",
            "--workers",
            &workers.to_string(),
            "--period",
            &period.to_string(),
            "--out",
        ])
        .arg(inputs)
        .stdout(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        bail!("payroll gen failed");
    }
    Ok(())
}

async fn end_to_end(workers: usize, period: PayPeriod, dir: Option<PathBuf>) -> Result<ExitCode> {
    let temp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| temp.path().to_path_buf());
    let inputs = dir.join("inputs");
    generate(workers, period, &inputs)?;
    let bytes: u64 = std::fs::read_dir(&inputs)?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let ruleset = Ruleset::parse(EXAMPLE_RULESET, Path::new("india-contract.toml"))?;
    let out = dir.join("out").display().to_string();
    let (report, _) = run::run(period, Source::Folder(inputs.clone()), &ruleset, &out, &ui::Bar::new()).await?;
    let [read, compute, write] = report.stages.map(|d| d.as_secs_f64());
    let total = report.elapsed.as_secs_f64();
    println!(
        "end to end, {workers} workers, {:.0} MB of inputs, {} events, {} cores:\n  \
         total {total:.2} s (read and fold {read:.2} s, period inputs and calc {compute:.2} s, write {write:.2} s)\n  \
         checks {:.2} s of the calc ({} findings, the checks across workers included)\n  \
         attendance_days {:.2} s of the write: {:.1} % added to the run without them\n  \
         {:.0} events/s, {:.0} workers/s, peak RSS {:.0} MiB",
        bytes as f64 / 1e6,
        report.events,
        cores(),
        report.checking.as_secs_f64(),
        report.findings.len(),
        report.days.as_secs_f64(),
        100.0 * report.days.as_secs_f64() / (total - report.days.as_secs_f64()),
        report.events as f64 / total,
        workers as f64 / total,
        ui::peak_rss_mib().unwrap_or(f64::NAN),
    );
    // Freed before the floor runs: DuckDB's de-duplication of a million workers' month takes
    // 7.5 GB of its own, beside which the month folded here would be 2.6 GB held for nothing.
    drop(report);
    let attendance = inputs.join("attendance.ndjson");
    for (query, what) in [
        ("read", "reading attendance.ndjson, grouped by worker"),
        (
            "fold",
            "de-duplicated by event_id, first in and last out per worker and day",
        ),
    ] {
        match duckdb_read(query, &attendance) {
            Ok((seconds, rss)) => println!(
                "  duckdb, 2 threads, same file, same run: {what}: {seconds:.2} s, peak RSS {rss:.0} MiB; payroll/duckdb time ratio {:.2}",
                total / seconds
            ),
            Err(e) => println!("  duckdb floor ({query}) not run: {e:#}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a failed Python script says went wrong: its traceback's last error line.
fn python_error(stderr: &str) -> &str {
    stderr
        .lines()
        .rfind(|line| line.contains("Error"))
        .or(stderr.lines().last())
        .unwrap_or("failed")
}

/// DuckDB's time and peak memory for one of the floor's queries over `attendance`, in a
/// process of its own.
fn duckdb_read(query: &str, attendance: &Path) -> Result<(f64, f64)> {
    let output = Command::new("python3")
        .args(["-c", include_str!("duckdb_read.py"), query])
        .arg(attendance)
        .output()
        .context("python3")?;
    if !output.status.success() {
        bail!("{}", python_error(&String::from_utf8_lossy(&output.stderr)));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut figures = text.split_whitespace().map(str::parse::<f64>);
    match (figures.next(), figures.next()) {
        (Some(Ok(seconds)), Some(Ok(rss))) => Ok((seconds, rss)),
        _ => bail!("unexpected output: {text}"),
    }
}
