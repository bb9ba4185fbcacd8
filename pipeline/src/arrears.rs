//! The arrears a run of an open period carries: each locked period of its org computed again
//! for the workers late events touched, with the ruleset version its locked run applied, less
//! what was paid for it (the locked run and the arrears settled since). The worker master is
//! not dated, so the terms of pay (rate, basis, skill...) are the locked run's: a raise recorded
//! after the lock is paid from the next open period, not as arrears.
//!
//! Which workers a locked period is computed for: in a stream's state a closed period holds
//! only the workers late events brought back ([`Ledger::reopened`], and those still waiting
//! for their archived events, read here); a period not closed (an input folder, or a lock the
//! stream has not acted on yet) holds every event, so every worker of the org is a candidate.
//! Of the candidates, only those whose period inputs now differ from those the locked run
//! computed from (its results carry them), or whom it did not pay, are computed again.

use std::collections::BTreeSet;

use payroll_connectors::archive;
use payroll_connectors::results::{applied_ruleset, read_arrears, read_org_results, read_run};
use payroll_connectors::{Progress, Store};
use payroll_engine::arrears::{self, Paid};
use payroll_engine::{Arrear, Calculation, Calculator, Ledger, WorkerError, inputs_batches};
use payroll_rules::vocabulary::PayPeriod;

use crate::error::Result;

/// A locked period of the org and the final run that locked it; its arrears, once locked,
/// are settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedRun {
    pub period: PayPeriod,
    pub run_id: String,
}

/// What the locked periods before `period` owe or recover.
#[derive(Default)]
pub struct Carried {
    pub arrears: Vec<Arrear>,
    /// Workers a locked period could not be computed again for.
    pub errors: Vec<WorkerError>,
}

/// Computes the arrears `org`'s run of `period` carries. `state` is the stream's state store
/// when the ledger was merged from it (closed periods' events are in its archive).
pub async fn carried(
    ledger: &mut Ledger,
    state: Option<&Store>,
    out: &Store,
    org: &str,
    period: PayPeriod,
    locked: &[LockedRun],
    progress: &dyn Progress,
) -> Result<Carried> {
    let mut carried = Carried::default();
    let earlier: Vec<&LockedRun> = locked.iter().filter(|l| l.period < period).collect();
    if earlier.is_empty() {
        return Ok(carried);
    }
    progress.stage("computing arrears");
    // Arrears settled so far: those every locked run carried.
    let mut settled = Vec::new();
    for run in locked {
        settled.extend(read_arrears(out, org, &run.period.to_string(), &run.run_id).await?);
    }
    let calculator = Calculator::default();
    for run in earlier {
        let workers = touched(ledger, state, org, run.period).await?;
        let rows: Vec<_> = match &workers {
            Some(ids) => ledger.period_inputs_of(ids.iter().map(String::as_str), run.period),
            None => ledger.period_inputs(run.period),
        };
        let record = read_run(out, &run.run_id).await?;
        // A worker excluded from the locked run was settled another way: no arrears.
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|(w, ..)| w.org_id == org && !record.excluded.iter().any(|e| *e == w.worker_id))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let ruleset = applied_ruleset(out, &record).await?;
        #[allow(clippy::expect_used, reason = "applied_ruleset checks the version")]
        let version = ruleset
            .version(&record.ruleset.version)
            .expect("applied_ruleset checks the version");
        let locked_results = read_org_results(out, org, &record.period, &record.run_id).await?;
        let inputs = arrears::with_locked_terms(&inputs_batches(run.period, &rows), &locked_results)?;
        let settled_here: std::collections::HashSet<&str> = settled
            .iter()
            .filter(|a| a.original_period == run.period)
            .map(|a| a.worker_id.as_str())
            .collect();
        let inputs = arrears::touched(&inputs, &locked_results, &settled_here)?;
        if inputs.is_empty() {
            continue;
        }
        let Calculation { results, errors } = calculator.compute(version, inputs).await?;
        let mut paid = Paid::default();
        paid.add_results(version, &locked_results)?;
        paid.add_arrears(settled.iter().filter(|a| a.original_period == run.period))?;
        carried
            .arrears
            .extend(arrears::differences(version, run.period, &results, &paid)?);
        // A worker the locked run could not compute either was left unpaid for a known reason
        // (excluded before approval): saying so again on every later run tells HR nothing.
        let known: BTreeSet<&str> = record.worker_errors.iter().map(|e| e.worker_id.as_str()).collect();
        let errors = errors.into_iter().filter(|e| !known.contains(e.worker_id.as_str()));
        carried.errors.extend(errors.map(|e| WorkerError {
            reason: format!("recomputing locked period {} for arrears: {}", run.period, e.reason),
            ..e
        }));
    }
    Ok(carried)
}

/// The workers of `org` whose locked `period` must be computed again: `None` for every worker.
async fn touched(
    ledger: &mut Ledger,
    state: Option<&Store>,
    org: &str,
    period: PayPeriod,
) -> Result<Option<BTreeSet<String>>> {
    let Some(state) = state.filter(|_| ledger.is_closed(org, period)) else {
        return Ok(None);
    };
    let of_org = |ledger: &Ledger, worker: &str| ledger.worker(worker).is_some_and(|w| w.org_id == org);
    let reopened: BTreeSet<String> = ledger
        .reopened()
        .filter(|(worker, p)| *p == period && of_org(ledger, worker))
        .map(|(worker, _)| worker.to_string())
        .collect();
    // Late events the stream has not yet brought their workers' archived events back for.
    let waiting: BTreeSet<String> = ledger
        .to_reopen()
        .iter()
        .filter(|(worker, p)| *p == period && of_org(ledger, worker))
        .map(|(worker, _)| worker.to_string())
        .collect();
    if !waiting.is_empty() {
        let archived = archive::read(state, org, period, None).await?;
        for worker in &waiting {
            ledger.fold_archived(archived.of_worker(worker));
        }
    }
    Ok(Some(reopened.into_iter().chain(waiting).collect()))
}
