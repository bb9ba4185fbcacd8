//! Adjustments under maker-checker: the verbs every caller shares ([`request`], [`approve`],
//! [`reject`]: the caller's org and permission, the worker's org, four eyes and the audit entry,
//! each in one place), and publishing adjustment versions to the org's input, so the one fold
//! stays the single source of truth: in files mode a line appended to the input folder's `adjustments.ndjson`, in
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
use crate::caller::Caller;
use crate::db::adjustments::{self, Adjustment, Decision, NewAdjustment};
use crate::domain::permissions::Permission;
use crate::error::{Error, Result};

/// Versions published at a time.
const BATCH: u32 = 500;

/// Makers and checkers read the org's adjustments (`adjustments:request` or
/// `adjustments:approve`); amounts are pay data.
pub fn may_read(caller: &Caller, org: &str) -> Result<()> {
    caller.org(org)?;
    if caller.can(Permission::RequestAdjustments) || caller.can(Permission::ApproveAdjustments) {
        return Ok(());
    }
    Err(Error::Missing(Permission::RequestAdjustments))
}

/// Requests an adjustment of a worker of `org` (`adjustments:request`), audited as
/// `adjustment.request`, and publishes it as pending: the adjustment, and whether it is new
/// (false: the same idempotency `key`, given as the client sent it, and `request` digest
/// requested it before).
pub async fn request(
    app: &App,
    caller: &Caller,
    org: &str,
    fields: Fields<'_>,
    key: Option<&str>,
    request: String,
) -> Result<(Adjustment, bool)> {
    caller.may(org, Permission::RequestAdjustments)?;
    let valid = validate(fields, app.config.adjustments.max_amount).map_err(Error::Invalid)?;
    of_org(app, org, valid.worker_id).await?;
    let idempotency = caller.idempotency(key)?.map(|key| (key, request));
    let (adjustment, created) = adjustments::create(
        &app.db,
        NewAdjustment {
            org_id: org,
            worker_id: valid.worker_id,
            period: valid.period,
            kind: valid.kind,
            code: valid.code,
            amount: valid.amount,
            reason: valid.reason,
            requested_by: &caller.sub,
            idempotency: idempotency.as_ref().map(|(key, hash)| (key.as_str(), hash.clone())),
        },
        &caller.actor(),
    )
    .await?;
    if created {
        published(app).await;
    }
    Ok((adjustment, created))
}

/// Approves a pending adjustment someone else requested (`adjustments:approve`): its approved
/// version is published and the next run of its period pays it.
pub async fn approve(app: &App, caller: &Caller, org: &str, id: &str) -> Result<Adjustment> {
    caller.may(org, Permission::ApproveAdjustments)?;
    decide(app, caller, org, id, Decision::Approve, None).await
}

/// Rejects a pending adjustment someone else requested (`adjustments:approve`), saying why.
pub async fn reject(app: &App, caller: &Caller, org: &str, id: &str, reason: &str) -> Result<Adjustment> {
    caller.may(org, Permission::ApproveAdjustments)?;
    let reason = rejection_reason(reason)?;
    decide(app, caller, org, id, Decision::Reject, Some(reason)).await
}

/// A reason for a rejection: 1 to 500 characters once trimmed.
pub fn rejection_reason(reason: &str) -> Result<&str> {
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > 500 {
        return Err(Error::invalid(
            "reason",
            "say why the adjustment is rejected, in 1 to 500 characters",
        ));
    }
    Ok(reason)
}

/// Decides as `caller` (never the requester: `db::adjustments::decide` holds four eyes with the
/// move), then publishes the new version.
async fn decide(
    app: &App,
    caller: &Caller,
    org: &str,
    id: &str,
    decision: Decision,
    note: Option<&str>,
) -> Result<Adjustment> {
    let current = adjustments::get(&app.db, org, id).await?;
    let decided = adjustments::decide(&app.db, &current, decision, &caller.sub, note, &caller.actor()).await?;
    published(app).await;
    Ok(decided)
}

/// Refuses a worker who is not the org's: a worker belongs to one org, and no org adjusts
/// another's pay. Files mode reads the input folder's master (complete, so an unknown worker
/// is refused too); stream mode knows the workers in the live pay, and the fold checks the
/// version's org against the rest.
async fn of_org(app: &App, org: &str, worker: &str) -> Result<()> {
    let refused = |why: String| Err(Error::invalid("worker_id", why));
    if let Some(live) = &app.live {
        return match live.pay(worker).await? {
            Some(found) if found.pay.text("org_id") != Some(org) => {
                refused(format!("`{worker}` is not a worker of org `{org}`"))
            }
            _ => Ok(()),
        };
    }
    let (source, owner) = (app.source.clone(), org.to_string());
    let master = tokio::task::spawn_blocking(move || crate::uploads::master(&source, &owner))
        .await
        .map_err(|e| Error::Internal(format!("reading the master: {e}")))??;
    match master.map(|m| m.workers.get(worker).copied()) {
        Some(Some(false)) => refused(format!("`{worker}` is not a worker of org `{org}`")),
        Some(None) => refused(format!("unknown worker `{worker}` in org `{org}`")),
        _ => Ok(()),
    }
}

/// Publishes what a decision or request made; the janitor retries what cannot be published now.
async fn published(app: &App) {
    if let Err(e) = publish_pending(app).await {
        tracing::warn!(error = %e, "adjustment not published yet; the janitor retries");
    }
}

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
