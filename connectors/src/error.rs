//! The connectors' error type: I/O on files and object stores, and inputs too broken to read.

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Input { path: String, message: String },
    #[error("object store {url}: {source}")]
    Store { url: String, source: object_store::Error },
    #[error("`{0}` is not a location: expected a directory, file://, s3://, gs:// or az:// URL")]
    Location(String),
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// Registering results for SQL.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Rules(#[from] payroll_rules::Error),
    #[error(transparent)]
    Engine(#[from] payroll_engine::Error),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("{count} dead letter(s) not delivered (sent again; the checkpoint waits): {error}")]
    DeadLettersUndelivered {
        count: usize,
        error: rdkafka::error::KafkaError,
    },
}

impl Error {
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }

    pub fn input(path: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.to_string(),
            message: message.into(),
        }
    }
}
