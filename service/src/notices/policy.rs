//! What happens after an attempt, as pure logic: send again later (backing off, or as the
//! vendor's `Retry-After` says), give the channel up for the next one, or give the notice up.
//! And the per-vendor rate limit, a token bucket.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a vendor made of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    /// Worth trying again: a 5xx, a timeout, a refused connection, a 429 (with the wait the
    /// vendor asked for).
    Temporary {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Trying again cannot help: a 4xx other than 408 and 429, a recipient the server refuses.
    Permanent {
        reason: String,
    },
}

/// What the outbox does next with the notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Sent,
    /// The same channel again after `after`; `attempts` on it so far.
    Retry {
        after: Duration,
        attempts: u32,
        reason: String,
    },
    /// This channel is given up: the next of the plan is tried at once.
    FallBack {
        reason: String,
    },
    /// Every channel is given up: dead-lettered with the reason.
    Dead {
        reason: String,
    },
}

/// The retry settings.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub max_attempts: u32,
    pub first: Duration,
    pub max: Duration,
}

/// The longest `Retry-After` honoured: a vendor asking for more is retried after this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Decides after attempt number `attempts_before + 1` on the current channel, with
/// `channels_left` channels after it. `jitter` is a random number in [0, 1).
pub fn next(outcome: Outcome, attempts_before: u32, channels_left: usize, backoff: Backoff, jitter: f64) -> Next {
    let attempts = attempts_before + 1;
    let give_up = |reason: String| match channels_left {
        0 => Next::Dead { reason },
        _ => Next::FallBack { reason },
    };
    match outcome {
        Outcome::Accepted => Next::Sent,
        Outcome::Permanent { reason } => give_up(reason),
        Outcome::Temporary { reason, .. } if attempts >= backoff.max_attempts => {
            give_up(format!("{reason} (after {attempts} attempts)"))
        }
        Outcome::Temporary { reason, retry_after } => {
            let after = match retry_after {
                Some(wait) => wait.min(MAX_RETRY_AFTER),
                None => {
                    // first, 2 × first, 4 × first, ... up to max; plus up to half again, at
                    // random, so a batch's retries do not all land on the vendor at once.
                    let doubled = backoff.first.saturating_mul(1u32 << (attempts - 1).min(20));
                    let base = doubled.min(backoff.max);
                    base + base.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
                }
            };
            Next::Retry {
                after,
                attempts,
                reason,
            }
        }
    }
}

/// A vendor's rate limit: `per_second` tokens a second, at most `burst` saved up; each send
/// takes one, waiting for it if there is none.
pub struct TokenBucket {
    per_second: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(per_second: f64, burst: u32) -> TokenBucket {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            per_second: per_second.max(0.001),
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes a token at `now`, or says how long until one is there (the wait is reserved: the
    /// caller sleeps it and sends).
    pub fn take(&self, now: Instant) -> Duration {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = *state;
        let refilled = (tokens + now.saturating_duration_since(last).as_secs_f64() * self.per_second).min(self.burst);
        let left = refilled - 1.0;
        *state = (left, now.max(last));
        if left >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-left / self.per_second)
        }
    }

    pub async fn acquire(&self) {
        let wait = self.take(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        max_attempts: 3,
        first: Duration::from_secs(2),
        max: Duration::from_secs(5),
    };

    fn temporary(retry_after: Option<u64>) -> Outcome {
        Outcome::Temporary {
            reason: "HTTP 503".into(),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn each_outcome_leads_where_it_should() {
        let permanent = || Outcome::Permanent {
            reason: "HTTP 400".into(),
        };
        let retry = |secs: f64, attempts| Next::Retry {
            after: Duration::from_secs_f64(secs),
            attempts,
            reason: "HTTP 503".into(),
        };
        let cases: Vec<(&str, Outcome, u32, usize, f64, Next)> = vec![
            ("accepted", Outcome::Accepted, 0, 0, 0.0, Next::Sent),
            (
                "first failure backs off by `first`",
                temporary(None),
                0,
                1,
                0.0,
                retry(2.0, 1),
            ),
            ("then doubles", temporary(None), 1, 1, 0.0, retry(4.0, 2)),
            ("jitter adds up to half", temporary(None), 1, 1, 0.5, retry(5.0, 2)),
            (
                "Retry-After is honoured",
                temporary(Some(30)),
                0,
                1,
                0.9,
                retry(30.0, 1),
            ),
            (
                "attempts spent, a channel left",
                temporary(None),
                2,
                1,
                0.0,
                Next::FallBack {
                    reason: "HTTP 503 (after 3 attempts)".into(),
                },
            ),
            (
                "attempts spent, none left",
                temporary(None),
                2,
                0,
                0.0,
                Next::Dead {
                    reason: "HTTP 503 (after 3 attempts)".into(),
                },
            ),
            (
                "permanent falls back at once",
                permanent(),
                0,
                2,
                0.0,
                Next::FallBack {
                    reason: "HTTP 400".into(),
                },
            ),
            (
                "permanent on the last channel",
                permanent(),
                0,
                0,
                0.0,
                Next::Dead {
                    reason: "HTTP 400".into(),
                },
            ),
        ];
        for (case, outcome, before, left, jitter, want) in cases {
            assert_eq!(next(outcome, before, left, BACKOFF, jitter), want, "{case}");
        }
        // Capped at `max` before jitter.
        let capped = next(
            temporary(None),
            1,
            1,
            Backoff {
                max_attempts: 9,
                ..BACKOFF
            },
            0.0,
        );
        assert_eq!(capped, retry(4.0, 2));
        let capped = next(
            temporary(None),
            5,
            1,
            Backoff {
                max_attempts: 9,
                ..BACKOFF
            },
            0.0,
        );
        assert_eq!(capped, retry(5.0, 6));
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let bucket = TokenBucket::new(10.0, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(bucket.take(start), Duration::ZERO);
        }
        // The fourth waits a tenth of a second, the fifth two.
        assert_eq!(bucket.take(start), Duration::from_millis(100));
        assert_eq!(bucket.take(start), Duration::from_millis(200));
        // A second later the debt is paid and the bucket has refilled to its burst.
        assert_eq!(bucket.take(start + Duration::from_secs(2)), Duration::ZERO);
    }
}
