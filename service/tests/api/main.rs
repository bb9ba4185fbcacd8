//! The service's end-to-end tests, one module per concern, in one test binary: each binary
//! links all of DataFusion (about 200 MB), so thirty of them cost minutes of linking and gigabytes
//! of disk in every fresh build. `abuse_files` is a binary of its own: it sets a process-wide
//! environment variable that every service started beside it would read.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

#[path = "../../../connectors/tests/common/broker.rs"]
mod broker;
#[path = "../common/mod.rs"]
mod common;

mod abuse_audit;
mod abuse_formulas;
mod abuse_limits;
mod abuse_returns;
mod abuse_secrets;
mod abuse_tenants;
mod abuse_tokens;
mod abuse_workers;
mod access;
mod adjustments;
mod arrears;
mod audit;
mod console;
mod dead_letters;
mod findings;
mod idempotency;
mod insights;
mod layers;
mod month_end;
mod notices;
mod openapi;
mod operations;
mod payouts;
mod periods;
mod returns;
mod roles;
mod scheduler;
mod stream;
mod uploads;
mod worker_errors;
