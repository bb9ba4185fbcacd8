//! The reference month through a real broker (tansu): published in batches, consumed by
//! `payroll stream` killed with SIGKILL again and again mid-ingest, or by two instances of which
//! one dies; `payroll run --state` must then give `expected.csv` to the paisa.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::broker;
use crate::common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
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

/// A running instance whose stderr is read as it is written, so the test can see what it is
/// assigned while it runs.
struct Watched {
    child: Child,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Watched {
    fn new(mut child: Child) -> Watched {
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let reader = std::thread::spawn({
            let log = Arc::clone(&log);
            move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        Watched {
            child,
            log,
            reader: Some(reader),
        }
    }

    /// What the instance has logged so far.
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits for the instance's end; returns whether it succeeded and its whole log.
    fn wait(mut self) -> (bool, String) {
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        (status.success(), self.log())
    }

    fn kill(mut self) -> String {
        self.child.kill().unwrap();
        self.wait().1
    }

    /// SIGTERM: the instance checkpoints what it holds and leaves the group.
    fn terminate(self) -> String {
        // SIGTERM from the test itself: a fresh machine need not have a `kill` program.
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid fits pid_t");
        // SAFETY: kill(2) only sends a signal to our own child process.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let (success, log) = self.wait();
        assert!(success, "{log}");
        log
    }
}

/// A test that fails half-way leaves no instance running.
impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shards of the latest assignment an instance logged (`assigned shards=[0, 1]`); `None`
/// before its first.
fn last_assignment(log: &str) -> Option<BTreeSet<u32>> {
    log.lines().rev().filter(|l| l.contains("assigned")).find_map(|l| {
        let (_, shards) = l.split_once("shards=[")?;
        let (shards, _) = shards.split_once(']')?;
        Some(
            shards
                .split(", ")
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().expect("a shard number"))
                .collect(),
        )
    })
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
    let first = Watched::new(spawn_stream(&brokers, state.path(), &session));
    let second = Watched::new(spawn_stream(&brokers, state.path(), &session));
    produce(&brokers, &dirs[1]);
    let all: BTreeSet<u32> = (0..PARTITIONS.parse().unwrap()).collect();
    wait_for("both instances to be assigned", Duration::from_secs(60), || {
        match (last_assignment(&first.log()), last_assignment(&second.log())) {
            (Some(one), Some(other)) => one.union(&other).eq(&all),
            _ => false,
        }
    });
    // Time for both to settle on the split and for the first to checkpoint some of its shards.
    std::thread::sleep(Duration::from_secs(3));
    let second_held = last_assignment(&second.log()).unwrap();
    let first_log = first.kill();
    // A takeover only if the dead instance held partitions the survivor did not: had the
    // first held nothing, or the second everything already, the rest proves nothing.
    let first_held = last_assignment(&first_log).unwrap();
    assert!(
        !first_held.is_empty() && first_held.is_disjoint(&second_held) && first_held.is_subset(&all),
        "the killed instance held {first_held:?}, the survivor {second_held:?}: not a split of {all:?}"
    );
    assert_ne!(first_held, all, "the killed instance held every partition");
    for dir in &dirs[2..] {
        produce(&brokers, dir);
    }
    wait_for("the survivor to catch up", Duration::from_secs(90), || {
        checkpointed(state.path()) == messages as i64
    });
    let second_log = second.terminate();
    let split = |log: &str| {
        log.lines()
            .filter(|l| l.contains("assigned"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    eprintln!("first: {:?}\nsecond: {:?}", split(&first_log), split(&second_log));
    assert!(
        last_assignment(&second_log).as_ref() == Some(&all),
        "the survivor ends with every shard"
    );
    block_on(assert_state_pays_expected(state.path()));
}
