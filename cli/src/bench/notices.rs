//! `payroll bench notices`: `--notices` payslip notices through the outbox to a vendor server on
//! loopback in this process (it accepts each, deduping by idempotency key as a vendor must).
//! The notices are written to the outbox as a finalization writes them (one transaction, an
//! embedded SQLite database), then one dispatcher claims, sends and records them: notices per
//! second, and the time to drain the outbox.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use payroll_service::db::Db;
use payroll_service::domain::notices::{Channel, NewNotice, Step};
use payroll_service::jobs::notices::{Dispatcher, drained};
use payroll_service::notices::channel::Channels;
use payroll_service::notices::config::{NoticeSettings, WebhookVendor};
use payroll_service::notices::link::LinkKey;
use rust_decimal::Decimal;

#[derive(Default)]
struct Vendor {
    keys: Mutex<HashSet<String>>,
    requests: AtomicU64,
}

async fn accept(
    axum::extract::State(vendor): axum::extract::State<Arc<Vendor>>,
    headers: axum::http::HeaderMap,
) -> axum::http::StatusCode {
    vendor.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        vendor
            .keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string());
    }
    axum::http::StatusCode::ACCEPTED
}

pub async fn notices(count: usize, batch: u32, concurrency: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let vendor = Arc::new(Vendor::default());
    let app = axum::Router::new()
        .route("/send", axum::routing::post(accept))
        .with_state(Arc::clone(&vendor));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/send", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let db = Db::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("payroll.db").display()
    ))
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let notices: Vec<NewNotice> = (0..count)
        .map(|i| NewNotice {
            worker_id: format!("W{i:08}"),
            worker_name: format!("Worker {i}"),
            net_payable: Decimal::new(1_831_405 + i as i64, 2),
            language: if i % 3 == 0 { "hi".into() } else { "en".into() },
            plan: vec![Step {
                channel: Channel::Sms,
                to: format!("+9198{:08}", i % 100_000_000),
            }],
        })
        .collect();
    let started = Instant::now();
    let mut tx = db.pool().begin().await?;
    payroll_service::db::notices::insert(&mut tx, "org0", "bench-run", "2026-10", &notices).await?;
    tx.commit().await?;
    let written = started.elapsed().as_secs_f64();

    let settings = NoticeSettings {
        batch,
        concurrency,
        poll: Duration::from_millis(10),
        channels: vec![Channel::Sms],
        sms: Some(
            toml::from_str::<WebhookVendor>(&format!(
                "url = {url:?}\nrate_per_second = 1000000.0\nburst = 1000000\n"
            ))
            .context("the bench vendor's settings")?,
        ),
        ..NoticeSettings::default()
    };
    let dispatcher = Dispatcher {
        db: db.clone(),
        channels: Arc::new(Channels::new(&settings).map_err(|e| anyhow::anyhow!(e))?),
        settings: Arc::new(settings),
        key: LinkKey::new(b"bench link secret, long enough to sign"),
        base_url: "https://payroll.example.com".into(),
        metrics: Arc::default(),
    };
    let started = Instant::now();
    let task = tokio::spawn(dispatcher.run());
    let done = drained(&db, Duration::from_secs(3600)).await?;
    let seconds = started.elapsed().as_secs_f64();
    task.abort();
    server.abort();
    let delivered = vendor.keys.lock().unwrap_or_else(|p| p.into_inner()).len();
    if !done || delivered != count {
        bail!("the outbox did not drain: {delivered} of {count} delivered");
    }
    println!(
        "notices, {count} through the outbox to a webhook vendor on loopback (SQLite, batch {batch}, {concurrency} at once), {} cores:\n  \
         written in one transaction {written:.2} s; drained in {seconds:.2} s, {:.0} notices/s; \
         {} requests for {delivered} notices",
        payroll_engine::parallel::cores(),
        count as f64 / seconds,
        vendor.requests.load(Ordering::Relaxed),
    );
    Ok(())
}
