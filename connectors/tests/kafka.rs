//! The stream against a real broker (tansu) and, for faults a real broker cannot easily give,
//! librdkafka's mock cluster: dead letters with their headers (masked), events waiting for a
//! master that comes later, a checkpoint write that fails, dead letters the broker refuses, a
//! broker that goes away.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::broker::Broker;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult,
};
use payroll_connectors::Store;
use payroll_connectors::checkpoints::Checkpoints;
use payroll_connectors::files::read_sites;
use payroll_connectors::kafka::{KafkaConfig, StreamConfig, StreamReport, Topics, ensure_topics, stream};
use payroll_engine::Ledger;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

const PARTITIONS: usize = 2;

fn sites() -> Ledger {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/data/sample/sites.csv");
    Ledger::new(read_sites(&path).unwrap())
}

fn kafka(brokers: &str, group: &str) -> KafkaConfig {
    KafkaConfig {
        brokers: brokers.to_string(),
        group: group.to_string(),
        options: vec![],
    }
}

fn worker(id: &str) -> String {
    format!(
        r#"{{"worker_id": "{id}", "org_id": "org0", "site_id": "S00", "name": "A Worker", "gender": "F", "state": "MH",
        "skill": "skilled", "designation": "", "pay_basis": "daily", "rate": "700.00", "pf_applicable": true,
        "esi_applicable": "true", "uan": "", "esic_no": "", "bank_account": "494833411340", "ifsc": "SBIN0001234",
        "pan": "ABCDE1234F", "joined_on": "2025-01-01", "exited_on": ""}}"#
    )
}

fn punch(worker: &str, n: usize) -> String {
    let (day, direction) = (1 + (n / 2) % 28, if n.is_multiple_of(2) { "in" } else { "out" });
    let hour = if n.is_multiple_of(2) { 3 } else { 12 };
    format!(
        r#"{{"event_id": "{worker}-{n}", "worker_id": "{worker}", "ts": "2026-10-{day:02}T{hour:02}:30:00Z", "direction": "{direction}"}}"#
    )
}

struct Producing(ThreadedProducer<DefaultProducerContext>);

impl Producing {
    fn new(brokers: &str) -> Self {
        Producing(kafka(brokers, "test").producer().create().unwrap())
    }

    fn send(&self, topic: &str, key: &str, payload: &str) {
        self.0
            .send(BaseRecord::to(topic).key(key).payload(payload))
            .map_err(|(e, _)| e)
            .unwrap();
    }

    fn flush(&self) {
        self.0.flush(Duration::from_secs(30)).unwrap();
    }
}

fn config(brokers: &str, group: &str, state: Store) -> StreamConfig {
    StreamConfig {
        kafka: kafka(brokers, group),
        topics: Topics::default(),
        sites: sites(),
        state: Checkpoints::new(state, None),
        checkpoint_every: Duration::from_millis(200),
        live: None,
        until_caught_up: true,
        report_every: Duration::from_secs(60),
        status: Default::default(),
    }
}

/// librdkafka's mock cluster with the source and dead-letter topics, and its address.
fn mock_cluster() -> (MockCluster<'static, DefaultProducerContext>, String) {
    let cluster = MockCluster::new(1).unwrap();
    for topic in Topics::default().names() {
        cluster.create_topic(topic, PARTITIONS as i32, 1).unwrap();
        cluster
            .create_topic(&Topics::dead_letter(topic), PARTITIONS as i32, 1)
            .unwrap();
    }
    let brokers = cluster.bootstrap_servers();
    (cluster, brokers)
}

fn run_until_caught_up(runtime: &tokio::runtime::Runtime, config: StreamConfig) -> StreamReport {
    stream(config, Arc::new(AtomicBool::new(false)), runtime.handle().clone()).unwrap()
}

fn create_topics(runtime: &tokio::runtime::Runtime, brokers: &str) {
    runtime
        .block_on(ensure_topics(
            &kafka(brokers, "test"),
            &Topics::default().names(),
            PARTITIONS,
        ))
        .unwrap();
}

fn punches_of(state: &Store, worker: &str) -> usize {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // No checkpoint yet counts as nothing folded.
    let merged = runtime
        .block_on(Checkpoints::new(state.clone(), None).merged(&sites()))
        .ok();
    merged
        .and_then(|m| m.ledger.state(worker).map(|s| s.punch_count()))
        .unwrap_or(0)
}

#[test]
fn a_master_record_moving_a_worker_to_another_org_is_a_dead_letter_with_its_reason() {
    let broker = Broker::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    create_topics(&runtime, &broker.address);
    let producer = Producing::new(&broker.address);
    producer.send("workers", "W1", &worker("W1"));
    // Another org's record for W1, at its own site and with its own account: a takeover.
    let takeover = worker("W1")
        .replace(r#""org0""#, r#""org1""#)
        .replace("S00", "S12")
        .replace("494833411340", "111122223333");
    producer.send("workers", "W1", &takeover);
    producer.flush();

    let state = Store::new(Arc::new(InMemory::new()), "memory:///".parse().unwrap());
    let report = run_until_caught_up(&runtime, config(&broker.address, "takeover", state));
    assert_eq!(report.counters.dead_letters.get("workers"), Some(&1));
    let letter = read_one(&broker.address, "workers.dlq");
    assert_eq!(letter.header("field"), "org_id");
    assert_eq!(
        letter.header("reason"),
        "`W1` is a worker of another org: a worker belongs to one org, and an org cannot take over another's worker"
    );
    assert_eq!(letter.header("source_offset"), "1");
}

#[test]
fn refused_messages_go_to_dead_letter_topics_and_events_wait_for_their_worker() {
    let broker = Broker::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    create_topics(&runtime, &broker.address);
    let producer = Producing::new(&broker.address);
    // Punches before the worker master knows W1: they must wait, not be refused.
    for n in 0..10 {
        producer.send("attendance", "W1", &punch("W1", n));
    }
    let bad = r#"{"event_id": "bad-1", "worker_id": "W1", "direction": "in"}"#;
    producer.send("attendance", "W1", bad);
    producer.send("workers", "W2", &worker("W2").replace("S00", "S99"));
    producer.send("workers", "W1", &worker("W1"));
    producer.flush();

    let state = Store::new(Arc::new(InMemory::new()), "memory:///".parse().unwrap());
    let report = run_until_caught_up(&runtime, config(&broker.address, "dlq", state.clone()));
    assert_eq!(report.counters.folded, 11);
    assert_eq!(report.counters.dead_letters.get("attendance"), Some(&1));
    assert_eq!(report.counters.dead_letters.get("workers"), Some(&1));
    assert_eq!(punches_of(&state, "W1"), 10);

    let letter = read_one(&broker.address, "attendance.dlq");
    assert_eq!(letter.payload, bad.as_bytes());
    assert_eq!(letter.key.as_deref(), Some(&b"W1"[..]));
    assert_eq!(letter.header("field"), "ts");
    assert_eq!(letter.header("reason"), "missing");
    assert_eq!(letter.header("source_topic"), "attendance");
    assert_eq!(letter.header("source_offset"), "10");
    let letter = read_one(&broker.address, "workers.dlq");
    assert_eq!(letter.header("field"), "site_id");
    assert!(letter.header("reason").contains("unknown site `S99`"));
    // The refused master record's bank account and PAN are masked; the rest is as sent.
    let payload: serde_json::Value = serde_json::from_slice(&letter.payload).unwrap();
    assert_eq!(payload["bank_account"], "XXXXXXXX1340");
    assert_eq!(payload["pan"], "XXXXX1234X");
    assert_eq!(
        (&payload["worker_id"], &payload["site_id"]),
        (&"W2".into(), &"S99".into())
    );
    let text = String::from_utf8_lossy(&letter.payload);
    assert!(!text.contains("494833411340") && !text.contains("ABCDE1234F"), "{text}");
}

/// The broker refuses the dead letters (librdkafka's mock cluster answers every produce request
/// with an error): the shard's checkpoint never moves past the refused message, the stream
/// says so, and once the broker takes them again the dead letter arrives and the shard moves on.
#[test]
fn a_checkpoint_waits_for_its_dead_letters_to_be_delivered() {
    let (cluster, brokers) = mock_cluster();
    let producer = Producing::new(&brokers);
    producer.send("workers", "W1", &worker("W1"));
    for n in 0..10 {
        producer.send("attendance", "W1", &punch("W1", n));
    }
    producer.send(
        "attendance",
        "W1",
        r#"{"event_id": "bad-1", "worker_id": "W1", "direction": "in"}"#,
    );
    producer.flush();

    let refused = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 100_000];
    cluster.request_errors(RDKafkaApiKey::Produce, &refused);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let state = Store::new(Arc::new(InMemory::new()), "memory:///".parse().unwrap());
    // Only the stream's last checkpoint is certain to come after the bad line: a periodic one
    // taken before it was polled (the worker's record alone, on a busy machine) is right to be
    // written, and would make the count below 1.
    let before_the_end = StreamConfig {
        checkpoint_every: Duration::from_secs(3600),
        ..config(&brokers, "undelivered", state.clone())
    };
    let report = run_until_caught_up(&runtime, before_the_end);
    assert_eq!(report.counters.dead_letters.get("attendance"), Some(&1));
    assert!(report.counters.undelivered_dead_letters > 0, "{:?}", report.counters);
    assert!(report.counters.failed_checkpoints > 0, "{:?}", report.counters);
    assert_eq!(
        report.counters.checkpoints, 0,
        "no checkpoint past an undelivered dead letter"
    );
    assert_eq!(punches_of(&state, "W1"), 0);

    cluster.clear_request_errors(RDKafkaApiKey::Produce);
    let report = run_until_caught_up(&runtime, config(&brokers, "undelivered", state.clone()));
    assert_eq!(
        report.counters.dead_letters.get("attendance"),
        Some(&1),
        "refused again, sent"
    );
    assert_eq!(report.counters.undelivered_dead_letters, 0);
    assert_eq!(punches_of(&state, "W1"), 10);
    let letter = read_one(&brokers, "attendance.dlq");
    assert_eq!(letter.header("field"), "ts");
}

struct Letter {
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    headers: Vec<(String, String)>,
}

impl Letter {
    fn header(&self, key: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .map_or_else(|| panic!("no header {key}"), |(_, v)| v.as_str())
    }
}

/// The one message of a topic, from whichever partition has it.
fn read_one(brokers: &str, topic: &str) -> Letter {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "reader")
        .set("fetch.wait.max.ms", "10")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.unwrap();
            let headers = message.headers().map_or_else(Vec::new, |h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_string(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            });
            return Letter {
                key: message.key().map(<[u8]>::to_vec),
                payload: message.payload().unwrap_or_default().to_vec(),
                headers,
            };
        }
    }
    panic!("nothing on {topic}");
}

/// Fails every write under `checkpoints/` while `failing` is set.
#[derive(Debug)]
struct FlakyStore {
    inner: InMemory,
    failing: Arc<AtomicBool>,
}

impl std::fmt::Display for FlakyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FlakyStore")
    }
}

#[async_trait]
impl ObjectStore for FlakyStore {
    async fn put_opts(
        &self,
        location: &StorePath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if self.failing.load(Ordering::Relaxed) && location.as_ref().starts_with("checkpoints/") {
            return Err(object_store::Error::Generic {
                store: "FlakyStore",
                source: "injected write failure".into(),
            });
        }
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &StorePath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(&self, location: &StorePath, options: GetOptions) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<StorePath>>,
    ) -> BoxStream<'static, object_store::Result<StorePath>> {
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&StorePath>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&StorePath>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(&self, from: &StorePath, to: &StorePath, options: CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// The group's committed offset of each attendance partition.
fn committed(brokers: &str, group: &str) -> Vec<Offset> {
    let consumer: BaseConsumer = kafka(brokers, group).consumer().create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS as i32 {
        tpl.add_partition("attendance", p);
    }
    let committed = consumer.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    committed.elements().iter().map(|e| e.offset()).collect()
}

#[test]
fn a_failed_checkpoint_keeps_the_previous_one_and_the_offsets_uncommitted() {
    let broker = Broker::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    create_topics(&runtime, &broker.address);
    let producer = Producing::new(&broker.address);
    producer.send("workers", "W1", &worker("W1"));
    for n in 0..20 {
        producer.send("attendance", "W1", &punch("W1", n));
    }
    producer.flush();
    let failing = Arc::new(AtomicBool::new(false));
    let flaky = FlakyStore {
        inner: InMemory::new(),
        failing: Arc::clone(&failing),
    };
    let state = Store::new(Arc::new(flaky), "memory:///".parse().unwrap());
    let checkpoints = Checkpoints::new(state.clone(), None);

    run_until_caught_up(&runtime, config(&broker.address, "flaky", state.clone()));
    let before = runtime.block_on(checkpoints.names()).unwrap();
    let committed_before = committed(&broker.address, "flaky");
    assert!(
        committed_before
            .iter()
            .any(|o| matches!(o, Offset::Offset(n) if *n > 0))
    );

    for n in 20..30 {
        producer.send("attendance", "W1", &punch("W1", n));
    }
    producer.flush();
    failing.store(true, Ordering::Relaxed);
    let report = run_until_caught_up(&runtime, config(&broker.address, "flaky", state.clone()));
    assert!(report.counters.failed_checkpoints > 0);
    assert_eq!(
        runtime.block_on(checkpoints.names()).unwrap(),
        before,
        "the previous checkpoints stay current"
    );
    assert_eq!(
        committed(&broker.address, "flaky"),
        committed_before,
        "offsets stay uncommitted"
    );
    assert_eq!(punches_of(&state, "W1"), 20);

    failing.store(false, Ordering::Relaxed);
    let report = run_until_caught_up(&runtime, config(&broker.address, "flaky", state.clone()));
    assert_eq!(report.counters.failed_checkpoints, 0);
    assert_eq!(
        report.counters.folded, 10,
        "the next attempt reads what was not checkpointed, once"
    );
    assert_eq!(punches_of(&state, "W1"), 30);
    assert_ne!(committed(&broker.address, "flaky"), committed_before);
}

/// The broker goes away (librdkafka's mock cluster takes its broker down) while the stream runs:
/// it keeps retrying, stays up, and folds everything once the broker is back.
#[test]
fn the_stream_rides_out_a_broker_outage() {
    let outage = Duration::from_secs(
        std::env::var("PAYROLL_TEST_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    );
    let (cluster, brokers) = mock_cluster();
    let producer = Producing::new(&brokers);
    producer.send("workers", "W1", &worker("W1"));
    for n in 0..20 {
        producer.send("attendance", "W1", &punch("W1", n));
    }
    producer.flush();

    let state = Store::new(Arc::new(InMemory::new()), "memory:///".parse().unwrap());
    let mut stream_config = config(&brokers, "outage", state.clone());
    stream_config.until_caught_up = false;
    let streaming = Running::start(stream_config);
    wait_for(|| punches_of(&state, "W1") == 20);

    cluster.broker_down(1).unwrap();
    for n in 20..40 {
        producer.send("attendance", "W1", &punch("W1", n));
    }
    std::thread::sleep(outage);
    assert!(!streaming.is_finished(), "the stream stays up while the broker is away");
    cluster.broker_up(1).unwrap();
    producer.flush();
    wait_for(|| punches_of(&state, "W1") == 40);
    assert_eq!(streaming.stop().counters.folded, 41);
}

/// The stream counts as running (the service's `/readyz`) once it polls, not from its first
/// report: a report asks the broker for every partition's end, and on a loaded machine a
/// service folded the sample and still said "starting" seconds later.
#[test]
fn the_stream_is_running_once_it_polls_not_from_its_first_report() {
    let (_cluster, brokers) = mock_cluster();
    let producer = Producing::new(&brokers);
    producer.send("workers", "W1", &worker("W1"));
    producer.send("attendance", "W1", &punch("W1", 0));
    producer.flush();

    let state = Store::new(Arc::new(InMemory::new()), "memory:///".parse().unwrap());
    let mut stream_config = config(&brokers, "running", state.clone());
    stream_config.until_caught_up = false;
    stream_config.report_every = Duration::from_secs(3600);
    let status = Arc::clone(&stream_config.status);
    let streaming = Running::start(stream_config);
    wait_for(|| punches_of(&state, "W1") == 1);
    assert!(
        status.running.load(Ordering::Relaxed),
        "folded and checkpointed, an hour before the first report"
    );
    streaming.stop();
}

/// A stream on a thread of its own, until [`Running::stop`].
struct Running {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<payroll_connectors::Result<StreamReport>>,
    _runtime: tokio::runtime::Runtime,
}

impl Running {
    fn start(config: StreamConfig) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, handle) = (Arc::clone(&stop), runtime.handle().clone());
            std::thread::spawn(move || stream(config, stop, handle))
        };
        Running {
            stop,
            thread,
            _runtime: runtime,
        }
    }

    fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    fn stop(self) -> StreamReport {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap().unwrap()
    }
}

fn wait_for(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(200));
    }
}
