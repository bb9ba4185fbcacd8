//! `payroll query`: DataFusion SQL over every complete run's results (table `results`), the
//! newest complete run of each org and period (table `latest`), the runs' days and per-site
//! figures (`attendance_days`, `summary`), arrears and findings, or over a stream's live
//! results (table `live`).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::execution::context::{SessionConfig, SessionContext};
use payroll_connectors::Store;
use payroll_connectors::results::{register_live, register_results};
use payroll_engine::spreadsheet::neutralise;

#[derive(clap::Args)]
#[command(
    after_help = "Tables: results (every complete run: re-runs repeat workers), latest (the newest complete \
    run of each org and period), attendance_days (a row per worker and day: status, worked_minutes, \
    ot_minutes, first_in, last_out, missed_punch), summary (a row per run and site: headcount, gross, net, \
    employer_cost, ot_hours, lop_days, attendance_rate), arrears, findings. Each row carries run_id, org_id \
    and period, e.g.\n  \
    payroll query \"SELECT org_id, count(*), sum(net_pay) FROM latest WHERE period = '2026-10' GROUP BY org_id\"\n  \
    payroll query \"SELECT site_id, status, count(*) FROM attendance_days GROUP BY site_id, status ORDER BY 1, 2\""
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
            writer.write(&neutralised(batch)?)?;
        }
    } else {
        println!("{}", pretty_format_batches(&batches)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// `batch` with its text columns [`neutralise`]d: CSV on stdout ends up in a spreadsheet as
/// often as in a pipe, and a worker's name must not run there. Numbers are not text columns
/// (and `neutralise` leaves a number in text as it is).
fn neutralised(batch: &RecordBatch) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if !matches!(
            field.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
            continue;
        }
        let text = cast(column, &DataType::Utf8)?;
        let safe: StringArray = text
            .as_string::<i32>()
            .iter()
            .map(|cell| cell.map(neutralise))
            .collect();
        fields.push(Field::new(field.name(), DataType::Utf8, field.is_nullable()));
        columns.push(Arc::new(safe) as ArrayRef);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_text_columns_are_neutralised_and_numbers_kept() {
        use datafusion::arrow::array::{Decimal128Array, StringViewArray};
        let names = StringViewArray::from(vec![Some(r#"=HYPERLINK("http://x","y")"#), None, Some("Worker 2")]);
        let amounts = Decimal128Array::from(vec![-73125, 100, 0])
            .with_precision_and_scale(18, 2)
            .unwrap();
        let texts = StringArray::from(vec!["-731.25", "@SUM(1)", "-"]);
        let batch = RecordBatch::try_from_iter([
            ("name", Arc::new(names) as ArrayRef),
            ("net_pay", Arc::new(amounts) as ArrayRef),
            ("note", Arc::new(texts) as ArrayRef),
        ])
        .unwrap();
        let mut out = Vec::new();
        datafusion::arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut out)
            .write(&neutralised(&batch).unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "name,net_pay,note\n\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",-731.25,-731.25\n,1.00,'@SUM(1)\nWorker 2,0.00,'-\n"
        );
    }
}
