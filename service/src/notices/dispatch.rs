//! The dispatcher: claims due notices from the outbox under a lease, sends each on its current
//! channel, and records what [`super::policy::next`] decides. Any number of dispatchers (one per
//! instance) share the outbox; one that dies mid-batch leaves its claimed notices to the next
//! claim after the lease, which sends them again under the same idempotency key.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;

use super::channel::{Channels, Message, Words, render};
use super::link::{Grant, LinkKey};
use super::policy::{Backoff, Next, next};
use super::{NoticeSettings, idempotency_key};
use crate::db::Db;
use crate::db::notices::{self, Notice};
use crate::error::Result;
use crate::metrics::Metrics;

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
        let mut counted = std::time::Instant::now() - Duration::from_secs(60);
        loop {
            let claimed = self.tick().await;
            // The queue's depth for /metrics, at most once a second: it counts the outbox.
            if counted.elapsed() >= Duration::from_secs(1) {
                counted = std::time::Instant::now();
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

    /// One batch: claims what is due and sends it; returns how many were claimed.
    pub async fn tick(&self) -> Result<usize> {
        let claim = uuid::Uuid::now_v7().to_string();
        let batch = notices::claim(&self.db, &claim, Utc::now(), self.settings.lease, self.settings.batch).await?;
        let claimed = batch.len();
        futures::stream::iter(batch)
            .for_each_concurrent(self.settings.concurrency, |notice| {
                let claim = claim.as_str();
                async move {
                    if let Err(e) = self.deliver(&notice, claim).await {
                        tracing::warn!(notice = %notice.id, error = %e, "notices: recording an attempt failed; the lease will free it");
                    }
                }
            })
            .await;
        Ok(claimed)
    }

    /// The notice's message on its current channel: the link signed now, valid for the TTL.
    pub fn message(&self, notice: &Notice) -> Option<Message> {
        let step = notice.plan.first()?;
        let expires_at = Utc::now() + chrono::Duration::from_std(self.settings.link_ttl).unwrap_or_default();
        let grant = Grant {
            org: &notice.org_id,
            run: &notice.run_id,
            worker: &notice.worker_id,
            expires: u64::try_from(expires_at.timestamp()).unwrap_or_default(),
        };
        let link = format!(
            "{}{}",
            self.base_url.trim_end_matches('/'),
            grant.path(&self.key.sign(&grant))
        );
        let expires = expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
        let (subject, text) = render(
            &self.settings,
            &notice.language,
            &Words {
                name: &notice.worker_name,
                period: &notice.period,
                amount: &notice.net_payable,
                link: &link,
                expires: &expires,
            },
        );
        Some(Message {
            key: idempotency_key(&notice.run_id, &notice.worker_id, step.channel),
            to: step.to.clone(),
            subject,
            text,
            worker_id: notice.worker_id.clone(),
            run_id: notice.run_id.clone(),
            language: notice.language.clone(),
        })
    }

    async fn deliver(&self, notice: &Notice, claim: &str) -> Result<()> {
        let channel = notice.channel;
        let Some(message) = self.message(notice) else {
            return notices::give_up_channel(&self.db, notice, claim, "no channel left to try").await;
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
                notices::sent(&self.db, &notice.id, claim, i64::from(attempts) + 1).await?;
                self.metrics.notice_sent(channel);
            }
            Next::Retry {
                after,
                attempts,
                reason,
            } => {
                self.metrics.notice_failed(channel);
                let at = Utc::now() + chrono::Duration::from_std(after).unwrap_or_default();
                notices::retry_later(&self.db, &notice.id, claim, i64::from(attempts), at, &reason).await?;
            }
            Next::FallBack { reason } => {
                self.metrics.notice_failed(channel);
                tracing::info!(notice = %notice.id, %channel, %reason, "notices: channel given up, falling back");
                notices::give_up_channel(&self.db, notice, claim, &reason).await?;
            }
            Next::Dead { reason } => {
                self.metrics.notice_failed(channel);
                self.metrics.notice_dead(channel);
                tracing::warn!(notice = %notice.id, %channel, %reason, "notices: dead-lettered");
                notices::give_up_channel(&self.db, notice, claim, &reason).await?;
            }
        }
        Ok(())
    }
}

/// Waits up to `limit` for the outbox to have nothing pending or sending: for benches and tests.
pub async fn drained(db: &Db, limit: Duration) -> Result<bool> {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        let counts = notices::counts(db).await?;
        if !counts
            .iter()
            .any(|(status, _, n)| *n > 0 && (status == "pending" || status == "sending"))
        {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(false)
}
