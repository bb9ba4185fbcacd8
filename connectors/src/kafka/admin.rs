//! Topics: their partition counts, and creating the missing ones.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

use crate::error::{Error, Result};
use crate::kafka::KafkaConfig;

const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// A replication factor of -1 asks the broker for its `default.replication.factor` (KIP-464):
/// a `.dlq` topic is as safe as the cluster's others, not a single copy.
const CLUSTER_DEFAULT: i32 = -1;

/// The partition count of each of `topics` that exists.
pub fn partition_counts(config: &KafkaConfig, topics: &[&str]) -> Result<BTreeMap<String, usize>> {
    let admin: AdminClient<DefaultClientContext> = config.admin().create()?;
    let metadata = admin.inner().fetch_metadata(None, METADATA_TIMEOUT)?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| topics.contains(&t.name()) && t.error().is_none() && !t.partitions().is_empty())
        .map(|t| (t.name().to_string(), t.partitions().len()))
        .collect())
}

/// Creates those of `topics` that do not exist, with `partitions` partitions each and the
/// cluster's default replication factor (brokers that create topics on first use are not
/// relied on: some, like tansu, do not).
pub async fn ensure_topics(config: &KafkaConfig, topics: &[&str], partitions: usize) -> Result<()> {
    let existing = partition_counts(config, topics)?;
    let missing: Vec<NewTopic> = topics
        .iter()
        .filter(|t| !existing.contains_key(**t))
        .map(|t| NewTopic::new(t, partitions as i32, TopicReplication::Fixed(CLUSTER_DEFAULT)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = config.admin().create()?;
    let options = AdminOptions::new().operation_timeout(Some(METADATA_TIMEOUT));
    for result in admin.create_topics(&missing, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(Error::input(
                    format!("topic {topic}"),
                    format!("could not be created: {code}"),
                ));
            }
        }
    }
    tracing::info!(topics = ?missing.iter().map(|t| t.name).collect::<Vec<_>>(), partitions, "created topics");
    Ok(())
}
