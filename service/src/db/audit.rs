//! The audit log: who did what to which target, when, under which request, with the target
//! before and after. An org's entries are a hash chain: entry `n` records the hash of entry
//! `n - 1` and its own hash over its contents and that one, so editing or deleting an entry
//! breaks the chain at that entry, which [`verify`] names.

use std::fmt;
use std::str::FromStr;

use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Any, Transaction};

use super::{Db, Listing, timestamp};
use crate::error::{Error, Result};

/// The hash an org's first entry records as the one before it.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What was done. The wire names are what the log stores and the API filters by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    RunTrigger,
    RunApprove,
    RunReject,
    RunCancel,
    RunExclude,
    ScheduleChange,
    PayslipDownload,
    RegisterDownload,
    ResultsDownload,
    DeadLettersDownload,
    AdjustmentRequest,
    AdjustmentApprove,
    AdjustmentReject,
    AdjustmentApproveUpload,
    AdjustmentRejectUpload,
    RolesChange,
    Upload,
    UploadFinish,
    UploadErrorsDownload,
    PayoutCreate,
    PayoutDownload,
    PayoutReturn,
    PayoutReturnApprove,
    PayoutReturnReject,
    ReturnsDownload,
    NoticeRetry,
    WorkerChange,
    UploadReject,
    FindingAcknowledge,
    VarianceDownload,
    PreviewCreate,
    PreviewDownload,
}

impl Action {
    pub const ALL: [Action; 32] = [
        Action::RunTrigger,
        Action::RunApprove,
        Action::RunReject,
        Action::RunCancel,
        Action::RunExclude,
        Action::ScheduleChange,
        Action::PayslipDownload,
        Action::RegisterDownload,
        Action::ResultsDownload,
        Action::DeadLettersDownload,
        Action::AdjustmentRequest,
        Action::AdjustmentApprove,
        Action::AdjustmentReject,
        Action::AdjustmentApproveUpload,
        Action::AdjustmentRejectUpload,
        Action::RolesChange,
        Action::Upload,
        Action::UploadFinish,
        Action::UploadErrorsDownload,
        Action::PayoutCreate,
        Action::PayoutDownload,
        Action::PayoutReturn,
        Action::PayoutReturnApprove,
        Action::PayoutReturnReject,
        Action::ReturnsDownload,
        Action::NoticeRetry,
        Action::WorkerChange,
        Action::UploadReject,
        Action::FindingAcknowledge,
        Action::VarianceDownload,
        Action::PreviewCreate,
        Action::PreviewDownload,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::RunTrigger => "run.trigger",
            Action::RunApprove => "run.approve",
            Action::RunReject => "run.reject",
            Action::RunCancel => "run.cancel",
            Action::RunExclude => "run.exclude",
            Action::ScheduleChange => "schedule.change",
            Action::PayslipDownload => "payslip.download",
            Action::RegisterDownload => "register.download",
            Action::ResultsDownload => "results.download",
            Action::DeadLettersDownload => "dead_letters.download",
            Action::AdjustmentRequest => "adjustment.request",
            Action::AdjustmentApprove => "adjustment.approve",
            Action::AdjustmentReject => "adjustment.reject",
            Action::AdjustmentApproveUpload => "adjustment.approve_upload",
            Action::AdjustmentRejectUpload => "adjustment.reject_upload",
            Action::RolesChange => "roles.change",
            Action::Upload => "upload.create",
            Action::UploadFinish => "upload.finish",
            Action::UploadErrorsDownload => "upload.errors_download",
            Action::PayoutCreate => "payout.create",
            Action::PayoutDownload => "payout.download",
            Action::PayoutReturn => "payout.return",
            Action::PayoutReturnApprove => "payout.return_approve",
            Action::PayoutReturnReject => "payout.return_reject",
            Action::ReturnsDownload => "returns.download",
            Action::NoticeRetry => "notice.retry",
            Action::WorkerChange => "worker.change",
            Action::UploadReject => "upload.reject",
            Action::FindingAcknowledge => "finding.acknowledge",
            Action::VarianceDownload => "variance.download",
            Action::PreviewCreate => "preview.create",
            Action::PreviewDownload => "preview.download",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Action::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| {
            let all: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
            format!("`{s}` is not an audited action: expected one of {}", all.join(", "))
        })
    }
}

/// Who acted, under which request.
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    pub sub: &'a str,
    pub roles: &'a [String],
    pub request_id: &'a str,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub org_id: String,
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub roles: Vec<String>,
    pub action: String,
    pub target: String,
    pub request_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub prev_hash: String,
    pub hash: String,
}

impl Entry {
    /// The hash of everything the entry says, the previous entry's hash included.
    pub fn computed_hash(&self) -> String {
        // A JSON array in a fixed order: the same entry always hashes the same.
        let canonical = serde_json::json!([
            self.org_id,
            self.seq,
            self.at,
            self.actor,
            self.roles,
            self.action,
            self.target,
            self.request_id,
            self.before,
            self.after,
            self.prev_hash,
        ]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// A change's audit entry, handed to the function that makes the change so that both are
/// written in one transaction: the change does not happen without its entry.
#[derive(Debug, Clone)]
pub struct Audited<'a> {
    pub actor: Actor<'a>,
    pub action: Action,
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl<'a> Audited<'a> {
    pub fn new(actor: Actor<'a>, action: Action, target: impl Into<String>) -> Self {
        Audited {
            actor,
            action,
            target: target.into(),
            before: None,
            after: None,
        }
    }

    pub fn before(self, before: Option<Value>) -> Self {
        Audited { before, ..self }
    }

    pub fn after(self, after: Option<Value>) -> Self {
        Audited { after, ..self }
    }

    /// Writes this entry to `org`'s chain inside `tx` (see [`append_in`]).
    pub async fn write(&self, tx: &mut Transaction<'_, Any>, org: &str) -> Result<()> {
        append_in(
            tx,
            org,
            &self.actor,
            self.action,
            &self.target,
            self.before.clone(),
            self.after.clone(),
        )
        .await
    }
}

/// Appends an entry to `org`'s chain in its own transaction. Downloads use it: the file is
/// served only once this returns.
pub async fn append(
    db: &Db,
    org: &str,
    actor: &Actor<'_>,
    action: Action,
    target: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    append_in(&mut tx, org, actor, action, target, before, after).await?;
    tx.commit().await?;
    Ok(())
}

/// Appends an entry to `org`'s chain inside the caller's transaction: it stands or falls with
/// the change the transaction makes. `before` and `after` are masked (bank accounts, PANs) on
/// the way in.
///
/// Two transactions must not both take the chain's next sequence number: on PostgreSQL the
/// entry first takes a per-org advisory lock held to the end of the transaction, so a second
/// appender waits and then reads the new end of the chain (each statement of a READ COMMITTED
/// transaction sees what committed before it). SQLite has one writer at a time anyway. Call it
/// last in the transaction: the lock is then held only for the commit.
pub async fn append_in(
    tx: &mut Transaction<'_, Any>,
    org: &str,
    actor: &Actor<'_>,
    action: Action,
    target: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<()> {
    let mask = |value: Option<Value>| -> Result<Option<Value>> {
        value
            .map(|v| {
                let text = v.to_string();
                let masked = payroll_engine::masking::mask_record_text(&text);
                serde_json::from_str(&masked).map_err(|e| Error::Internal(format!("audit entry: {e}")))
            })
            .transpose()
    };
    let (before, after) = (mask(before)?, mask(after)?);
    if tx.backend_name().eq_ignore_ascii_case("postgresql") {
        // A lock on the org's chain, not on a row: the first entry has no row to lock.
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtextextended('audit_log:' || $1, 0))) AS locked")
            .bind(org)
            .execute(&mut **tx)
            .await?;
    }
    let last: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_log WHERE org_id = $1 ORDER BY seq DESC LIMIT 1")
            .bind(org)
            .fetch_optional(&mut **tx)
            .await?;
    let (seq, prev_hash) = last.map_or((1, GENESIS.to_string()), |(seq, hash)| (seq + 1, hash));
    let mut entry = Entry {
        org_id: org.to_string(),
        seq,
        at: timestamp(Utc::now()),
        actor: actor.sub.to_string(),
        roles: actor.roles.to_vec(),
        action: action.as_str().to_string(),
        target: target.to_string(),
        request_id: actor.request_id.to_string(),
        before,
        after,
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry.computed_hash();
    sqlx::query(
        "INSERT INTO audit_log (org_id, seq, at, actor, roles, action, target, request_id, before, after, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&entry.org_id)
    .bind(entry.seq)
    .bind(&entry.at)
    .bind(&entry.actor)
    .bind(serde_json::to_string(&entry.roles).map_err(|e| Error::Internal(e.to_string()))?)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(&entry.request_id)
    .bind(entry.before.as_ref().map(Value::to_string))
    .bind(entry.after.as_ref().map(Value::to_string))
    .bind(&entry.prev_hash)
    .bind(&entry.hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Which entries a listing wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub action: Option<Action>,
    pub actor: Option<String>,
    /// Entries at or after, and before, these times (RFC 3339).
    pub from: Option<String>,
    pub until: Option<String>,
    /// Entries after this sequence number: where the page before ended.
    pub after_seq: Option<i64>,
}

type Row = (
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

const COLUMNS: &str = "org_id, seq, at, actor, roles, action, target, request_id, before, after, prev_hash, hash";

fn entry(row: Row) -> Result<Entry> {
    let (org_id, seq, at, actor, roles, action, target, request_id, before, after, prev_hash, hash) = row;
    let json = |text: &str| -> Result<Value> {
        serde_json::from_str(text).map_err(|e| Error::Internal(format!("audit entry {org_id}/{seq}: {e}")))
    };
    let roles: Vec<String> = serde_json::from_value(json(&roles)?).unwrap_or_default();
    Ok(Entry {
        seq,
        at,
        actor,
        roles,
        action,
        target,
        request_id,
        before: before.as_deref().map(json).transpose()?,
        after: after.as_deref().map(json).transpose()?,
        prev_hash,
        hash,
        org_id,
    })
}

/// A page of `org`'s entries in chain order, at most `size`, and the cursor of the next page
/// (the last entry's sequence number) if there is one.
pub async fn list(db: &Db, org: &str, filter: &Filter, size: u32) -> Result<(Vec<Entry>, Option<i64>)> {
    Listing::of_org(COLUMNS, "audit_log", org)
        .and("action =", filter.action.map(|a| a.as_str().to_string()))
        .and("actor =", filter.actor.clone())
        .and("at >=", filter.from.clone())
        .and("at <", filter.until.clone())
        .and_number("seq >", filter.after_seq)
        .page(db, "seq", size, entry, |e| e.seq)
        .await
}

/// Each org's chain head: (org, sequence number, hash) of its last entry.
pub async fn heads(db: &Db) -> Result<Vec<(String, i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT org_id, seq, hash FROM audit_log a WHERE seq = (SELECT MAX(seq) FROM audit_log b WHERE b.org_id = a.org_id) ORDER BY org_id",
    )
    .fetch_all(db.pool())
    .await?)
}

/// `org`'s chain as (sequence number, hash) of each entry, in order: what anchors are checked
/// against.
pub async fn chain(db: &Db, org: &str) -> Result<Vec<(i64, String)>> {
    Ok(
        sqlx::query_as("SELECT seq, hash FROM audit_log WHERE org_id = $1 ORDER BY seq")
            .bind(org)
            .fetch_all(db.pool())
            .await?,
    )
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Every chain holds: this many entries over this many orgs.
    Intact { entries: u64, orgs: u64 },
    /// The first entry that breaks its org's chain, and how.
    Broken { org: String, seq: i64, reason: String },
}

/// Walks every org's chain (or `only` one org's) from its first entry, recomputing each hash.
pub async fn verify(db: &Db, only: Option<&str>) -> Result<Verified> {
    let rows: Vec<Row> = match only {
        Some(org) => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM audit_log WHERE org_id = $1 ORDER BY seq"
            ))
            .bind(org)
            .fetch_all(db.pool())
            .await?
        }
        None => {
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY org_id, seq"))
                .fetch_all(db.pool())
                .await?
        }
    };
    let (mut entries, mut orgs) = (0, 0);
    let mut previous: Option<Entry> = None;
    for row in rows {
        let entry = entry(row)?;
        let same_org = previous.as_ref().filter(|p| p.org_id == entry.org_id);
        let (expected_seq, expected_prev) = match same_org {
            Some(p) => (p.seq + 1, p.hash.clone()),
            None => {
                orgs += 1;
                (1, GENESIS.to_string())
            }
        };
        let broken = |reason: String| Verified::Broken {
            org: entry.org_id.clone(),
            seq: entry.seq,
            reason,
        };
        if entry.seq != expected_seq {
            return Ok(broken(format!(
                "expected entry {expected_seq} before it: entries {expected_seq} to {} are missing (deleted)",
                entry.seq - 1
            )));
        }
        if entry.prev_hash != expected_prev {
            return Ok(broken(
                "its record of the entry before does not match that entry (one of them was edited)".to_string(),
            ));
        }
        if entry.computed_hash() != entry.hash {
            return Ok(broken("its contents do not match its hash (it was edited)".to_string()));
        }
        entries += 1;
        previous = Some(entry);
    }
    Ok(Verified::Intact { entries, orgs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_their_names() {
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>(), Ok(action));
        }
        assert!(
            "run.delete"
                .parse::<Action>()
                .unwrap_err()
                .contains("expected one of run.trigger")
        );
    }

    #[test]
    fn a_hash_covers_every_field_and_the_entry_before() {
        let entry = Entry {
            org_id: "org0".into(),
            seq: 3,
            at: "2026-11-28T10:00:00.000Z".into(),
            actor: "hr1".into(),
            roles: vec!["hr_admin".into()],
            action: "run.trigger".into(),
            target: "runs/r1".into(),
            request_id: "req-1".into(),
            before: None,
            after: Some(serde_json::json!({"status": "queued"})),
            prev_hash: GENESIS.into(),
            hash: String::new(),
        };
        let hash = entry.computed_hash();
        let changed = [
            Entry {
                actor: "hr2".into(),
                ..entry.clone()
            },
            Entry {
                seq: 4,
                ..entry.clone()
            },
            Entry {
                after: Some(serde_json::json!({"status": "calculated"})),
                ..entry.clone()
            },
            Entry {
                prev_hash: "1".repeat(64),
                ..entry.clone()
            },
        ];
        for other in changed {
            assert_ne!(other.computed_hash(), hash, "{other:?}");
        }
        assert_eq!(entry.computed_hash(), hash);
    }
}
