//! `payroll explain`: each component of a worker's pay with its formula, the values it used
//! and its result, read from the run's own results and the ruleset text saved with the run,
//! so the answer to "why is my pay X" is the computation that was paid.

use std::process::ExitCode;

use anyhow::Result;
use payroll_connectors::Store;
use payroll_connectors::results::find_run;
use payroll_rules::vocabulary::PayPeriod;

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// The worker id
    #[arg(long)]
    worker: String,
    /// The pay period, YYYY-MM
    #[arg(long)]
    period: PayPeriod,
    /// A run id; the latest run of the period if omitted
    #[arg(long)]
    run: Option<String>,
    /// The output the run was written to
    #[arg(long, default_value = "./out")]
    out: String,
}

pub async fn explain(args: ExplainArgs) -> Result<ExitCode> {
    let store = Store::open(&args.out)?;
    let record = find_run(&store, args.run.as_deref(), &args.period.to_string()).await?;
    let e = payroll_pipeline::explain::explain(&store, &record, &args.worker).await?;
    println!(
        "Worker {} ({}), {} / {}, period {}\nRun {}, ruleset {} {} (sha256 {})\n",
        e.worker_id,
        e.name,
        e.org_id,
        e.site_id,
        e.period,
        e.run_id,
        e.ruleset,
        e.ruleset_version,
        &e.ruleset_sha256[..12],
    );
    for c in &e.components {
        let kind = match c.round.as_str() {
            "" => "flag".to_string(),
            round => format!("{}, round {round}", c.category),
        };
        println!("{} = {}    [{}; {kind}]", c.name, c.value, c.label);
        match &c.formula {
            None => println!("    an input, computed by the engine from attendance, leave and adjustments"),
            Some(formula) => {
                if let Some(condition) = &c.condition {
                    println!("    when {condition}");
                }
                println!("    = {formula}");
                let used: Vec<String> = c.uses.iter().map(|(u, v)| format!("{u} = {v}")).collect();
                if !used.is_empty() {
                    println!("    with {}", used.join(", "));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
