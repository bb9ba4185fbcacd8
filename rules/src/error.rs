//! One error type for the crate. A ruleset fault always says where it is (file, line, component)
//! so that HR can fix the file without reading our code.

use std::fmt;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in a ruleset file a fault sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub component: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)?;
        if let Some(c) = &self.component {
            write!(f, ": component `{c}`")?;
        }
        Ok(())
    }
}

/// One fault found while reading or validating a ruleset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Location,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// Every fault validation found, so one `rules check` shows them all.
    #[error("{}", list(.0))]
    Invalid(Vec<Diagnostic>),
    #[error("no version of ruleset `{ruleset}` is in force on {date}: the earliest applies from {earliest}")]
    NotInForce {
        ruleset: String,
        date: chrono::NaiveDate,
        earliest: chrono::NaiveDate,
    },
    #[error("{failed} of {total} inline test cases failed:\n{}", details.join("\n"))]
    TestsFailed {
        failed: usize,
        total: usize,
        details: Vec<String>,
    },
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
}

fn list(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    pub fn at(location: Location, message: impl Into<String>) -> Self {
        Error::Invalid(vec![Diagnostic {
            location,
            message: message.into(),
        }])
    }
}
