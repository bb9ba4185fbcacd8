//! What the stream reports, in one place: counters it keeps and the lines it logs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// When the first and the latest batch with folded messages were done: the ingest rate's span.
    pub first_folded: Option<Instant>,
    pub last_folded: Option<Instant>,
    /// Messages folded (valid) and refused (dead-lettered), all topics.
    pub folded: u64,
    pub dead_letters: BTreeMap<String, u64>,
    pub checkpoints: u64,
    pub failed_checkpoints: u64,
    /// Dead letters the broker refused (each sent again; the shard's checkpoint waits).
    pub undelivered_dead_letters: u64,
    /// Restores that found the latest checkpoint unreadable and used the one before.
    pub checkpoint_fallbacks: u64,
    /// Locked periods closed in a shard's state, the events that took to the archive, and
    /// workers' closed periods loaded back for late events.
    pub closed_periods: u64,
    pub archived_events: u64,
    pub reopened: u64,
    pub live_updates: u64,
    pub recalculated: u64,
}

impl Counters {
    pub fn dead_letter_total(&self) -> u64 {
        self.dead_letters.values().sum()
    }
}

/// The stream's figures as another thread reads them (the service's `/metrics` and
/// `/readyz`), updated at every report and checkpoint.
#[derive(Debug, Default)]
pub struct StreamStatus {
    /// Set once the stream polls: its topics found and its consumer subscribed (shards are
    /// restored as the group assigns them, inside the polls).
    pub running: AtomicBool,
    pub folded: AtomicU64,
    pub dead_letters: AtomicU64,
    /// Messages behind the partition ends, all assigned partitions (-1: unknown).
    pub lag: AtomicI64,
    pub checkpoints: AtomicU64,
    pub failed_checkpoints: AtomicU64,
    pub undelivered_dead_letters: AtomicU64,
    pub checkpoint_fallbacks: AtomicU64,
    pub archived_events: AtomicU64,
    pub reopened: AtomicU64,
    /// When the latest checkpoint was written, milliseconds since the Unix epoch (0: never).
    pub last_checkpoint_ms: AtomicU64,
    /// Messages per second over the last report interval.
    pub rate: AtomicU64,
    /// Workers with events and no master record yet, all shards (each bounded by
    /// `engine::shard::MAX_WAITING`).
    pub waiting: AtomicU64,
}

impl StreamStatus {
    fn record(&self, counters: &Counters) {
        if counters.checkpoints > self.checkpoints.load(Ordering::Relaxed) {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            self.last_checkpoint_ms.store(now, Ordering::Relaxed);
        }
        self.folded.store(counters.folded, Ordering::Relaxed);
        self.dead_letters.store(counters.dead_letter_total(), Ordering::Relaxed);
        self.checkpoints.store(counters.checkpoints, Ordering::Relaxed);
        self.failed_checkpoints
            .store(counters.failed_checkpoints, Ordering::Relaxed);
        self.undelivered_dead_letters
            .store(counters.undelivered_dead_letters, Ordering::Relaxed);
        self.checkpoint_fallbacks
            .store(counters.checkpoint_fallbacks, Ordering::Relaxed);
        self.archived_events.store(counters.archived_events, Ordering::Relaxed);
        self.reopened.store(counters.reopened, Ordering::Relaxed);
    }
}

/// Logs rates and lag every `every`, and keeps [`StreamStatus`] current.
pub struct Telemetry {
    every: Duration,
    last: Instant,
    last_folded: u64,
    status: Arc<StreamStatus>,
}

impl Telemetry {
    pub fn new(every: Duration, status: Arc<StreamStatus>) -> Self {
        Telemetry {
            every,
            last: Instant::now(),
            last_folded: 0,
            status,
        }
    }

    /// After a checkpoint pass: its counts and time, without waiting for the next report.
    pub fn checkpointed(&self, counters: &Counters) {
        self.status.record(counters);
    }

    pub fn due(&self) -> bool {
        self.last.elapsed() >= self.every
    }

    pub fn report(&mut self, counters: &Counters, lag: i64, shards: usize, waiting: usize) {
        let seconds = self.last.elapsed().as_secs_f64();
        let rate = (counters.folded - self.last_folded) as f64 / seconds.max(1e-9);
        tracing::info!(
            messages_per_s = rate.round() as u64,
            lag,
            folded = counters.folded,
            dead_letters = counters.dead_letter_total(),
            shards,
            waiting_for_master = waiting,
            checkpoints = counters.checkpoints,
            "stream"
        );
        self.status.record(counters);
        self.status.lag.store(lag, Ordering::Relaxed);
        self.status.rate.store(rate.round() as u64, Ordering::Relaxed);
        self.status.waiting.store(waiting as u64, Ordering::Relaxed);
        self.last = Instant::now();
        self.last_folded = counters.folded;
    }

    pub fn checkpoint_failed(shard: u32, error: &dyn std::fmt::Display) {
        tracing::warn!(shard, %error, "checkpoint failed: the previous one stays, offsets stay uncommitted; retrying");
    }

    pub fn dead_letters_undelivered(shard: u32, error: &dyn std::fmt::Display) {
        tracing::error!(shard, %error, "dead letters undelivered: this shard's checkpoint waits until they are");
    }

    pub fn shard_fenced(shard: u32) {
        tracing::error!(
            shard,
            "a newer owner claimed this shard (this instance missed a rebalance): dropping it"
        );
    }

    pub fn checkpoint_superseded(shard: u32) {
        tracing::warn!(
            shard,
            "another instance wrote this shard's next checkpoint: reloading it"
        );
    }

    pub fn archived(shard: u32, pass: &crate::archive::Pass) {
        tracing::info!(
            shard,
            closed_periods = pass.closed,
            archived_events = pass.archived,
            reopened = pass.reopened,
            "locked periods archived and dropped from the state; late events' periods loaded back"
        );
    }

    pub fn archive_failed(shard: Option<u32>, error: &dyn std::fmt::Display) {
        tracing::error!(?shard, %error, "archiving locked periods failed: their events stay in the state; retrying at the next checkpoint");
    }

    pub fn dead_letter(topic: &str, partition: i32, offset: i64, reason: &dyn std::fmt::Display) {
        tracing::debug!(topic, partition, offset, %reason, "dead letter");
    }
}
