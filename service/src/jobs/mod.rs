//! The service's background work, beside the HTTP API and not under it: each job takes the
//! [`App`](crate::app::App) and what lies below it, never a handler. `start` spawns them.
//!
//! - [`runs`]: the run worker (calculate, finalize) and its janitor;
//! - [`scheduler`]: the nightly provisional runs;
//! - [`uploads`]: the uploads janitor;
//! - [`notices`]: the notice dispatcher.

pub mod notices;
pub mod runs;
pub mod scheduler;
pub mod uploads;
