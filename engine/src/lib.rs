//! The payroll domain: events and master data, the order-free fold into per-worker state,
//! the period inputs of POLICY.md, and the DataFusion calculator that applies a ruleset.
//!
//! Nothing here reads a file or a topic: `payroll-connectors` turns the outside world into the
//! events and records defined here, so the same code runs from files, Kafka or a test.

pub mod archive;
pub mod arrears;
pub mod attendance;
pub mod bank;
pub mod calc;
pub mod checkpoint;
pub mod commit;
pub mod contact;
pub mod days;
pub mod error;
pub mod event;
pub mod findings;
pub mod inputs;
pub mod lifecycle;
pub mod live;
pub mod masking;
pub mod master;
pub mod money;
pub mod parallel;
pub mod run;
pub mod shard;
pub mod spreadsheet;
pub mod state;
pub mod summary;
pub mod vec_map;

pub use archive::{ArchivedPunch, PeriodEvents, WorkerPeriod};
pub use arrears::Arrear;
pub use calc::{Calculation, Calculator, WorkerError};
pub use checkpoint::Checkpoint;
pub use error::{Error, Invalid, Result};
pub use event::{Event, Feed};
pub use inputs::{Attendance, InputsBatch, PeriodInputs, inputs_batches};
pub use master::{PayBasis, Sensitive, Site, Worker};
pub use shard::{Record, Shard};
pub use state::{Ledger, StatePart, WorkerState};
