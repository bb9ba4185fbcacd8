//! Reading a few columns of a run's results, a part and a row group at a time: payouts and
//! statutory returns need a handful of a hundred columns, for every worker of an org, and a
//! hundred thousand workers' full rows are never held at once.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Date32Type, Decimal128Type, Int64Type};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use payroll_connectors::Store;
use payroll_connectors::results::results_parts;
use payroll_engine::money::decimal;
use rust_decimal::Decimal;

use crate::error::{Error, Result};

/// Calls `each` with every batch of `columns` (those the results have; a missing one is simply
/// absent from the batch) of the org's results of the run, in order.
pub async fn each_batch(
    store: &Store,
    org: &str,
    period: &str,
    run_id: &str,
    columns: &[&str],
    mut each: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<()> {
    for part in results_parts(store, org, period, run_id).await? {
        let bytes = store.get(&part).await?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(payroll_connectors::Error::from)?;
        let mask = ProjectionMask::columns(builder.parquet_schema(), columns.iter().copied());
        for batch in builder
            .with_projection(mask)
            .build()
            .map_err(payroll_connectors::Error::from)?
        {
            each(&batch.map_err(payroll_connectors::Error::from)?)?;
        }
    }
    Ok(())
}

/// A text cell; empty when null or absent.
pub fn text<'a>(batch: &'a RecordBatch, name: &str, row: usize) -> &'a str {
    match batch.column_by_name(name) {
        Some(column) if !column.is_null(row) && column.data_type() == &DataType::Utf8 => {
            column.as_string::<i32>().value(row)
        }
        _ => "",
    }
}

/// An amount or count cell as a decimal; zero when null (a component whose condition is false
/// is zero) or absent. One past an exact decimal (28 digits) is an error naming the worker and
/// column: a payout or a return never carries a figure quietly turned into zero.
pub fn number(batch: &RecordBatch, name: &str, row: usize) -> Result<Decimal> {
    let Some(column) = batch.column_by_name(name) else {
        return Ok(Decimal::ZERO);
    };
    if column.is_null(row) {
        return Ok(Decimal::ZERO);
    }
    Ok(match column.data_type() {
        DataType::Decimal128(_, scale) => decimal(column.as_primitive::<Decimal128Type>().value(row), *scale)
            .ok_or_else(|| Error::AmountOutOfRange {
                worker: text(batch, "worker_id", row).to_string(),
                column: name.to_string(),
            })?,
        DataType::Int64 => Decimal::from(column.as_primitive::<Int64Type>().value(row)),
        _ => Decimal::ZERO,
    })
}

/// A true/false cell; false when null or absent.
pub fn flag(batch: &RecordBatch, name: &str, row: usize) -> bool {
    match batch.column_by_name(name) {
        Some(column) if !column.is_null(row) && column.data_type() == &DataType::Boolean => {
            column.as_boolean().value(row)
        }
        _ => false,
    }
}

/// A date cell; `None` when null or absent.
pub fn date(batch: &RecordBatch, name: &str, row: usize) -> Option<chrono::NaiveDate> {
    let column = batch.column_by_name(name)?;
    if column.is_null(row) || column.data_type() != &DataType::Date32 {
        return None;
    }
    let days = column.as_primitive::<Date32Type>().value(row);
    chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
}
