//! The pipeline's end-to-end tests, one module per concern, in one test binary: each binary
//! links all of DataFusion, so one binary instead of six saves their linking and disk.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

#[path = "../common/mod.rs"]
mod common;

mod faults;
mod findings;
mod parts;
mod payslips;
mod preview;
mod worker_errors;
