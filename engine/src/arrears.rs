//! Arrears: what late events change in a paid (locked) period, carried by a later run.
//!
//! A locked period's results never change. When a late punch, leave or adjustment touches it,
//! the period is computed again for the workers concerned, with the ruleset version the locked
//! run applied, and each money component's difference from what was already paid for it (the
//! locked run plus arrears settled since) is carried by the next run of an open period. A
//! difference is carried whatever its sign: a recovery is as much an arrear as a payment.
//!
//! This module is the arithmetic, on Arrow batches and decimals; reading the locked run, its
//! settled arrears and the late events is the pipeline's.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, Schema};
use payroll_rules::vocabulary::PayPeriod;
use payroll_rules::{Category, CompiledVersion};
use rust_decimal::Decimal;

use crate::error::{Error, Result};

/// The column of a run's results with the arrears net it carries for the worker (zero when
/// none), and the one with what the worker is paid: net pay plus arrears net.
pub const ARREARS_NET: &str = "arrears_net";
pub const NET_PAYABLE: &str = "net_payable";

/// One component's difference for a worker and an original (locked) period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrear {
    pub org_id: String,
    pub worker_id: String,
    pub original_period: PayPeriod,
    pub component: String,
    /// What was paid for the component: the locked run plus arrears settled since.
    pub paid: Decimal,
    /// What the period gives now, with the late events.
    pub recomputed: Decimal,
    /// `recomputed - paid`: negative for a recovery.
    pub arrear: Decimal,
}

/// The components arrears are computed for: every amount a payslip or the register shows
/// (earnings, deductions, employer contributions and totals), never flags or intermediates.
pub fn components(version: &CompiledVersion) -> impl Iterator<Item = &str> {
    version
        .components
        .iter()
        .filter(|c| {
            matches!(
                c.category,
                Category::Earning | Category::Deduction | Category::EmployerContribution | Category::Total
            )
        })
        .map(|c| c.name.as_str())
}

/// What was paid for one period, per worker and component.
#[derive(Debug, Default)]
pub struct Paid(BTreeMap<(String, String), Decimal>);

impl Paid {
    /// Adds a run's result rows (the locked run's).
    pub fn add_results(&mut self, version: &CompiledVersion, results: &[RecordBatch]) -> Result<()> {
        for batch in results {
            let workers = string_column(batch, "worker_id")?;
            for component in components(version) {
                let Some(column) = batch.column_by_name(component) else {
                    continue;
                };
                for row in 0..batch.num_rows() {
                    let amount = decimal_at(column, row, component)?;
                    self.add(workers.value(row), component, amount)?;
                }
            }
        }
        Ok(())
    }

    /// Adds arrears settled for the period.
    pub fn add_arrears<'a>(&mut self, arrears: impl IntoIterator<Item = &'a Arrear>) -> Result<()> {
        for arrear in arrears {
            self.add(&arrear.worker_id, &arrear.component, arrear.arrear)?;
        }
        Ok(())
    }

    fn add(&mut self, worker: &str, component: &str, amount: Decimal) -> Result<()> {
        let paid = self.0.entry((worker.to_string(), component.to_string())).or_default();
        *paid = paid.checked_add(amount).ok_or_else(|| Error::TotalOverflow {
            column: component.to_string(),
        })?;
        Ok(())
    }

    fn of(&self, worker: &str, component: &str) -> Decimal {
        // Allocation-free lookups are not worth a custom key: arrears touch few workers.
        self.0
            .get(&(worker.to_string(), component.to_string()))
            .copied()
            .unwrap_or_default()
    }
}

/// Each component's difference between `recomputed` (result rows of `period` computed again)
/// and what was `paid`, for every worker of `recomputed`; equal components give none.
pub fn differences(
    version: &CompiledVersion,
    period: PayPeriod,
    recomputed: &[RecordBatch],
    paid: &Paid,
) -> Result<Vec<Arrear>> {
    let mut arrears = Vec::new();
    for batch in recomputed {
        let workers = string_column(batch, "worker_id")?;
        let orgs = string_column(batch, "org_id")?;
        for row in 0..batch.num_rows() {
            for component in components(version) {
                let Some(column) = batch.column_by_name(component) else {
                    continue;
                };
                let now = decimal_at(column, row, component)?;
                let before = paid.of(workers.value(row), component);
                if now != before {
                    arrears.push(Arrear {
                        org_id: orgs.value(row).to_string(),
                        worker_id: workers.value(row).to_string(),
                        original_period: period,
                        component: component.to_string(),
                        paid: before,
                        recomputed: now,
                        arrear: now.checked_sub(before).ok_or_else(|| Error::TotalOverflow {
                            column: component.to_string(),
                        })?,
                    });
                }
            }
        }
    }
    Ok(arrears)
}

/// Each worker's arrears net: the sum of their differences in the net component.
pub fn nets(arrears: &[Arrear], net_component: &str) -> Result<BTreeMap<String, Decimal>> {
    let mut nets: BTreeMap<String, Decimal> = BTreeMap::new();
    for arrear in arrears.iter().filter(|a| a.component == net_component) {
        let net = nets.entry(arrear.worker_id.clone()).or_default();
        *net = net.checked_add(arrear.arrear).ok_or_else(|| Error::TotalOverflow {
            column: ARREARS_NET.to_string(),
        })?;
    }
    Ok(nets)
}

/// `results` with [`ARREARS_NET`] (the worker's entry of `nets`, zero without one) and
/// [`NET_PAYABLE`] (`net_component` plus it) added, at the net component's scale.
pub fn with_payable(
    results: &[RecordBatch],
    net_component: &str,
    nets: &BTreeMap<String, Decimal>,
) -> Result<Vec<RecordBatch>> {
    results
        .iter()
        .map(|batch| {
            let workers = string_column(batch, "worker_id")?;
            let net = batch
                .column_by_name(net_component)
                .ok_or_else(|| missing(net_component))?;
            let DataType::Decimal128(precision, scale) = *net.data_type() else {
                return Err(missing(net_component));
            };
            let mut arrears_net = Vec::with_capacity(batch.num_rows());
            let mut payable = Vec::with_capacity(batch.num_rows());
            for row in 0..batch.num_rows() {
                let arrear = nets.get(workers.value(row)).copied().unwrap_or_default();
                let arrear = unscaled(arrear, scale).ok_or_else(|| Error::TotalOverflow {
                    column: ARREARS_NET.to_string(),
                })?;
                let net = net.as_primitive::<Decimal128Type>();
                arrears_net.push(Some(arrear));
                payable.push(if net.is_null(row) {
                    None
                } else {
                    Some(net.value(row).checked_add(arrear).ok_or_else(|| Error::TotalOverflow {
                        column: NET_PAYABLE.to_string(),
                    })?)
                });
            }
            let decimal = |values: Vec<Option<i128>>| -> Result<ArrayRef> {
                Ok(Arc::new(
                    Decimal128Array::from(values).with_precision_and_scale(precision, scale)?,
                ))
            };
            let mut fields: Vec<Arc<Field>> = batch.schema().fields().iter().cloned().collect();
            fields.push(Arc::new(Field::new(
                ARREARS_NET,
                DataType::Decimal128(precision, scale),
                false,
            )));
            fields.push(Arc::new(Field::new(
                NET_PAYABLE,
                DataType::Decimal128(precision, scale),
                true,
            )));
            let mut columns = batch.columns().to_vec();
            columns.push(decimal(arrears_net)?);
            columns.push(decimal(payable)?);
            Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
        })
        .collect()
}

/// The worker master's terms of pay, as the period inputs carry them. The master is not dated:
/// a change to it (a raise) takes effect from the next open period, so a locked period is
/// computed again with the terms its locked run paid on, and only late events make arrears.
pub const TERMS: [&str; 7] = [
    "gender",
    "state",
    "skill",
    "pay_basis",
    "rate",
    "pf_applicable",
    "esi_applicable",
];

/// `inputs` (a locked period's inputs as the ledger gives them now) with each worker's
/// [`TERMS`] taken from their row of `locked` (the locked run's results); a worker the locked
/// run did not pay keeps the master's current terms.
pub fn with_locked_terms(inputs: &[RecordBatch], locked: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
    let mut at: std::collections::HashMap<&str, (usize, usize)> = std::collections::HashMap::new();
    for (index, batch) in locked.iter().enumerate() {
        let workers = string_column(batch, "worker_id")?;
        for row in 0..batch.num_rows() {
            at.insert(workers.value(row), (index + 1, row));
        }
    }
    inputs
        .iter()
        .map(|batch| {
            let workers = string_column(batch, "worker_id")?;
            // Source 0 is the batch itself, source i + 1 the locked run's batch i.
            let picks: Vec<(usize, usize)> = (0..batch.num_rows())
                .map(|row| at.get(workers.value(row)).copied().unwrap_or((0, row)))
                .collect();
            let schema = batch.schema();
            let mut columns = batch.columns().to_vec();
            for term in TERMS {
                let Ok(index) = schema.index_of(term) else {
                    continue;
                };
                let current = batch.column(index);
                let mut sources = vec![Arc::clone(current)];
                for locked_batch in locked {
                    let column = locked_batch.column_by_name(term).ok_or_else(|| missing(term))?;
                    sources.push(datafusion::arrow::compute::cast(column, current.data_type())?);
                }
                let sources: Vec<&dyn Array> = sources.iter().map(AsRef::as_ref).collect();
                columns[index] = datafusion::arrow::compute::interleave(&sources, &picks)?;
            }
            Ok(RecordBatch::try_new(schema, columns)?)
        })
        .collect()
}

/// The rows of `inputs` (a locked period's inputs now, on the locked run's terms) whose worker
/// the late events touched: whose inputs differ from what the locked run computed from (its
/// results carry every input), or whom the locked run did not pay, and those in `settled`
/// (arrears were paid to them since: inputs back as they were locked must recover those). Only
/// these need computing again; the others' pay is what was paid.
pub fn touched(
    inputs: &[RecordBatch],
    locked: &[RecordBatch],
    settled: &std::collections::HashSet<&str>,
) -> Result<Vec<RecordBatch>> {
    use datafusion::arrow::compute::{cast, filter_record_batch};
    use datafusion::arrow::row::{RowConverter, SortField};

    let Some(first) = inputs.first() else {
        return Ok(Vec::new());
    };
    // Every input column the locked results have, compared in the inputs' types.
    let schema = first.schema();
    let compared: Vec<(usize, DataType)> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| locked.iter().all(|b| b.column_by_name(f.name()).is_some()))
        .map(|(i, f)| (i, f.data_type().clone()))
        .collect();
    let converter = RowConverter::new(compared.iter().map(|(_, t)| SortField::new(t.clone())).collect())?;
    let mut before = Vec::with_capacity(locked.len());
    let mut at: std::collections::HashMap<String, (usize, usize)> = std::collections::HashMap::new();
    for (index, batch) in locked.iter().enumerate() {
        let columns = compared
            .iter()
            .map(|(i, t)| {
                let column = batch
                    .column_by_name(schema.field(*i).name())
                    .ok_or_else(|| missing("input"))?;
                Ok(cast(column, t)?)
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        before.push(converter.convert_columns(&columns)?);
        let workers = string_column(batch, "worker_id")?;
        for row in 0..batch.num_rows() {
            at.insert(workers.value(row).to_string(), (index, row));
        }
    }
    let mut out = Vec::new();
    for batch in inputs {
        let columns: Vec<ArrayRef> = compared.iter().map(|(i, _)| Arc::clone(batch.column(*i))).collect();
        let now = converter.convert_columns(&columns)?;
        let workers = string_column(batch, "worker_id")?;
        let mask: datafusion::arrow::array::BooleanArray = (0..batch.num_rows())
            .map(|row| {
                let worker = workers.value(row);
                Some(match at.get(worker) {
                    Some(&(index, locked_row)) => {
                        settled.contains(worker) || now.row(row) != before[index].row(locked_row)
                    }
                    None => true,
                })
            })
            .collect();
        let kept = filter_record_batch(batch, &mask)?;
        if kept.num_rows() > 0 {
            out.push(kept);
        }
    }
    Ok(out)
}

/// The columns of the `arrears` table, after the run id the results writer puts first.
pub fn schema(scale: i8) -> Schema {
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    let amount = |name: &str| Field::new(name, DataType::Decimal128(38, scale), false);
    Schema::new(vec![
        text("org_id"),
        text("period"),
        text("worker_id"),
        text("original_period"),
        text("component"),
        amount("paid"),
        amount("recomputed"),
        amount("arrear"),
    ])
}

/// Arrears carried by a run of `period` as one batch of the `arrears` table: amounts at the
/// largest scale any of them has (2 at least), so every figure is exact.
pub fn to_batch(period: PayPeriod, arrears: &[Arrear]) -> Result<RecordBatch> {
    let scale = arrears
        .iter()
        .flat_map(|a| [a.paid.scale(), a.recomputed.scale(), a.arrear.scale()])
        .max()
        .unwrap_or(2)
        .max(2);
    let scale = i8::try_from(scale).map_err(|_| missing("arrear"))?;
    let text =
        |f: fn(&Arrear) -> String| -> ArrayRef { Arc::new(StringArray::from_iter_values(arrears.iter().map(f))) };
    let amount = |f: fn(&Arrear) -> Decimal| -> Result<ArrayRef> {
        let values = arrears
            .iter()
            .map(|a| {
                unscaled(f(a), scale).ok_or_else(|| Error::TotalOverflow {
                    column: "arrear".into(),
                })
            })
            .collect::<Result<Vec<i128>>>()?;
        Ok(Arc::new(
            Decimal128Array::from(values).with_precision_and_scale(38, scale)?,
        ))
    };
    let columns = vec![
        text(|a| a.org_id.clone()),
        Arc::new(StringArray::from_iter_values(
            arrears.iter().map(|_| period.to_string()),
        )) as ArrayRef,
        text(|a| a.worker_id.clone()),
        text(|a| a.original_period.to_string()),
        text(|a| a.component.clone()),
        amount(|a| a.paid)?,
        amount(|a| a.recomputed)?,
        amount(|a| a.arrear)?,
    ];
    Ok(RecordBatch::try_new(Arc::new(schema(scale)), columns)?)
}

/// Arrears back from batches of the `arrears` table.
pub fn from_batch(batch: &RecordBatch) -> Result<Vec<Arrear>> {
    let org = string_column(batch, "org_id")?;
    let worker = string_column(batch, "worker_id")?;
    let original = string_column(batch, "original_period")?;
    let component = string_column(batch, "component")?;
    let amount = |name: &str| batch.column_by_name(name).ok_or_else(|| missing(name));
    let (paid, recomputed, arrear) = (amount("paid")?, amount("recomputed")?, amount("arrear")?);
    (0..batch.num_rows())
        .map(|row| {
            Ok(Arrear {
                org_id: org.value(row).to_string(),
                worker_id: worker.value(row).to_string(),
                original_period: original.value(row).parse().map_err(|_| missing("original_period"))?,
                component: component.value(row).to_string(),
                paid: decimal_at(paid, row, "paid")?,
                recomputed: decimal_at(recomputed, row, "recomputed")?,
                arrear: decimal_at(arrear, row, "arrear")?,
            })
        })
        .collect()
}

/// `amount` as an integer of `scale` decimals; `None` when it has more decimals than that
/// (never rounded) or does not fit.
fn unscaled(amount: Decimal, scale: i8) -> Option<i128> {
    let scale = u32::try_from(scale).ok()?;
    if amount.scale() > scale && amount.round_dp(scale) != amount {
        return None;
    }
    let mantissa = amount.mantissa();
    let shift = scale.checked_sub(amount.scale())?;
    mantissa.checked_mul(10i128.checked_pow(shift)?)
}

fn string_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| missing(name))
}

/// A decimal cell (NULL as zero, as on a payslip).
fn decimal_at(column: &ArrayRef, row: usize, name: &str) -> Result<Decimal> {
    let DataType::Decimal128(_, scale) = *column.data_type() else {
        return Err(missing(name));
    };
    if column.is_null(row) {
        return Ok(Decimal::ZERO);
    }
    crate::money::decimal(column.as_primitive::<Decimal128Type>().value(row), scale)
        .ok_or_else(|| Error::TotalOverflow { column: name.into() })
}

fn missing(column: &str) -> Error {
    Error::Arrow(datafusion::arrow::error::ArrowError::SchemaError(format!(
        "results have no decimal column `{column}`"
    )))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn version() -> &'static CompiledVersion {
        static RULESET: std::sync::LazyLock<payroll_rules::Ruleset> = std::sync::LazyLock::new(|| {
            payroll_rules::Ruleset::parse(
                payroll_rules::EXAMPLE_RULESET,
                std::path::Path::new("india-contract.toml"),
            )
            .unwrap()
        });
        RULESET
            .version_on(chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap())
            .unwrap()
    }

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    /// Result rows with `basic` and `net_pay` of each (worker, basic, net).
    fn results(rows: &[(&str, &str, &str)]) -> RecordBatch {
        let amounts = |column: usize| -> ArrayRef {
            let values: Vec<i128> = rows
                .iter()
                .map(|r| unscaled(d([r.1, r.2][column]), 2).unwrap())
                .collect();
            Arc::new(Decimal128Array::from(values).with_precision_and_scale(38, 2).unwrap())
        };
        let schema = Schema::new(vec![
            Field::new("org_id", DataType::Utf8, false),
            Field::new("worker_id", DataType::Utf8, false),
            Field::new("basic", DataType::Decimal128(38, 2), false),
            Field::new("net_pay", DataType::Decimal128(38, 2), false),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|_| "ORG1"))),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                amounts(0),
                amounts(1),
            ],
        )
        .unwrap()
    }

    fn october() -> PayPeriod {
        "2026-10".parse().unwrap()
    }

    #[test]
    fn differences_carry_recoveries_and_skip_equal_components() {
        let version = version();
        let mut paid = Paid::default();
        paid.add_results(
            version,
            &[results(&[("W1", "1000.00", "900.00"), ("W2", "500.00", "450.00")])],
        )
        .unwrap();
        let now = results(&[("W1", "1100.00", "990.00"), ("W2", "500.00", "420.50")]);
        let arrears = differences(version, october(), &[now], &paid).unwrap();
        let lines: Vec<(&str, &str, String)> = arrears
            .iter()
            .map(|a| (a.worker_id.as_str(), a.component.as_str(), a.arrear.to_string()))
            .collect();
        assert_eq!(
            lines,
            [
                ("W1", "basic", "100.00".to_string()),
                ("W1", "net_pay", "90.00".to_string()),
                ("W2", "net_pay", "-29.50".to_string()),
            ]
        );
        let nets = nets(&arrears, "net_pay").unwrap();
        assert_eq!(nets["W1"], d("90.00"));
        assert_eq!(nets["W2"], d("-29.50"));
    }

    #[test]
    fn settled_arrears_count_as_paid_so_a_second_late_event_gives_only_the_new_difference() {
        let version = version();
        let mut paid = Paid::default();
        paid.add_results(version, &[results(&[("W1", "1000.00", "900.00")])])
            .unwrap();
        let first = differences(version, october(), &[results(&[("W1", "1100.00", "990.00")])], &paid).unwrap();
        paid.add_arrears(&first).unwrap();
        let again = differences(version, october(), &[results(&[("W1", "1100.00", "990.00")])], &paid).unwrap();
        assert!(again.is_empty(), "{again:?}");
        let second = differences(version, october(), &[results(&[("W1", "1150.00", "1035.00")])], &paid).unwrap();
        let net: Vec<String> = second.iter().map(|a| a.arrear.to_string()).collect();
        assert_eq!(net, ["50.00", "45.00"]);
    }

    #[test]
    fn payable_is_net_plus_arrears_net_and_the_table_round_trips() {
        let nets = BTreeMap::from([("W2".to_string(), d("-29.5"))]);
        let rows = results(&[("W1", "1.00", "900.00"), ("W2", "1.00", "450.00")]);
        let with = with_payable(&[rows], "net_pay", &nets).unwrap();
        let payable = with[0].column_by_name(NET_PAYABLE).unwrap();
        assert_eq!(decimal_at(payable, 0, NET_PAYABLE).unwrap(), d("900.00"));
        assert_eq!(decimal_at(payable, 1, NET_PAYABLE).unwrap(), d("420.50"));

        let arrear = Arrear {
            org_id: "ORG1".into(),
            worker_id: "W2".into(),
            original_period: october(),
            component: "net_pay".into(),
            paid: d("450.00"),
            recomputed: d("420.5"),
            arrear: d("-29.50"),
        };
        let batch = to_batch("2026-11".parse().unwrap(), std::slice::from_ref(&arrear)).unwrap();
        assert_eq!(from_batch(&batch).unwrap(), [arrear]);
    }

    #[test]
    fn a_locked_period_is_computed_again_on_the_terms_its_locked_run_paid() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("worker_id", DataType::Utf8, false),
            Field::new("rate", DataType::Decimal128(38, 2), false),
            Field::new("present_days", DataType::Utf8, false),
        ]));
        let batch = |rows: &[(&str, i128, &str)]| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                    Arc::new(
                        Decimal128Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())
                            .with_precision_and_scale(38, 2)
                            .unwrap(),
                    ),
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
                ],
            )
            .unwrap()
        };
        // W1 got a raise after October was paid; W2 was not in the locked run.
        let now = batch(&[("W1", 90000, "21"), ("W2", 50000, "3")]);
        let locked = [batch(&[("W0", 1, "x")]), batch(&[("W1", 78300, "20")])];
        let pinned = with_locked_terms(&[now], &locked).unwrap();
        let rate = pinned[0].column_by_name("rate").unwrap();
        assert_eq!(
            decimal_at(rate, 0, "rate").unwrap(),
            d("783.00"),
            "the locked run's rate"
        );
        assert_eq!(
            decimal_at(rate, 1, "rate").unwrap(),
            d("500.00"),
            "the master's, unpaid before"
        );
        let days = pinned[0].column_by_name("present_days").unwrap().as_string::<i32>();
        assert_eq!(days.value(0), "21", "attendance is today's: late events count");
    }

    #[test]
    fn only_workers_whose_inputs_changed_or_who_were_not_paid_are_touched() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("worker_id", DataType::Utf8, false),
            Field::new("present_days", DataType::Int64, false),
            Field::new("not_in_results", DataType::Int64, false),
        ]));
        let inputs = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(vec!["W1", "W2", "W3"])),
                Arc::new(datafusion::arrow::array::Int64Array::from(vec![20, 21, 5])),
                Arc::new(datafusion::arrow::array::Int64Array::from(vec![1, 2, 3])),
            ],
        )
        .unwrap();
        let locked_schema = Arc::new(Schema::new(vec![
            Field::new("worker_id", DataType::Utf8, false),
            Field::new("present_days", DataType::Int64, false),
        ]));
        let locked = RecordBatch::try_new(
            locked_schema,
            vec![
                Arc::new(StringArray::from(vec!["W2", "W1"])),
                Arc::new(datafusion::arrow::array::Int64Array::from(vec![20, 20])),
            ],
        )
        .unwrap();
        let workers = |settled: &[&str]| -> Vec<String> {
            let settled = settled.iter().copied().collect();
            touched(std::slice::from_ref(&inputs), std::slice::from_ref(&locked), &settled)
                .unwrap()
                .iter()
                .flat_map(|b| {
                    let ids = string_column(b, "worker_id").unwrap();
                    ids.iter().flatten().map(str::to_string).collect::<Vec<_>>()
                })
                .collect()
        };
        // W1 is as paid; W2 worked a day more; W3 was never paid.
        assert_eq!(workers(&[]), ["W2", "W3"]);
        // Arrears were paid to W1 since: inputs back as locked must recover them.
        assert_eq!(workers(&["W1"]), ["W1", "W2", "W3"]);
    }

    #[test]
    fn an_amount_finer_than_the_column_is_never_rounded() {
        assert_eq!(unscaled(d("1.005"), 2), None);
        assert_eq!(unscaled(d("1.50"), 2), Some(150));
        assert_eq!(unscaled(d("-2"), 2), Some(-200));
    }
}
