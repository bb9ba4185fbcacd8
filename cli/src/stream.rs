//! `payroll stream` and `payroll produce`: the engine on Kafka. `stream` folds the topics into
//! checkpointed shards and keeps the open period's live results current; `produce` publishes
//! an input folder to the topics.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::Datelike;
use payroll_connectors::Store;
use payroll_connectors::checkpoints::Checkpoints;
use payroll_connectors::files;
use payroll_connectors::kafka::{self, KafkaConfig, Live, StreamConfig, Topics};
use payroll_engine::Ledger;
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;

use crate::ui;

#[derive(clap::Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap brokers, HOST:PORT[,HOST:PORT...]
    #[arg(long, env = "PAYROLL_BROKERS")]
    brokers: String,
    /// Topic of biometric punches (JSON events, keyed by worker_id)
    #[arg(long, default_value = "attendance")]
    topic_attendance: String,
    /// Topic of leave request versions
    #[arg(long, default_value = "leave")]
    topic_leave: String,
    /// Topic of manual adjustment versions
    #[arg(long, default_value = "adjustments")]
    topic_adjustments: String,
    /// Topic of worker master records (one JSON object per worker version)
    #[arg(long, default_value = "workers")]
    topic_workers: String,
    /// A librdkafka property, over the engine's own settings (repeatable), e.g.
    /// -X session.timeout.ms=30000 -X security.protocol=ssl
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = key_value)]
    options: Vec<(String, String)>,
}

impl KafkaArgs {
    fn config(&self, group: &str) -> KafkaConfig {
        KafkaConfig {
            brokers: self.brokers.clone(),
            group: group.to_string(),
            options: self.options.clone(),
        }
    }

    fn topics(&self) -> Topics {
        Topics {
            attendance: self.topic_attendance.clone(),
            leave: self.topic_leave.clone(),
            adjustments: self.topic_adjustments.clone(),
            workers: self.topic_workers.clone(),
        }
    }
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("`{text}`: expected KEY=VALUE"))
}

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    payroll stream --brokers 127.0.0.1:9092 --sites sites.csv --rules rules/examples/india-contract.toml\n  \
    payroll stream --brokers 127.0.0.1:9092 --sites sites.csv --rules r.toml --state s3://bucket/state --until-caught-up\n\n\
    Run more instances with the same --group and --state to split the partitions between them. The four \
    topics must have the same partition count and be keyed by worker_id.\n\
    Refused messages go to <topic>.dlq with headers reason, field, source_topic, source_partition, source_offset.\n\
    Periods the service locks (markers under locks/ in --state) leave the state for archive/ (Parquet), except \
    the live --period; a late event of one loads its worker's archived events back.\n\
    Compute a period from the state with `payroll run --state URL --sites FILE`; query the live results with \
    `payroll query --state URL \"SELECT ... FROM live\"`.")]
pub struct StreamArgs {
    #[command(flatten)]
    kafka: KafkaArgs,
    /// The sites file (sites.csv format): sites are configuration, not a topic
    #[arg(long)]
    sites: PathBuf,
    /// The ruleset file (TOML) the live results are computed with
    #[arg(long)]
    rules: PathBuf,
    /// Consumer group: instances in one group split the partitions
    #[arg(long, default_value = "payroll")]
    group: String,
    /// Where checkpoints and live results go: a directory or a file://, s3://, gs://, az:// URL
    #[arg(long, default_value = "./state")]
    state: String,
    /// Exit once every assigned partition has been read to its end (backfills, tests)
    #[arg(long)]
    until_caught_up: bool,
    /// How often shards are checkpointed (and offsets committed), e.g. 5s, 500ms
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    checkpoint_every: Duration,
    /// How often changed workers' live pay is recalculated
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    live_every: Duration,
    /// The open period the live results are for, YYYY-MM; the current month by default
    #[arg(long)]
    period: Option<PayPeriod>,
    /// How often rates and consumer lag are logged
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    report_every: Duration,
}

pub async fn stream(args: StreamArgs) -> Result<ExitCode> {
    let ruleset = Arc::new(Ruleset::load(&args.rules)?);
    let period = args.period.unwrap_or_else(|| {
        let today = chrono::Utc::now().date_naive();
        PayPeriod {
            year: today.year(),
            month: today.month(),
        }
    });
    ruleset
        .version_on(period.first_day())
        .with_context(|| format!("live results for {period}"))?;
    let sites = Ledger::new(files::read_sites(&args.sites)?);
    let state = Store::open(&args.state).with_context(|| format!("opening state {}", args.state))?;
    let config = StreamConfig {
        kafka: args.kafka.config(&args.group),
        topics: args.kafka.topics(),
        sites,
        state: Checkpoints::open(state)?,
        checkpoint_every: args.checkpoint_every,
        live: Some(Live {
            period,
            ruleset,
            every: args.live_every,
        }),
        until_caught_up: args.until_caught_up,
        report_every: args.report_every,
        status: Default::default(),
    };

    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(Arc::clone(&stop))?;
    let runtime = tokio::runtime::Handle::current();
    let report = tokio::task::spawn_blocking(move || kafka::stream(config, stop, runtime)).await??;

    let c = &report.counters;
    let seconds = report.elapsed.as_secs_f64();
    let mut rows = vec![
        ("Messages folded".to_string(), c.folded.to_string()),
        (
            "Rate".to_string(),
            format!("{:.0} messages/s", c.folded as f64 / seconds.max(1e-9)),
        ),
    ];
    for (topic, n) in &c.dead_letters {
        rows.push((format!("Dead letters to {}", Topics::dead_letter(topic)), n.to_string()));
    }
    rows.extend([
        (
            "Locked periods archived".to_string(),
            format!(
                "{} (shard, period) closes, {} events to archive/; {} workers' periods loaded back for late events",
                c.closed_periods, c.archived_events, c.reopened
            ),
        ),
        ("Checkpoints written".to_string(), c.checkpoints.to_string()),
        (
            "Checkpoints failed (retried)".to_string(),
            c.failed_checkpoints.to_string(),
        ),
        (
            "Live pay recalculated".to_string(),
            format!("{} workers in {} shard updates", c.recalculated, c.live_updates),
        ),
        ("Shards held at exit".to_string(), format!("{:?}", report.shards)),
        ("Time".to_string(), format!("{seconds:.2} s")),
    ]);
    println!("{}", ui::table(&rows));
    println!("State: {}", args.state);
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM: finish the message in hand, checkpoint, exit.
fn watch_signals(stop: Arc<AtomicBool>) -> Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("stopping: checkpointing what is held");
        stop.store(true, Ordering::Relaxed);
    });
    Ok(())
}

#[derive(clap::Args)]
#[command(after_help = "Example:\n  payroll produce --brokers 127.0.0.1:9092 --inputs ../shared/reference/sample")]
pub struct ProduceArgs {
    #[command(flatten)]
    kafka: KafkaArgs,
    /// Folder with workers.csv and attendance.ndjson, leave.ndjson, adjustments.ndjson
    #[arg(long)]
    inputs: PathBuf,
    /// Partitions of topics that do not exist yet
    #[arg(long, default_value_t = 8)]
    partitions: usize,
}

pub async fn produce(args: ProduceArgs) -> Result<ExitCode> {
    if !args.inputs.is_dir() {
        bail!("{}: not a directory of inputs", args.inputs.display());
    }
    let bar = ui::Bar::new();
    let published = kafka::publish_folder(
        &args.kafka.config("payroll-produce"),
        &args.kafka.topics(),
        &args.inputs,
        args.partitions,
        &bar,
    )
    .await?;
    bar.finish();
    let rows: Vec<(String, String)> = published.iter().map(|(t, n)| (t.clone(), n.to_string())).collect();
    println!("{}", ui::table(&rows));
    Ok(ExitCode::SUCCESS)
}
