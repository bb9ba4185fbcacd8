//! The order of a shard's checkpoint, as pure logic: "nothing lost, nothing counted twice" is an
//! ordering rule. Dead letters are delivered before a checkpoint moves past them; the
//! checkpoint is written create-only under the next sequence number; offsets are committed only
//! once it is durable; an instance that lost the race for that number reloads, and one fenced
//! out by a newer owner's epoch lets the shard go. The stream
//! (`connectors/src/kafka/source.rs`) asks [`Pass::next`] for each step, executes it against
//! the broker and the store, and reports the [`Outcome`]; nothing here does I/O.

use std::time::Duration;

/// What the stream does next for a shard's checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Wait until every dead letter sent so far is delivered.
    FlushDeadLetters,
    /// Write the shard's next checkpoint, create-only.
    Write,
    /// Commit the checkpoint's offsets to the broker (for lag monitoring only).
    Commit,
    /// The checkpoint is durable, or there was nothing to save.
    Done,
    /// Another instance wrote this sequence number first: reload the shard from its
    /// checkpoint and seek to its offsets (or, when giving the shard up, drop it).
    Reload,
    /// A newer owner claimed the shard (this instance is a zombie of an old assignment): drop
    /// it, consume none of it, and leave it to the next rebalance.
    Release,
    /// This pass failed; the previous checkpoint stays current and the offsets uncommitted.
    /// The next interval tries again.
    RetryLater(Failure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    DeadLettersUndelivered,
    WriteFailed,
}

/// What executing a step gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Flushed,
    FlushFailed,
    Written,
    /// The create-only write found the sequence number taken.
    AlreadyWritten,
    /// The write found a newer epoch's checkpoint: another instance owns the shard now.
    Fenced,
    WriteFailed,
    Committed,
    CommitFailed,
}

/// One checkpoint attempt of one shard.
#[derive(Debug)]
pub struct Pass {
    unsaved: bool,
    last: Option<Outcome>,
}

impl Pass {
    /// A pass over a shard that has (or has not) consumed anything since its last checkpoint.
    pub fn new(unsaved: bool) -> Pass {
        Pass { unsaved, last: None }
    }

    /// The step after `outcome` (the outcome of the step this returned before; `None` first).
    pub fn next(&mut self, outcome: Option<Outcome>) -> Step {
        self.last = outcome;
        match outcome {
            None if !self.unsaved => Step::Done,
            None => Step::FlushDeadLetters,
            Some(Outcome::Flushed) => Step::Write,
            Some(Outcome::FlushFailed) => Step::RetryLater(Failure::DeadLettersUndelivered),
            Some(Outcome::Written) => Step::Commit,
            Some(Outcome::AlreadyWritten) => Step::Reload,
            Some(Outcome::Fenced) => Step::Release,
            Some(Outcome::WriteFailed) => Step::RetryLater(Failure::WriteFailed),
            // The checkpoint is the truth; committed offsets only feed lag monitoring.
            Some(Outcome::Committed | Outcome::CommitFailed) => Step::Done,
        }
    }

    /// Whether this pass made a checkpoint durable.
    pub fn saved(&self) -> bool {
        matches!(self.last, Some(Outcome::Committed | Outcome::CommitFailed))
    }
}

/// How long to wait before asking an unanswering store again: doubling from `first`, at most
/// `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { next: first, max }
    }

    pub fn delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Outcomes reported in order, and the steps the pass asked for, the first before any
    /// outcome.
    const CASES: &[(&str, bool, &[Outcome], &[Step])] = &[
        ("nothing unsaved: nothing to do", false, &[], &[Step::Done]),
        (
            "the happy path: flush, write, commit",
            true,
            &[Outcome::Flushed, Outcome::Written, Outcome::Committed],
            &[Step::FlushDeadLetters, Step::Write, Step::Commit, Step::Done],
        ),
        (
            "undelivered dead letters: never write past them",
            true,
            &[Outcome::FlushFailed],
            &[
                Step::FlushDeadLetters,
                Step::RetryLater(Failure::DeadLettersUndelivered),
            ],
        ),
        (
            "a failed write: offsets stay uncommitted",
            true,
            &[Outcome::Flushed, Outcome::WriteFailed],
            &[
                Step::FlushDeadLetters,
                Step::Write,
                Step::RetryLater(Failure::WriteFailed),
            ],
        ),
        (
            "a lost race for the sequence number: reload, commit nothing",
            true,
            &[Outcome::Flushed, Outcome::AlreadyWritten],
            &[Step::FlushDeadLetters, Step::Write, Step::Reload],
        ),
        (
            "fenced by a newer owner's epoch: let the shard go, commit nothing",
            true,
            &[Outcome::Flushed, Outcome::Fenced],
            &[Step::FlushDeadLetters, Step::Write, Step::Release],
        ),
        (
            "a failed commit: the checkpoint is durable all the same",
            true,
            &[Outcome::Flushed, Outcome::Written, Outcome::CommitFailed],
            &[Step::FlushDeadLetters, Step::Write, Step::Commit, Step::Done],
        ),
    ];

    #[test]
    fn steps_follow_outcomes_as_the_table_says() {
        for (case, unsaved, outcomes, steps) in CASES {
            let mut pass = Pass::new(*unsaved);
            let mut asked = vec![pass.next(None)];
            for outcome in *outcomes {
                asked.push(pass.next(Some(*outcome)));
            }
            assert_eq!(asked, *steps, "{case}");
            let durable = outcomes.contains(&Outcome::Written);
            assert_eq!(pass.saved(), durable, "{case}");
        }
    }

    /// What executing `step` can give; nothing for a step that ends the pass.
    fn possible(step: Step) -> &'static [Outcome] {
        match step {
            Step::FlushDeadLetters => &[Outcome::Flushed, Outcome::FlushFailed],
            Step::Write => &[
                Outcome::Written,
                Outcome::AlreadyWritten,
                Outcome::Fenced,
                Outcome::WriteFailed,
            ],
            Step::Commit => &[Outcome::Committed, Outcome::CommitFailed],
            Step::Done | Step::Reload | Step::Release | Step::RetryLater(_) => &[],
        }
    }

    proptest! {
        /// Whatever the dead-letter topic, the store and the broker answer (each answer one a
        /// step can give, chosen by `choices`), the pass keeps the module's ordering rule.
        #[test]
        fn offsets_are_committed_only_after_the_write(
            unsaved: bool,
            choices in prop::collection::vec(any::<prop::sample::Index>(), 4),
        ) {
            let mut pass = Pass::new(unsaved);
            let mut asked = vec![pass.next(None)];
            let mut outcomes = Vec::new();
            let mut choices = choices.iter();
            // A pass is at most flush, write, commit, end: a fourth answer is never asked for.
            while let [.., step] = asked[..]
                && !possible(step).is_empty()
            {
                let choice = choices.next().expect("the pass ends within four steps");
                let outcome = *choice.get(possible(step));
                outcomes.push(outcome);
                asked.push(pass.next(Some(outcome)));
            }
            let trace = format!("unsaved {unsaved}, asked {asked:?} after {outcomes:?}");

            if !unsaved {
                prop_assert_eq!(&asked, &[Step::Done], "nothing to save touches nothing: {}", trace);
            }
            for (i, step) in asked.iter().enumerate() {
                // `asked[i]` comes after `outcomes[i - 1]`.
                let after = i.checked_sub(1).map(|i| outcomes[i]);
                match step {
                    Step::Write => prop_assert_eq!(
                        after,
                        Some(Outcome::Flushed),
                        "a checkpoint moves past dead letters only once they are delivered: {}",
                        trace
                    ),
                    Step::Commit => prop_assert_eq!(
                        after,
                        Some(Outcome::Written),
                        "offsets are committed only once their checkpoint is durable: {}",
                        trace
                    ),
                    _ => {}
                }
                prop_assert!(
                    !asked[..i].contains(step),
                    "{step:?} asked twice in one pass (written or committed twice): {}",
                    trace
                );
            }
            let written = outcomes.contains(&Outcome::Written);
            prop_assert_eq!(pass.saved(), written, "saved only what was written: {}", trace);
            let end = asked[asked.len() - 1];
            let expected_end = match outcomes.last() {
                None | Some(Outcome::Committed | Outcome::CommitFailed) => Step::Done,
                Some(Outcome::FlushFailed) => Step::RetryLater(Failure::DeadLettersUndelivered),
                Some(Outcome::WriteFailed) => Step::RetryLater(Failure::WriteFailed),
                // The race's winner or the newer owner has the shard's state: this instance
                // must not commit offsets of a checkpoint it did not write.
                Some(Outcome::AlreadyWritten) => Step::Reload,
                Some(Outcome::Fenced) => Step::Release,
                Some(other) => {
                    return Err(TestCaseError::fail(format!(
                        "the pass ended right after {other:?}: {trace}"
                    )));
                }
            };
            prop_assert_eq!(end, expected_end, "{}", trace);
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(1));
        let delays: Vec<u128> = (0..5).map(|_| backoff.delay().as_millis()).collect();
        assert_eq!(delays, [200, 400, 800, 1000, 1000]);
    }
}
