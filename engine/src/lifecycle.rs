//! A run's lifecycle as pure logic: its kinds and states, the moves between them, and the
//! guards on those moves. The service persists runs and executes the moves; whether a move is
//! allowed is decided here, once, and tested without a database.
//!
//! ```text
//! queued ──▶ calculating ──▶ calculated ──approve──▶ finalizing ──▶ finalized   (final runs)
//!   │            │              │  └──reject──▶ rejected
//!   └──cancel────┴──▶ cancelled │
//! queued, calculating, finalizing ──fail──▶ failed ──retry──▶ queued
//! ```
//!
//! A provisional run ends at `calculated`. Approval of a final run locks its period.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Provisional runs show what pay would be; a final run, once approved, is what is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Provisional,
    Final,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Calculating,
    Calculated,
    Finalizing,
    Finalized,
    Rejected,
    Cancelled,
    Failed,
}

/// What happens to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// A worker picked the run up.
    Start,
    /// Results and manifest are written.
    Calculate,
    /// A second person accepted a calculated final run; its period locks.
    Approve,
    Reject,
    /// Payslips and registers are written.
    Finalize,
    Cancel,
    Fail,
    /// The janitor queues a run again after its worker died.
    Retry,
}

/// Why a move was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("a run that is {from} cannot be {verb}")]
    NotAllowed { from: RunStatus, verb: &'static str },
    #[error("only final runs are approved or rejected; this run is provisional")]
    NotFinal,
    #[error("four eyes: the user who triggered a run ({0}) cannot approve it")]
    SameApprover(String),
    /// Workers the run could not compute, neither fixed (by a new run) nor excluded.
    #[error(
        "{workers} worker(s) of this run have errors and are not excluded: fix the ruleset or the inputs and run again, or exclude them (POST .../exclusions) before approving"
    )]
    WorkerErrors { workers: u64 },
}

impl Move {
    fn verb(self) -> &'static str {
        match self {
            Move::Start => "started",
            Move::Calculate => "marked calculated",
            Move::Approve => "approved",
            Move::Reject => "rejected",
            Move::Finalize => "finalized",
            Move::Cancel => "cancelled",
            Move::Fail => "failed",
            Move::Retry => "retried",
        }
    }
}

impl RunStatus {
    /// The state after `step`, or why it is not allowed from this one.
    pub fn after(self, kind: RunKind, step: Move) -> Result<RunStatus, Refused> {
        use RunStatus::*;
        if matches!(step, Move::Approve | Move::Reject) && kind != RunKind::Final {
            return Err(Refused::NotFinal);
        }
        let next = match (self, step) {
            (Queued, Move::Start) => Calculating,
            (Calculating, Move::Calculate) => Calculated,
            (Calculated, Move::Approve) => Finalizing,
            (Calculated, Move::Reject) => Rejected,
            (Finalizing, Move::Finalize) => Finalized,
            (Queued | Calculating, Move::Cancel) => Cancelled,
            (Queued | Calculating | Finalizing, Move::Fail) => Failed,
            (Failed, Move::Retry) => Queued,
            (from, step) => {
                return Err(Refused::NotAllowed {
                    from,
                    verb: step.verb(),
                });
            }
        };
        Ok(next)
    }

    /// Work is under way or waiting: a worker or the janitor still owes the run a move.
    pub fn is_active(self) -> bool {
        matches!(self, RunStatus::Queued | RunStatus::Calculating | RunStatus::Finalizing)
    }

    /// A final run in one of these states no longer holds its period's one live final slot.
    pub fn releases_period(self) -> bool {
        matches!(self, RunStatus::Rejected | RunStatus::Cancelled | RunStatus::Failed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Calculating => "calculating",
            RunStatus::Calculated => "calculated",
            RunStatus::Finalizing => "finalizing",
            RunStatus::Finalized => "finalized",
            RunStatus::Rejected => "rejected",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Failed => "failed",
        }
    }

    pub const ALL: [RunStatus; 8] = [
        RunStatus::Queued,
        RunStatus::Calculating,
        RunStatus::Calculated,
        RunStatus::Finalizing,
        RunStatus::Finalized,
        RunStatus::Rejected,
        RunStatus::Cancelled,
        RunStatus::Failed,
    ];
}

/// The four-eyes rule: whoever triggered a final run cannot approve it.
pub fn check_approver(requested_by: &str, approver: &str) -> Result<(), Refused> {
    if requested_by == approver {
        return Err(Refused::SameApprover(requested_by.to_string()));
    }
    Ok(())
}

/// A final run is approved only when every worker it could not compute has been excluded by
/// someone who said why: approval must never silently leave a worker unpaid.
pub fn check_worker_errors(unexcluded_workers: u64) -> Result<(), Refused> {
    if unexcluded_workers > 0 {
        return Err(Refused::WorkerErrors {
            workers: unexcluded_workers,
        });
    }
    Ok(())
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Provisional => "provisional",
            RunKind::Final => "final",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for RunKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        RunStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<_> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!("`{s}` is not a run status: expected one of {}", all.join(", "))
            })
    }
}

impl FromStr for RunKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "provisional" => Ok(RunKind::Provisional),
            "final" => Ok(RunKind::Final),
            _ => Err(format!("`{s}` is not a run kind: expected provisional or final")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RunStatus::*;

    /// Every (state, move) pair for a final run, and where it leads; anything not listed is
    /// refused.
    const FINAL: &[(RunStatus, Move, RunStatus)] = &[
        (Queued, Move::Start, Calculating),
        (Queued, Move::Cancel, Cancelled),
        (Queued, Move::Fail, Failed),
        (Calculating, Move::Calculate, Calculated),
        (Calculating, Move::Cancel, Cancelled),
        (Calculating, Move::Fail, Failed),
        (Calculated, Move::Approve, Finalizing),
        (Calculated, Move::Reject, Rejected),
        (Finalizing, Move::Finalize, Finalized),
        (Finalizing, Move::Fail, Failed),
        (Failed, Move::Retry, Queued),
    ];

    const MOVES: [Move; 8] = [
        Move::Start,
        Move::Calculate,
        Move::Approve,
        Move::Reject,
        Move::Finalize,
        Move::Cancel,
        Move::Fail,
        Move::Retry,
    ];

    #[test]
    fn final_runs_move_only_as_the_table_says() {
        for from in RunStatus::ALL {
            for step in MOVES {
                let expected = FINAL
                    .iter()
                    .find(|(f, m, _)| *f == from && *m == step)
                    .map(|(_, _, to)| *to);
                assert_eq!(from.after(RunKind::Final, step).ok(), expected, "{from} + {step:?}");
            }
        }
    }

    #[test]
    fn provisional_runs_are_never_approved_or_rejected() {
        assert_eq!(
            Calculated.after(RunKind::Provisional, Move::Approve),
            Err(Refused::NotFinal)
        );
        assert_eq!(
            Calculated.after(RunKind::Provisional, Move::Reject),
            Err(Refused::NotFinal)
        );
        assert_eq!(Queued.after(RunKind::Provisional, Move::Start), Ok(Calculating));
    }

    #[test]
    fn refusals_name_the_state_and_the_move() {
        let refused = Finalized.after(RunKind::Final, Move::Cancel).unwrap_err();
        assert_eq!(refused.to_string(), "a run that is finalized cannot be cancelled");
    }

    #[test]
    fn the_maker_cannot_approve() {
        assert!(check_approver("hr1", "appr1").is_ok());
        assert_eq!(
            check_approver("hr1", "hr1").unwrap_err().to_string(),
            "four eyes: the user who triggered a run (hr1) cannot approve it"
        );
    }

    #[test]
    fn worker_errors_block_approval_until_each_is_excluded() {
        for (unexcluded, allowed) in [(0, true), (1, false), (250, false)] {
            assert_eq!(check_worker_errors(unexcluded).is_ok(), allowed, "{unexcluded}");
        }
        let refused = check_worker_errors(3).unwrap_err();
        assert_eq!(refused, Refused::WorkerErrors { workers: 3 });
        assert!(
            refused
                .to_string()
                .starts_with("3 worker(s) of this run have errors and are not excluded")
        );
    }

    #[test]
    fn statuses_round_trip_through_text() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(status));
        }
        assert!(
            "done"
                .parse::<RunStatus>()
                .unwrap_err()
                .contains("expected one of queued")
        );
    }
}
