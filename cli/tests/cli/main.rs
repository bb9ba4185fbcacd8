//! The command line's end-to-end tests, one module per command or concern, in one test binary
//! (one link and one file on disk instead of one per file); most run the built `payroll`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

#[path = "../../../connectors/tests/common/broker.rs"]
mod broker;
#[path = "../common/mod.rs"]
mod common;

mod attendance_summary;
mod audit;
mod killed_run;
mod payslips;
mod personal_data;
mod preview;
mod readers;
mod sample;
mod service;
mod stream;
mod upload;
mod worker_errors;
