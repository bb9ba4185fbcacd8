//! The reference month through a real broker (tansu): published in batches, consumed by
//! `payroll stream` killed with SIGKILL again and again mid-ingest, or by two instances of which
//! one dies; `payroll run --state` must then give `expected.csv` to the paisa.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

#[path = "../../connectors/tests/common/broker.rs"]
mod broker;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use broker::Broker;
use common::*;
use payroll_connectors::Store;
use payroll_connectors::checkpoints::Checkpoints;
use payroll_connectors::files::read_sites;
use payroll_engine::Ledger;
use rdkafka::mocking::MockCluster;

const PARTITIONS: &str = "4";
/// Short, so a killed instance leaves the group soon.
const SESSION: Duration = Duration::from_secs(2);
const EVENT_FILES: [&str; 3] = ["attendance.ndjson", "leave.ndjson", "adjustments.ndjson"];

/// The sample split into `n` folders of interleaved lines, the worker master in the last one:
/// events published before their worker exists must wait for it.
fn batches(n: usize) -> (tempfile::TempDir, Vec<PathBuf>, usize) {
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..n).map(|i| root.path().join(format!("batch-{i}"))).collect();
    let mut messages = 0;
    for dir in &dirs {
        std::fs::create_dir(dir).unwrap();
    }
    for file in EVENT_FILES {
        let text = std::fs::read_to_string(sample().join(file)).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        messages += lines.len();
        for (i, dir) in dirs.iter().enumerate() {
            let part: Vec<&str> = lines.iter().skip(i).step_by(n).copied().collect();
            std::fs::write(dir.join(file), part.join("\n") + "\n").unwrap();
        }
    }
    let workers = std::fs::read_to_string(sample().join("workers.csv")).unwrap();
    messages += workers.lines().count() - 1;
    std::fs::write(dirs[n - 1].join("workers.csv"), workers).unwrap();
    (root, dirs, messages)
}

fn produce(brokers: &str, dir: &Path) {
    let output = payroll(&[
        "produce",
        "--brokers",
        brokers,
        "--inputs",
        &dir.display().to_string(),
        "--partitions",
        PARTITIONS,
    ]);
    assert!(output.status.success());
}

fn stream_args(brokers: &str, state: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "stream",
        "--brokers",
        brokers,
        "--sites",
        &sample().join("sites.csv").display().to_string(),
        "--rules",
        &rules().display().to_string(),
        "--state",
        &state.display().to_string(),
        "--period",
        PERIOD,
        "--checkpoint-every",
        "100ms",
        "--live-every",
        "500ms",
        "-X",
        &format!("session.timeout.ms={}", SESSION.as_millis()),
        "-X",
        "heartbeat.interval.ms=500",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn spawn_stream(brokers: &str, state: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_payroll"))
        .args(stream_args(brokers, state, extra))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Messages the state's checkpoints hold, all shards.
fn checkpointed(state: &Path) -> i64 {
    let sites = Ledger::new(read_sites(&sample().join("sites.csv")).unwrap());
    let checkpoints = Checkpoints::new(Store::open(&state.display().to_string()).unwrap(), None);
    block_on(checkpoints.merged(&sites)).map_or(0, |m| m.offsets.values().sum())
}

/// `payroll run --state` of the reference period, compared with `expected.csv`; returns the
/// run's output.
async fn assert_state_pays_expected(state: &Path) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let output = payroll(&[
        "run",
        "--period",
        PERIOD,
        "--state",
        &state.display().to_string(),
        "--sites",
        &sample().join("sites.csv").display().to_string(),
        "--rules",
        &rules().display().to_string(),
        "--out",
        &out.path().display().to_string(),
    ]);
    assert!(output.status.success());
    assert_pays_expected(out.path(), "from the stream's state").await;
    let manifest = std::fs::read_dir(out.path().join("results/org_id=org0/period=2026-10"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("_manifest.json");
    let manifest = std::fs::read_to_string(manifest).unwrap();
    assert!(
        manifest.contains("\"attendance/0\""),
        "the manifest records the offsets: {manifest}"
    );
    out
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(future)
}

/// A pseudo-random delay between `low` and `high` ms; the seed is printed so a failure can be
/// replayed with PAYROLL_TEST_SEED.
fn delays(low: u64, high: u64) -> impl FnMut() -> Duration {
    let seed: u64 = std::env::var("PAYROLL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("PAYROLL_TEST_SEED={seed}");
    let mut state = seed | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        Duration::from_millis(low + state % (high - low))
    }
}

#[test]
fn killed_with_sigkill_again_and_again_the_stream_still_pays_exactly() {
    let broker = Broker::start();
    let state = tempfile::tempdir().unwrap();
    let (_root, dirs, messages) = batches(7);
    let mut delay = delays(300, 2500);
    let mut kills_mid_ingest = 0;
    for dir in &dirs {
        let mut stream = spawn_stream(&broker.address, state.path(), &[]);
        produce(&broker.address, dir);
        std::thread::sleep(delay());
        stream.kill().unwrap();
        stream.wait().unwrap();
        let held = checkpointed(state.path());
        eprintln!("killed with {held} of {messages} messages checkpointed");
        if held < messages as i64 {
            kills_mid_ingest += 1;
        }
        // tansu gives a member that joins while a dead one is still in the group only part of
        // the partitions, and does not reassign the dead one's when it evicts it (README,
        // "Brokers"): let the killed instance's session expire first.
        std::thread::sleep(SESSION + Duration::from_millis(500));
    }
    assert!(
        kills_mid_ingest >= 5,
        "only {kills_mid_ingest} kills came before the end of ingest"
    );

    let output = payroll(&stream_args(&broker.address, state.path(), &["--until-caught-up"]));
    assert!(output.status.success());
    assert_eq!(checkpointed(state.path()), messages as i64);
    let run = block_on(assert_state_pays_expected(state.path()));

    // The live results of the open period agree with the run, worker for worker.
    let query = |source: &str, dir: &Path, sql: &str| {
        let output = payroll(&["query", source, &dir.display().to_string(), "--csv", sql]);
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let columns = "worker_id, org_id, gross, total_deductions, net_pay, employer_cost";
    let live = query(
        "--state",
        state.path(),
        &format!("SELECT {columns} FROM live ORDER BY worker_id"),
    );
    let paid = query(
        "--out",
        run.path(),
        &format!("SELECT {columns} FROM latest ORDER BY worker_id"),
    );
    let expected = std::fs::read_to_string(sample().join("expected.csv")).unwrap();
    assert_eq!(live.lines().count(), expected.lines().count(), "{live}");
    assert_eq!(live, paid, "live results against the run");
}

/// SIGTERM: the instance checkpoints what it holds and leaves the group.
fn terminate(child: Child) -> String {
    // SIGTERM from the test itself: a fresh machine need not have a `kill` program.
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    // SAFETY: kill(2) only sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn wait_for(what: &str, timeout: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Two real processes, one killed with SIGKILL, on librdkafka's mock cluster: tansu 0.6 leaves
/// a dead member's partitions with it after evicting it, so a survivor never takes them over
/// there (README, "Kafka").
#[test]
fn a_second_instance_takes_over_the_partitions_of_one_that_dies() {
    let cluster = MockCluster::new(1).unwrap();
    for topic in ["attendance", "leave", "adjustments", "workers"] {
        cluster.create_topic(topic, 4, 1).unwrap();
        cluster.create_topic(&format!("{topic}.dlq"), 4, 1).unwrap();
    }
    let brokers = cluster.bootstrap_servers();
    let state = tempfile::tempdir().unwrap();
    let (_root, dirs, messages) = batches(4);
    produce(&brokers, &dirs[0]);
    // With the 2 s session of the SIGKILL test the survivor did not take over on the mock
    // cluster within 90 s (not investigated further); 6 s, as in production setups, works.
    let session = ["-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=2000"];
    let mut first = spawn_stream(&brokers, state.path(), &session);
    let second = spawn_stream(&brokers, state.path(), &session);
    produce(&brokers, &dirs[1]);
    std::thread::sleep(Duration::from_secs(4));
    first.kill().unwrap();
    let first_log = String::from_utf8_lossy(&first.wait_with_output().unwrap().stderr).into_owned();
    for dir in &dirs[2..] {
        produce(&brokers, dir);
    }
    wait_for("the survivor to catch up", Duration::from_secs(90), || {
        checkpointed(state.path()) == messages as i64
    });
    let second_log = terminate(second);
    let split = |log: &str| {
        log.lines()
            .filter(|l| l.contains("assigned"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    eprintln!("first: {:?}\nsecond: {:?}", split(&first_log), split(&second_log));
    assert!(
        split(&second_log).last().is_some_and(|l| l.contains("[0, 1, 2, 3]")),
        "the survivor ends with every shard"
    );
    block_on(assert_state_pays_expected(state.path()));
}
