//! The engine's error type.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Rules(#[from] payroll_rules::Error),
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// A sum of amounts does not fit: an input far out of range, never a wrapped number.
    #[error(
        "the total of `{column}` over the run's workers does not fit an exact decimal (28 digits): check the inputs that feed it"
    )]
    TotalOverflow { column: String },
    /// Results (or a table read back) without a column a summary sums, or of another type.
    #[error("results column `{column}`: {reason}")]
    Column { column: String, reason: String },
}

/// Why an event or a row was refused: the field at fault (when one is) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: Option<String>,
    pub reason: String,
}

impl Invalid {
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Invalid {
            field: Some(field.into()),
            reason: reason.into(),
        }
    }

    pub fn record(reason: impl Into<String>) -> Self {
        Invalid {
            field: None,
            reason: reason.into(),
        }
    }

    /// An event naming a worker a folder's master does not have.
    pub fn unknown_worker(worker_id: &str) -> Self {
        Invalid::field("worker_id", format!("unknown worker `{worker_id}`"))
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field `{field}`: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}
