//! A run against the org's last finalized period, as HR compares two months before approving:
//! per worker last and this period's net pay, the difference and the components that moved
//! most; per site the headcount and the employer's cost then and now. Amounts stay `Decimal`;
//! the XLSX is the one place they become spreadsheet numbers (paise, far below 2^53, survive).

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use payroll_engine::spreadsheet::neutralise;
use payroll_rules::{Category, CompiledVersion};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{Format, Workbook};

use crate::error::Result;

/// Components a worker's line names as those that moved most.
const MOVED: usize = 3;

/// One worker of either period.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerVariance {
    pub worker_id: String,
    pub name: String,
    pub site_id: String,
    /// Net pay in the last finalized period, and now (`None`: not paid then, or not now).
    pub last: Option<Decimal>,
    pub now: Option<Decimal>,
    /// The earnings, deductions and employer contributions that moved most, by how much.
    pub moved: Vec<(String, Decimal)>,
}

impl WorkerVariance {
    pub fn difference(&self) -> Decimal {
        self.now.unwrap_or_default() - self.last.unwrap_or_default()
    }
}

/// One site of either period.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteVariance {
    pub site_id: String,
    pub headcount_last: u64,
    pub headcount_now: u64,
    pub cost_last: Decimal,
    pub cost_now: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variance {
    /// The cost a site sums: `employer_cost` when the ruleset has it, else gross pay.
    pub cost: String,
    /// The biggest change first.
    pub workers: Vec<WorkerVariance>,
    pub sites: Vec<SiteVariance>,
}

/// A worker's row of one run's results: name, site and amounts.
struct Row {
    name: String,
    site_id: String,
    amounts: BTreeMap<String, Decimal>,
}

/// Compares `now` (this run's results) with `last` (the last finalized period's), each
/// worker's net pay being `net` and the components those of `version` (this run's).
pub fn compare(now: &[RecordBatch], last: &[RecordBatch], version: &CompiledVersion, net: &str) -> Variance {
    let moving: Vec<&str> = version
        .components
        .iter()
        .filter(|c| {
            matches!(
                c.category,
                Category::Earning | Category::Deduction | Category::EmployerContribution
            )
        })
        .map(|c| c.name.as_str())
        .collect();
    let gross = version.payslip.as_ref().map_or(net, |p| p.gross.as_str());
    let cost = match version.component("employer_cost") {
        Some(_) => "employer_cost",
        None => gross,
    };
    let mut wanted: Vec<&str> = moving.clone();
    wanted.extend([net, cost]);
    let (now, last) = (rows(now, &wanted), rows(last, &wanted));
    let ids: BTreeSet<&String> = now.keys().chain(last.keys()).collect();
    let mut workers: Vec<WorkerVariance> = ids
        .into_iter()
        .map(|id| {
            let (n, l) = (now.get(id), last.get(id));
            let amount = |row: Option<&Row>, name: &str| row.and_then(|r| r.amounts.get(name)).copied();
            let mut moved: Vec<(String, Decimal)> = moving
                .iter()
                .map(|c| {
                    (
                        c.to_string(),
                        amount(n, c).unwrap_or_default() - amount(l, c).unwrap_or_default(),
                    )
                })
                .filter(|(_, change)| !change.is_zero())
                .collect();
            moved.sort_by(|a, b| b.1.abs().cmp(&a.1.abs()).then_with(|| a.0.cmp(&b.0)));
            moved.truncate(MOVED);
            let either = n.or(l);
            WorkerVariance {
                worker_id: id.clone(),
                name: either.map(|r| r.name.clone()).unwrap_or_default(),
                site_id: either.map(|r| r.site_id.clone()).unwrap_or_default(),
                last: amount(l, net),
                now: amount(n, net),
                moved,
            }
        })
        .collect();
    biggest_change_first(&mut workers, WorkerVariance::difference, |w| &w.worker_id);
    let mut sites: BTreeMap<String, SiteVariance> = BTreeMap::new();
    for (rows, then) in [(&last, true), (&now, false)] {
        for row in rows.values() {
            let site = sites.entry(row.site_id.clone()).or_insert_with(|| SiteVariance {
                site_id: row.site_id.clone(),
                headcount_last: 0,
                headcount_now: 0,
                cost_last: Decimal::ZERO,
                cost_now: Decimal::ZERO,
            });
            let amount = row.amounts.get(cost).copied().unwrap_or_default();
            if then {
                site.headcount_last += 1;
                site.cost_last += amount;
            } else {
                site.headcount_now += 1;
                site.cost_now += amount;
            }
        }
    }
    Variance {
        cost: cost.to_string(),
        workers,
        sites: sites.into_values().collect(),
    }
}

/// Sorts `rows` by how much they changed, the biggest (either way) first, then by id: the
/// order a reviewer reads a comparison in.
pub(crate) fn biggest_change_first<T>(rows: &mut [T], change: impl Fn(&T) -> Decimal, id: impl Fn(&T) -> &str) {
    rows.sort_by(|a, b| change(b).abs().cmp(&change(a).abs()).then_with(|| id(a).cmp(id(b))));
}

/// Each worker's row of `batches`, with the amounts of `wanted` the batches carry.
fn rows(batches: &[RecordBatch], wanted: &[&str]) -> BTreeMap<String, Row> {
    let mut rows = BTreeMap::new();
    for batch in batches {
        let text = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>().cloned())
        };
        let (Some(ids), names, sites) = (text("worker_id"), text("name"), text("site_id")) else {
            continue;
        };
        // The amounts, with their scale: a component that is no decimal has no amount here.
        let columns: Vec<(&str, &datafusion::arrow::array::PrimitiveArray<Decimal128Type>, i8)> = wanted
            .iter()
            .filter_map(|name| {
                let column = batch.column_by_name(name)?;
                let DataType::Decimal128(_, scale) = column.data_type() else {
                    return None;
                };
                Some((*name, column.as_primitive::<Decimal128Type>(), *scale))
            })
            .collect();
        for i in 0..batch.num_rows() {
            let amounts = columns
                .iter()
                .filter(|(_, c, _)| c.is_valid(i))
                .filter_map(|(name, c, scale)| {
                    Some((name.to_string(), payroll_engine::money::decimal(c.value(i), *scale)?))
                })
                .collect();
            let cell = |array: &Option<datafusion::arrow::array::StringArray>| {
                array.as_ref().map(|a| a.value(i).to_string()).unwrap_or_default()
            };
            rows.insert(
                ids.value(i).to_string(),
                Row {
                    name: cell(&names),
                    site_id: cell(&sites),
                    amounts,
                },
            );
        }
    }
    rows
}

const WORKER_COLUMNS: [&str; 7] = [
    "worker_id",
    "name",
    "site_id",
    "last_net",
    "this_net",
    "difference",
    "moved_most",
];

fn amount(value: Option<Decimal>) -> String {
    value.map(|v| format!("{v:.2}")).unwrap_or_default()
}

fn moved(w: &WorkerVariance) -> String {
    w.moved
        .iter()
        .map(|(c, change)| format!("{c} {change:+.2}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Per worker, the biggest change first: `worker_id, name, site_id, last_net, this_net,
/// difference, moved_most` (`overtime +783.00; basic -1200.00`).
pub fn workers_csv(variance: &Variance) -> Result<Vec<u8>> {
    written("variance.csv", || {
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record(WORKER_COLUMNS)?;
        for w in &variance.workers {
            out.write_record([
                neutralise(w.worker_id.as_str()).as_ref(),
                neutralise(w.name.as_str()).as_ref(),
                neutralise(w.site_id.as_str()).as_ref(),
                &amount(w.last),
                &amount(w.now),
                &format!("{:.2}", w.difference()),
                &moved(w),
            ])?;
        }
        Ok(out.into_inner()?)
    })
}

/// Per site: `site_id, headcount_last, headcount_now, cost_last, cost_now, cost_difference`.
pub fn sites_csv(variance: &Variance) -> Result<Vec<u8>> {
    written("variance.csv", || {
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record([
            "site_id",
            "headcount_last",
            "headcount_now",
            "cost_last",
            "cost_now",
            "cost_difference",
        ])?;
        for s in &variance.sites {
            out.write_record([
                neutralise(s.site_id.as_str()).as_ref(),
                &s.headcount_last.to_string(),
                &s.headcount_now.to_string(),
                &format!("{:.2}", s.cost_last),
                &format!("{:.2}", s.cost_now),
                &format!("{:.2}", s.cost_now - s.cost_last),
            ])?;
        }
        Ok(out.into_inner()?)
    })
}

/// Both tables in one workbook: sheets `workers` and `sites`.
pub fn xlsx(variance: &Variance) -> Result<Vec<u8>> {
    written("variance.xlsx", || {
        let mut book = Workbook::new();
        let bold = Format::new().set_bold();
        let money = Format::new().set_num_format("#,##0.00");
        let number = |d: Decimal| d.to_f64().unwrap_or_default();
        let sheet = book.add_worksheet();
        sheet.set_name("workers")?;
        for (i, title) in WORKER_COLUMNS.iter().enumerate() {
            sheet.write_string_with_format(0, i as u16, *title, &bold)?;
        }
        for (r, w) in variance.workers.iter().enumerate() {
            let r = r as u32 + 1;
            sheet.write_string(r, 0, neutralise(w.worker_id.as_str()))?;
            sheet.write_string(r, 1, neutralise(w.name.as_str()))?;
            sheet.write_string(r, 2, neutralise(w.site_id.as_str()))?;
            for (c, value) in [(3u16, w.last), (4, w.now), (5, Some(w.difference()))] {
                if let Some(value) = value {
                    sheet.write_number_with_format(r, c, number(value), &money)?;
                }
            }
            sheet.write_string(r, 6, moved(w))?;
        }
        sheet.set_column_width(6, 48)?;
        let sheet = book.add_worksheet();
        sheet.set_name("sites")?;
        for (i, title) in [
            "site_id",
            "headcount_last",
            "headcount_now",
            "cost_last",
            "cost_now",
            "cost_difference",
        ]
        .iter()
        .enumerate()
        {
            sheet.write_string_with_format(0, i as u16, *title, &bold)?;
        }
        for (r, s) in variance.sites.iter().enumerate() {
            let r = r as u32 + 1;
            sheet.write_string(r, 0, neutralise(s.site_id.as_str()))?;
            sheet.write_number(r, 1, s.headcount_last as f64)?;
            sheet.write_number(r, 2, s.headcount_now as f64)?;
            sheet.write_number_with_format(r, 3, number(s.cost_last), &money)?;
            sheet.write_number_with_format(r, 4, number(s.cost_now), &money)?;
            sheet.write_number_with_format(r, 5, number(s.cost_now - s.cost_last), &money)?;
        }
        Ok(book.save_to_buffer()?)
    })
}

/// A report `name` as bytes, its writer's failure (never expected: it writes to memory) an
/// error naming the file.
fn written(
    name: &str,
    write: impl FnOnce() -> std::result::Result<Vec<u8>, Box<dyn std::error::Error>>,
) -> Result<Vec<u8>> {
    write().map_err(|e| payroll_connectors::Error::input(name, e.to_string()).into())
}
