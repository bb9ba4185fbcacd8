//! The outside world, as the engine sees it: input folders (NDJSON, CSV, XLSX, Parquet) decoded
//! (and Kafka topics) into the engine's events, dead letters for what cannot be, the object store everything is
//! written to, and run results as hive-partitioned Parquet with their manifests.

pub mod archive;
pub mod checkpoints;
pub mod dead_letter;
pub mod error;
pub mod files;
pub mod kafka;
pub mod layout;
pub mod locks;
pub mod progress;
pub mod results;
pub mod seal;
pub mod secret;
pub mod store;

pub use dead_letter::{DeadLetter, DeadLetters, Position};
pub use error::{Error, Result};
pub use progress::{Progress, Quiet, Unit};
pub use store::Store;
