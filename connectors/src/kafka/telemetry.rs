//! What the stream reports, in one place: counters it keeps and the lines it logs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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
    pub live_updates: u64,
    pub recalculated: u64,
}

impl Counters {
    pub fn dead_letter_total(&self) -> u64 {
        self.dead_letters.values().sum()
    }
}

/// Logs rates and lag every `every`.
pub struct Telemetry {
    every: Duration,
    last: Instant,
    last_folded: u64,
}

impl Telemetry {
    pub fn new(every: Duration) -> Self {
        Telemetry {
            every,
            last: Instant::now(),
            last_folded: 0,
        }
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
        self.last = Instant::now();
        self.last_folded = counters.folded;
    }

    pub fn checkpoint_failed(shard: u32, error: &dyn std::fmt::Display) {
        tracing::warn!(shard, %error, "checkpoint failed: the previous one stays, offsets stay uncommitted; retrying");
    }

    pub fn checkpoint_superseded(shard: u32) {
        tracing::warn!(
            shard,
            "another instance wrote this shard's next checkpoint: reloading it"
        );
    }

    pub fn dead_letter(topic: &str, partition: i32, offset: i64, reason: &dyn std::fmt::Display) {
        tracing::debug!(topic, partition, offset, %reason, "dead letter");
    }
}
