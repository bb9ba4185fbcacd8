//! The stream: consume the source topics, fold each message into its shard, dead-letter what
//! is refused, checkpoint shards with their offsets, and keep the open period's live results
//! current by recalculating only the workers that changed.
//!
//! One thread polls the consumer and hands each batch of messages to a second thread, which
//! folds it into the shards; whichever of the two would otherwise wait decodes it. Rebalances
//! are handled inside the polls (librdkafka calls back there) once the batches in flight are
//! folded. Checkpoints, too, wait for the batches in flight, so a shard always holds every
//! message polled for it up to its offsets, and nothing past them.
//!
//! Exactly once, by construction: a checkpoint holds a shard's state and the offsets that
//! state was folded up to; a restarted or newly assigned shard is restored from it and the
//! consumer is positioned at its offsets. Offsets are committed to Kafka after the checkpoint is
//! durable, for lag monitoring only; the checkpoint is the truth. The order of a checkpoint's
//! steps is decided by `payroll_engine::commit` (pure, table-tested); this file executes them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use payroll_engine::commit::{self, Backoff, Outcome, Step};
use payroll_engine::days::LiveBoard;
use payroll_engine::live::LiveResults;
use payroll_engine::{Calculator, Invalid, Ledger, Record, Shard, Worker, inputs_batches};
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;
use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use tokio::runtime::Handle;

use super::dead_letter::DeadLetterTopics;
use super::telemetry::{Counters, StreamStatus, Telemetry};
use crate::checkpoints::{Checkpoints, Saved};
use crate::error::{Error, Result};
use crate::kafka::{KafkaConfig, Role, Topics, admin};
use crate::layout::{self, CheckpointName};
use crate::results::parquet;
use crate::{archive, locks};

/// The most messages taken from the consumer at once; fewer when its queue runs dry, so a quiet
/// stream is not held back.
const BATCH: usize = 16384;
/// Batches polled ahead of the fold: enough to keep both threads busy, few enough that a
/// rebalance or checkpoint waits only tens of milliseconds for them.
const IN_FLIGHT: usize = 4;
const DEAD_LETTER_FLUSH: Duration = Duration::from_secs(30);
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(5);

pub struct StreamConfig {
    pub kafka: KafkaConfig,
    pub topics: Topics,
    /// An empty ledger with the sites: configuration every shard shares.
    pub sites: Ledger,
    pub state: Checkpoints,
    pub checkpoint_every: Duration,
    pub live: Option<Live>,
    /// Stop once every assigned partition has been read to its end.
    pub until_caught_up: bool,
    /// How often rates and lag are logged (and `status` updated).
    pub report_every: Duration,
    /// Where another thread reads the stream's figures.
    pub status: Arc<StreamStatus>,
}

/// Live results: the period kept current, the ruleset that computes it, and how often.
pub struct Live {
    pub period: PayPeriod,
    pub ruleset: Arc<Ruleset>,
    pub every: Duration,
}

#[derive(Debug, Clone)]
pub struct StreamReport {
    pub counters: Counters,
    pub shards: Vec<u32>,
    pub elapsed: Duration,
}

/// Runs until `stop` is set (or, with `until_caught_up`, until the end of every partition),
/// then checkpoints what it holds. Blocking: call it from a thread of its own; `runtime` runs
/// the object store and calculator work.
pub fn stream(config: StreamConfig, stop: Arc<AtomicBool>, runtime: Handle) -> Result<StreamReport> {
    let started = Instant::now();
    let partitions = wait_for_topics(&config, &stop, &runtime)?;
    let dead_letters = DeadLetterTopics::new(&config.kafka)?;
    let context = StreamContext {
        shards: Mutex::new(Shards {
            owned: BTreeMap::new(),
            retired: BTreeMap::new(),
            partitions,
            sites: config.sites,
            state: config.state,
            topics: config.topics.clone(),
            dead_letters,
            runtime,
            live: config.live.map(|live| LiveState {
                live,
                calculator: Calculator::default(),
            }),
            counters: Counters::default(),
        }),
        pipeline: Pipeline::default(),
    };
    let consumer: BaseConsumer<StreamContext> = config.kafka.consumer().create_with_context(context)?;
    consumer.subscribe(&config.topics.names())?;
    // The topics are there and the stream polls from here on: ready, without waiting for the
    // first report (a second away, and its lag asks the broker about every partition).
    config.status.running.store(true, Ordering::Relaxed);

    let mut telemetry = Telemetry::new(config.report_every, Arc::clone(&config.status));
    let context = consumer.context();
    let live_every = context.lock().live.as_ref().map(|l| l.live.every);
    std::thread::scope(|scope| {
        let (to_fold, batches) = mpsc::sync_channel::<Batch<'_>>(IN_FLIGHT);
        let topics = &config.topics;
        let folding = scope.spawn(move || {
            for mut batch in batches {
                batch.decode(topics);
                context.lock().consume(batch);
                context.pipeline.folded();
            }
        });
        let mut last_checkpoint = Instant::now();
        let mut last_live = Instant::now();
        let mut last_caught_up_check = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            // Take what the consumer has queued, up to a batch, waiting only for the first.
            let generation = context.pipeline.generation();
            let mut batch = Batch::new();
            let mut idle = true;
            let mut wait = Duration::from_millis(100);
            while batch.messages.len() < BATCH {
                match consumer.poll(wait) {
                    Some(Ok(message)) => batch.messages.push(message),
                    // The broker away, a request failing: librdkafka retries on its own.
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "consumer");
                        idle = false;
                        break;
                    }
                    None => break,
                }
                wait = Duration::ZERO;
            }
            if !batch.messages.is_empty() {
                idle = false;
                // Whichever thread would otherwise wait decodes the batch: this one if the
                // folding thread is still busy, else the folding thread.
                if context.pipeline.busy() {
                    batch.decode(&config.topics);
                }
                // Polled before a rebalance that repositioned every partition: read again.
                if context.pipeline.generation() == generation && !context.pipeline.send(&to_fold, batch) {
                    break;
                }
            }
            if last_checkpoint.elapsed() >= config.checkpoint_every {
                context.pipeline.drain();
                let mut shards = context.lock();
                shards.archive(Closing::OneShard);
                shards.checkpoint_all(&consumer, CommitMode::Async);
                telemetry.checkpointed(&shards.counters);
                drop(shards);
                last_checkpoint = Instant::now();
            }
            if live_every.is_some_and(|every| last_live.elapsed() >= every) {
                context.lock().update_live();
                last_live = Instant::now();
            }
            if telemetry.due() {
                let lag = context.lag(&consumer).unwrap_or(-1);
                let shards = context.lock();
                let waiting = shards.owned.values().map(|o| o.shard.waiting()).sum();
                telemetry.report(&shards.counters, lag, shards.owned.len(), waiting);
            }
            // Asking the broker for partition ends takes a round trip per partition: only worth
            // it once the local queue has run dry.
            if config.until_caught_up && idle && last_caught_up_check.elapsed() >= Duration::from_millis(500) {
                last_caught_up_check = Instant::now();
                if context.lag(&consumer) == Some(0) {
                    break;
                }
            }
        }
        drop(to_fold);
        folding.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    });
    let mut shards = context.lock();
    // Stopping: nothing is waiting for the shards any more.
    shards.archive(Closing::EveryShard);
    shards.checkpoint_all(&consumer, CommitMode::Sync);
    shards.update_live();
    let report = StreamReport {
        counters: shards.counters.clone(),
        shards: shards.owned.keys().copied().collect(),
        elapsed: started.elapsed(),
    };
    drop(shards);
    Ok(report)
}

/// Waits for the broker and the source topics, which must exist with one partition count;
/// returns that count.
fn wait_for_topics(config: &StreamConfig, stop: &AtomicBool, runtime: &Handle) -> Result<u32> {
    let names = config.topics.names();
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    let counts = loop {
        match admin::partition_counts(&config.kafka, &names) {
            Ok(counts) => break counts,
            Err(e) if !stop.load(Ordering::Relaxed) => {
                let delay = backoff.delay();
                tracing::warn!(error = %e, brokers = config.kafka.brokers, "broker unreachable; retrying in {delay:?}");
                std::thread::sleep(delay);
            }
            Err(e) => return Err(e),
        }
    };
    let location = format!("brokers {}", config.kafka.brokers);
    if let Some(missing) = names.iter().find(|n| !counts.contains_key(**n)) {
        return Err(Error::input(
            location,
            format!(
                "no topic `{missing}`: create the source topics (`payroll produce` does) or name them with --topic-*"
            ),
        ));
    }
    let distinct: BTreeSet<usize> = counts.values().copied().collect();
    if distinct.len() > 1 {
        return Err(Error::input(
            location,
            format!(
                "the source topics have different partition counts ({counts:?}): a worker's events and master must share a partition number, so give them all the same count"
            ),
        ));
    }
    let partitions = counts.values().next().copied().unwrap_or(1);
    let dead_letter_topics: Vec<String> = names.iter().map(|n| Topics::dead_letter(n)).collect();
    let dead_letter_topics: Vec<&str> = dead_letter_topics.iter().map(String::as_str).collect();
    runtime.block_on(admin::ensure_topics(&config.kafka, &dead_letter_topics, partitions))?;
    u32::try_from(partitions).map_err(|_| Error::input(location, format!("{partitions} partitions: too many")))
}

struct StreamContext {
    shards: Mutex<Shards>,
    pipeline: Pipeline,
}

/// Batches on their way from the polling thread to the folding thread, in poll order. Polling
/// costs about as much as folding, and decoding goes to whichever is ahead, so each thread
/// keeps a core busy.
#[derive(Default)]
struct Pipeline {
    /// Batches sent and not yet folded.
    in_flight: Mutex<usize>,
    folded: Condvar,
    /// Counts rebalances: a batch polled across one is dropped, since the rebalance positioned
    /// every assigned partition at its shard's offsets, before those messages.
    generation: AtomicU64,
}

impl Pipeline {
    /// Hands a batch to the folding thread; false if that thread is gone.
    fn send<'c>(&self, to_fold: &SyncSender<Batch<'c>>, batch: Batch<'c>) -> bool {
        *self.lock() += 1;
        to_fold.send(batch).is_ok()
    }

    fn folded(&self) {
        *self.lock() -= 1;
        self.folded.notify_all();
    }

    /// Waits until every batch sent is folded: before a checkpoint or a rebalance, the shards
    /// hold everything polled.
    #[allow(clippy::expect_used, reason = "the counter is never poisoned")]
    fn drain(&self) {
        let mut in_flight = self.lock();
        while *in_flight > 0 {
            in_flight = self.folded.wait(in_flight).expect("the counter is never poisoned");
        }
    }

    /// Whether the folding thread has a batch to fold.
    fn busy(&self) -> bool {
        *self.lock() > 0
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    #[allow(clippy::expect_used, reason = "the counter is never poisoned")]
    fn lock(&self) -> MutexGuard<'_, usize> {
        self.in_flight.lock().expect("the counter is never poisoned")
    }
}

impl StreamContext {
    #[allow(clippy::expect_used, reason = "the stream thread never panics holding its shards")]
    fn lock(&self) -> MutexGuard<'_, Shards> {
        self.shards
            .lock()
            .expect("the stream thread never panics holding its shards")
    }

    /// Messages behind the partition ends, over every assigned partition; `None` when unknown.
    /// The shards' offsets are read under the lock and the broker is asked outside it (a round
    /// trip per partition), so folding goes on meanwhile. An end read after the offsets only
    /// overstates the lag: 0 means caught up.
    fn lag(&self, consumer: &BaseConsumer<StreamContext>) -> Option<i64> {
        let assigned = consumer.assignment().ok()?;
        let assignment = assigned.elements();
        if assignment.is_empty() {
            return None;
        }
        let next: Vec<(&str, i32, Option<i64>)> = {
            let shards = self.lock();
            assignment
                .iter()
                .map(|element| {
                    let (topic, partition) = (element.topic(), element.partition());
                    let shard = &shards.owned.get(&(partition as u32))?.shard;
                    Some((topic, partition, shard.offset(topic)))
                })
                .collect::<Option<_>>()?
        };
        let mut lag = 0;
        for (topic, partition, next) in next {
            let (low, high) = consumer.fetch_watermarks(topic, partition, WATERMARK_TIMEOUT).ok()?;
            if high < 0 {
                return None;
            }
            lag += (high - next.unwrap_or(low).max(low)).max(0);
        }
        Some(lag)
    }
}

impl ClientContext for StreamContext {}

impl ConsumerContext for StreamContext {
    /// Revoked shards are checkpointed and let go; assigned ones are restored from their
    /// latest checkpoint and their partitions positioned at its offsets.
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        self.pipeline.drain();
        self.pipeline.generation.fetch_add(1, Ordering::AcqRel);
        let mut shards = self.lock();
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let assignment = shards.assign(tpl);
                tracing::info!(shards = ?shards.owned.keys().collect::<Vec<_>>(), "assigned");
                if let Err(e) = consumer.assign(&assignment) {
                    tracing::error!(error = %e, "assign failed");
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                shards.revoke(consumer, tpl);
                if let Err(e) = consumer.unassign() {
                    tracing::error!(error = %e, "unassign failed");
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance failed; dropping the assignment");
                shards.revoke(consumer, tpl);
                let _ = consumer.unassign();
            }
        }
    }
}

/// Messages polled together and, once decoded, their records.
struct Batch<'c> {
    messages: Vec<BorrowedMessage<'c>>,
    /// Each message's topic's role and its record, once decoded; `None` for a topic that is
    /// not a source.
    records: Vec<Option<(Role, Result<Record, Invalid>)>>,
}

impl Batch<'_> {
    fn new() -> Self {
        Batch {
            messages: Vec::with_capacity(BATCH),
            records: Vec::new(),
        }
    }

    fn is_decoded(&self) -> bool {
        self.records.len() == self.messages.len()
    }

    /// Decodes the batch's records, unless done already.
    fn decode(&mut self, topics: &Topics) {
        if self.is_decoded() {
            return;
        }
        let records = self.messages.iter().map(|message| {
            let payload = message.payload().unwrap_or_default();
            let role = topics.role(message.topic())?;
            let record = match role {
                Role::Feed(feed) => feed.decode(payload).map(Record::Event),
                Role::Workers => Worker::decode_json(payload).map(|w| Record::Worker(Box::new(w))),
            };
            Some((role, record))
        });
        self.records.extend(records);
    }
}

/// A shard this instance owns, with its live results.
struct Owned {
    shard: Shard,
    live: LiveResults,
    /// The live board: each worker's recent days with a punch.
    board: LiveBoard,
    /// The epoch this instance writes the shard's checkpoints under (`checkpoints`).
    epoch: u32,
    /// The shard's current checkpoint as this instance knows it.
    current: Option<CheckpointName>,
}

/// How a checkpoint pass left the shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kept {
    /// Still this instance's: saved, nothing to save, or to be retried.
    Yes,
    /// Another instance of the same epoch wrote its next checkpoint first: reload it.
    Reload,
    /// A newer owner fenced this instance out: drop the shard.
    Released,
}

/// How many shards an archive pass closes locked periods in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    OneShard,
    EveryShard,
}

struct LiveState {
    live: Live,
    calculator: Calculator,
}

struct Shards {
    owned: BTreeMap<u32, Owned>,
    /// Shards checkpointed and revoked at a rebalance, kept in case they come straight back
    /// (an eager rebalance revokes everything): reused if no one checkpointed them since.
    retired: BTreeMap<u32, Owned>,
    /// The source topics' partition count: checkpoints of another count are other workers'.
    partitions: u32,
    sites: Ledger,
    state: Checkpoints,
    topics: Topics,
    dead_letters: DeadLetterTopics,
    runtime: Handle,
    live: Option<LiveState>,
    counters: Counters,
}

impl Shards {
    /// Folds a decoded batch, in offset order.
    fn consume(&mut self, batch: Batch<'_>) {
        assert!(batch.is_decoded(), "batches are decoded before they are folded");
        let folded_before = self.counters.folded;
        for (message, record) in batch.messages.iter().zip(batch.records) {
            if let Some((role, record)) = record {
                self.fold(message, role, record);
            }
        }
        // The clock is read once a batch, not once a message.
        if self.counters.folded > folded_before {
            let now = Instant::now();
            self.counters.first_folded.get_or_insert(now);
            self.counters.last_folded = Some(now);
        }
    }

    #[allow(
        clippy::expect_used,
        reason = "an offset of a partition just assigned is a valid one"
    )]
    fn assign(&mut self, tpl: &TopicPartitionList) -> TopicPartitionList {
        let numbers: BTreeSet<u32> = tpl.elements().iter().map(|e| e.partition() as u32).collect();
        for number in numbers {
            if !self.owned.contains_key(&number) {
                let owned = self.restore(number);
                self.owned.insert(number, owned);
            }
        }
        self.retired.clear();
        let mut assignment = TopicPartitionList::new();
        for element in tpl.elements() {
            let shard = &self.owned[&(element.partition() as u32)].shard;
            let offset = shard.offset(element.topic()).map_or(Offset::Beginning, Offset::Offset);
            assignment
                .add_partition_offset(element.topic(), element.partition(), offset)
                .expect("a valid offset");
        }
        assignment
    }

    /// A shard from its latest readable checkpoint (or the one retired here if still current),
    /// under a new epoch; the store is retried until it answers, as the shard cannot be
    /// consumed without its state.
    fn restore(&mut self, number: u32) -> Owned {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            match self.try_restore(number) {
                Ok(owned) => return owned,
                Err(e) => {
                    let delay = backoff.delay();
                    tracing::warn!(shard = number, error = %e, "cannot restore the shard's checkpoint; retrying in {delay:?}");
                    std::thread::sleep(delay);
                }
            }
        }
    }

    fn try_restore(&mut self, number: u32) -> Result<Owned> {
        let names = self.runtime.block_on(self.state.names_of(self.partitions, number))?;
        // A shard retired here at a rebalance that nobody checkpointed since is reused.
        if let Some(retired) = self.retired.remove(&number)
            && names.last() == retired.current.as_ref()
        {
            return Ok(retired);
        }
        let restored = self.runtime.block_on(self.state.restore_listed(&names, &self.sites))?;
        self.counters.checkpoint_fallbacks += restored.skipped.len() as u64;
        let shard = restored
            .checkpoint
            .map_or_else(|| Shard::new(number, &self.sites), Shard::restore);
        Ok(Owned {
            shard,
            live: LiveResults::default(),
            board: LiveBoard::default(),
            epoch: restored.epoch,
            current: restored.name,
        })
    }

    fn revoke(&mut self, consumer: &BaseConsumer<StreamContext>, tpl: &TopicPartitionList) {
        let numbers: BTreeSet<u32> = tpl.elements().iter().map(|e| e.partition() as u32).collect();
        for number in numbers {
            if let Some(mut owned) = self.owned.remove(&number)
                && self.checkpoint(consumer, &mut owned, CommitMode::Sync) == Kept::Yes
            {
                self.retired.insert(number, owned);
            }
        }
    }

    fn fold(&mut self, message: &BorrowedMessage<'_>, role: Role, record: Result<Record, Invalid>) {
        let topic = self.topics.name(role);
        // A message of a partition just revoked: its new owner reads it again.
        let Some(owned) = self.owned.get_mut(&(message.partition() as u32)) else {
            return;
        };
        match owned.shard.fold(topic, message.offset(), record) {
            Ok(()) => self.counters.folded += 1,
            Err(invalid) => {
                Telemetry::dead_letter(topic, message.partition(), message.offset(), &invalid);
                self.dead_letters.send(message, &invalid);
                *self.counters.dead_letters.entry(topic.to_string()).or_default() += 1;
            }
        }
    }

    /// Closes the periods the service locked, archiving their events, and loads back the
    /// workers' periods late events asked for (`archive::pass`); the next checkpoint records
    /// it. A failure leaves the state as it was, retried next time.
    fn archive(&mut self, how: Closing) {
        let locked = match self.runtime.block_on(locks::list(self.state.store())) {
            Ok(locked) => locked,
            Err(e) => return Telemetry::archive_failed(None, &e),
        };
        let live = self.live.as_ref().map(|l| l.live.period);
        // One shard closes its locked periods a pass: a million workers' month takes seconds a
        // shard to archive, and the stream waits meanwhile. The others close at the next ones.
        let mut closing = locked.as_slice();
        for (&number, owned) in &mut self.owned {
            let shard = &mut owned.shard;
            let store = self.state.store();
            match self
                .runtime
                .block_on(archive::pass(store, self.partitions, shard, closing, live))
            {
                Ok(pass) if pass == archive::Pass::default() => {}
                Ok(pass) => {
                    if pass.closed > 0 && how == Closing::OneShard {
                        closing = &[];
                    }
                    Telemetry::archived(number, &pass);
                    self.counters.closed_periods += pass.closed as u64;
                    self.counters.archived_events += pass.archived as u64;
                    self.counters.reopened += pass.reopened as u64;
                }
                Err(e) => Telemetry::archive_failed(Some(number), &e),
            }
        }
    }

    /// Checkpoints every shard with unsaved messages.
    fn checkpoint_all(&mut self, consumer: &BaseConsumer<StreamContext>, commit: CommitMode) {
        let numbers: Vec<u32> = self
            .owned
            .iter()
            .filter(|(_, o)| o.shard.has_unsaved())
            .map(|(n, _)| *n)
            .collect();
        for number in numbers {
            let Some(mut owned) = self.owned.remove(&number) else {
                continue;
            };
            match self.checkpoint(consumer, &mut owned, commit) {
                Kept::Yes => {
                    self.owned.insert(number, owned);
                }
                Kept::Released => Telemetry::shard_fenced(number),
                Kept::Reload => {
                    // Someone else of our epoch wrote our next checkpoint: take their state and
                    // position, and stay in their epoch. Claiming a newer one would fence them
                    // out, and if they are the one Kafka assigned the shard to now, nobody
                    // would consume it until the next rebalance.
                    Telemetry::checkpoint_superseded(number);
                    let mut owned = self.restore(number);
                    owned.epoch = owned.current.map_or(owned.epoch, |current| current.epoch);
                    for (topic, _) in self.topics.all() {
                        let offset = owned.shard.offset(topic).map_or(Offset::Beginning, Offset::Offset);
                        if let Err(e) = consumer.seek(topic, number as i32, offset, Duration::from_secs(10)) {
                            tracing::warn!(topic, shard = number, error = %e, "seek after reload failed");
                        }
                    }
                    self.owned.insert(number, owned);
                }
            }
        }
    }

    /// Executes a checkpoint pass (`engine::commit`): delivers dead letters, writes the
    /// shard's next checkpoint, then commits its offsets. A failed pass leaves the previous
    /// checkpoint current and the offsets uncommitted, and is retried at the next interval.
    #[allow(
        clippy::expect_used,
        reason = "an offset of a partition just assigned is a valid one"
    )]
    fn checkpoint(&mut self, consumer: &BaseConsumer<StreamContext>, owned: &mut Owned, mode: CommitMode) -> Kept {
        let shard = &mut owned.shard;
        let mut pass = commit::Pass::new(shard.has_unsaved());
        let mut outcome = None;
        let mut offsets = BTreeMap::new();
        loop {
            outcome = Some(match pass.next(outcome) {
                Step::FlushDeadLetters => match self.dead_letters.flush(DEAD_LETTER_FLUSH) {
                    Ok(()) => Outcome::Flushed,
                    Err(Error::DeadLettersUndelivered { count, error }) => {
                        self.counters.undelivered_dead_letters += count as u64;
                        Telemetry::dead_letters_undelivered(shard.id, &format!("{count}: {error}"));
                        Outcome::FlushFailed
                    }
                    Err(e) => {
                        Telemetry::checkpoint_failed(shard.id, &format!("dead letters not yet delivered: {e}"));
                        Outcome::FlushFailed
                    }
                },
                Step::Write => {
                    let (seq, next_offsets, bytes) = shard.next_checkpoint();
                    let name = CheckpointName {
                        partitions: self.partitions,
                        shard: shard.id,
                        epoch: owned.epoch,
                        seq,
                    };
                    match self.runtime.block_on(self.state.save(name, bytes)) {
                        Ok(Saved::Written) => {
                            shard.saved(seq, &next_offsets);
                            owned.current = Some(name);
                            offsets = next_offsets;
                            self.counters.checkpoints += 1;
                            Outcome::Written
                        }
                        Ok(Saved::Taken) => Outcome::AlreadyWritten,
                        Ok(Saved::Fenced) => Outcome::Fenced,
                        Err(e) => {
                            Telemetry::checkpoint_failed(shard.id, &e);
                            Outcome::WriteFailed
                        }
                    }
                }
                Step::Commit => {
                    let mut commit = TopicPartitionList::new();
                    for (topic, offset) in &offsets {
                        commit
                            .add_partition_offset(topic, shard.id as i32, Offset::Offset(*offset))
                            .expect("a valid offset");
                    }
                    match consumer.commit(&commit, mode) {
                        Ok(()) => Outcome::Committed,
                        Err(e) => {
                            tracing::debug!(error = %e, "offset commit failed");
                            Outcome::CommitFailed
                        }
                    }
                }
                Step::Done => return Kept::Yes,
                Step::Reload => return Kept::Reload,
                Step::Release => return Kept::Released,
                Step::RetryLater(_) => {
                    self.counters.failed_checkpoints += 1;
                    return Kept::Yes;
                }
            });
        }
    }

    /// Recalculates the workers changed since the last update, shard by shard, and writes each
    /// changed shard's live results.
    fn update_live(&mut self) {
        let Some(live) = &self.live else {
            return;
        };
        let period = live.live.period;
        let Ok(version) = live.live.ruleset.version_on(period.first_day()) else {
            tracing::error!(%period, "the ruleset has no version in force for the live period");
            return;
        };
        for (&number, owned) in self.owned.iter_mut().filter(|(_, o)| o.shard.has_dirty()) {
            let dirty = owned.shard.take_dirty();
            let counted = owned
                .shard
                .ledger()
                .period_inputs_and_days_of(dirty.iter().map(|id| &**id), period);
            owned.board.update(&dirty, &counted);
            let rows: Vec<_> = counted.into_iter().map(|(row, _)| row).collect();
            let board = parquet(&[owned.board.batch()]);
            let batches = inputs_batches(period, &rows);
            let calculated = match batches.is_empty() {
                true => Ok(Vec::new()),
                false => self.runtime.block_on(live.calculator.calculate(version, batches)),
            };
            let outcome = calculated
                .map_err(Error::from)
                .and_then(|results| Ok(owned.live.update(&dirty, results)?))
                .and_then(|()| parquet(&owned.live.current()?))
                .and_then(|bytes| match bytes.is_empty() {
                    true => Ok(()),
                    false => {
                        let path = layout::live_part(&period.to_string(), number);
                        self.runtime.block_on(self.state.store().put(&path, bytes))
                    }
                })
                .and_then(|()| {
                    let path = layout::live_board_part(&period.to_string(), number);
                    self.runtime.block_on(self.state.store().put(&path, board?))
                });
            match outcome {
                Ok(()) => {
                    self.counters.live_updates += 1;
                    self.counters.recalculated += dirty.len() as u64;
                }
                Err(e) => {
                    tracing::error!(shard = number, error = %e, "live results not updated; retrying");
                    owned.shard.mark_dirty(dirty);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drain_returns_once_every_batch_sent_is_folded() {
        let pipeline = Arc::new(Pipeline::default());
        let (to_fold, batches) = mpsc::sync_channel(IN_FLIGHT);
        for _ in 0..3 {
            let batch = Batch::new();
            assert!(pipeline.send(&to_fold, batch));
        }
        let folder = {
            let pipeline = Arc::clone(&pipeline);
            std::thread::spawn(move || {
                for _batch in batches.iter().take(3) {
                    std::thread::sleep(Duration::from_millis(20));
                    pipeline.folded();
                }
            })
        };
        pipeline.drain();
        assert_eq!(*pipeline.lock(), 0, "drained before the last batch was folded");
        folder.join().unwrap();
    }
}
