//! `payroll preview`: what a ruleset revision or new rates would cost, before anything changes.
//! The base run's results carry every input, so the previewed rules are computed over them
//! (no fold again); nothing is written. Prints the totals per component for the base run and
//! the preview, how many workers gain, lose or change findings, and who changes most.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};
use payroll_connectors::Store;
use payroll_connectors::results::{applied_ruleset, read_results, read_run};
use payroll_engine::findings::Previous;
use payroll_pipeline::preview::{PreviewRequest, findings_of_run, preview};
use payroll_rules::Ruleset;
use rust_decimal::Decimal;

#[derive(clap::Args)]
#[command(after_help = "Example:\n  \
    payroll preview --run 01a2... --rules pf-ceiling-25000.toml --out ./out\n  \
    payroll preview --run 01a2... --rates new-rates.csv     (worker_id,rate; the run's own rules)")]
pub struct PreviewArgs {
    /// The calculated run whose inputs the preview reads
    #[arg(long)]
    run: String,
    /// The ruleset to preview (TOML); the run's own when omitted
    #[arg(long)]
    rules: Option<PathBuf>,
    /// New rates: a CSV with the columns worker_id and rate
    #[arg(long)]
    rates: Option<PathBuf>,
    /// The output the run was written to
    #[arg(long, default_value = "./out")]
    out: String,
    /// Workers listed, the biggest change first
    #[arg(long, default_value_t = 10)]
    top: usize,
}

pub async fn preview_run(args: PreviewArgs) -> Result<ExitCode> {
    let store = Store::open(&args.out)?;
    let record = read_run(&store, &args.run).await?;
    let period = record.period.parse().map_err(anyhow::Error::msg)?;
    let applied = applied_ruleset(&store, &record).await?;
    let base_net = applied
        .version(&record.ruleset.version)
        .and_then(|v| v.payslip.as_ref())
        .map(|p| p.net.clone())
        .context("the run's ruleset has no [payslip] section naming its net pay")?;
    let ruleset = match &args.rules {
        Some(path) => Ruleset::load(path)?,
        None => applied,
    };
    let rates = match &args.rates {
        Some(path) => read_rates(path)?,
        None => BTreeMap::new(),
    };
    let base = read_results(&store, &record).await?;
    let base_findings = findings_of_run(&store, &record).await?;
    let request = PreviewRequest {
        base: &base,
        period,
        ruleset: &ruleset,
        rates: &rates,
        base_net: &base_net,
        previous: &Previous::none(),
        base_findings: &base_findings,
    };
    let preview = preview(request).await?;
    let s = &preview.summary;
    let mut totals = Table::new();
    totals.load_preset(UTF8_FULL_CONDENSED);
    totals.set_header(vec!["Component", "Base", "Preview", "Difference"]);
    let money = |v: Option<Decimal>| v.map_or_else(|| "—".to_string(), payroll_payslips::format_inr);
    for t in &s.totals {
        let difference = t.preview.unwrap_or_default() - t.base.unwrap_or_default();
        totals.add_row(vec![
            Cell::new(&t.component),
            Cell::new(money(t.base)).set_alignment(CellAlignment::Right),
            Cell::new(money(t.preview)).set_alignment(CellAlignment::Right),
            Cell::new(money(Some(difference))).set_alignment(CellAlignment::Right),
        ]);
    }
    println!(
        "Preview of run {} ({}) under {} {}{}:\n{totals}",
        record.run_id,
        record.period,
        ruleset.name,
        ruleset.version_on(period.first_day())?.version,
        if rates.is_empty() {
            String::new()
        } else {
            format!(", {} new rate(s)", rates.len())
        },
    );
    println!(
        "{} workers: {} gain, {} lose, {} same; {} not computed. Findings of the ruleset's checks change for {} (last period's values are not read here).",
        s.workers, s.gain, s.lose, s.same, s.worker_errors, s.findings_changed
    );
    if args.top > 0 && !preview.workers.is_empty() {
        let mut workers = Table::new();
        workers.load_preset(UTF8_FULL_CONDENSED);
        workers.set_header(vec!["Worker", "Base net", "Preview net", "Difference"]);
        for w in preview.workers.iter().take(args.top) {
            workers.add_row(vec![
                Cell::new(&w.worker_id),
                Cell::new(money(w.base)).set_alignment(CellAlignment::Right),
                Cell::new(money(w.preview)).set_alignment(CellAlignment::Right),
                Cell::new(money(Some(w.difference()))).set_alignment(CellAlignment::Right),
            ]);
        }
        println!("{workers}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `worker_id,rate` rows; a bad one is named by its line.
fn read_rates(path: &PathBuf) -> Result<BTreeMap<String, Decimal>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header = reader.headers()?.clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| format!("{}: no column `{name}` (expected worker_id,rate)", path.display()))
    };
    let (worker, rate) = (column("worker_id")?, column("rate")?);
    let mut rates = BTreeMap::new();
    for (i, record) in reader.records().enumerate() {
        let record = record?;
        let line = i + 2;
        let value = record.get(rate).unwrap_or_default().trim();
        let parsed: Decimal = value
            .parse()
            .ok()
            .filter(|r: &Decimal| !r.is_sign_negative() && r.scale() <= 2)
            .with_context(|| {
                format!(
                    "{}:{line}: rate `{value}`: expected an amount like 850.00",
                    path.display()
                )
            })?;
        rates.insert(record.get(worker).unwrap_or_default().trim().to_string(), parsed);
    }
    Ok(rates)
}
