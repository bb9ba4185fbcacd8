//! What biometric devices and the relays behind them do to clean punches.
//!
//! The engine's attendance rules exist because of exactly these: a relay retrying a send
//! (same event id twice), a finger held on the reader (two punches of one direction seconds
//! apart), a forgotten punch, and devices that upload late.

use rand::Rng;
use rand::rngs::StdRng;

use crate::attendance::{Direction, Punch};

/// Share of shifts missing their `in` or their `out`.
const MISSED_PUNCH: f64 = 0.02;
/// Share of punches followed by a second one of the same direction 5-100 s later.
const DOUBLE_TAP: f64 = 0.02;
/// Share of deliveries sent twice, identical.
const REDELIVERY: f64 = 0.01;
/// Share of deliveries that arrive after the rest of the month, at the end of the file.
const LATE: f64 = 0.02;

/// The punch of a shift the worker forgot, if any.
pub fn missed_punch(rng: &mut StdRng) -> Option<Direction> {
    rng.random_bool(MISSED_PUNCH).then(|| {
        if rng.random_bool(0.5) {
            Direction::In
        } else {
            Direction::Out
        }
    })
}

#[derive(Default)]
pub struct FeedNoise {
    late: Vec<Punch>,
}

impl FeedNoise {
    /// Sends one real punch through the feed into `batch` (or, if it will arrive late, into
    /// the late pile).
    pub fn deliver(&mut self, punch: Punch, batch: &mut Vec<Punch>, rng: &mut StdRng) {
        self.send(punch, batch, rng);
        if rng.random_bool(DOUBLE_TAP) {
            let tap = Punch {
                event_id: rng.random(),
                ts: punch.ts + rng.random_range(5..=100),
                ..punch
            };
            self.send(tap, batch, rng);
        }
    }

    /// Punches that arrived after everything else, to be written last.
    pub fn into_late(self) -> Vec<Punch> {
        self.late
    }

    fn send(&mut self, punch: Punch, batch: &mut Vec<Punch>, rng: &mut StdRng) {
        let copies = if rng.random_bool(REDELIVERY) { 2 } else { 1 };
        for _ in 0..copies {
            if rng.random_bool(LATE) {
                self.late.push(punch);
            } else {
                batch.push(punch);
            }
        }
    }
}
