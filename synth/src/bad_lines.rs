//! Deliberately invalid lines, so a demo run shows the engine's dead letters.
//!
//! Each feed writer turns a [`Defect`] into one extra line of its own kind. Bad lines are always
//! additions (never a real event spoiled) and always first versions (`applied` / `pending`), so
//! even a reader that wrongly accepted one could not change anybody's pay.

use rand::Rng;
use rand::rngs::StdRng;

/// The kinds of damage real feeds show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defect {
    /// A line cut short, as by a crashed writer.
    MalformedJson,
    /// A required field absent.
    MissingField,
    /// A punch direction other than `in` / `out`.
    UnknownDirection,
    /// A calendar date that does not exist.
    BadDate,
    /// An amount below zero.
    NegativeAmount,
    /// An amount in exponent notation (`1e3`), which is not a decimal string.
    ExponentAmount,
    /// A worker id missing from the worker master.
    UnknownWorker,
}

/// The bad lines each ndjson feed receives.
#[derive(Default)]
pub struct BadLinePlan {
    pub attendance: Vec<Defect>,
    pub leave: Vec<Defect>,
    pub adjustments: Vec<Defect>,
}

#[derive(Clone, Copy)]
enum Feed {
    Attendance,
    Leave,
    Adjustments,
}

/// Dealt in this order so that even a handful of bad lines lands in every feed and the first
/// fourteen cover every kind a feed can have.
const ROTATION: [(Feed, Defect); 14] = [
    (Feed::Attendance, Defect::MalformedJson),
    (Feed::Leave, Defect::MissingField),
    (Feed::Adjustments, Defect::NegativeAmount),
    (Feed::Attendance, Defect::UnknownDirection),
    (Feed::Leave, Defect::BadDate),
    (Feed::Adjustments, Defect::ExponentAmount),
    (Feed::Attendance, Defect::UnknownWorker),
    (Feed::Attendance, Defect::BadDate),
    (Feed::Leave, Defect::MalformedJson),
    (Feed::Adjustments, Defect::MissingField),
    (Feed::Attendance, Defect::MissingField),
    (Feed::Leave, Defect::UnknownWorker),
    (Feed::Adjustments, Defect::MalformedJson),
    (Feed::Adjustments, Defect::UnknownWorker),
];

impl BadLinePlan {
    pub fn new(count: usize) -> Self {
        let mut plan = BadLinePlan::default();
        for &(feed, defect) in ROTATION.iter().cycle().take(count) {
            match feed {
                Feed::Attendance => plan.attendance.push(defect),
                Feed::Leave => plan.leave.push(defect),
                Feed::Adjustments => plan.adjustments.push(defect),
            }
        }
        plan
    }
}

/// Cuts a finished line to two thirds of its length, as a writer that died mid-line would;
/// without its closing brace it can never parse.
pub fn truncate_line(line: &mut Vec<u8>) {
    line.truncate(line.len() * 2 / 3);
    line.push(b'\n');
}

/// A worker number past the last one hired, as when a feed runs ahead of the worker master.
pub fn unknown_worker(headcount: usize, rng: &mut StdRng) -> u32 {
    headcount as u32 + rng.random_range(1..=1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_counts_reach_every_feed() {
        let plan = BadLinePlan::new(3);
        assert_eq!(plan.attendance, [Defect::MalformedJson]);
        assert_eq!(plan.leave, [Defect::MissingField]);
        assert_eq!(plan.adjustments, [Defect::NegativeAmount]);
    }

    #[test]
    fn count_is_exact() {
        let plan = BadLinePlan::new(100);
        assert_eq!(plan.attendance.len() + plan.leave.len() + plan.adjustments.len(), 100);
    }
}
