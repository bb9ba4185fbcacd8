//! The run pipeline, shared by the CLI, the service, the tests and the benchmarks:
//!
//! ```text
//! inputs folder ─┐                                                   ┌─▶ results Parquet + manifests
//!                ├─▶ fold (Ledger) ─▶ period inputs ─▶ Calculator ──┤   run record (last)
//! stream state ──┘                                                   └─▶ payslip batch (payslips.rs)
//! ```
//!
//! [`run::run`] computes and writes a period's results; [`payslips::render`] renders a written
//! run's payslips and registers. Both report progress through [`Progress`] and return this
//! crate's [`Error`]; neither knows who called it.

pub mod arrears;
pub mod columns;
pub mod error;
pub mod explain;
pub mod master;
pub mod payout;
pub mod payslips;
pub mod preview;
pub mod returns;
pub mod run;
pub mod variance;

pub use arrears::LockedRun;
pub use error::{Error, Result};
pub use payroll_connectors::Progress;
pub use run::{RunReport, RunRequest, Source, run};
