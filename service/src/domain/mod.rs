//! The service's domain types, below the database: statuses (of uploads, notices, findings),
//! kinds, channels, permissions and schedules as closed sets with their rules. `db/` stores
//! them; nothing here knows the database, the app or a caller (`tests/layers.rs` holds it so).
//! With `error` this is the bottom layer.

pub mod findings;
pub mod notices;
pub mod permissions;
pub mod previews;
pub mod schedule;
pub mod uploads;
