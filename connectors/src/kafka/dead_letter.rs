//! The dead-letter topics: a refused message goes to `<topic>.dlq` with its original key and
//! payload, and headers saying why and where it came from.

use std::time::Duration;

use payroll_engine::Invalid;
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use crate::error::Result;
use crate::kafka::{KafkaConfig, Topics};

pub struct DeadLetterTopics {
    producer: ThreadedProducer<DefaultProducerContext>,
}

impl DeadLetterTopics {
    pub fn new(config: &KafkaConfig) -> Result<Self> {
        Ok(DeadLetterTopics {
            producer: config.producer().create()?,
        })
    }

    /// Queues `message` for its dead-letter topic; the producer retries until the broker takes
    /// it, and [`DeadLetterTopics::flush`] waits for that.
    pub fn send(&self, message: &impl Message, invalid: &Invalid) {
        let topic = Topics::dead_letter(message.topic());
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let mut headers = OwnedHeaders::new()
            .insert(Header {
                key: "reason",
                value: Some(invalid.reason.as_str()),
            })
            .insert(Header {
                key: "source_topic",
                value: Some(message.topic()),
            })
            .insert(Header {
                key: "source_partition",
                value: Some(partition.as_str()),
            })
            .insert(Header {
                key: "source_offset",
                value: Some(offset.as_str()),
            });
        if let Some(field) = &invalid.field {
            headers = headers.insert(Header {
                key: "field",
                value: Some(field.as_str()),
            });
        }
        let mut record: BaseRecord<[u8], [u8]> = BaseRecord::to(&topic).headers(headers);
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        super::send(&self.producer, record);
    }

    /// Waits until every queued dead letter is on the broker: a checkpoint that moves past a
    /// refused message may only be written after its dead letter is safe.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.producer.flush(timeout)?;
        Ok(())
    }
}
