//! Kafka: the source that folds the `attendance`, `leave`, `adjustments` and `workers` topics
//! into checkpointed shards, the dead-letter topics it refuses messages to, and the producer
//! that publishes an input folder for demos and backfills.
//!
//! Scale-out is Kafka's: instances in one consumer group split the partitions. The four topics
//! must have the same number of partitions and be keyed by `worker_id`, so that partition `p`
//! of each holds the same workers; the range assignor then gives an instance partition `p` of
//! all four together, and shard `p` (their folded state) has one owner.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, ThreadedProducer};

mod admin;
mod config;
mod dead_letter;
mod produce;
mod source;
pub mod telemetry;

pub use admin::{ensure_topics, partition_counts};
pub use config::{KafkaConfig, Role, Topics};
pub use produce::{Published, publish_folder};
pub use source::{Live, StreamConfig, StreamReport, stream};
pub use telemetry::StreamStatus;

/// Queues a record, waiting while the producer's queue is full (the broker away, or a burst):
/// a message is never dropped for want of room.
fn send(producer: &ThreadedProducer<DefaultProducerContext>, mut record: BaseRecord<'_, [u8], [u8]>) {
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err((e, back)) => {
                // Only a malformed record gets here (the queue is unbounded in time).
                tracing::error!(topic = back.topic, error = %e, "message could not be queued");
                return;
            }
        }
    }
}
