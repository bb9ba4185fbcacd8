//! `payroll serve`: the HTTP API HR, approvers, ops, analysts and workers use, the run worker
//! that executes the pipeline for it, the nightly scheduler and the janitor, over one database
//! (SQLite embedded, PostgreSQL in production).
//!
//! ```text
//! lib.rs (start: wires the app, spawns the jobs, serves the API)
//!   http/ (axum: extract, call one operation, answer)   jobs/ (run worker, scheduler, janitors,
//!     │                                                   │    notice dispatcher, publisher)
//!     └──────────────────────── both over ─────────────────┘
//!   the app: App (app.rs), Caller, the operations (runs, adjustments, uploads, payouts, ...)
//!   db/ (queries and row types)
//!   domain/ (statuses, kinds, channels, permissions, schedules), error.rs
//! ```
//!
//! `tests/api/layers.rs` fails when a module names a layer above its own.

pub mod adjustments;
pub mod anchors;
pub mod app;
pub mod at_rest;
pub mod audit;
pub mod auth;
pub mod caller;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod findings;
pub mod http;
pub mod insights;
pub mod jobs;
pub mod live;
pub mod metrics;
pub mod notices;
pub mod oidc;
pub mod payouts;
pub mod previews;
pub mod results;
pub mod returns;
pub mod roles;
pub mod runs;
pub mod schedule;
pub mod secrets;
pub mod uploads;
pub mod variance;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use payroll_connectors::Store;
use payroll_pipeline::Source;
use payroll_rules::Ruleset;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use app::App;
pub use config::ServeConfig;
pub use error::{Error, Result};

use crate::app::Rulesets;
use crate::domain::permissions::Roles;

/// The embedded default's demo month, as `payroll demo` generates it.
const DEMO_WORKERS: usize = 500;

/// A started service: its address, and the background work that stops with it.
pub struct Service {
    pub addr: SocketAddr,
    pub ctx: App,
    /// A ready token per role, printed for the generated demo only (see `http::console::demo`).
    pub tokens: Option<demo::DemoTokens>,
    tasks: Vec<JoinHandle<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    stream: Option<std::thread::JoinHandle<()>>,
}

impl Service {
    /// Stops serving and ends the worker, the scheduler and the janitor (a run being calculated
    /// is left for the janitor of the next start, as after a crash).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
        if let (Some(live), Some(thread)) = (&self.ctx.live, self.stream.take()) {
            // The stream checkpoints what it holds before it returns.
            live.stop();
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// Opens everything the config names, binds the listener and starts the background work.
pub async fn start(config: ServeConfig) -> anyhow::Result<Service> {
    std::fs::create_dir_all(&config.data)
        .with_context(|| format!("creating data directory {}", config.data.display()))?;
    let rulesets = load_rulesets(&config)?;
    let source = input_source(&config)?;
    let keys = secrets::signing_keys(&config)?;
    // Read again wherever checkpoints are; checked here so that a weak key stops the start in
    // every mode, not the first run that reads the state. The service seals its raw uploads
    // and payout files with it too.
    let seal = payroll_connectors::seal::Seal::from_env()?;
    let database_url = match &config.database {
        Some(url) => url.reveal().to_string(),
        None => format!("sqlite://{}?mode=rwc", config.data.join("payroll.db").display()),
    };
    let db = db::Db::connect(&database_url)
        .await
        .map_err(|e| anyhow::anyhow!("database: {e}"))?;
    let out = config.out();
    let store = Store::open(&out).with_context(|| format!("opening the object store {out}"))?;
    let now = chrono::Utc::now();
    for (org, settings) in &config.orgs {
        if let Some(s) = &settings.schedule {
            domain::schedule::Spec::parse(&s.cron, &s.timezone)
                .map_err(|e| anyhow::anyhow!("orgs.{org}.schedule: {e}"))?;
            db::schedules::seed(&db, org, &s.cron, &s.timezone, now)
                .await
                .map_err(|e| anyhow::anyhow!("seeding the schedule of {org}: {e}"))?;
        }
    }
    config.notices.check().map_err(|e| anyhow::anyhow!("{e}"))?;
    if config.notices.enabled
        && let Some(warning) = config.notices.lease_warning()
    {
        tracing::warn!("{warning}");
    }
    let link_key = notices::link::LinkKey::load(config.notices.link_secret.as_ref().map(|s| s.reveal()), &config.data)
        .context("the payslip link secret")?;
    let channels = notices::channel::Channels::new(&config.notices).map_err(|e| anyhow::anyhow!("{e}"))?;
    let compute = app::Compute::new().context("starting the run runtime")?;
    let (live, stream) = match &config.brokers {
        Some(brokers) => {
            let (live, thread) = start_stream(&config, brokers, &source, &rulesets.default, &compute)?;
            (Some(live), Some(thread))
        }
        None => (None, None),
    };
    let ctx = App::new(app::AppParts {
        roles: Arc::new(Roles::with_overrides(&config.roles)),
        role_tables: Arc::default(),
        config: Arc::new(config),
        db,
        store,
        keys: Arc::new(keys),
        rulesets: Arc::new(rulesets),
        source: Arc::new(source),
        work: Arc::new(Notify::new()),
        // Unique per start, even for two services in one process (tests).
        instance: Arc::from(format!("{}-{}-{:04x}", hostname(), std::process::id(), rand::random::<u16>()).as_str()),
        compute,
        metrics: Arc::default(),
        results: Arc::default(),
        receiving: Arc::default(),
        live,
        link_key,
        at_rest: at_rest::AtRest::new(seal),
    });
    let listener = tokio::net::TcpListener::bind(ctx.config.listen)
        .await
        .with_context(|| format!("listening on {}", ctx.config.listen))?;
    let addr = listener.local_addr()?;
    // Printed tokens end in logs (journald, a container's): the generated demo's only.
    let tokens = if http::console::demo(&ctx.config) && addr.ip().is_loopback() {
        demo::demo_tokens(&ctx)
    } else {
        None
    };

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = http::router(ctx.clone()).layer(axum::Extension(http::console::Listening(addr)));
    let header_timeout = ctx.config.http.header_timeout;
    let mut tasks = vec![tokio::spawn(async move {
        serve_http(listener, app, header_timeout, stopped).await;
    })];
    for _ in 0..ctx.config.workers {
        tasks.push(tokio::spawn(jobs::runs::run(ctx.clone())));
    }
    tasks.push(tokio::spawn(jobs::scheduler::run(ctx.clone(), Duration::from_secs(5))));
    tasks.push(tokio::spawn(jobs::runs::janitor(ctx.clone(), Duration::from_secs(10))));
    tasks.push(tokio::spawn(jobs::uploads::janitor(
        ctx.clone(),
        Duration::from_secs(30),
    )));
    tasks.push(tokio::spawn(anchors::run(
        ctx.db.clone(),
        ctx.store.clone(),
        secrets::anchor_key(&ctx.config)?,
        ctx.config.audit.anchor_every,
    )));
    if ctx.config.notices.enabled && ctx.config.workers > 0 {
        let dispatcher = jobs::notices::Dispatcher {
            db: ctx.db.clone(),
            settings: Arc::new(ctx.config.notices.clone()),
            channels: Arc::new(channels),
            key: ctx.link_key.clone(),
            base_url: ctx
                .config
                .notices
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{addr}")),
            metrics: Arc::clone(&ctx.metrics),
        };
        tasks.push(tokio::spawn(dispatcher.run()));
    }
    Ok(Service {
        addr,
        ctx,
        tokens,
        tasks,
        stop: Some(stop),
        stream,
    })
}

/// `payroll serve`: start, say where and how to call, serve until Ctrl-C or SIGTERM.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let service = start(config).await?;
    let base = format!("http://{}", service.addr);
    println!("payroll serve: listening on {base} (OpenAPI at {base}/openapi.json)");
    match &*service.ctx.source {
        Source::Folder(dir) => println!("inputs: {}", dir.display()),
        Source::State { url, .. } => println!("inputs: the stream state at {url}"),
    }
    if let Some(demo) = &service.tokens {
        let org = &demo.org;
        println!(
            "\nTokens for org {org} (valid 12 h), one per role (the worker's is worker {}):",
            demo.worker
        );
        for (role, token) in &demo.tokens {
            println!("  {role:<11} {token}");
        }
        let hr = demo
            .tokens
            .iter()
            .find_map(|(role, token)| (role == "hr_admin").then_some(token.as_str()))
            .unwrap_or("TOKEN");
        println!(
            "\nTry:\n  curl -s -X POST {base}/v1/orgs/{org}/runs -H 'Authorization: Bearer {hr}' \\\n    -H 'Idempotency-Key: first' -H 'Content-Type: application/json' -d '{{\"period\": \"2026-10\", \"kind\": \"provisional\"}}'"
        );
    }
    shutdown_signal().await;
    println!("payroll serve: stopping");
    service.shutdown().await;
    Ok(())
}

/// Serves `app` over HTTP/1.1 until `stopped`, as `axum::serve` does, but with a header read
/// timeout: a client sending its request line or headers slowly (slowloris) is disconnected
/// after `header_timeout` instead of holding the connection for as long as it likes. Stopping
/// (or dropping this future) lets each connection finish the request it is answering.
async fn serve_http(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    header_timeout: Duration,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    // Never sent: dropped when this future ends, which each connection sees as "closing".
    let (_closing, closed) = tokio::sync::watch::channel(());
    let mut stopped = stopped;
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to be released.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
            let mut conn = std::pin::pin!(builder.serve_connection(TokioIo::new(stream), service));
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "a connection ended");
                    }
                    return;
                }
                _ = closed.changed() => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn load_rulesets(config: &ServeConfig) -> anyhow::Result<Rulesets> {
    let load = |path: &Path| -> anyhow::Result<Arc<Ruleset>> { Ok(Arc::new(Ruleset::load(path)?)) };
    let default = match &config.rules {
        Some(path) => load(path)?,
        None => Arc::new(Ruleset::parse(
            payroll_rules::EXAMPLE_RULESET,
            Path::new("india-contract.toml"),
        )?),
    };
    let mut by_org = BTreeMap::new();
    for (org, settings) in &config.orgs {
        if let Some(path) = &settings.rules {
            by_org.insert(org.clone(), load(path).with_context(|| format!("orgs.{org}.rules"))?);
        }
    }
    Ok(Rulesets { default, by_org })
}

fn input_source(config: &ServeConfig) -> anyhow::Result<Source> {
    if config.brokers.is_some() {
        let Some(sites) = &config.sites else {
            bail!("`brokers` needs `sites`: the sites file (sites.csv format) the stream folds workers against");
        };
        if config.inputs.is_some() {
            bail!("set `inputs` (files mode) or `brokers` (stream mode), not both");
        }
        let state = config
            .state
            .clone()
            .unwrap_or_else(|| config.data.join("state").display().to_string());
        return Ok(Source::State {
            url: state,
            sites: sites.clone(),
        });
    }
    match (&config.inputs, &config.state, &config.sites) {
        (Some(_), Some(_), _) => bail!("set `inputs` (files mode) or `state` (stream mode), not both"),
        (Some(dir), None, _) => Ok(Source::Folder(dir.clone())),
        (None, Some(url), Some(sites)) => Ok(Source::State {
            url: url.clone(),
            sites: sites.clone(),
        }),
        (None, Some(_), None) => bail!("`state` needs `sites`: the sites file the stream runs with"),
        (None, None, _) => demo_inputs(&config.data),
    }
}

/// Consumes the topics on a thread of its own, checkpointing into the state store and keeping
/// the open period's live pay current; its async work runs on the run runtime.
fn start_stream(
    config: &ServeConfig,
    brokers: &str,
    source: &Source,
    ruleset: &Arc<Ruleset>,
    compute: &app::Compute,
) -> anyhow::Result<(Arc<live::LiveStream>, std::thread::JoinHandle<()>)> {
    use payroll_connectors::kafka::{self, KafkaConfig, Live, StreamConfig, Topics};
    let Source::State { url, sites } = source else {
        unreachable!("stream mode reads the stream's state");
    };
    let settings = &config.stream;
    let period = match &settings.period {
        Some(p) => p.parse().map_err(|e: String| anyhow::anyhow!("stream.period: {e}"))?,
        None => payroll_rules::vocabulary::PayPeriod::of(chrono::Utc::now().date_naive()),
    };
    ruleset
        .version_on(period.first_day())
        .with_context(|| format!("live pay for {period}"))?;
    let state = Store::open(url).with_context(|| format!("opening the stream state {url}"))?;
    let status = Arc::new(kafka::StreamStatus::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stream_config = StreamConfig {
        kafka: KafkaConfig {
            brokers: brokers.to_string(),
            group: settings.group.clone(),
            options: settings.options.clone().into_iter().collect(),
        },
        topics: Topics::default(),
        sites: payroll_engine::Ledger::new(payroll_connectors::files::read_sites(sites)?),
        state: payroll_connectors::checkpoints::Checkpoints::open(state.clone())?,
        checkpoint_every: settings.checkpoint_every,
        live: Some(Live {
            period,
            ruleset: Arc::clone(ruleset),
            every: settings.live_every,
        }),
        until_caught_up: false,
        // Keeps /metrics and /readyz current.
        report_every: Duration::from_secs(1),
        status: Arc::clone(&status),
    };
    let (stopping, runtime) = (Arc::clone(&stop), compute.handle());
    let thread = std::thread::Builder::new()
        .name("payroll-stream".into())
        .spawn(move || match kafka::stream(stream_config, stopping, runtime) {
            Ok(report) => tracing::info!(folded = report.counters.folded, "stream stopped"),
            Err(e) => tracing::error!(error = %e, "the stream stopped"),
        })?;
    Ok((Arc::new(live::LiveStream::new(status, period, state, stop)), thread))
}

/// The embedded default's inputs: a generated month, once, under the data directory.
fn demo_inputs(data: &Path) -> anyhow::Result<Source> {
    let dir = data.join("demo-inputs");
    if !dir.join("workers.csv").exists() {
        let config = payroll_synth::SynthConfig {
            workers: DEMO_WORKERS,
            year: 2026,
            month: 10,
            seed: 42,
            bad_lines: 5,
        };
        payroll_synth::generate(&config, &dir).context("generating the demo month")?;
    }
    Ok(Source::Folder(dir))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "payroll".to_string())
}
