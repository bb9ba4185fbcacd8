//! `payroll payslips`: a run's payslips (PDF, XLSX) and register, to the run's output store.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use payroll_connectors::Store;
use payroll_connectors::results::{RunRecord, find_run};
use payroll_pipeline::payslips::{BatchReport, Formats};
use payroll_rules::vocabulary::PayPeriod;

use crate::ui;

#[derive(clap::Args)]
pub struct PayslipsArgs {
    /// The run whose payslips to render
    #[arg(long, required_unless_present = "latest", conflicts_with = "latest")]
    run: Option<String>,
    /// Render the latest run of --period
    #[arg(long)]
    latest: bool,
    /// The pay period, YYYY-MM
    #[arg(long)]
    period: PayPeriod,
    /// Documents per worker
    #[arg(long, default_value = "pdf,xlsx")]
    format: Formats,
    /// The output the run was written to; payslips go beside its results
    #[arg(long, default_value = "./out")]
    out: String,
}

pub async fn payslips(args: PayslipsArgs) -> Result<ExitCode> {
    let store = Store::open(&args.out)?;
    let record = find_run(&store, args.run.as_deref(), &args.period.to_string()).await?;
    let started = Instant::now();
    let report = render(&store, &record, args.format, &ui::Bar::new()).await?;
    print!("{}", summary(&report, &store, started.elapsed().as_secs_f64()));
    Ok(if report.failures().next().is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Renders and writes a run's payslips with the ruleset the run applied.
pub async fn render(store: &Store, record: &RunRecord, formats: Formats, bar: &ui::Bar) -> Result<BatchReport> {
    let report = payroll_pipeline::payslips::render(store, record, formats, &Default::default(), bar).await?;
    bar.finish();
    Ok(report)
}

pub fn summary(report: &BatchReport, store: &Store, seconds: f64) -> String {
    let mut text = format!(
        "Payslips: {} workers, {} files written, {} already present, {:.1} MB in {seconds:.2} s ({:.0} payslips/s)\n",
        report.payslips,
        report.written,
        report.kept,
        report.bytes as f64 / 1e6,
        report.payslips as f64 / seconds.max(1e-9),
    );
    let failures: Vec<_> = report.failures().collect();
    if !failures.is_empty() {
        text.push_str(&format!(
            "{} FAILED (recorded in each org's manifest.json):\n",
            failures.len()
        ));
        for f in failures.iter().take(10) {
            text.push_str(&format!("  {} {}: {}\n", f.worker_id, f.file, f.error));
        }
    }
    text.push_str(&format!(
        "Payslips: {}\n",
        store.url_of(&object_store::path::Path::from("payslips"))
    ));
    text
}
