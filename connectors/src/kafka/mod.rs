//! Kafka: the source that folds the `attendance`, `leave`, `adjustments` and `workers` topics
//! into checkpointed shards, the dead-letter topics it refuses messages to, and the producer
//! that publishes an input folder for demos and backfills.
//!
//! Scale-out is Kafka's: instances in one consumer group split the partitions. The four topics
//! must have the same number of partitions and be keyed by `worker_id`, so that partition `p`
//! of each holds the same workers; the range assignor then gives an instance partition `p` of
//! all four together, and shard `p` (their folded state) has one owner.

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
