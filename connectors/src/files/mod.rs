//! The folder format of POLICY.md: `sites.csv`, `workers.csv`, the event files
//! `attendance.ndjson`, `leave.ndjson`, `adjustments.ndjson`, and, for sites whose time system
//! already aggregates, `attendance_summary.csv|xlsx|parquet` in place of punches and leave.
//! Every record goes through the engine's validation; a refused one becomes a dead letter and
//! the rest of the folder is still read.

pub(crate) mod csv;
pub(crate) mod ndjson;
pub mod sheet;
mod summary;

pub use summary::COLUMNS as SUMMARY_COLUMNS;
pub use summary::fold as fold_summary;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use memmap2::{Advice, Mmap, UncheckedAdvice};
use payroll_engine::parallel::{cores, map_in_order};
use payroll_engine::run::InputDigest;
use payroll_engine::{Feed, Invalid, Ledger, Site, Worker};

use self::ndjson::Pages;
use crate::dead_letter::{DeadLetters, Position};
use crate::error::{Error, Result};
use crate::progress::{Progress, Unit};

/// A folder read into a ledger.
pub struct Folder {
    pub ledger: Ledger,
    /// Every file read, by content: what the run's manifest records.
    pub inputs: Vec<InputDigest>,
    /// Events and summary rows folded in.
    pub events: u64,
}

const SUMMARY_FORMATS: [&str; 3] = ["csv", "xlsx", "parquet"];

pub fn read_folder(dir: &Path, dead_letters: &mut DeadLetters, progress: &dyn Progress) -> Result<Folder> {
    if !dir.is_dir() {
        return Err(Error::input(
            dir.display(),
            "not a directory of inputs (expected sites.csv, workers.csv, attendance.ndjson, ...)",
        ));
    }
    // Every file of the folder's format it has, mapped, in the order the manifest lists them.
    let names = ["sites.csv".to_string(), "workers.csv".to_string()]
        .into_iter()
        .chain(SUMMARY_FORMATS.map(|format| format!("attendance_summary.{format}")))
        .chain(Feed::ALL.map(|feed| feed.file_name().to_string()));
    let mut files = Vec::new();
    for name in names {
        let path = dir.join(&name);
        if path.exists() {
            let input = Input::map(&path)?;
            files.push((name, path, input));
        }
    }
    let file = |name: &str| {
        files
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, path, input)| (path, input))
    };

    // The master's files are hashed on a core of their own while the master is read on
    // another; the event files, as they are folded ([`ndjson::fold`]).
    let stop = AtomicBool::new(false);
    let is_events = |name: &str| Feed::ALL.iter().any(|feed| feed.file_name() == name);
    std::thread::scope(|scope| {
        let digests = scope.spawn(|| {
            files
                .iter()
                .filter(|(name, ..)| !is_events(name))
                .map_while(|(name, _, input)| digest(name, input, &stop))
                .collect::<Vec<_>>()
        });
        let master = read_master(dir, &file, dead_letters);
        // A folder refused before its events is told at once, not once the rest is hashed.
        stop.store(master.is_err(), Ordering::Relaxed);
        let mut inputs = digests.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let Master {
            ledger,
            mut events,
            mut has_attendance,
        } = master?;
        let mut parts =
            ndjson::Parts::split(ledger, cores()).map_err(|e| Error::input(dir.display(), e.to_string()))?;
        for feed in Feed::ALL {
            let name = feed.file_name();
            if let Some((_, bytes)) = file(name) {
                has_attendance |= feed == Feed::Attendance;
                progress.start(&format!("reading {name}"), bytes.len() as u64, Unit::Bytes);
                let mut digest = blake3::Hasher::new();
                events += ndjson::fold(
                    feed,
                    name,
                    bytes,
                    &mut parts,
                    dead_letters,
                    progress,
                    bytes,
                    &mut digest,
                );
                inputs.push(input_digest(name, bytes.len(), &digest));
            }
        }
        let mut ledger = parts.merge();
        if !has_attendance {
            return Err(missing(
                dir,
                "attendance.ndjson (or attendance_summary.csv, .xlsx or .parquet)",
            ));
        }
        ledger.shrink_to_fit();
        Ok(Folder { ledger, inputs, events })
    })
}

/// A folder's master and attendance summaries, folded before its events.
struct Master {
    ledger: Ledger,
    /// Summary rows folded in.
    events: u64,
    /// Whether an attendance summary was among them.
    has_attendance: bool,
}

fn read_master<'f>(
    dir: &Path,
    file: &dyn Fn(&str) -> Option<(&'f PathBuf, &'f Input)>,
    dead_letters: &mut DeadLetters,
) -> Result<Master> {
    let (sites_path, sites_csv) = file("sites.csv").ok_or_else(|| missing(dir, "sites.csv"))?;
    let sites = csv::records(sites_path, sites_csv, &SITE_COLUMNS)?
        .filter_map(|r| match r.cells().and_then(|c| Site::decode(|f| c.get(f))) {
            Ok(site) => Some(site),
            Err(invalid) => {
                dead_letters.push("sites.csv", Position::Line(r.line), invalid, &r.original(), r.org_id());
                None
            }
        })
        .collect::<Vec<_>>();
    let mut ledger = Ledger::new(sites);

    let (workers_path, workers_csv) = file("workers.csv").ok_or_else(|| missing(dir, "workers.csv"))?;
    ledger.reserve_workers(memchr::memchr_iter(b'\n', workers_csv).count());
    fold_workers(workers_path, workers_csv, &mut ledger, dead_letters)?;

    let mut events = 0;
    let mut has_attendance = false;
    for format in SUMMARY_FORMATS {
        let name = format!("attendance_summary.{format}");
        if let Some((path, bytes)) = file(&name) {
            has_attendance = true;
            events += summary::fold(&name, path, bytes, &mut ledger, dead_letters)?;
        }
    }
    Ok(Master {
        ledger,
        events,
        has_attendance,
    })
}

/// Adds the workers of a `workers.csv` (read from `path`) to `ledger`; a bad row becomes a dead
/// letter, a missing column fails the file. The rows are decoded on every core, a run of them
/// each (a million workers' master was a second and a half on one), and taken in in the file's
/// order.
pub fn fold_workers(path: &Path, bytes: &[u8], ledger: &mut Ledger, dead_letters: &mut DeadLetters) -> Result<()> {
    /// A row as decoded: the worker, or the dead letter it is.
    enum Row<'a> {
        Worker {
            line: u64,
            text: &'a [u8],
            worker: Box<Worker>,
        },
        Refused {
            line: u64,
            invalid: Invalid,
            original: String,
            org_id: Option<String>,
        },
    }
    let file = csv::Csv::open(path, bytes, &WORKER_COLUMNS)?;
    let runs = map_in_order(file.runs(cores()), |records| {
        records
            .map(|r| match r.cells().and_then(|c| Worker::decode(|f| c.get(f))) {
                Ok(worker) => Row::Worker {
                    line: r.line,
                    text: r.text(),
                    worker: Box::new(worker),
                },
                Err(invalid) => Row::Refused {
                    line: r.line,
                    invalid,
                    original: r.original(),
                    org_id: r.org_id().map(str::to_string),
                },
            })
            .collect::<Vec<_>>()
    });
    for row in runs.into_iter().flatten() {
        match row {
            Row::Worker { line, text, worker } => {
                if let Err(invalid) = ledger.upsert_worker(worker) {
                    // Read again for its dead letter, rather than every row's cells kept for
                    // the few refused here.
                    let r = file.record(line, text);
                    dead_letters.push("workers.csv", Position::Line(line), invalid, &r.original(), r.org_id());
                }
            }
            Row::Refused {
                line,
                invalid,
                original,
                org_id,
            } => dead_letters.push(
                "workers.csv",
                Position::Line(line),
                invalid,
                &original,
                org_id.as_deref(),
            ),
        }
    }
    Ok(())
}

/// A sites file (the `sites.csv` format) given as configuration: any bad row fails it,
/// naming the line.
pub fn read_sites(path: &Path) -> Result<Vec<Site>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    csv::records(path, &bytes, &SITE_COLUMNS)?
        .map(|r| {
            r.cells()
                .and_then(|c| Site::decode(|f| c.get(f)))
                .map_err(|invalid| Error::input(path.display(), format!("line {}: {invalid}", r.line)))
        })
        .collect()
}

const SITE_COLUMNS: [&str; 6] = ["site_id", "org_id", "name", "state", "timezone", "weekly_off"];

pub const WORKER_COLUMNS: [&str; 19] = [
    "worker_id",
    "org_id",
    "site_id",
    "name",
    "gender",
    "state",
    "skill",
    "designation",
    "pay_basis",
    "rate",
    "pf_applicable",
    "esi_applicable",
    "uan",
    "esic_no",
    "bank_account",
    "ifsc",
    "pan",
    "joined_on",
    "exited_on",
];

/// Optional columns of `workers.csv`: where payslip notices go, and in which language.
pub const WORKER_CONTACT_COLUMNS: [&str; 3] = ["phone", "email", "language"];

/// An input file, mapped. Inputs run to gigabytes: mapped, they are read straight from the page
/// cache, with no copy and no fresh memory to clear; and a part read is given back
/// ([`Input::release`]), so the process's resident memory does not grow with the files (a
/// 1M-worker month's attendance is 7 GB).
struct Input(Mmap);

impl Input {
    fn map(path: &Path) -> Result<Input> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path.display(), e))?;
        // SAFETY: the map is read-only and lives only while the folder is read; an input file
        // changed by someone else meanwhile could give wrong bytes, as a copy taken mid-write
        // would.
        unsafe { Mmap::map(&file) }
            .map(Input)
            .map_err(|e| Error::io(path.display(), e))
    }
}

impl ndjson::Pages for Input {
    /// Maps the pages of `range` in one call: touched one by one, each 4 KB page was a fault of
    /// its own (a million workers' month is 1.8 million pages, read twice: hashed, then
    /// decoded). Advice only: if the kernel refuses, each page is faulted in as it is read.
    fn load(&self, range: std::ops::Range<usize>) {
        let _ = self.0.advise_range(Advice::PopulateRead, range.start, range.len());
    }

    /// Drops the pages of `range` from this process: read again, they come back from the
    /// page cache (or the file). Advice only: if the kernel refuses, the pages just stay.
    fn release(&self, range: std::ops::Range<usize>) {
        // SAFETY: the map is a read-only, file-backed one: dropping its pages changes no byte
        // any slice of it reads, only where the next read finds them.
        let _ = unsafe {
            self.0
                .unchecked_advise_range(UncheckedAdvice::DontNeed, range.start, range.len())
        };
    }
}

impl std::ops::Deref for Input {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

fn missing(dir: &Path, name: &str) -> Error {
    Error::input(dir.display(), format!("missing {name}"))
}

/// BLAKE3, not SHA-256: inputs run to gigabytes, and on cores without SHA extensions SHA-256
/// alone took a quarter of a 100k-worker run (event files are hashed the same way, as they are
/// folded). Read a piece at a time, each given back once hashed; `None` once `stop` is set.
fn digest(name: &str, input: &Input, stop: &AtomicBool) -> Option<InputDigest> {
    const PIECE: usize = 64 << 20;
    let mut hasher = blake3::Hasher::new();
    for start in (0..input.len()).step_by(PIECE) {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        let end = (start + PIECE).min(input.len());
        input.load(start..end);
        hasher.update(&input[start..end]);
        input.release(start..end);
    }
    Some(input_digest(name, input.len(), &hasher))
}

/// What the manifest records of a file of `bytes`, hashed whole into `hasher`.
fn input_digest(name: &str, bytes: usize, hasher: &blake3::Hasher) -> InputDigest {
    InputDigest {
        name: name.to_string(),
        bytes: bytes as u64,
        blake3: hasher.finalize().to_hex().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_the_files_blake3_unless_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attendance.ndjson");
        let bytes = vec![b'x'; (64 << 20) + 5];
        std::fs::write(&path, &bytes).unwrap();
        let input = Input::map(&path).unwrap();

        let digest_of = |stop: bool| digest("attendance.ndjson", &input, &AtomicBool::new(stop));
        let whole = digest_of(false).unwrap();
        assert_eq!(whole.blake3, blake3::hash(&bytes).to_hex().to_string());
        assert_eq!(whole.bytes, bytes.len() as u64);
        assert!(digest_of(true).is_none());
    }
}
