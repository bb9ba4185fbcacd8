//! A finalized final run's statutory returns (`returns:download`, each download audited as
//! `returns.download` before it is handed out): the EPFO ECR 2.0 text file, the ESIC monthly
//! contribution sheet, and the members either leaves out. Which components fill which column
//! is the `[returns]` mapping of the ruleset the run applied (the copy saved with it).

use payroll_connectors::results::{applied_ruleset, read_run};
use payroll_pipeline::returns;
use payroll_rules::ReturnsDef;
use payroll_rules::vocabulary::PayPeriod;

use crate::app::App;
use crate::audit;
use crate::caller::Caller;
use crate::db::audit::Action;
use crate::db::runs::Run;
use crate::domain::permissions::Permission;
use crate::error::{Error, Result};
use crate::payouts::finalized_final;

/// A return of a run, as handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Return {
    /// EPFO ECR 2.0: one line per member, fields separated by `#~#`, whole rupees.
    Ecr,
    /// ESIC's monthly contribution sheet.
    Esic,
    /// The members the ECR and the ESIC sheet leave out, and why.
    Exceptions,
}

impl Return {
    pub fn file_name(self) -> &'static str {
        match self {
            Return::Ecr => "ecr.txt",
            Return::Esic => "esic.xlsx",
            Return::Exceptions => "exceptions.csv",
        }
    }
}

/// A return's file: its bytes, the period it is of, and how many members it leaves out.
#[derive(Debug)]
pub struct Filed {
    pub bytes: Vec<u8>,
    pub period: PayPeriod,
    pub exceptions: usize,
}

/// Run `id`'s return `which` (`returns:download`), audited before it is made.
pub async fn download(app: &App, caller: &Caller, org: &str, id: &str, which: Return) -> Result<Filed> {
    caller.may(org, Permission::DownloadReturns)?;
    let (run, mapping) = prepare(app, org, id).await?;
    let missing = |section: &str| {
        Error::Conflict(format!(
            "the ruleset run {id} applied has no [returns.{section}] section: add one naming the components of each column"
        ))
    };
    // The mappings this file needs, refused before the download is audited.
    let ecr = match which {
        Return::Ecr => Some(mapping.ecr.as_ref().ok_or_else(|| missing("ecr"))?),
        Return::Esic => None,
        Return::Exceptions => mapping.ecr.as_ref(),
    };
    let esic = match which {
        Return::Esic => Some(mapping.esic.as_ref().ok_or_else(|| missing("esic"))?),
        Return::Ecr => None,
        Return::Exceptions => mapping.esic.as_ref(),
    };
    let target = format!("runs/{id}/returns/{}", which.file_name());
    audit::downloaded(app, caller, Action::ReturnsDownload, &target).await?;
    let period = run.period;
    let (mut bytes, mut left_out) = (Vec::new(), Vec::new());
    if let Some(def) = ecr {
        let ecr = returns::ecr(&app.store, org, &period.to_string(), id, def).await?;
        (bytes, left_out) = (ecr.bytes, ecr.exceptions);
    }
    if let Some(def) = esic {
        let esic = returns::esic(&app.store, org, period, id, def).await?;
        bytes = esic.bytes;
        left_out.extend(esic.exceptions);
    }
    if which == Return::Exceptions {
        bytes = returns::exceptions_csv(&left_out)?;
    }
    Ok(Filed {
        bytes,
        period,
        exceptions: left_out.len(),
    })
}

/// The run (finalized, final) and the `[returns]` mapping of the ruleset it applied.
async fn prepare(app: &App, org: &str, id: &str) -> Result<(Run, ReturnsDef)> {
    let run = finalized_final(app, org, id, "statutory returns").await?;
    let record = read_run(&app.store, id).await?;
    let ruleset = applied_ruleset(&app.store, &record).await?;
    let mapping = ruleset
        .version(&record.ruleset.version)
        .and_then(|v| v.returns.clone())
        .ok_or_else(|| {
            Error::Conflict(format!(
                "the ruleset run {id} applied ({} version {}) has no [returns] section: add one naming the components of each ECR and ESIC column",
                record.ruleset.name, record.ruleset.version
            ))
        })?;
    Ok((run, mapping))
}
