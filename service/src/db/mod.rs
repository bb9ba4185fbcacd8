//! The service's database: SQLite in a file by default, PostgreSQL in production, through one
//! code path (sqlx's `Any` driver and portable SQL with `$N` parameters). Migrations are
//! embedded and applied at start. Every query that reads or changes an org's records takes the
//! token's org first.

pub mod adjustments;
pub mod audit;
pub mod findings;
pub mod notices;
pub mod payouts;
pub mod previews;
pub mod roles;
pub mod runs;
pub mod schedules;
pub mod uploads;
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
    /// Who follows which run in this process: woken when this process changes it.
    followers: std::sync::Arc<runs::Followers>,
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
        // No reaper of idle or old connections: sqlx's (0.8) can miscount its idle connections
        // and spin at 100 % CPU, hanging shutdown (launchbadge/sqlx#3645; seen here in a test).
        // SQLite keeps its one connection for good anyway; PostgreSQL's are few and re-opened
        // when one breaks.
        let options = AnyPoolOptions::new().idle_timeout(None).max_lifetime(None);
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
        Ok(Db {
            pool,
            backend,
            followers: std::sync::Arc::default(),
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Changes of run `id` made through this process: a run's Server-Sent Events wait on this
    /// instead of each client asking the database again and again.
    pub fn follow(&self, id: &str) -> tokio::sync::watch::Receiver<()> {
        self.followers.follow(id)
    }

    /// For `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// A list query: a `SELECT ... WHERE` with the org's condition, narrowed by optional filters
/// and paged by a key. Each list endpoint builds its SQL this one way; values are always bound,
/// never spliced in.
pub struct Listing {
    sql: String,
    binds: Vec<Bind>,
}

/// A value bound to a listing, as the column it is compared with is typed.
enum Bind {
    Text(String),
    Number(i64),
}

impl Listing {
    /// `SELECT {columns} FROM {table} WHERE org_id = $1`.
    pub fn of_org(columns: &str, table: &str, org: &str) -> Listing {
        Listing {
            sql: format!("SELECT {columns} FROM {table} WHERE org_id = $1"),
            binds: vec![Bind::Text(org.to_string())],
        }
    }

    /// Adds `AND {column_op} $n` (e.g. `"period ="`) if there is a value to compare with.
    pub fn and(mut self, column_op: &str, value: Option<String>) -> Listing {
        if let Some(value) = value {
            self.push(column_op, Bind::Text(value));
        }
        self
    }

    pub fn and_number(mut self, column_op: &str, value: Option<i64>) -> Listing {
        if let Some(value) = value {
            self.push(column_op, Bind::Number(value));
        }
        self
    }

    fn push(&mut self, column_op: &str, bind: Bind) {
        self.binds.push(bind);
        self.sql.push_str(&format!(" AND {column_op} ${}", self.binds.len()));
    }

    /// At most `size` rows in `order`, each made a `T` by `parse`, and the cursor of the next
    /// page (`cursor` of the last row) if there is one: one more row than asked is read to know.
    pub async fn page<R, T, C>(
        mut self,
        db: &Db,
        order: &str,
        size: u32,
        parse: impl Fn(R) -> Result<T>,
        cursor: impl Fn(&T) -> C,
    ) -> Result<(Vec<T>, Option<C>)>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        self.sql.push_str(&format!(" ORDER BY {order} LIMIT {}", size + 1));
        let mut query = sqlx::query_as::<_, R>(&self.sql);
        for bind in self.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text),
                Bind::Number(n) => query.bind(n),
            };
        }
        let mut rows = query
            .fetch_all(db.pool())
            .await?
            .into_iter()
            .map(parse)
            .collect::<Result<Vec<T>>>()?;
        let next = (rows.len() > size as usize).then(|| {
            rows.truncate(size as usize);
            rows.last().map(&cursor)
        });
        Ok((rows, next.flatten()))
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
