//! The service's database: SQLite in a file by default, PostgreSQL in production, through one
//! code path (sqlx's `Any` driver and portable SQL with `$N` parameters). Migrations are
//! embedded and applied at start. Every query that reads or changes an org's records takes the
//! token's org first.

pub mod adjustments;
pub mod audit;
pub mod roles;
pub mod runs;
pub mod schedules;
pub mod worker_errors;

use std::sync::Once;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;

use crate::error::{Error, Result};

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects and applies the migrations not yet applied.
    pub async fn connect(url: &str) -> Result<Db> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(Error::BadRequest(
                "database: expected a postgres:// or sqlite:// URL".to_string(),
            ));
        };
        let options = AnyPoolOptions::new();
        let pool = match backend {
            // One writer at a time is SQLite's own rule; one connection makes it ours too, so
            // a transaction never fails on a lock another connection holds.
            Backend::Sqlite => options.max_connections(1),
            Backend::Postgres => options.max_connections(16),
        }
        .connect(url)
        .await
        .map_err(|e| Error::Unavailable(format!("database: {e}")))?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA foreign_keys = ON").execute(&pool).await?;
        }
        let migrator = match backend {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| Error::Internal(format!("database migrations: {e}")))?;
        Ok(Db { pool, backend })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// For `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// A time as the database keeps it: UTC, milliseconds, sortable as text.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::Internal(format!("stored time `{text}`: {e}")))
}

/// Which named constraint a unique violation broke, if it was one. PostgreSQL names the index;
/// SQLite names the table and columns.
pub fn violated(error: &sqlx::Error) -> Option<Constraint> {
    let sqlx::Error::Database(db) = error else {
        return None;
    };
    if !db.is_unique_violation() {
        return None;
    }
    let said = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
    if said.contains("idempotency_keys") {
        Some(Constraint::IdempotencyKey)
    } else if said.contains("runs_one_live_final") || said.contains("runs.org_id, runs.period") {
        Some(Constraint::OneLiveFinal)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    IdempotencyKey,
    OneLiveFinal,
}
