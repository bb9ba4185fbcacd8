//! The dead-letter topics: a refused message goes to `<topic>.dlq` with its original key, its
//! payload with any bank account or PAN masked, and headers saying why and where it came from.
//!
//! A dead letter counts as delivered only when the broker's delivery report says so: one that
//! fails is kept and sent again, and [`DeadLetterTopics::flush`] fails until it is delivered, so
//! the checkpoint that would move past its message waits (`engine::commit`).

use std::sync::Mutex;
use std::time::Duration;

use payroll_engine::{Invalid, masking};
use rdkafka::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Header, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};

use crate::error::{Error, Result};
use crate::kafka::{KafkaConfig, Topics};

pub struct DeadLetterTopics {
    producer: ThreadedProducer<Deliveries>,
}

/// The producer's delivery reports: the dead letters the broker refused, to send again.
#[derive(Default)]
pub(crate) struct Deliveries {
    undelivered: Mutex<Vec<(OwnedMessage, KafkaError)>>,
}

impl Deliveries {
    fn keep(&self, message: OwnedMessage, error: KafkaError) {
        // A poisoned lock only means another thread panicked holding it; the list is intact.
        let mut undelivered = self.undelivered.lock().unwrap_or_else(|e| e.into_inner());
        undelivered.push((message, error));
    }

    fn take(&self) -> Vec<(OwnedMessage, KafkaError)> {
        std::mem::take(&mut *self.undelivered.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, message)) = result {
            self.keep(message.detach(), error.clone());
        }
    }
}

impl DeadLetterTopics {
    pub fn new(config: &KafkaConfig) -> Result<Self> {
        Ok(DeadLetterTopics {
            producer: config.producer().create_with_context(Deliveries::default())?,
        })
    }

    /// Queues `message` for its dead-letter topic; [`DeadLetterTopics::flush`] waits for its
    /// delivery.
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
        let payload = message.payload().map(masking::mask_record);
        self.queue(&topic, message.key(), payload.as_deref(), headers);
    }

    fn queue(&self, topic: &str, key: Option<&[u8]>, payload: Option<&[u8]>, headers: OwnedHeaders) {
        let mut record: BaseRecord<[u8], [u8]> = BaseRecord::to(topic).headers(headers);
        if let Some(payload) = payload {
            record = record.payload(payload);
        }
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Err(refused) = super::send(&self.producer, record) {
            let (error, record) = *refused;
            let message = OwnedMessage::new(
                record.payload.map(<[u8]>::to_vec),
                record.key.map(<[u8]>::to_vec),
                record.topic.to_string(),
                rdkafka::Timestamp::NotAvailable,
                -1,
                -1,
                record.headers,
            );
            self.producer.context().keep(message, error);
        }
    }

    /// Waits until every dead letter queued so far is on the broker. Those the broker refused
    /// are queued again and the flush fails, naming how many: a checkpoint may move past a
    /// refused message only once its dead letter is safe.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.producer.flush(timeout)?;
        let undelivered = self.producer.context().take();
        let Some((_, error)) = undelivered.first() else {
            return Ok(());
        };
        let failure = Error::DeadLettersUndelivered {
            count: undelivered.len(),
            error: error.clone(),
        };
        for (message, _) in &undelivered {
            let headers = message.headers().cloned().unwrap_or_default();
            self.queue(message.topic(), message.key(), message.payload(), headers);
        }
        Err(failure)
    }
}
