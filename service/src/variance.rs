//! A run against the org's last finalized period, for the people who approve it (`pay:view`,
//! each download audited as `variance.download`): per worker last and this period's net pay,
//! the difference and the components that moved most; per site headcount and cost then and now
//! (`payroll_pipeline::variance`).

use payroll_connectors::results::{applied_ruleset, read_org_results, read_run};
use payroll_pipeline::variance::{self, Variance};
use payroll_rules::vocabulary::PayPeriod;

use crate::app::App;
use crate::audit;
use crate::caller::Caller;
use crate::db::audit::Action;
use crate::db::runs;
use crate::domain::permissions::Permission;
use crate::error::{Error, Result};

/// The files of a variance report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// Per worker, the biggest change first.
    WorkersCsv,
    /// Per site.
    SitesCsv,
    /// Both, a sheet each.
    Xlsx,
}

impl Report {
    pub fn file_name(self) -> &'static str {
        match self {
            Report::WorkersCsv | Report::SitesCsv => "variance.csv",
            Report::Xlsx => "variance.xlsx",
        }
    }
}

/// Run `id`'s variance report against the org's last finalized period before its own, and the
/// two periods compared (then, now).
pub async fn report(
    app: &App,
    caller: &Caller,
    org: &str,
    id: &str,
    which: Report,
) -> Result<(Vec<u8>, PayPeriod, PayPeriod)> {
    caller.may(org, Permission::ViewPay)?;
    let run = runs::get(&app.db, org, id).await?;
    if run.summary.is_none() {
        return Err(Error::Conflict(format!(
            "run {id} is {}: a variance report compares a calculated run with the last finalized period",
            run.status
        )));
    }
    let last = runs::locked_runs(&app.db, org)
        .await?
        .into_iter()
        .filter(|l| l.period < run.period)
        .max_by_key(|l| l.period)
        .ok_or_else(|| {
            Error::Conflict(format!(
                "org {org} has no finalized period before {}: nothing to compare run {id} with",
                run.period
            ))
        })?;
    let record = read_run(&app.store, id).await?;
    let ruleset = applied_ruleset(&app.store, &record).await?;
    let version = ruleset
        .version(&record.ruleset.version)
        .ok_or_else(|| Error::Internal(format!("run {id}'s ruleset has no version {}", record.ruleset.version)))?;
    let net = version.payslip.as_ref().map(|p| p.net.clone()).ok_or_else(|| {
        Error::Conflict(format!(
            "the ruleset run {id} applied has no [payslip] section naming its net pay: a variance report compares net pay"
        ))
    })?;
    let target = format!("runs/{id}/{}", which.file_name());
    audit::downloaded(app, caller, Action::VarianceDownload, &target).await?;
    let now = read_org_results(&app.store, org, &run.period.to_string(), id).await?;
    let then = read_org_results(&app.store, org, &last.period.to_string(), &last.run_id).await?;
    let variance: Variance = variance::compare(&now, &then, version, &net);
    let bytes = match which {
        Report::WorkersCsv => variance::workers_csv(&variance)?,
        Report::SitesCsv => variance::sites_csv(&variance)?,
        Report::Xlsx => variance::xlsx(&variance)?,
    };
    Ok((bytes, last.period, run.period))
}
