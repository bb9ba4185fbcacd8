//! Payslip notices: when a final run is finalized, and only then, every worker of it with a
//! contact is told their net payable and given a link to their payslip, valid for a while.
//!
//! ```text
//! jobs::runs::finalize ──▶ db::runs::apply(Finalize) ─┬─ run → finalized      (one transaction:
//!   (payslips rendered; notices built                └─ notices: pending      the outbox)
//!    from the results and the master)
//! jobs::notices ──▶ claim due notices under a lease ──▶ channel (SMTP, webhook) ──▶ sent
//!                      ▲                                   │ temporary failure: retry later
//!                      └───────────── pending ◀────────────┤ given up: next channel, or dead
//! ```
//!
//! A worker is also told when a workers upload's approval changes their bank account, IFSC,
//! phone or email ([`for_contact_change`]): on the contact they had before, in the transaction
//! that applies the change, through the same outbox. A fraudster who sets a new account and a
//! new phone does not receive the warning.
//!
//! A notice goes out once per (run, worker, channel): the vendor is sent an idempotency key
//! derived from the three and must deliver a key once; the outbox marks a notice `sent` only
//! after the vendor accepted it, so a dispatcher that dies mid-batch leaves its notices to be
//! claimed again, and sent again under the same key.

pub mod channel;
pub mod config;
pub mod link;
pub mod policy;

use std::collections::HashMap;

use payroll_engine::Worker;
use payroll_pipeline::Source;

pub use config::NoticeSettings;

use crate::caller::Caller;
use crate::db::Db;
use crate::db::audit::{Action, Audited};
use crate::db::notices::Notice;
use crate::db::runs::Run;
use crate::domain::notices::{CONTACT_FIELDS, Channel, ContactNotice, NewNotice, NoticeKind, Step};
use crate::domain::permissions::Permission;
use crate::error::Result;

/// The notice owed to a worker whose `changed` fields include any of [`CONTACT_FIELDS`], on
/// the contacts of their record `before` the change; `None` if none changed, no channel is
/// configured for the org, or the worker had no contact on one.
pub fn for_contact_change(
    settings: &NoticeSettings,
    org: &str,
    before: &Worker,
    changed: &[&str],
) -> Option<ContactNotice> {
    let fields: Vec<String> = CONTACT_FIELDS
        .into_iter()
        .filter(|f| changed.contains(f))
        .map(str::to_string)
        .collect();
    let order = settings.channels_of(org);
    if fields.is_empty() || !settings.enabled || order.is_empty() {
        return None;
    }
    let plan = plan(before, &order);
    (!plan.is_empty()).then(|| ContactNotice {
        worker_id: before.worker_id.to_string(),
        worker_name: before.name.to_string(),
        language: language_of(before),
        plan,
        fields,
    })
}

fn language_of(worker: &Worker) -> String {
    worker
        .language
        .as_ref()
        .map_or_else(|| "en".to_string(), |l| l.as_str().to_string())
}

/// What a notice is of: a run's payslip, or a workers upload's change of contact.
#[derive(Debug, Clone, Copy)]
pub enum NoticeOf<'a> {
    Run(&'a str),
    Upload(&'a str),
}

impl NoticeOf<'_> {
    fn id(&self) -> &str {
        match self {
            NoticeOf::Run(id) | NoticeOf::Upload(id) => id,
        }
    }

    /// The audit log's name for notice `nid` of it.
    fn target(&self, nid: &str) -> String {
        match self {
            NoticeOf::Run(id) => format!("runs/{id}/notices/{nid}"),
            NoticeOf::Upload(id) => format!("uploads/{id}/notices/{nid}"),
        }
    }
}

/// Sends a dead notice again (`notices:retry`), from its last channel with fresh attempts,
/// audited as `notice.retry` in the same transaction.
pub async fn retry(db: &Db, caller: &Caller, org: &str, of: NoticeOf<'_>, nid: &str) -> Result<Notice> {
    caller.may(org, Permission::RetryNotices)?;
    let audit = Audited::new(caller.actor(), Action::NoticeRetry, of.target(nid));
    crate::db::notices::retry(db, org, of.id(), nid, audit).await
}

/// The channels `worker` can be reached on, in `order`: WhatsApp and SMS need a phone, email
/// an email.
pub fn plan(worker: &Worker, order: &[Channel]) -> Vec<Step> {
    order
        .iter()
        .filter_map(|&channel| {
            let to = match channel {
                Channel::Email => worker.email.as_ref()?.reveal().to_string(),
                Channel::Sms | Channel::Whatsapp => worker.phone.as_ref()?.reveal().to_string(),
            };
            Some(Step { channel, to })
        })
        .collect()
}

/// The idempotency key of a notice on a channel: the same for every attempt, every dispatcher
/// and every restart, so a vendor that delivers a key once delivers the notice once. `source`
/// is the run (a payslip) or the upload (a contact change) the notice is of.
pub fn idempotency_key(kind: NoticeKind, source: &str, worker_id: &str, channel: Channel) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{source}\n{worker_id}\n{channel}").as_bytes());
    let prefix = match kind {
        NoticeKind::Payslip => "payslip",
        NoticeKind::ContactChange => "contact-change",
        NoticeKind::FindingsDigest => "findings-digest",
    };
    format!("{prefix}-{}", hex::encode(&digest[..16]))
}

/// HR's digest of nightly run `run`'s new block findings, on each of the org's `hr_contacts`
/// reachable by a configured channel (an email by email, a phone by SMS): `(recipient, plan)`
/// pairs, none when notices are off or no contact is reachable.
pub fn digest_recipients(ctx: &crate::app::App, org: &str) -> Vec<(String, Vec<Step>)> {
    let settings = &ctx.config.notices;
    let order = settings.channels_of(org);
    if !settings.enabled {
        return Vec::new();
    }
    let contacts = ctx
        .config
        .orgs
        .get(org)
        .map(|o| o.hr_contacts.as_slice())
        .unwrap_or_default();
    contacts
        .iter()
        .enumerate()
        .filter_map(|(i, contact)| {
            let channel = if payroll_engine::contact::Email::parse(contact).is_ok() {
                Channel::Email
            } else if payroll_engine::contact::Phone::parse(contact).is_ok() {
                Channel::Sms
            } else {
                return None;
            };
            order.contains(&channel).then(|| {
                let to = contact.trim().to_string();
                (format!("hr-{}", i + 1), vec![Step { channel, to }])
            })
        })
        .collect()
}

/// The notices of a run being finalized: one per worker in its results who has a contact on a
/// configured channel, with their net payable. Contacts are read from the master the run read
/// (the input folder's `workers.csv`, or the stream's state).
pub async fn for_run(ctx: &crate::app::App, run: &Run) -> Result<Vec<NewNotice>> {
    let settings = &ctx.config.notices;
    let order = settings.channels_of(&run.org_id);
    if !settings.enabled || order.is_empty() {
        return Ok(Vec::new());
    }
    let source = Source::clone(&ctx.source);
    let org = run.org_id.clone();
    let workers = ctx.compute.run(async move { contacts(&source, &org).await }).await??;
    if workers.is_empty() {
        return Ok(Vec::new());
    }
    // Only the columns a notice needs, as the payout reads them: the same net payable.
    let dues = payroll_pipeline::payout::dues(&ctx.store, &run.org_id, &run.period.to_string(), &run.id).await?;
    let mut notices = Vec::new();
    for due in dues {
        let Some(worker) = workers.get(&due.worker_id) else {
            continue;
        };
        let plan = plan(worker, &order);
        if plan.is_empty() {
            continue;
        }
        notices.push(NewNotice {
            worker_id: due.worker_id,
            worker_name: due.name,
            net_payable: due.net_payable,
            language: language_of(worker),
            plan,
        });
    }
    Ok(notices)
}

/// The org's workers with a contact, from the master the runs read.
async fn contacts(source: &Source, org: &str) -> Result<HashMap<String, Worker>> {
    let master = payroll_pipeline::master::current(source).await?;
    Ok(master
        .workers()
        .filter(|w| w.org_id == org && (w.phone.is_some() || w.email.is_some()))
        .map(|w| (w.worker_id.to_string(), w.clone()))
        .collect())
}
