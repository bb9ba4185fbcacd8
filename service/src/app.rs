//! The service's state, below everything that uses it: the HTTP handlers, the jobs and the
//! operations they share take an [`App`] and know nothing of each other. Nothing here knows
//! axum.

use std::collections::BTreeMap;
use std::sync::Arc;

use payroll_connectors::Store;
use payroll_pipeline::Source;
use payroll_rules::Ruleset;
use tokio::sync::Notify;

use crate::auth::Keys;
use crate::config::ServeConfig;
use crate::db::Db;
use crate::domain::permissions::Roles;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::results::ResultsCache;

/// Everything the operations, the HTTP handlers and the jobs share: built once by `start`. A
/// handle: axum clones the state for every middleware and extractor of every request, so it is
/// one reference count, not one per part (those counts, touched by both cores, cost pay-to-date
/// 8 % of its time).
#[derive(Clone)]
pub struct App(Arc<AppParts>);

impl App {
    pub fn new(parts: AppParts) -> App {
        App(Arc::new(parts))
    }
}

impl std::ops::Deref for App {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// What the [`App`] holds.
pub struct AppParts {
    pub config: Arc<ServeConfig>,
    pub db: Db,
    /// Results and payslips.
    pub store: Store,
    pub keys: Arc<Keys>,
    /// The config's roles: what each org's roles in the database start from.
    pub roles: Arc<Roles>,
    /// Each org's roles as this instance last read them from the database.
    pub role_tables: Arc<crate::db::roles::RoleTables>,
    pub rulesets: Arc<Rulesets>,
    /// Where runs read their inputs: files mode's folder, or a stream's state.
    pub source: Arc<Source>,
    /// Wakes the run worker when a run is queued or approved.
    pub work: Arc<Notify>,
    /// This process, as it names itself on the runs it claims.
    pub instance: Arc<str>,
    pub compute: Compute,
    pub metrics: Arc<Metrics>,
    pub results: Arc<ResultsCache>,
    /// Uploads this process is receiving, per org (`[uploads] max_in_progress`).
    pub receiving: Arc<crate::uploads::Receiving>,
    /// Stream mode: the stream this service consumes, and its live pay.
    pub live: Option<Arc<crate::live::LiveStream>>,
    /// Signs and checks the payslip links notices carry.
    pub link_key: crate::notices::link::LinkKey,
    /// Seals raw uploads and payout files with the checkpoint key, if one is set.
    pub at_rest: crate::at_rest::AtRest,
}

impl AppParts {
    /// A request id unique across instances: this instance's name and a counter.
    pub fn next_request_id(&self) -> String {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        format!(
            "{}-{:x}",
            self.instance,
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    }
}

/// The default ruleset and the orgs that have their own.
pub struct Rulesets {
    pub default: Arc<Ruleset>,
    pub by_org: BTreeMap<String, Arc<Ruleset>>,
}

impl Rulesets {
    pub fn of(&self, org: &str) -> Arc<Ruleset> {
        Arc::clone(self.by_org.get(org).unwrap_or(&self.default))
    }
}

/// A runtime of its own for runs, so a run's CPU work never delays a request.
#[derive(Clone)]
pub struct Compute {
    handle: tokio::runtime::Handle,
    // Dropping the last clone ends the runtime's thread (and the runtime with it, off any
    // async context, where dropping a runtime is allowed).
    _stop: Arc<std::sync::mpsc::SyncSender<()>>,
}

impl Compute {
    pub fn new() -> std::io::Result<Compute> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("payroll-run")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = std::sync::mpsc::sync_channel::<()>(0);
        std::thread::Builder::new()
            .name("payroll-compute".into())
            .spawn(move || {
                // Returns once every sender is gone.
                let _ = stopped.recv();
                drop(runtime);
            })?;
        Ok(Compute {
            handle,
            _stop: Arc::new(stop),
        })
    }

    pub fn handle(&self) -> tokio::runtime::Handle {
        self.handle.clone()
    }

    pub async fn run<F>(&self, work: F) -> Result<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle
            .spawn(work)
            .await
            .map_err(|e| Error::Internal(format!("a run's task ended abnormally: {e}")))
    }
}
