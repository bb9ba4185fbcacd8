//! Kafka: the source that folds the `attendance`, `leave`, `adjustments` and `workers` topics
//! into checkpointed shards, the dead-letter topics it refuses messages to, and the producer
//! that publishes an input folder for demos and backfills.
//!
//! Scale-out is Kafka's: instances in one consumer group split the partitions. The four topics
//! must have the same number of partitions and be keyed by `worker_id`, so that partition `p`
//! of each holds the same workers; the range assignor then gives an instance partition `p` of
//! all four together, and shard `p` (their folded state) has one owner.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, ProducerContext, ThreadedProducer};

mod admin;
mod config;
mod dead_letter;
mod produce;
mod source;
pub mod telemetry;

pub use admin::{ensure_topics, partition_counts};
pub use config::{KafkaConfig, Role, Topics};
pub use produce::{Published, publish_events, publish_folder};
pub use source::{Live, StreamConfig, StreamReport, stream};
pub use telemetry::StreamStatus;

/// A record the producer would not queue, and why.
type Refused<'a> = (KafkaError, BaseRecord<'a, [u8], [u8]>);

/// Queues a record, waiting while the producer's queue is full (the broker away, or a burst):
/// a message is never dropped for want of room. A record that cannot be queued at all (too
/// large, say) is given back with the reason.
fn send<'a, C: ProducerContext<DeliveryOpaque = ()>>(
    producer: &ThreadedProducer<C>,
    mut record: BaseRecord<'a, [u8], [u8]>,
) -> Result<(), Box<Refused<'a>>> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(refused) => return Err(Box::new(refused)),
        }
    }
}
