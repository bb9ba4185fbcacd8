//! Fuzz targets: every decoder of bytes from outside (topic messages, the workers CSV,
//! attendance summaries, rulesets, checkpoints), each as a function of arbitrary bytes. The
//! property is that no input panics, hangs or allocates without bound: a bad input is an error.
//!
//! The functions live here, not in the cargo-fuzz package (`libfuzzer/`), so that the committed
//! corpus replays in `cargo test` (`tests/replay.rs`) without libFuzzer or a nightly toolchain.
//! `scripts/fuzz` runs them under libFuzzer.

use std::path::Path;
use std::sync::LazyLock;

use payroll_connectors::DeadLetters;
use payroll_connectors::files::{WORKER_COLUMNS, fold_summary, fold_workers};
use payroll_engine::{Checkpoint, Feed, Ledger, Site, Worker};
use payroll_rules::Ruleset;

/// The libFuzzer binaries' setup. libfuzzer-sys aborts on every panic, even one a decoder
/// catches and returns as its error (`summary.rs` in the connectors does so around the
/// third-party XLSX and Parquet readers); this hook only prints it. A panic that escapes a
/// target still ends the run: libfuzzer-sys aborts when the target unwinds.
pub fn init() {
    std::panic::set_hook(Box::new(|panic| eprintln!("{panic}")));
}

/// A fuzz target: bytes in, no panic out.
pub type Target = fn(&[u8]);

/// Every target by name: the name is its corpus folder and its cargo-fuzz binary.
pub const TARGETS: &[(&str, Target)] = &[
    ("events", events),
    ("workers_csv", workers_csv),
    ("summary_csv", summary_csv),
    ("summary_xlsx", summary_xlsx),
    ("summary_parquet", summary_parquet),
    ("ruleset", ruleset),
    ("checkpoint", checkpoint),
];

/// A message of one of the four topics, the first byte choosing which, folded as the stream
/// folds it.
pub fn events(data: &[u8]) {
    let Some((&topic, message)) = data.split_first() else {
        return;
    };
    let mut ledger = ledger();
    match Feed::ALL.get(usize::from(topic % 4)) {
        Some(feed) => {
            assert!(
                *feed != Feed::Attendance || payroll_engine::event::punch_scan_agrees(message),
                "the punch scanner and the general decoder disagree"
            );
            if let Ok(event) = feed.decode(message) {
                ledger.apply(event);
            }
        }
        None => {
            if let Ok(worker) = Worker::decode_json(message) {
                let _ = ledger.upsert_worker(worker);
            }
        }
    }
}

/// A `workers.csv`, as an input folder's is read.
pub fn workers_csv(data: &[u8]) {
    let _ = fold_workers(
        Path::new("workers.csv"),
        data,
        &mut ledger(),
        &mut DeadLetters::default(),
    );
}

pub fn summary_csv(data: &[u8]) {
    summary("attendance_summary.csv", data);
}

pub fn summary_xlsx(data: &[u8]) {
    summary("attendance_summary.xlsx", data);
}

pub fn summary_parquet(data: &[u8]) {
    summary("attendance_summary.parquet", data);
}

/// An attendance summary in the format its name's extension names, folded into the ledger.
fn summary(name: &str, data: &[u8]) {
    let _ = fold_summary(name, Path::new(name), data, &mut ledger(), &mut DeadLetters::default());
}

/// A ruleset's text: parsed, validated and every version compiled. Table files are looked up
/// beside a file that does not exist, so a `file = "..."` table finds nothing by accident.
pub fn ruleset(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Ruleset::parse(text, Path::new("/nonexistent/payroll-fuzz/ruleset.toml"));
    }
}

/// A checkpoint restored against the fixed sites.
pub fn checkpoint(data: &[u8]) {
    let _ = Checkpoint::decode(data, &SITES);
}

/// Rows of `sites.csv`: the sites of the sample folder and of `payroll gen`.
const SITES_CSV: &str = "\
S00,org0,Site MH-00,MH,Asia/Kolkata,SUN
S01,org0,Site KA-01,KA,Asia/Kolkata,SUN
S02,org0,Site TN-02,TN,Asia/Kolkata,SUN
S03,org0,Site DL-03,DL,Asia/Kolkata,SUN
S10,org1,Site MH-10,MH,Asia/Kolkata,SAT
S11,org1,Site KA-11,KA,Asia/Kolkata,SAT
S12,org1,Site TN-12,TN,Asia/Kolkata,SAT
S13,org1,Site DL-13,DL,Asia/Kolkata,SUN
S20,org2,Hosur Electronics Plant,TN,Asia/Kolkata,SAT
S21,org2,Naraina Print Works,DL,Asia/Kolkata,SUN";
const SITE_COLUMNS: [&str; 6] = ["site_id", "org_id", "name", "state", "timezone", "weekly_off"];

/// Rows of `workers.csv`.
const WORKERS_CSV: &str = "\
W000000,org0,S00,Worker 0,M,MH,unskilled,Unskilled Worker,daily,783.00,true,true,100000000000,3100000000,494833411340,SBIN0001234,ABCDE0000F,2026-10-29,
W000001,org1,S10,Worker 1,F,MH,skilled,Fitter,monthly,21000.00,true,false,100000000001,3100000001,441782430832,SBIN0001234,ABCDE0001F,2025-07-24,2026-10-15";

/// A row of one of the files above as a decoder's named fields.
fn fields<'a>(columns: &'a [&str], row: &'a str) -> impl Fn(&str) -> Option<&'a str> {
    move |name| {
        columns
            .iter()
            .position(|c| *c == name)
            .and_then(|i| row.split(',').nth(i))
    }
}

/// The fixed sites (configuration: every target gets the same).
#[allow(clippy::expect_used, reason = "the fixed sites are valid, or no target runs")]
static SITES: LazyLock<Ledger> = LazyLock::new(|| {
    Ledger::new(
        SITES_CSV
            .lines()
            .map(|row| Site::decode(fields(&SITE_COLUMNS, row)).expect("the fixed sites are valid")),
    )
});

#[allow(clippy::expect_used, reason = "the fixed workers are valid, or no target runs")]
static FIXED_WORKERS: LazyLock<Vec<Worker>> = LazyLock::new(|| {
    WORKERS_CSV
        .lines()
        .map(|row| Worker::decode(fields(&WORKER_COLUMNS, row)).expect("the fixed workers are valid"))
        .collect()
});

/// A fresh ledger over the fixed sites with the fixed workers, so that inputs naming them go
/// past the unknown-worker check.
#[allow(clippy::expect_used, reason = "the fixed workers' sites are among the fixed sites")]
fn ledger() -> Ledger {
    let mut ledger = SITES.empty_like();
    for worker in FIXED_WORKERS.iter().cloned() {
        ledger
            .upsert_worker(worker)
            .expect("the fixed workers' sites are known");
    }
    ledger
}
