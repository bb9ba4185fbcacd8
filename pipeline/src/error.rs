//! What can stop a run or a payslip batch, by where it came from.

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ruleset: no version in force for the period, or the saved copy is unreadable.
    #[error(transparent)]
    Rules(#[from] payroll_rules::Error),
    /// The calculation: a component with no value, an invalid input.
    #[error(transparent)]
    Engine(#[from] payroll_engine::Error),
    /// Reading inputs or state, writing results: files and the object store.
    #[error(transparent)]
    Connectors(#[from] payroll_connectors::Error),
    #[error(transparent)]
    Payslips(#[from] crate::payslips::BatchError),
    /// Arrow or DataFusion, on data this crate shapes itself (a preview's inputs and figures).
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error(
        "worker {worker} is not in run {run} ({period}): not employed in the period, or their master row was refused (see the run's dead letters)"
    )]
    WorkerNotInRun {
        worker: String,
        run: String,
        period: String,
    },
    /// Every worker of the run has a worker error: nothing to write or pay.
    #[error(
        "no worker could be computed: {workers} worker(s) have errors, the first {first}; fix the ruleset's tables or formulas, or the inputs they read"
    )]
    NoWorkerComputed {
        workers: usize,
        first: payroll_engine::WorkerError,
    },
    /// The worker is in the run, but their pay could not be computed (a worker error).
    #[error(
        "worker {worker} has no result in run {run}: {}",
        .errors.iter().map(|e| format!("component `{}`: {}", e.component, e.reason)).collect::<Vec<_>>().join("; ")
    )]
    WorkerNotComputed {
        worker: String,
        run: String,
        errors: Vec<payroll_engine::WorkerError>,
    },
    #[error("ruleset version {0} has no [payslip] section naming its net component: arrears are differences in it")]
    NoNetComponent(String),
    /// A results cell no exact decimal holds: the inputs that fed it are far out of range.
    #[error("worker {worker}: `{column}` does not fit an exact decimal (28 digits); check the inputs that feed it")]
    AmountOutOfRange { worker: String, column: String },
    /// A run for one org found no worker of it employed in the period.
    #[error("org `{org}` has no worker employed in {period}")]
    NoWorkers { org: String, period: String },
}
