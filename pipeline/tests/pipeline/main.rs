//! The pipeline's end-to-end tests, one module per concern, in one test binary: each binary
//! links all of DataFusion, so one binary instead of six saves their linking and disk.

#[path = "../common/mod.rs"]
mod common;

mod faults;
mod findings;
mod parts;
mod payslips;
mod preview;
mod worker_errors;
