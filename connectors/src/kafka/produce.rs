//! Publishing an input folder to the topics, keyed by worker: the worker master (if the folder
//! has one) as one JSON object per worker, then the event files line by line, as they are. Lines are not validated
//! here: refusing them is the stream's job, so a bad line becomes a dead letter there.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use payroll_engine::Feed;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::files::{WORKER_COLUMNS, csv, ndjson};
use crate::kafka::{KafkaConfig, Topics, admin};
use crate::progress::{Progress, Unit};

/// Messages published per topic.
pub type Published = BTreeMap<String, u64>;

/// Publishes `dir` (the folder format of POLICY.md) to `topics`, creating missing topics with
/// `partitions` partitions.
pub async fn publish_folder(
    config: &KafkaConfig,
    topics: &Topics,
    dir: &Path,
    partitions: usize,
    progress: &dyn Progress,
) -> Result<Published> {
    admin::ensure_topics(config, &topics.names(), partitions).await?;
    let producer: ThreadedProducer<DefaultProducerContext> = config.producer().create()?;
    let mut published = Published::new();

    // The master may come in its own batches: a folder of events alone is published as is.
    let workers_path = dir.join("workers.csv");
    if workers_path.exists() {
        let workers_csv = std::fs::read(&workers_path).map_err(|e| Error::io(workers_path.display(), e))?;
        let mut count = 0;
        for record in csv::records(&workers_path, &workers_csv, &WORKER_COLUMNS)? {
            let cells = record
                .cells()
                .map_err(|e| Error::input(workers_path.display(), format!("line {}: {e}", record.line)))?;
            let json = serde_json::to_vec(&cells)?;
            send(
                &producer,
                &topics.workers,
                cells.get("worker_id").map(str::as_bytes),
                &json,
            )?;
            count += 1;
        }
        published.insert(topics.workers.clone(), count);
    }

    for feed in Feed::ALL {
        let path = dir.join(feed.file_name());
        if !path.exists() {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io(path.display(), e))?;
        progress.start(&format!("publishing {}", feed.name()), bytes.len() as u64, Unit::Bytes);
        let topic = topics.of_feed(feed);
        let mut count = 0;
        for line in ndjson::lines(&bytes) {
            progress.advance(line.len() as u64 + 1);
            let Some(line) = ndjson::event_text(line) else {
                continue;
            };
            send(&producer, topic, worker_id(line).as_deref().map(str::as_bytes), line)?;
            count += 1;
        }
        published.insert(topic.to_string(), count);
    }
    producer.flush(Duration::from_secs(300))?;
    Ok(published)
}

/// Publishes events of one feed, keyed by `worker_id`, and waits up to `wait` for the broker to
/// take them all (an error if it has not: publish them again, the fold is idempotent).
pub fn publish_events(config: &KafkaConfig, topic: &str, events: &[Vec<u8>], wait: Duration) -> Result<()> {
    let producer: ThreadedProducer<DefaultProducerContext> = config.producer().create()?;
    for event in events {
        send(&producer, topic, worker_id(event).as_deref().map(str::as_bytes), event)?;
    }
    producer.flush(wait)?;
    Ok(())
}

/// The `worker_id` of a JSON event, to key it by; a line too broken to have one goes unkeyed.
fn worker_id(line: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Keyed<'a> {
        #[serde(borrow)]
        worker_id: std::borrow::Cow<'a, str>,
    }
    serde_json::from_slice::<Keyed>(line)
        .ok()
        .map(|k| k.worker_id.into_owned())
}

/// Queues one event; one the producer cannot take at all stops the publish, naming it.
fn send(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    key: Option<&[u8]>,
    payload: &[u8],
) -> Result<()> {
    let mut record: BaseRecord<[u8], [u8]> = BaseRecord::to(topic).payload(payload);
    if let Some(key) = key {
        record = record.key(key);
    }
    super::send(producer, record).map_err(|refused| {
        Error::input(
            format!("topic {topic}"),
            format!("a message could not be queued: {}", refused.0),
        )
    })
}
