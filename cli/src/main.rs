//! `payroll`: exact, fast payroll for contract and blue-collar workforces.

mod audit;
mod bench;
mod demo;
mod explain;
mod payslips;
mod preview;
mod query;
mod rules;
mod run;
mod serve;
mod stream;
mod ui;
mod upload;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use payroll_rules::vocabulary::PayPeriod;

/// Folding millions of small events allocates and frees at a rate the system allocator is slow
/// at (a sixth of a run's time); mimalloc halves that. Without transparent huge pages
/// (`no_thp`): each first touch of a huge page had the kernel clear 2 MB, and a 200k-worker
/// run spent a fifth of its reading there (3.4 s instead of 4.4 s without).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use payroll_rules::EXAMPLE_RULESET;

#[derive(Parser)]
#[command(
    name = "payroll",
    version,
    about = "Exact, fast payroll for contract and blue-collar workforces",
    long_about = "Exact, fast payroll for contract and blue-collar workforces.\n\n\
        Folds attendance punches, leave, adjustments and the worker master into each worker's \
        period inputs, applies a declarative ruleset (TOML) with exact decimal arithmetic, and \
        writes results as Parquet with a manifest.\n\n\
        Start with `payroll demo`: it generates a small organisation, runs a month and shows \
        where everything landed.",
    after_help = "Examples:\n  \
        payroll demo\n  \
        payroll run --period 2026-10 --inputs ./inputs --rules rules/examples/india-contract.toml\n  \
        payroll stream --brokers 127.0.0.1:9092 --sites sites.csv --rules india-contract.toml --state ./state\n  \
        payroll run --period 2026-10 --state ./state --sites sites.csv --rules india-contract.toml\n  \
        payroll explain --worker W000001 --period 2026-10\n  \
        payroll payslips --latest --period 2026-10 --out s3://bucket/payroll\n  \
        payroll query \"SELECT org_id, sum(net_pay) FROM latest GROUP BY org_id\""
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a small organisation and run its month, end to end, on this machine
    Demo(demo::DemoArgs),
    /// Compute a period's payroll from an input folder or a stream's state
    Run(RunArgs),
    /// Consume the Kafka topics into checkpointed state, keeping live pay current
    Stream(stream::StreamArgs),
    /// Publish an input folder to the Kafka topics, keyed by worker
    Produce(stream::ProduceArgs),
    /// Show how each component of a worker's pay was computed
    Explain(explain::ExplainArgs),
    /// Render a run's payslips (PDF, XLSX) and payroll register
    Payslips(payslips::PayslipsArgs),
    /// Check a ruleset, run its inline tests, or list the inputs formulas can use
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Query run results with SQL (tables `results`, `latest`, `attendance_days`, `summary`, ...)
    Query(query::QueryArgs),
    /// Generate a synthetic month of inputs with real-world feed noise
    Gen(GenArgs),
    /// Measure performance: the calculator alone, or a whole run from raw files
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Run the HTTP API, the run worker and the nightly scheduler (see README "The service")
    Serve(serve::ServeArgs),
    /// Mint a bearer token signed with the service's HS256 secret
    Token(serve::TokenArgs),
    /// The service's audit log: check that no entry was edited or deleted
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// What a ruleset revision or new rates would cost: a calculated run's inputs computed
    /// under them, nothing written
    Preview(preview::PreviewArgs),
    /// Upload an XLSX or CSV of attendance summaries, adjustments or workers to the service,
    /// follow it, and write the error report of the rows it rejected
    Upload(upload::UploadArgs),
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// The pay period, YYYY-MM
    #[arg(long)]
    period: PayPeriod,
    /// Folder with sites.csv, workers.csv, attendance.ndjson, leave.ndjson, adjustments.ndjson
    /// (or attendance_summary.csv|xlsx|parquet instead of punches)
    #[arg(long, required_unless_present = "state", conflicts_with = "state")]
    inputs: Option<PathBuf>,
    /// A stream's state (its --state): compute from the latest checkpoint of every shard
    #[arg(long, requires = "sites")]
    state: Option<String>,
    /// The sites file, with --state
    #[arg(long, requires = "state")]
    sites: Option<PathBuf>,
    /// The ruleset file (TOML), e.g. rules/examples/india-contract.toml
    #[arg(long)]
    rules: PathBuf,
    /// Where results go: a directory, or a file://, s3://, gs:// or az:// URL
    #[arg(long, default_value = "./out")]
    out: String,
    /// Render payslips right after the run
    #[arg(long)]
    payslips: bool,
    /// Payslip documents per worker, with --payslips
    #[arg(long, default_value = "pdf,xlsx")]
    format: payroll_pipeline::payslips::Formats,
    /// Record the run in the service's database (its `database` URL, e.g.
    /// sqlite://payroll-data/payroll.db): the service lists it, a final one waits there for
    /// approval, and a period the service has locked is refused. Needs --org
    #[arg(long, requires = "org", conflicts_with = "payslips")]
    database: Option<String>,
    /// With --database: the org whose run this is (the service runs one org at a time)
    #[arg(long, requires = "database")]
    org: Option<String>,
    /// With --database: provisional or final
    #[arg(long, default_value = "provisional", requires = "database")]
    kind: payroll_engine::lifecycle::RunKind,
    /// With --database: a token of the service with runs:trigger for --org; the run is
    /// requested by its person, who cannot then approve it
    #[arg(long, env = "PAYROLL_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// With --database: the service's config file, whose keys check --token (else the
    /// PAYROLL_ variables and the default data directory, as `payroll serve` reads them)
    #[arg(long, requires = "database")]
    config: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct GenArgs {
    /// How many workers
    #[arg(long, default_value_t = 1000)]
    workers: usize,
    /// The month to generate, YYYY-MM
    #[arg(long)]
    period: PayPeriod,
    /// Folder to write the inputs to
    #[arg(long)]
    out: PathBuf,
    /// Seed of the generator: the same seed gives the same files
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Deliberately invalid lines to include, to see dead letters at work
    #[arg(long, default_value_t = 0)]
    bad_lines: usize,
}

#[allow(
    clippy::expect_used,
    reason = "without its runtime nothing can run: stopping at start with the reason is all there is to do"
)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    // A stream runs for days: its rates, lag and rebalances are what its operators watch.
    let default_level = match cli.command {
        Command::Stream(_) | Command::Serve(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PAYROLL_LOG").unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Demo(args) => demo::demo(args).await,
        Command::Run(args) => {
            let ruleset = payroll_rules::Ruleset::load(&args.rules)?;
            let source = match (args.inputs, args.state, args.sites) {
                (Some(dir), ..) => payroll_pipeline::Source::Folder(dir),
                (None, Some(url), Some(sites)) => payroll_pipeline::Source::State { url, sites },
                _ => unreachable!("clap requires --inputs or --state with --sites"),
            };
            let bar = ui::Bar::new();
            if let (Some(database), Some(org)) = (&args.database, &args.org) {
                let target = run::Recorded {
                    database,
                    org,
                    kind: args.kind,
                    token: args.token.as_deref(),
                    config: args.config.as_deref(),
                };
                let (report, out) = run::run_recorded(args.period, source, &ruleset, &args.out, target, &bar).await?;
                println!("{}", run::summary(&report, &out, &ruleset));
                run::leave_to_exit(report.ledger);
                return Ok(ExitCode::SUCCESS);
            }
            let (mut report, out) = run::run(args.period, source, &ruleset, &args.out, &bar).await?;
            println!("{}", run::summary(&report, &out, &ruleset));
            let ledger = std::mem::take(&mut report.ledger);
            if !args.payslips {
                run::leave_to_exit(ledger);
                return Ok(ExitCode::SUCCESS);
            }
            // Payslips are rendered from the results: the folded month is done with.
            drop(ledger);
            let started = std::time::Instant::now();
            let batch = payslips::render(&out, &report.record, args.format, &bar).await?;
            print!("{}", payslips::summary(&batch, &out, started.elapsed().as_secs_f64()));
            Ok(if batch.failures().next().is_some() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Stream(args) => stream::stream(args).await,
        Command::Produce(args) => stream::produce(args).await,
        Command::Explain(args) => explain::explain(args).await,
        Command::Preview(args) => preview::preview_run(args).await,
        Command::Payslips(args) => payslips::payslips(args).await,
        Command::Rules(command) => rules::rules(command).await,
        Command::Query(args) => query::query(args).await,
        Command::Gen(args) => generate(args),
        Command::Bench(command) => bench::bench(command).await,
        Command::Serve(args) => serve::serve(args).await,
        Command::Token(args) => serve::token(args),
        Command::Audit(command) => audit::audit(command).await,
        Command::Upload(args) => upload::upload(args).await,
    }
}

fn generate(args: GenArgs) -> Result<ExitCode> {
    let config = payroll_synth::SynthConfig {
        workers: args.workers,
        year: args.period.year,
        month: args.period.month,
        seed: args.seed,
        bad_lines: args.bad_lines,
    };
    let s = payroll_synth::generate(&config, &args.out)?;
    println!(
        "{} workers at {} sites: {} punches, {} leave and {} adjustment events{} in {}",
        s.workers,
        s.sites,
        s.punches,
        s.leave_events,
        s.adjustment_events,
        if s.bad_lines > 0 {
            format!(" ({} invalid on purpose)", s.bad_lines)
        } else {
            String::new()
        },
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
