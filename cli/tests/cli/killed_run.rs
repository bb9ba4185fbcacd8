//! `payroll run` killed with SIGKILL while it writes its results: a run is visible only once
//! it is complete (its run record is written last), so `payroll query` never counts a part of
//! one, and the run that follows counts once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Every run directory under the results tree.
fn run_dirs(out: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut pending = vec![out.join("results")];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.file_name().unwrap().to_string_lossy().starts_with("run_id=") {
                dirs.push(path);
            } else if path.is_dir() {
                pending.push(path);
            }
        }
    }
    dirs
}

fn run_id(dir: &Path) -> String {
    let name = dir.file_name().unwrap().to_string_lossy();
    name.strip_prefix("run_id=").unwrap().to_string()
}

/// The query's one value; with no complete run in `out`, the error says so and the count is 0.
fn query(out: &Path, sql: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_payroll"))
        .args(["query", "--out", &out.display().to_string(), "--csv", sql])
        .output()
        .unwrap();
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains("no complete run here yet"), "{said}");
        return "0".to_string();
    }
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string()
}

#[test]
fn a_run_killed_while_it_writes_is_never_seen_and_the_next_run_counts_once() {
    let out = tempfile::tempdir().unwrap();
    let workers = 80;
    let mut killed_mid_write = 0;
    for _ in 0..8 {
        let before = run_dirs(out.path());
        let mut child = Command::new(env!("CARGO_BIN_EXE_payroll"))
            .args(run_args(&sample(), &out.path().display().to_string(), &[]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // SIGKILL as soon as the run's first results file is there: in the middle of its writes.
        let started = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if run_dirs(out.path()).len() > before.len() {
                child.kill().unwrap();
                child.wait().unwrap();
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the run wrote nothing in 60 s"
            );
        }

        let complete: Vec<String> = run_dirs(out.path())
            .iter()
            .map(|d| run_id(d))
            .filter(|id| out.path().join(format!("runs/{id}.json")).exists())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let this_run: Vec<PathBuf> = run_dirs(out.path())
            .into_iter()
            .filter(|d| !before.contains(d))
            .collect();
        if this_run
            .iter()
            .any(|d| !out.path().join(format!("runs/{}.json", run_id(d))).exists())
        {
            killed_mid_write += 1;
        }
        // Only complete runs are read, each whole.
        assert_eq!(
            query(out.path(), "SELECT count(*) FROM results"),
            (complete.len() * workers).to_string()
        );
        assert_eq!(
            query(out.path(), "SELECT count(DISTINCT run_id) FROM results"),
            complete.len().to_string()
        );
    }
    assert!(
        killed_mid_write > 0,
        "no run was caught mid-write: the test did not test what it says"
    );
    eprintln!("{killed_mid_write} of 8 runs killed with their results partly written");

    // The next run is whole, and `latest` counts each worker once, with the expected pay.
    assert!(run(&sample(), out.path()).status.success());
    assert_eq!(query(out.path(), "SELECT count(*) FROM latest"), workers.to_string());
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(assert_pays_expected(out.path(), "after runs killed mid-write"));
}
