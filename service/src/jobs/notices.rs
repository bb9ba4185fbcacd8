//! The notice dispatcher: claims due notices from the outbox under a lease, sends each on its current
//! channel, and records what [`crate::notices::policy::next`] decides. Any number of dispatchers (one per
//! instance) share the outbox; one that dies mid-batch leaves its claimed notices to the next
//! claim after the lease, which sends them again under the same idempotency key.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;

use crate::db::Db;
use crate::db::notices::{self, Attempted, Notice};
use crate::domain::notices::About;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::notices::channel::{Channels, Message, Words, render, render_contact_change};
use crate::notices::link::{Grant, LinkKey};
use crate::notices::policy::{Backoff, Next, next};
use crate::notices::{NoticeSettings, idempotency_key};

/// What a dispatcher needs: the outbox, the vendors, the key links are signed with and the
/// service's address as workers reach it.
#[derive(Clone)]
pub struct Dispatcher {
    pub db: Db,
    pub settings: Arc<NoticeSettings>,
    pub channels: Arc<Channels>,
    pub key: LinkKey,
    pub base_url: String,
    pub metrics: Arc<Metrics>,
}

impl Dispatcher {
    /// Claims and sends until the task is aborted.
    pub async fn run(self) {
        let mut counted: Option<std::time::Instant> = None;
        loop {
            let claimed = self.tick().await;
            // The outbox's counts for /metrics, at most every 5 s: they read the whole table.
            if counted.is_none_or(|at| at.elapsed() >= Duration::from_secs(5)) {
                counted = Some(std::time::Instant::now());
                if let Ok(counts) = notices::counts(&self.db).await {
                    self.metrics.notices_queue(&counts);
                }
            }
            match claimed {
                Ok(0) => tokio::time::sleep(self.settings.poll).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "notices: claiming failed; retrying");
                    tokio::time::sleep(self.settings.poll).await;
                }
            }
        }
    }

    /// One batch: claims what is due, sends it, and records the attempts in one transaction;
    /// returns how many were claimed.
    pub async fn tick(&self) -> Result<usize> {
        let claim = uuid::Uuid::now_v7().to_string();
        let batch = notices::claim(&self.db, &claim, Utc::now(), self.settings.lease, self.settings.batch).await?;
        let claimed = batch.len();
        let attempted: Vec<(Notice, Attempted)> = futures::stream::iter(batch)
            .map(|notice| async move {
                let attempted = self.attempt(&notice).await;
                (notice, attempted)
            })
            .buffer_unordered(self.settings.concurrency)
            .collect()
            .await;
        notices::record(&self.db, &claim, &attempted).await?;
        Ok(claimed)
    }

    /// The notice's message on its current channel. A payslip notice carries a link signed now,
    /// valid for the TTL; a contact change names the fields, never their values.
    pub fn message(&self, notice: &Notice) -> Option<Message> {
        let step = notice.plan.first()?;
        let (subject, text) = match &notice.about {
            About::Payslip { period, net_payable } => {
                let expires_at = Utc::now() + chrono::Duration::from_std(self.settings.link_ttl).unwrap_or_default();
                let grant = Grant {
                    org: &notice.org_id,
                    run: &notice.source,
                    worker: &notice.worker_id,
                    expires: u64::try_from(expires_at.timestamp()).unwrap_or_default(),
                };
                let link = format!(
                    "{}{}",
                    self.base_url.trim_end_matches('/'),
                    grant.path(&self.key.sign(&grant))
                );
                let expires = expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
                render(
                    &self.settings,
                    &notice.language,
                    &Words {
                        name: &notice.worker_name,
                        period,
                        amount: net_payable,
                        link: &link,
                        expires: &expires,
                    },
                )
            }
            About::ContactChange { on, fields } => {
                render_contact_change(&notice.language, &notice.worker_name, fields, on)
            }
            About::FindingsDigest { period, findings } => {
                let review = format!("{}/#/runs/{}", self.base_url.trim_end_matches('/'), notice.source);
                crate::notices::channel::render_findings_digest(period, findings, &review)
            }
        };
        Some(Message {
            key: idempotency_key(notice.about.kind(), &notice.source, &notice.worker_id, step.channel),
            to: step.to.clone(),
            subject,
            text,
            worker_id: notice.worker_id.clone(),
            run_id: notice.source.clone(),
            language: notice.language.clone(),
        })
    }

    /// One attempt at a claimed notice on its current channel, and what it comes to.
    async fn attempt(&self, notice: &Notice) -> Attempted {
        let channel = notice.channel;
        let Some(message) = self.message(notice) else {
            return Attempted::GiveUp {
                reason: "no channel left to try".into(),
            };
        };
        let outcome = self.channels.send(channel, &message).await;
        let backoff = Backoff {
            max_attempts: self.settings.max_attempts,
            first: self.settings.backoff,
            max: self.settings.max_backoff,
        };
        let attempts = u32::try_from(notice.attempts).unwrap_or(u32::MAX);
        let channels_left = notice.plan.len().saturating_sub(1);
        match next(outcome, attempts, channels_left, backoff, rand::random::<f64>()) {
            Next::Sent => {
                self.metrics.notice_sent(channel);
                Attempted::Sent {
                    attempts: i64::from(attempts) + 1,
                }
            }
            Next::Retry {
                after,
                attempts,
                reason,
            } => {
                self.metrics.notice_failed(channel);
                Attempted::Retry {
                    attempts: i64::from(attempts),
                    next_at: Utc::now() + chrono::Duration::from_std(after).unwrap_or_default(),
                    reason,
                }
            }
            Next::FallBack { reason } => {
                self.metrics.notice_failed(channel);
                tracing::info!(notice = %notice.id, %channel, %reason, "notices: channel given up, falling back");
                Attempted::GiveUp { reason }
            }
            Next::Dead { reason } => {
                self.metrics.notice_failed(channel);
                self.metrics.notice_dead(channel);
                tracing::warn!(notice = %notice.id, %channel, %reason, "notices: dead-lettered");
                Attempted::GiveUp { reason }
            }
        }
    }
}

/// Waits up to `limit` for the outbox to have nothing pending or sending: for benches and tests.
pub async fn drained(db: &Db, limit: Duration) -> Result<bool> {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if notices::queued(db).await? == 0 {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(false)
}
