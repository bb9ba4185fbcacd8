//! Broker connection and topic names, and the client settings the engine runs with.

use payroll_engine::Feed;
use rdkafka::ClientConfig;

#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `host:port[,host:port...]`
    pub brokers: String,
    pub group: String,
    /// librdkafka properties set last, over the engine's own (`-X key=value`).
    pub options: Vec<(String, String)>,
}

impl KafkaConfig {
    fn base(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            // A broker that is down is retried for as long as it takes, backing off to 10 s.
            .set("reconnect.backoff.ms", "100")
            .set("reconnect.backoff.max.ms", "10000");
        config
    }

    fn with_options(&self, mut config: ClientConfig) -> ClientConfig {
        for (key, value) in &self.options {
            config.set(key, value);
        }
        config
    }

    pub fn consumer(&self) -> ClientConfig {
        let mut config = self.base();
        config
            .set("group.id", &self.group)
            // Offsets are committed by the engine, after the checkpoint holding them is durable.
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // Range gives each member the same partition numbers of every topic: a shard's
            // partitions stay together.
            .set("partition.assignment.strategy", "range")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "2000")
            // Some brokers (tansu) answer a fetch only when `fetch.wait.max.ms` expires; with
            // the default 500 ms a consumer reads 8x slower (FACTS.md). Large fetches and a
            // deep local queue keep the fold fed.
            .set("fetch.wait.max.ms", "10")
            .set("fetch.max.bytes", "52428800")
            .set("max.partition.fetch.bytes", "10485760")
            .set("queued.min.messages", "1000000")
            // A fold briefly slower than the fetch fills the local queue (64 MB); librdkafka
            // then pauses fetching for this long. Its default, a whole second, cut ingest to
            // the rate of one queue a second.
            .set("fetch.queue.backoff.ms", "10");
        self.with_options(config)
    }

    pub fn producer(&self) -> ClientConfig {
        let mut config = self.base();
        config
            .set("linger.ms", "5")
            .set("batch.num.messages", "10000")
            .set("queue.buffering.max.messages", "1000000")
            // Never give up on a message: a dead letter or a published event is not dropped
            // because the broker was away for a while.
            .set("message.timeout.ms", "0")
            .set("enable.idempotence", "true");
        self.with_options(config)
    }

    pub fn admin(&self) -> ClientConfig {
        self.with_options(self.base())
    }
}

/// The source topics' names.
#[derive(Debug, Clone)]
pub struct Topics {
    pub attendance: String,
    pub leave: String,
    pub adjustments: String,
    pub workers: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            attendance: "attendance".into(),
            leave: "leave".into(),
            adjustments: "adjustments".into(),
            workers: "workers".into(),
        }
    }
}

/// What a topic's messages are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Feed(Feed),
    Workers,
}

impl Topics {
    pub fn all(&self) -> [(&str, Role); 4] {
        [
            (&self.workers, Role::Workers),
            (&self.attendance, Role::Feed(Feed::Attendance)),
            (&self.leave, Role::Feed(Feed::Leave)),
            (&self.adjustments, Role::Feed(Feed::Adjustments)),
        ]
    }

    pub fn names(&self) -> [&str; 4] {
        self.all().map(|(name, _)| name)
    }

    pub fn name(&self, role: Role) -> &str {
        match role {
            Role::Feed(feed) => self.of_feed(feed),
            Role::Workers => &self.workers,
        }
    }

    pub fn role(&self, topic: &str) -> Option<Role> {
        self.all()
            .into_iter()
            .find(|(name, _)| *name == topic)
            .map(|(_, role)| role)
    }

    pub fn of_feed(&self, feed: Feed) -> &str {
        match feed {
            Feed::Attendance => &self.attendance,
            Feed::Leave => &self.leave,
            Feed::Adjustments => &self.adjustments,
        }
    }

    /// Where refused messages of `topic` go.
    pub fn dead_letter(topic: &str) -> String {
        format!("{topic}.dlq")
    }
}
