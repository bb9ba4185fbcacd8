//! Publishing adjustment versions to the org's input, so the one fold stays the single source
//! of truth: in files mode a line appended to the input folder's `adjustments.ndjson`, in
//! stream mode a message on the adjustments topic. A version is marked published once it is
//! out; one that could not be is published again by the janitor (the fold keeps the highest
//! version of an adjustment, so twice is harmless).

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use payroll_connectors::kafka::{self, KafkaConfig, Topics};
use payroll_pipeline::Source;

use crate::db::adjustments::{self, Adjustment};
use crate::error::{Error, Result};
use crate::http::ApiContext;

/// Versions published at a time.
const BATCH: u32 = 500;

/// Publishes every version not yet published; returns how many were.
pub async fn publish_pending(ctx: &ApiContext) -> Result<usize> {
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
    for adjustment in &pending {
        mark(ctx, adjustment).await?;
    }
    Ok(pending.len())
}

async fn mark(ctx: &ApiContext, adjustment: &Adjustment) -> Result<()> {
    adjustments::mark_published(&ctx.db, &adjustment.id, adjustment.version).await
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
