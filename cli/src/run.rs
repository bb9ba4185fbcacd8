//! `payroll run`: the pipeline (`payroll_pipeline::run`) with a progress bar, and the summary a
//! person reads at the end.

use anyhow::{Context, Result};
use payroll_connectors::Store;
use payroll_engine::Ledger;
use payroll_engine::lifecycle::RunKind;
use payroll_pipeline::{RunReport, RunRequest, Source};
use payroll_rules::vocabulary::PayPeriod;
use payroll_rules::{Category, Ruleset};
use payroll_service::caller::Caller;
use payroll_service::db::{self, Db};

use crate::ui::{self, Bar};

/// Runs `period` for every org of `source` into the store at `out`, under a new run id.
pub async fn run(
    period: PayPeriod,
    source: Source,
    ruleset: &Ruleset,
    out: &str,
    bar: &Bar,
) -> Result<(RunReport, Store)> {
    let store = Store::open(out).with_context(|| format!("opening output {out}"))?;
    let request = RunRequest {
        run_id: payroll_engine::run::new_run_id(),
        period,
        source,
        ruleset,
        out: &store,
        org: None,
        locked: &[],
    };
    let report = payroll_pipeline::run(request, bar).await?;
    bar.finish();
    Ok((report, store))
}

/// Where `payroll run --database` records its run, and who asks for it.
pub struct Recorded<'a> {
    pub database: &'a str,
    pub org: &'a str,
    pub kind: RunKind,
    /// A token of the service (`--token`) with `runs:trigger` for `org`.
    pub token: Option<&'a str>,
    /// The service's config file, for the keys that check the token (as `payroll serve` reads
    /// them: the file, then `PAYROLL_` variables).
    pub config: Option<&'a std::path::Path>,
}

/// Runs `period` for one org as a run of the service's database: created there (a locked period
/// or a second live final is refused as the API refuses it), calculated here, recorded there
/// with its summary, so the service and the CLI see the same runs and locks.
pub async fn run_recorded(
    period: PayPeriod,
    source: Source,
    ruleset: &Ruleset,
    out: &str,
    target: Recorded<'_>,
    bar: &Bar,
) -> Result<(RunReport, Store)> {
    let store = Store::open(out).with_context(|| format!("opening output {out}"))?;
    // Four eyes hold by every path: the run is requested by the token's person, whom the
    // service then refuses as its approver.
    let token = target.token.with_context(|| {
        format!(
            "--database records a run of the service: it needs --token (or PAYROLL_TOKEN), a token of the service with runs:trigger for org {}",
            target.org
        )
    })?;
    let config = payroll_service::ServeConfig::load(target.config)?;
    let db = Db::connect(target.database).await?;
    let caller = Caller::from_token(&config, &db, token).await?;
    let actor = format!("cli:{}", caller.sub);
    // What the API's trigger does: the caller's org and runs:trigger checked, the run created
    // and audited as run.trigger in one transaction.
    let trigger = payroll_service::runs::Trigger {
        period,
        kind: target.kind,
        idempotency: None,
    };
    let (created, _) = payroll_service::runs::trigger(&db, &caller, target.org, trigger).await?;
    let run = payroll_service::runs::start(&db, target.org, &created.id, &actor).await?;
    let locked = db::runs::locked_runs(&db, target.org).await?;
    let request = RunRequest {
        run_id: run.id.clone(),
        period,
        source,
        ruleset,
        out: &store,
        org: Some(target.org),
        locked: &locked,
    };
    let report = match payroll_pipeline::run(request, bar).await {
        Ok(report) => report,
        Err(e) => {
            payroll_service::runs::failed(&db, target.org, &run.id, &actor, &e.to_string()).await?;
            return Err(e.into());
        }
    };
    bar.finish();
    payroll_service::runs::calculated(&db, &run, &report, &actor, None).await?;
    Ok((report, store))
}

/// Leaves a run's folded month to the process's exit, which gives its memory back at once:
/// freed one by one, a million workers' master and states held `payroll run` up most of a
/// second after its summary.
pub fn leave_to_exit(ledger: Ledger) {
    std::mem::forget(ledger);
}

/// An exact total as the summary shows it: `12,34,567.50`.
fn rupees(total: &str) -> String {
    total
        .parse()
        .map_or_else(|_| total.to_string(), payroll_payslips::format_inr)
}

/// Findings by severity: `9 block, 1 warn`, or `none`.
fn findings_count(findings: &[payroll_engine::findings::Finding]) -> String {
    let counts: Vec<String> = payroll_rules::Severity::ALL
        .into_iter()
        .filter_map(|severity| {
            let n = findings.iter().filter(|f| f.severity == severity).count();
            (n > 0).then(|| format!("{n} {severity}"))
        })
        .collect();
    if counts.is_empty() {
        "none".to_string()
    } else {
        counts.join(", ")
    }
}

/// The summary a person reads at the end of a run.
pub fn summary(report: &RunReport, out: &Store, ruleset: &Ruleset) -> String {
    let r = &report.record;
    let mut rows = vec![
        ("Run".to_string(), r.run_id.clone()),
        ("Period".to_string(), r.period.clone()),
        (
            "Ruleset".to_string(),
            format!("{} {}", r.ruleset.name, r.ruleset.version),
        ),
        ("Workers".to_string(), r.rows.to_string()),
        ("Events folded".to_string(), report.events.to_string()),
    ];
    let version = ruleset.version(&r.ruleset.version);
    for component in version
        .into_iter()
        .flat_map(|v| &v.components)
        .filter(|c| c.category == Category::Total)
    {
        if let Some(total) = r.totals.get(&component.name) {
            rows.push((component.label.clone(), rupees(total)));
        }
    }
    rows.push(("Dead letters".to_string(), report.dead_letters.total().to_string()));
    let errors = &r.worker_errors;
    rows.push(("Worker errors".to_string(), errors.len().to_string()));
    rows.push(("Findings".to_string(), findings_count(&report.findings)));
    let [read, compute, write] = report.stages.map(|stage| stage.as_secs_f64());
    rows.push((
        "Time".to_string(),
        format!(
            "{:.2} s (read {read:.1}, compute {compute:.1}, write {write:.1})",
            report.elapsed.as_secs_f64()
        ),
    ));
    if let Some(mib) = ui::peak_rss_mib() {
        rows.push(("Peak memory".to_string(), format!("{mib:.0} MiB")));
    }
    let mut text = ui::table(&rows);
    if report.dead_letters.total() > 0 {
        text.push_str(&format!(
            "\n\nRefused (see dead-letter/run_id={}/ in the output):\n",
            report.record.run_id
        ));
        for letter in report.dead_letters.iter().take(5) {
            text.push_str(&format!("  {letter}\n"));
        }
        if report.dead_letters.total() > 5 {
            text.push_str(&format!("  ... and {} more\n", report.dead_letters.total() - 5));
        }
    }
    // The run succeeded for every other worker: its results are written and the command exits
    // 0. These workers are in no result, payslip or total until the rules or inputs are fixed
    // (or, for a final run in the service, they are excluded).
    if !errors.is_empty() {
        text.push_str(&format!(
            "\n\nNot computed, left out of the results and totals (see worker_errors in {}):\n",
            out.url_of(&payroll_connectors::layout::run_record(&r.run_id))
        ));
        for error in errors.iter().take(5) {
            text.push_str(&format!("  {error}\n"));
        }
        if errors.len() > 5 {
            text.push_str(&format!("  ... and {} more\n", errors.len() - 5));
        }
    }
    let blocks: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == payroll_rules::Severity::Block)
        .collect();
    if !blocks.is_empty() {
        text.push_str(
            "\n\nBlock findings (a final run is approved once each is acknowledged; table `findings` of `payroll query`):\n",
        );
        for f in blocks.iter().take(5) {
            text.push_str(&format!("  {}: {}: {}\n", f.worker_id, f.check, f.message));
        }
        if blocks.len() > 5 {
            text.push_str(&format!("  ... and {} more\n", blocks.len() - 5));
        }
    }
    text.push_str(&format!(
        "\nResults: {}\n",
        out.url_of(&object_store::path::Path::from(payroll_connectors::layout::RESULTS))
    ));
    text
}
