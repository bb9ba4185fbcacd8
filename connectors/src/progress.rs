//! Progress of long work (reading inputs, writing payslips), reported to whoever shows it: the
//! CLI draws bars, tests and libraries pass [`Quiet`].

/// What a stage counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Files,
}

pub trait Progress: Sync {
    /// A new stage of `total` units.
    fn start(&self, stage: &str, total: u64, unit: Unit);
    fn advance(&self, done: u64);
    /// A new stage whose size is not known (computing, writing).
    fn stage(&self, _name: &str) {}
}

/// Shows nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: u64, _: Unit) {}
    fn advance(&self, _: u64) {}
}
