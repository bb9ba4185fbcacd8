//! Synthetic months of payroll inputs, in the folder format of the reference `POLICY.md`.
//!
//! The engine has to be shown, tested and timed on months too large and too private to borrow
//! from a real employer, so this crate writes one: a worker master, sites, biometric punches,
//! leave and adjustments, with the noise real feeds carry (repeated deliveries, double taps,
//! missed punches, late and out-of-order lines) and, on request, outright invalid lines.

mod adjustments;
mod attendance;
mod bad_lines;
mod calendar;
mod encode;
mod leave;
mod noise;
mod sites;
mod workers;

use std::fs;
use std::io;
use std::ops::AddAssign;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::adjustments::AdjustmentBook;
use crate::bad_lines::BadLinePlan;
use crate::calendar::Period;
use crate::leave::LeaveBook;
use crate::workers::WorkerIds;

/// What to generate. Everything else (site catalogue, noise rates) is fixed so that runs of the
/// same size are comparable.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    /// Headcount; ids run `W0000001..`.
    pub workers: usize,
    /// The pay period (calendar month) the inputs are for.
    pub year: i32,
    pub month: u32,
    /// The same seed and config always give byte-identical files, so a demo or benchmark can be
    /// reproduced anywhere.
    pub seed: u64,
    /// Number of deliberately invalid lines (malformed JSON, missing field, unknown direction,
    /// impossible date, negative or exponent amount, unknown worker) spread across the three
    /// ndjson feeds, so a demo shows the dead-letter path. Normally 0.
    pub bad_lines: usize,
}

/// Counts of what was written, for the CLI to report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SynthSummary {
    pub workers: usize,
    pub sites: usize,
    /// Valid lines of `attendance.ndjson`, noise (repeats, double taps, late punches) included.
    pub punches: usize,
    /// Valid lines of `leave.ndjson` (one per request version).
    pub leave_events: usize,
    /// Valid lines of `adjustments.ndjson` (one per adjustment version).
    pub adjustment_events: usize,
    /// Invalid lines actually written: `bad_lines` as asked, or 0 when there are no workers to
    /// make them about.
    pub bad_lines: usize,
}

/// Writes `workers.csv`, `sites.csv`, `attendance.ndjson`, `leave.ndjson` and
/// `adjustments.ndjson` for one month into `out_dir` (created if missing, files overwritten).
///
/// Fails with `InvalidInput` for a month outside 1..=12, otherwise only on I/O errors.
pub fn generate(cfg: &SynthConfig, out_dir: &Path) -> io::Result<SynthSummary> {
    let period = Period::new(cfg.year, cfg.month)?;
    fs::create_dir_all(out_dir)?;
    let ids = WorkerIds::for_headcount(cfg.workers);

    let sites = sites::write_sites(&out_dir.join("sites.csv"))?;
    let employees = workers::hire(
        cfg.workers,
        &period,
        ids,
        &mut stream(cfg.seed, Stream::Workers),
        &out_dir.join("workers.csv"),
    )?;
    // Every bad line is about some worker's event, so without workers there are none.
    let bad = BadLinePlan::new(if employees.is_empty() { 0 } else { cfg.bad_lines });

    // Leave is decided before attendance because people on approved leave stay home.
    let mut rng = stream(cfg.seed, Stream::Leave);
    let leave_book = LeaveBook::request(&employees, &period, &mut rng);
    let punches = attendance::write_attendance(
        &out_dir.join("attendance.ndjson"),
        &employees,
        &leave_book,
        &bad.attendance,
        &period,
        ids,
        &mut stream(cfg.seed, Stream::Attendance),
    )?;
    let leave = leave_book.write(
        &out_dir.join("leave.ndjson"),
        &bad.leave,
        &employees,
        &period,
        ids,
        &mut rng,
    )?;

    let mut rng = stream(cfg.seed, Stream::Adjustments);
    let adjustments = AdjustmentBook::request(&employees, &mut rng).write(
        &out_dir.join("adjustments.ndjson"),
        &bad.adjustments,
        &employees,
        &period,
        ids,
        &mut rng,
    )?;

    Ok(SynthSummary {
        workers: employees.len(),
        sites,
        punches: punches.events,
        leave_events: leave.events,
        adjustment_events: adjustments.events,
        bad_lines: punches.bad_lines + leave.bad_lines + adjustments.bad_lines,
    })
}

/// One random stream per file, so that changing how one feed is generated does not reshuffle
/// the others for the same seed.
enum Stream {
    Workers = 1,
    Leave,
    Attendance,
    Adjustments,
}

fn stream(seed: u64, stream: Stream) -> StdRng {
    StdRng::seed_from_u64(seed ^ (stream as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Lines one feed writer put out.
#[derive(Default)]
struct Written {
    events: usize,
    bad_lines: usize,
}

impl AddAssign for Written {
    fn add_assign(&mut self, other: Written) {
        self.events += other.events;
        self.bad_lines += other.bad_lines;
    }
}

fn pick<'a>(rng: &mut StdRng, options: &[&'a str]) -> &'a str {
    options[rng.random_range(0..options.len())]
}

/// An index drawn with probability proportional to its weight.
fn pick_weighted(rng: &mut StdRng, weights: impl IntoIterator<Item = u32> + Clone) -> usize {
    let total: u32 = weights.clone().into_iter().sum();
    let mut ticket = rng.random_range(0..total);
    for (index, weight) in weights.into_iter().enumerate() {
        if ticket < weight {
            return index;
        }
        ticket -= weight;
    }
    unreachable!("the ticket is below the total weight")
}
