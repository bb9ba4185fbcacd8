//! `payroll explain`: each component of a worker's pay with its formula, the values it used
//! and its result, read from the run's own results and the ruleset text saved with the run,
//! so the answer to "why is my pay X" is the computation that was paid.

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::util::display::array_value_to_string;
use payroll_connectors::Store;
use payroll_connectors::results::{applied_ruleset, find_run, read_results};
use payroll_rules::Category;
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
    let period = args.period.to_string();
    let record = find_run(&store, args.run.as_deref(), &period).await?;
    let ruleset = applied_ruleset(&store, &record).await?;
    let version = ruleset
        .version(&record.ruleset.version)
        .expect("applied_ruleset checks the version");
    let batches = read_results(&store, &record).await?;
    let (batch, row) = find_worker(&batches, &args.worker).ok_or_else(|| {
        anyhow!(
            "worker {} is not in run {} ({period}): not employed in the period, or their master row was refused (see dead-letter/workers.csv.ndjson)",
            args.worker,
            record.run_id
        )
    })?;
    let value = |name: &str| -> String {
        batch
            .column_by_name(name)
            .map(|c| array_value_to_string(c, row).unwrap_or_default())
            .unwrap_or_else(|| "?".into())
    };

    println!(
        "Worker {} ({}), {} / {}, period {period}\nRun {}, ruleset {} {} (sha256 {})\n",
        args.worker,
        value("name"),
        value("org_id"),
        value("site_id"),
        record.run_id,
        record.ruleset.name,
        record.ruleset.version,
        &record.ruleset.sha256[..12],
    );
    for c in &version.components {
        let result = value(&c.name);
        let kind = match c.category {
            Category::Flag => "flag".to_string(),
            category => format!("{}, round {}", category.as_str(), c.rounding),
        };
        println!("{} = {result}    [{}; {kind}]", c.name, c.label);
        match &c.formula {
            None => println!("    an input, computed by the engine from attendance, leave and adjustments"),
            Some(formula) => {
                if let Some(condition) = &c.condition {
                    println!("    when {}", one_line(condition));
                }
                println!("    = {}", one_line(formula));
                let used: Vec<String> = c.uses.iter().map(|u| format!("{u} = {}", value(u))).collect();
                if !used.is_empty() {
                    println!("    with {}", used.join(", "));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn find_worker<'a>(batches: &'a [RecordBatch], worker: &str) -> Option<(&'a RecordBatch, usize)> {
    batches.iter().find_map(|b| {
        let ids = b.column_by_name("worker_id")?.as_string::<i32>();
        (0..ids.len()).find(|&i| ids.value(i) == worker).map(|i| (b, i))
    })
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
