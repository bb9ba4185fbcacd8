//! `payroll query`: DataFusion SQL over every complete run's results (table `results`) and the
//! newest complete run of each org and period (table `latest`), or over a stream's live results
//! (table `live`).

use std::process::ExitCode;

use anyhow::Result;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::execution::context::{SessionConfig, SessionContext};
use payroll_connectors::Store;
use payroll_connectors::results::{register_live, register_results};

#[derive(clap::Args)]
#[command(
    after_help = "Tables: results (every complete run: re-runs repeat workers), latest (the newest complete \
    run of each org and period). Each row carries run_id, org_id and period, e.g.\n  \
    payroll query \"SELECT org_id, count(*), sum(net_pay) FROM latest WHERE period = '2026-10' GROUP BY org_id\""
)]
pub struct QueryArgs {
    /// The SQL query
    sql: String,
    /// The output the results were written to
    #[arg(long, default_value = "./out")]
    out: String,
    /// A stream's state (its --state): query its live results as the table `live`
    #[arg(long)]
    state: Option<String>,
    /// Print CSV instead of a table
    #[arg(long)]
    csv: bool,
}

pub async fn query(args: QueryArgs) -> Result<ExitCode> {
    // Decimal literals stay decimal, so `WHERE gross > 21000.50` compares exactly.
    let config = SessionConfig::new().set_bool("datafusion.sql_parser.parse_float_as_decimal", true);
    let ctx = SessionContext::new_with_config(config);
    match &args.state {
        Some(state) => register_live(&ctx, &Store::open(state)?).await?,
        None => register_results(&ctx, &Store::open(&args.out)?).await?,
    }
    let batches = ctx.sql(&args.sql).await?.collect().await?;
    if args.csv {
        let mut writer = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(std::io::stdout());
        for batch in &batches {
            writer.write(batch)?;
        }
    } else {
        println!("{}", pretty_format_batches(&batches)?);
    }
    Ok(ExitCode::SUCCESS)
}
