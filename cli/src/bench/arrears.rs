//! `payroll bench arrears`: what a locked period costs the next run in files mode. A generated
//! month is run as org0's locked month; a late approved adjustment for it then reaches `--late`
//! of its workers, and org0's next month is run twice over the same folder: with the month
//! locked (every worker of the org a candidate, its inputs compared with the locked run's, the
//! changed ones computed again and their arrears carried) and without it.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use payroll_connectors::{Quiet, Store};
use payroll_pipeline::{LockedRun, RunRequest, Source};
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;

use crate::EXAMPLE_RULESET;

const ORG: &str = "org0";

pub async fn arrears(workers: usize, late: usize, period: PayPeriod) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let inputs = dir.path().join("inputs");
    super::generate(workers, period, &inputs)?;
    let ruleset = Ruleset::parse(EXAMPLE_RULESET, Path::new("india-contract.toml"))?;
    let out = Store::open(&dir.path().join("out").display().to_string())?;
    let run = |period: PayPeriod, locked: Vec<LockedRun>| {
        let (inputs, ruleset, out) = (inputs.clone(), &ruleset, &out);
        async move {
            let started = Instant::now();
            let report = payroll_pipeline::run(
                RunRequest {
                    run_id: payroll_engine::run::new_run_id(),
                    period,
                    source: Source::Folder(inputs),
                    ruleset,
                    out,
                    org: Some(ORG),
                    locked: &locked,
                },
                &Quiet,
            )
            .await?;
            anyhow::Ok((report, started.elapsed().as_secs_f64()))
        }
    };

    let (october, _) = run(period, Vec::new()).await?;
    let paid = october.record.rows;
    late_adjustments(&inputs, &org_workers(&inputs, period)?, late, period)?;
    let next = period.next();
    let (plain, plain_s) = run(next, Vec::new()).await?;
    let locked = vec![LockedRun {
        period,
        run_id: october.record.run_id.clone(),
    }];
    let (carrying, carrying_s) = run(next, locked).await?;
    let carried =
        payroll_connectors::results::read_arrears(&out, ORG, &next.to_string(), &carrying.record.run_id).await?;
    let owed: std::collections::BTreeSet<&str> = carried.iter().map(|a| a.worker_id.as_str()).collect();
    if owed.len() != late.min(paid as usize) {
        bail!("{} workers owed arrears, {late} had a late adjustment", owed.len());
    }
    println!(
        "arrears in files mode, {ORG}'s {next} ({} workers) after its {period} ({paid} workers) was locked, {} cores:\n  \
         without a locked period {plain_s:.2} s; with {period} locked {carrying_s:.2} s \
         ({:.2} s for the arrears pass: {} workers owed, {} arrears rows); peak RSS {:.0} MiB",
        plain.record.rows,
        payroll_engine::parallel::cores(),
        carrying_s - plain_s,
        owed.len(),
        carried.len(),
        crate::ui::peak_rss_mib().unwrap_or(f64::NAN),
    );
    Ok(())
}

/// An approved adjustment of `period` for the first `late` of `workers`, appended to the
/// folder's adjustments: pay the locked run did not see.
fn late_adjustments(inputs: &Path, workers: &[String], late: usize, period: PayPeriod) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(inputs.join("adjustments.ndjson"))
        .context("the month's adjustments")?;
    for (i, worker) in workers.iter().take(late).enumerate() {
        writeln!(
            file,
            r#"{{"event_id": "late-{i}", "adjustment_id": "ADJ-late-{i}", "worker_id": "{worker}", "period": "{period}", "kind": "earning", "code": "late_bonus", "amount": "100.00", "reason": "found after payday", "status": "approved", "version": 1, "requested_by": "maker", "approved_by": "checker"}}"#
        )?;
    }
    Ok(())
}

/// The org's workers employed through the whole period: the locked run paid each of them.
fn org_workers(inputs: &Path, period: PayPeriod) -> Result<Vec<String>> {
    let before = period.first_day().to_string();
    let mut reader = csv::Reader::from_path(inputs.join("workers.csv"))?;
    let headers = reader.headers()?.clone();
    let at = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .context(format!("workers.csv has no {name}"))
    };
    let (id, org, joined, exited) = (at("worker_id")?, at("org_id")?, at("joined_on")?, at("exited_on")?);
    let mut ids = Vec::new();
    for record in reader.records() {
        let record = record?;
        if record.get(org) == Some(ORG) && record.get(exited) == Some("") && record.get(joined) < Some(before.as_str())
        {
            ids.push(record.get(id).unwrap_or_default().to_string());
        }
    }
    Ok(ids)
}
