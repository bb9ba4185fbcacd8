//! Publishing adjustment versions to the org's input, so the one fold stays the single source
//! of truth: in files mode a line appended to the input folder's `adjustments.ndjson`, in
//! stream mode a message on the adjustments topic. A version is marked published once it is
//! out; one that could not be is published again by the janitor (the fold keeps the highest
//! version of an adjustment, so twice is harmless).

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use payroll_connectors::kafka::{self, KafkaConfig, Topics};
use payroll_engine::event::AdjustmentKind;
use payroll_engine::money::parse_amount;
use payroll_pipeline::Source;
use payroll_rules::vocabulary::PayPeriod;
use rust_decimal::Decimal;

use crate::app::App;
use crate::db::adjustments;
use crate::error::{Error, Result};

/// Versions published at a time.
const BATCH: u32 = 500;

/// An adjustment as a person writes it (a request body, or a row of an upload), not yet checked.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    pub worker_id: &'a str,
    pub period: &'a str,
    pub kind: &'a str,
    pub code: &'a str,
    pub amount: &'a str,
    pub reason: &'a str,
}

/// An adjustment that passed [`validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Validated<'a> {
    pub worker_id: &'a str,
    pub period: PayPeriod,
    pub kind: AdjustmentKind,
    pub code: &'a str,
    pub amount: Decimal,
    pub reason: &'a str,
}

/// What an adjustment says, checked field by field, the same for a request and an uploaded row;
/// every fault is named at once, as (field, what was expected).
pub fn validate(fields: Fields<'_>, cap: Decimal) -> std::result::Result<Validated<'_>, Vec<(String, String)>> {
    let mut invalid = Vec::new();
    let mut fault = |field: &str, why: String| invalid.push((field.to_string(), why));
    let worker_id = fields.worker_id.trim();
    if worker_id.is_empty() || worker_id.len() > 64 {
        fault("worker_id", "expected a worker id of 1 to 64 characters".into());
    }
    let period = fields.period.parse::<PayPeriod>().map_err(|e| fault("period", e)).ok();
    let kind = match fields.kind {
        "earning" => Some(AdjustmentKind::Earning),
        "deduction" => Some(AdjustmentKind::Deduction),
        other => {
            fault("kind", format!("`{other}`: expected earning or deduction"));
            None
        }
    };
    let code = fields.code.trim();
    if code.is_empty() || code.len() > 40 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        fault(
            "code",
            format!("`{code}`: expected 1 to 40 letters, digits or _ (e.g. bonus)"),
        );
    }
    let amount = match parse_amount(fields.amount.trim()) {
        Ok(a) if a.is_zero() => {
            fault("amount", "0: an adjustment moves money; expected more than 0".into());
            None
        }
        Ok(a) if a > cap => {
            fault(
                "amount",
                format!("{a} is more than the cap of {cap} an adjustment may carry"),
            );
            None
        }
        Ok(a) => Some(a),
        Err(e) => {
            fault("amount", e);
            None
        }
    };
    let reason = fields.reason.trim();
    if reason.is_empty() || reason.len() > 500 {
        fault("reason", "say why, in 1 to 500 characters".into());
    }
    match (period, kind, amount) {
        (Some(period), Some(kind), Some(amount)) if invalid.is_empty() => Ok(Validated {
            worker_id,
            period,
            kind,
            code,
            amount,
            reason,
        }),
        _ => Err(invalid),
    }
}

/// Publishes every version not yet published; returns how many were.
pub async fn publish_pending(ctx: &App) -> Result<usize> {
    // One publisher at a time in this process: lines of a file are appended whole and in order.
    static PUBLISHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = PUBLISHING.lock().await;
    let pending = adjustments::unpublished(&ctx.db, BATCH).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let events: Vec<Vec<u8>> = pending
        .iter()
        .map(|a| serde_json::to_vec(&a.event()).map_err(|e| Error::Internal(e.to_string())))
        .collect::<Result<_>>()?;
    match (&*ctx.source, &ctx.config.brokers) {
        (_, Some(brokers)) => {
            let config = KafkaConfig {
                brokers: brokers.clone(),
                group: ctx.config.stream.group.clone(),
                options: ctx.config.stream.options.clone().into_iter().collect(),
            };
            let topic = Topics::default().adjustments;
            tokio::task::spawn_blocking(move || {
                kafka::publish_events(&config, &topic, &events, Duration::from_secs(10))
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| Error::Unavailable(format!("publishing adjustments: {e}")))?;
        }
        (Source::Folder(dir), None) => {
            let path = dir.join("adjustments.ndjson");
            append_lines(&path, &events).map_err(|e| Error::Unavailable(format!("{}: {e}", path.display())))?;
        }
        (Source::State { .. }, None) => {
            return Err(Error::Unavailable(
                "adjustments are published to the adjustments topic: configure `brokers`".into(),
            ));
        }
    }
    let published: Vec<(String, i64)> = pending.iter().map(|a| (a.id.clone(), a.version)).collect();
    adjustments::mark_all_published(&ctx.db, &published).await?;
    Ok(pending.len())
}

/// Publishes every version not yet published, a batch at a time, until none is left (an
/// upload requests thousands at once); returns how many were.
pub async fn publish_all(ctx: &App) -> Result<usize> {
    let mut total = 0;
    loop {
        let published = publish_pending(ctx).await?;
        total += published;
        if published < BATCH as usize {
            return Ok(total);
        }
    }
}

/// Appends lines to an event file, starting a line of its own if the file does not end with one.
fn append_lines(path: &std::path::Path, lines: &[Vec<u8>]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)?;
    let length = file.metadata()?.len();
    let mut last = [b'\n'];
    if length > 0 {
        file.seek(SeekFrom::Start(length - 1))?;
        file.read_exact(&mut last)?;
    }
    let ends_clean = last[0] == b'\n';
    let mut text = Vec::new();
    if !ends_clean {
        text.push(b'\n');
    }
    for line in lines {
        text.extend_from_slice(line);
        text.push(b'\n');
    }
    file.write_all(&text)?;
    file.sync_data()
}
