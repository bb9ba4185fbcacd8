//! Statutory returns of a finalized run: the EPFO ECR 2.0 text file and the ESIC monthly
//! contribution sheet. Which components fill which column is the ruleset's `[returns]` mapping
//! (the copy the run applied); UAN, IP number and name are the run's, from its results.
//!
//! Both want whole rupees and whole days: each member's amount is rounded half up to the rupee
//! (and days half up to the day) once, in the file; a member's line is never adjusted to make a
//! total come out. Members without a UAN (IP number) are exceptions, listed with their amounts.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use payroll_engine::spreadsheet::neutralise;
use payroll_rules::vocabulary::PayPeriod;
use payroll_rules::{EcrDef, EsicDef, Names};
use rust_decimal::{Decimal, RoundingStrategy};
use rust_xlsxwriter::Workbook;

use crate::columns;
use crate::error::{Error, Result};

/// ECR 2.0's field separator.
pub const SEPARATOR: &str = "#~#";

/// A member left out of a return, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    /// `ecr` or `esic`.
    pub return_name: &'static str,
    pub worker_id: String,
    pub name: String,
    pub reason: String,
    /// The member's amounts as the file would have carried them (rounded), by column.
    pub amounts: BTreeMap<&'static str, Decimal>,
}

/// A return: the file's lines (or rows), its column totals and its exceptions.
#[derive(Debug, Clone, Default)]
pub struct Return {
    pub members: usize,
    pub totals: BTreeMap<&'static str, Decimal>,
    pub exceptions: Vec<Exception>,
    pub bytes: Vec<u8>,
}

/// Half up to a whole number, as EPFO and ESIC take amounts and days.
pub fn whole(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
}

fn sum(batch: &RecordBatch, names: &Names, row: usize) -> Result<Decimal> {
    names.names().iter().try_fold(Decimal::ZERO, |total, name| {
        total
            .checked_add(columns::number(batch, name, row)?)
            .ok_or_else(|| Error::AmountOutOfRange {
                worker: columns::text(batch, "worker_id", row).to_string(),
                column: name.to_string(),
            })
    })
}

/// Why the row is left out of `org`'s return if its worker is of another org. Results carry
/// `org_id`; a row without one is not known to be this org's either.
fn other_org(batch: &RecordBatch, org: &str, row: usize) -> Option<String> {
    let of = columns::text(batch, "org_id", row);
    (of != org).then(|| format!("a worker of org `{of}`, not of `{org}`: another org's worker is not in this return"))
}

fn mapped<'a>(fixed: &[&'a str], member: &'a str, columns: &[(&'static str, &'a Names)]) -> Vec<&'a str> {
    let mut all: Vec<&str> = fixed.to_vec();
    all.push(member);
    for (_, names) in columns {
        all.extend(names.names().iter().map(String::as_str));
    }
    all.sort_unstable();
    all.dedup();
    all
}

/// The ECR text: one line per member, `UAN#~#NAME#~#GROSS_WAGES#~#EPF_WAGES#~#EPS_WAGES#~#
/// EDLI_WAGES#~#EPF_CONTRI_REMITTED#~#EPS_CONTRI_REMITTED#~#EPF_EPS_DIFF_REMITTED#~#NCP_DAYS#~#
/// REFUND_OF_ADVANCES`, no header. A member is a worker the mapping's `member` flag is true for;
/// one without a 12-digit UAN is an exception.
pub async fn ecr(
    store: &payroll_connectors::Store,
    org: &str,
    period: &str,
    run_id: &str,
    def: &EcrDef,
) -> Result<Return> {
    let mapping = def.columns();
    let wanted = mapped(&["worker_id", "org_id", "name", "uan"], &def.member, &mapping);
    let mut out = Return::default();
    let mut text = String::new();
    columns::each_batch(store, org, period, run_id, &wanted, |batch| {
        for row in 0..batch.num_rows() {
            if !columns::flag(batch, &def.member, row) {
                continue;
            }
            let amounts: BTreeMap<&'static str, Decimal> = mapping
                .iter()
                .map(|(column, names)| Ok((*column, whole(sum(batch, names, row)?))))
                .collect::<Result<_>>()?;
            let uan = columns::text(batch, "uan", row).trim();
            let name = columns::text(batch, "name", row);
            let fault = if let Some(why) = other_org(batch, org, row) {
                Some(why)
            } else if uan.is_empty() {
                Some("no UAN in the worker master: EPFO needs the member's UAN".to_string())
            } else if uan.len() != 12 || !uan.bytes().all(|b| b.is_ascii_digit()) {
                Some("UAN is not 12 digits".to_string())
            } else {
                None
            };
            if let Some(reason) = fault {
                out.exceptions.push(Exception {
                    return_name: "ecr",
                    worker_id: columns::text(batch, "worker_id", row).to_string(),
                    name: name.to_string(),
                    reason,
                    amounts,
                });
                continue;
            }
            let field = |column: &str| amounts.get(column).copied().unwrap_or_default().to_string();
            let line = [
                uan.to_string(),
                name.replace(SEPARATOR, " ").replace(['\n', '\r'], " "),
                field("gross_wages"),
                field("epf_wages"),
                field("eps_wages"),
                field("edli_wages"),
                field("epf_contribution"),
                field("eps_contribution"),
                field("epf_eps_difference"),
                field("ncp_days"),
                field("refund_of_advances"),
            ]
            .join(SEPARATOR);
            text.push_str(&line);
            text.push('\n');
            for (column, amount) in amounts {
                *out.totals.entry(column).or_default() += amount;
            }
            out.members += 1;
        }
        Ok(())
    })
    .await?;
    out.bytes = text.into_bytes();
    Ok(out)
}

/// ESIC's reason codes for a month with zero (or ending) working days.
pub mod reason {
    /// None: the insured person worked and is still employed.
    pub const NONE: u32 = 0;
    pub const ON_LEAVE: u32 = 1;
    pub const LEFT_SERVICE: u32 = 2;
    pub const NO_WORK: u32 = 11;
}

/// The ESIC monthly contribution sheet (the portal's upload template): IP number, IP name, days
/// for which wages were paid, total monthly wages, the reason code for zero working days and
/// the last working day. Reason: 2 (left service, with the last working day) when the worker
/// left in or before the period; otherwise, with no days paid, 1 (on leave) when they had
/// unpaid leave, else 11 (no work); 0 otherwise. One without a 10-digit IP number is an
/// exception.
pub async fn esic(
    store: &payroll_connectors::Store,
    org: &str,
    period: PayPeriod,
    run_id: &str,
    def: &EsicDef,
) -> Result<Return> {
    let mapping = def.columns();
    let wanted = mapped(
        &[
            "worker_id",
            "org_id",
            "name",
            "esic_no",
            "exited_on",
            "unpaid_leave_days",
        ],
        &def.member,
        &mapping,
    );
    struct Row {
        ip: String,
        name: String,
        days: Decimal,
        wages: Decimal,
        reason: u32,
        last_day: Option<NaiveDate>,
    }
    let mut rows = Vec::new();
    let mut out = Return::default();
    columns::each_batch(store, org, &period.to_string(), run_id, &wanted, |batch| {
        for row in 0..batch.num_rows() {
            if !columns::flag(batch, &def.member, row) {
                continue;
            }
            let days = whole(sum(batch, &def.days_paid, row)?);
            let wages = whole(sum(batch, &def.wages, row)?);
            let ip = columns::text(batch, "esic_no", row).trim();
            let name = columns::text(batch, "name", row);
            let fault = if let Some(why) = other_org(batch, org, row) {
                Some(why)
            } else if ip.is_empty() {
                Some("no ESIC IP number in the worker master".to_string())
            } else if ip.len() != 10 || !ip.bytes().all(|b| b.is_ascii_digit()) {
                Some("ESIC IP number is not 10 digits".to_string())
            } else {
                None
            };
            if let Some(reason) = fault {
                out.exceptions.push(Exception {
                    return_name: "esic",
                    worker_id: columns::text(batch, "worker_id", row).to_string(),
                    name: name.to_string(),
                    reason,
                    amounts: [("days_paid", days), ("wages", wages)].into_iter().collect(),
                });
                continue;
            }
            let exited = columns::date(batch, "exited_on", row).filter(|d| *d <= period.last_day());
            let reason = match (exited, days.is_zero()) {
                (Some(_), _) => reason::LEFT_SERVICE,
                (None, true) if !columns::number(batch, "unpaid_leave_days", row)?.is_zero() => reason::ON_LEAVE,
                (None, true) => reason::NO_WORK,
                (None, false) => reason::NONE,
            };
            *out.totals.entry("days_paid").or_default() += days;
            *out.totals.entry("wages").or_default() += wages;
            out.members += 1;
            rows.push(Row {
                ip: ip.to_string(),
                name: name.to_string(),
                days,
                wages,
                reason,
                last_day: exited,
            });
        }
        Ok(())
    })
    .await?;
    let xlsx_error = |e: rust_xlsxwriter::XlsxError| {
        crate::Error::Connectors(payroll_connectors::Error::input("esic.xlsx", e.to_string()))
    };
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Sheet1").map_err(xlsx_error)?;
    for (col, title) in ESIC_COLUMNS.iter().enumerate() {
        sheet.write_string(0, col as u16, *title).map_err(xlsx_error)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let at = i as u32 + 1;
        // The IP number is text: as a number a spreadsheet would drop leading zeros.
        sheet.write_string(at, 0, &r.ip).map_err(xlsx_error)?;
        // The portal's template takes the name exactly as the master has it: not neutralised
        // (`write_string` stores text, never a formula).
        sheet.write_string(at, 1, &r.name).map_err(xlsx_error)?;
        sheet.write_number(at, 2, to_f64(r.days)).map_err(xlsx_error)?;
        sheet.write_number(at, 3, to_f64(r.wages)).map_err(xlsx_error)?;
        sheet.write_number(at, 4, f64::from(r.reason)).map_err(xlsx_error)?;
        if let Some(day) = r.last_day {
            sheet
                .write_string(at, 5, day.format("%d/%m/%Y").to_string())
                .map_err(xlsx_error)?;
        }
    }
    out.bytes = workbook.save_to_buffer().map_err(xlsx_error)?;
    Ok(out)
}

/// The column titles of ESIC's monthly contribution upload template.
pub const ESIC_COLUMNS: [&str; 6] = [
    "IP Number",
    "IP Name",
    "No of Days for which wages paid/payable during the month",
    "Total Monthly Wages",
    "Reason Code for Zero workings days",
    "Last Working Day",
];

/// A whole number of rupees or days as a spreadsheet number: exact, since it has no fraction
/// and is far below 2^53.
fn to_f64(whole: Decimal) -> f64 {
    whole.mantissa() as f64 / 10f64.powi(whole.scale() as i32)
}

/// Both returns' exceptions as CSV: return, worker, name, reason, then the amounts it would
/// have carried. A report for people (the returns themselves are the portals' formats, left as
/// they are), so its text is [`neutralise`]d.
pub fn exceptions_csv(exceptions: &[Exception]) -> Result<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let error =
        |e: csv::Error| crate::Error::Connectors(payroll_connectors::Error::input("exceptions.csv", e.to_string()));
    out.write_record(["return", "worker_id", "name", "reason", "amounts"])
        .map_err(error)?;
    for e in exceptions {
        let amounts: Vec<String> = e.amounts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let cells = [
            neutralise(e.return_name),
            neutralise(e.worker_id.as_str()),
            neutralise(e.name.as_str()),
            neutralise(e.reason.as_str()),
            neutralise(amounts.join(" ")),
        ];
        out.write_record(cells.iter().map(|cell| cell.as_bytes()))
            .map_err(error)?;
    }
    out.into_inner().map_err(|e| error(e.into_error().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exceptions_report_neutralises_text_and_keeps_amounts() {
        let exception = Exception {
            return_name: "esic",
            worker_id: "W1".into(),
            name: "@SUM(1)".into(),
            reason: "-no IP number".into(),
            amounts: [("wages", "-731".parse().unwrap())].into_iter().collect(),
        };
        let csv = String::from_utf8(exceptions_csv(&[exception]).unwrap()).unwrap();
        assert_eq!(csv.lines().nth(1), Some("esic,W1,'@SUM(1),'-no IP number,wages=-731"));
    }

    #[test]
    fn a_row_of_another_orgs_worker_is_left_out() {
        use std::sync::Arc;

        use datafusion::arrow::array::StringArray;
        use datafusion::arrow::datatypes::{DataType, Field, Schema};

        let text = |name: &str, values: Vec<Option<&str>>| {
            (
                Field::new(name, DataType::Utf8, true),
                Arc::new(StringArray::from(values)) as Arc<dyn datafusion::arrow::array::Array>,
            )
        };
        let (fields, arrays): (Vec<_>, Vec<_>) = [
            text("worker_id", vec![Some("W1"), Some("W2"), Some("W3")]),
            text("org_id", vec![Some("org0"), Some("org1"), None]),
        ]
        .into_iter()
        .unzip();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
        let why: Vec<Option<String>> = (0..3).map(|row| other_org(&batch, "org0", row)).collect();
        assert_eq!(
            why,
            [
                None,
                Some("a worker of org `org1`, not of `org0`: another org's worker is not in this return".into()),
                Some("a worker of org ``, not of `org0`: another org's worker is not in this return".into()),
            ]
        );
    }

    #[test]
    fn rounds_half_up_to_whole_rupees_and_days() {
        for (value, want) in [
            ("1799.50", "1800"),
            ("1799.49", "1799"),
            ("0.5", "1"),
            ("-0.5", "-1"),
            ("12", "12"),
        ] {
            assert_eq!(whole(value.parse().unwrap()).to_string(), want, "{value}");
        }
        assert_eq!(to_f64(whole("15000.00".parse().unwrap())), 15000.0);
    }
}
