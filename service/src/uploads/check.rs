//! Each kind's rows checked as the engine checks them: an attendance summary row by
//! [`Attendance::decode`], a worker by [`Worker::decode`] and the site check the fold makes, an
//! adjustment by the API's own [`crate::adjustments::validate`]; then against the org (a
//! worker of another org is unknown here) and the rows before it in the file.
//! A row that passes is staged as the line it will be written as; one that does not gets its
//! faults, each naming the column, the value (masked if it is a bank account or PAN) and why.

use std::collections::HashMap;

use payroll_engine::bank;
use payroll_engine::masking::{mask_field, mask_record_text};
use payroll_engine::{Attendance, Invalid, Worker};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::adjustments::{Fields, validate};
use crate::db::uploads::Fault;
use crate::domain::uploads::UploadKind;

/// The columns each kind's file must have.
pub fn required(kind: UploadKind) -> &'static [&'static str] {
    match kind {
        UploadKind::AttendanceSummary => &payroll_connectors::files::SUMMARY_COLUMNS,
        UploadKind::Adjustments => &ADJUSTMENT_COLUMNS,
        UploadKind::Workers => &payroll_connectors::files::WORKER_COLUMNS,
    }
}

/// An adjustments sheet: the columns a person fills in.
pub const ADJUSTMENT_COLUMNS: [&str; 6] = ["worker_id", "period", "kind", "code", "amount", "reason"];

/// The org's workers and sites as the input folder's master has them: which worker ids are the
/// org's, which are another org's; each site's org.
#[derive(Debug, Default, Clone)]
pub struct Master {
    /// Worker id to whether it is this org's.
    pub workers: HashMap<String, bool>,
    /// Site id to its org.
    pub sites: HashMap<String, String>,
}

/// A checker for one upload's rows.
pub struct Checker {
    kind: UploadKind,
    org: String,
    cap: Decimal,
    /// The org's master, where the service can read it (files mode); the sites alone in stream
    /// mode (workers).
    master: Option<Master>,
    sites: Option<HashMap<String, String>>,
    /// Each row's key seen so far (a digest of its key columns) and the row it was in.
    seen: HashMap<[u8; 16], u64>,
    /// The columns a staged row is written with (the target file's header), for CSV staging.
    target: Vec<String>,
    /// Stage workers as JSON objects (the `workers` topic) instead of CSV rows.
    json: bool,
    /// Stream mode: the org of a worker the live pay knows (no master file to read there).
    owner: Option<Owner>,
}

/// A worker's org as the stream's live pay knows it, if it does.
pub type Owner = Box<dyn Fn(&str) -> Option<String> + Send>;

/// A row that passed: the line to stage.
pub struct Staged(pub String);

impl Checker {
    pub fn new(
        kind: UploadKind,
        org: &str,
        cap: Decimal,
        master: Option<Master>,
        sites: Option<HashMap<String, String>>,
        target: Vec<String>,
        json: bool,
    ) -> Checker {
        Checker {
            kind,
            org: org.to_string(),
            cap,
            master,
            sites,
            seen: HashMap::new(),
            target,
            json,
            owner: None,
        }
    }

    /// Checks workers against the orgs the stream's live pay knows them by, where no master
    /// file says whose they are.
    pub fn with_owner(mut self, owner: Owner) -> Checker {
        self.owner = Some(owner);
        self
    }

    /// Checks one row (`cells` in the order of `columns`).
    pub fn check(&mut self, number: u64, columns: &[String], cells: &[String]) -> Result<Staged, Vec<Fault>> {
        let cell = |name: &str| -> Option<&str> {
            columns
                .iter()
                .position(|c| c == name)
                .and_then(|i| cells.get(i))
                .map(String::as_str)
        };
        let fault = |column: &str, reason: &str| Fault {
            column: column.to_string(),
            value: cell(column).map(|v| shown(column, v)).unwrap_or_default(),
            reason: mask_record_text(reason).into_owned(),
        };
        let from_engine = |invalid: Invalid| vec![fault(invalid.field.as_deref().unwrap_or_default(), &invalid.reason)];
        let (key, key_columns, staged) = match self.kind {
            UploadKind::Adjustments => {
                let fields = Fields {
                    worker_id: cell("worker_id").unwrap_or_default(),
                    period: cell("period").unwrap_or_default(),
                    kind: cell("kind").unwrap_or_default(),
                    code: cell("code").unwrap_or_default(),
                    amount: cell("amount").unwrap_or_default(),
                    reason: cell("reason").unwrap_or_default(),
                };
                let valid = validate(fields, self.cap)
                    .map_err(|faults| faults.iter().map(|(c, why)| fault(c, why)).collect::<Vec<_>>())?;
                self.of_org(valid.worker_id)
                    .map_err(|why| vec![fault("worker_id", &why)])?;
                // A paid (locked) period is not refused: as one requested through the API, the
                // adjustment is paid as arrears once approved.
                let kind = payroll_engine::event::wire_name(&valid.kind);
                // A spreadsheet's 1500 is 1500.00: amounts are kept in paise, as typed into the API.
                let mut paise = valid.amount;
                paise.rescale(2);
                let (period, amount) = (valid.period.to_string(), paise.to_string());
                let key = [valid.worker_id, &period, &kind, valid.code, &amount].join("\u{1f}");
                let line =
                    serde_json::json!([valid.worker_id, period, kind, valid.code, amount, valid.reason]).to_string();
                (key, "worker_id,period,kind,code,amount", line)
            }
            UploadKind::AttendanceSummary => {
                let (worker_id, period, _) = Attendance::decode(cell).map_err(from_engine)?;
                self.of_org(&worker_id).map_err(|why| vec![fault("worker_id", &why)])?;
                // A paid (locked) period is not refused: its new attendance is paid as arrears
                // by the next run of an open period.
                let key = format!("{worker_id}\u{1f}{period}");
                (key, "worker_id,period", self.csv_line(&cell))
            }
            UploadKind::Workers => {
                let worker = Worker::decode(cell).map_err(from_engine)?;
                let mut faults = Vec::new();
                if worker.org_id != self.org {
                    faults.push(fault(
                        "org_id",
                        &format!("`{}`: this upload is for org {}", worker.org_id, self.org),
                    ));
                }
                if let Some(sites) = self.sites.as_ref().or(self.master.as_ref().map(|m| &m.sites)) {
                    match sites.get(worker.site_id.as_str()) {
                        None => faults.push(fault(
                            "site_id",
                            &format!("worker `{}`: unknown site `{}`", worker.worker_id, worker.site_id),
                        )),
                        Some(org) if *org != worker.org_id => faults.push(fault(
                            "site_id",
                            &format!("site `{}` is not a site of {}", worker.site_id, worker.org_id),
                        )),
                        Some(_) => {}
                    }
                }
                let of_another = match (&self.master, &self.owner) {
                    (Some(master), _) => master.workers.get(worker.worker_id.as_str()) == Some(&false),
                    (None, Some(owner)) => owner(&worker.worker_id).is_some_and(|of| of != self.org),
                    (None, None) => false,
                };
                if of_another {
                    faults.push(fault(
                        "worker_id",
                        &format!("`{}` is the id of another org's worker", worker.worker_id),
                    ));
                }
                // Stricter than the fold, which takes any text: a wrong PAN or account number
                // would reach a bank file.
                let pan = worker.pan.reveal();
                if !pan.is_empty() && !bank::is_pan(pan) {
                    faults.push(fault(
                        "pan",
                        "expected a PAN: 5 capital letters, 4 digits and a capital letter (like ABCDE1234F)",
                    ));
                }
                let account = worker.bank_account.reveal();
                if !account.is_empty() && !bank::is_account(account) {
                    faults.push(fault(
                        "bank_account",
                        "expected a bank account number of 9 to 18 digits",
                    ));
                }
                if !worker.ifsc.is_empty() && !bank::is_ifsc(&worker.ifsc) {
                    faults.push(fault(
                        "ifsc",
                        "expected an IFSC: 4 capital letters, a 0 and 6 capital letters or digits (like SBIN0001234)",
                    ));
                }
                if !faults.is_empty() {
                    return Err(faults);
                }
                let line = if self.json {
                    self.json_line(&cell)
                } else {
                    self.csv_line(&cell)
                };
                (worker.worker_id.to_string(), "worker_id", line)
            }
        };
        let digest: [u8; 16] = Sha256::digest(key.as_bytes())[..16].try_into().unwrap_or_default();
        if let Some(first) = self.seen.get(&digest) {
            let value = key_columns
                .split(',')
                .map(|c| cell(c).map(|v| shown(c, v)).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(",");
            return Err(vec![Fault {
                column: key_columns.to_string(),
                value,
                reason: format!("duplicate of row {first}: the same {}", key_columns.replace(',', ", ")),
            }]);
        }
        self.seen.insert(digest, number);
        Ok(Staged(staged))
    }

    /// A worker id must be one of the org's, where the master is known.
    fn of_org(&self, worker_id: &str) -> Result<(), String> {
        match &self.master {
            Some(master) if master.workers.get(worker_id) != Some(&true) => {
                Err(format!("unknown worker `{worker_id}` in {}", self.org))
            }
            _ => Ok(()),
        }
    }

    /// The row as a CSV line of the target file's columns. Its `org_id`, where the file has one,
    /// is the uploading org's whatever the file said (a worker row naming another was refused).
    fn csv_line<'a>(&self, cell: &impl Fn(&str) -> Option<&'a str>) -> String {
        let mut writer = ::csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        let record: Vec<&str> = self
            .target
            .iter()
            .map(|c| match c.as_str() {
                "org_id" => self.org.as_str(),
                c => cell(c).unwrap_or_default(),
            })
            .collect();
        // Writing to memory cannot fail.
        let _ = writer.write_record(&record);
        let bytes = writer.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).trim_end().to_string()
    }

    /// The row as a JSON object of the target's columns (a `workers` topic message).
    fn json_line<'a>(&self, cell: &impl Fn(&str) -> Option<&'a str>) -> String {
        let object: serde_json::Map<String, serde_json::Value> = self
            .target
            .iter()
            .map(|c| (c.clone(), serde_json::Value::from(cell(c).unwrap_or_default())))
            .collect();
        serde_json::Value::Object(object).to_string()
    }
}

/// A cell as an error report may show it: a bank account or PAN masked by its column, and any
/// other cell scanned for one typed in the wrong column.
pub fn shown(column: &str, value: &str) -> String {
    match mask_field(column, value) {
        std::borrow::Cow::Owned(masked) => masked,
        std::borrow::Cow::Borrowed(v) => mask_record_text(v).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &str = "worker_id,org_id,site_id,name,gender,state,skill,designation,pay_basis,rate,\
        pf_applicable,esi_applicable,uan,esic_no,bank_account,ifsc,pan,joined_on,exited_on";

    fn row(worker: &str) -> Vec<String> {
        format!(
            "{worker},org0,S00,Taken,M,MH,skilled,Fitter,daily,800.00,true,true,,,998877665544,SBIN0001234,,2026-10-01,"
        )
        .split(',')
        .map(str::to_string)
        .collect()
    }

    #[test]
    fn stream_mode_refuses_a_worker_the_live_pay_has_in_another_org() {
        let columns: Vec<String> = COLUMNS.split(',').map(str::to_string).collect();
        let sites = HashMap::from([("S00".to_string(), "org0".to_string())]);
        let orgs = HashMap::from([("W1", "org1"), ("W2", "org0")]);
        let mut checker = Checker::new(
            UploadKind::Workers,
            "org0",
            Decimal::ZERO,
            None,
            Some(sites),
            columns.clone(),
            true,
        )
        .with_owner(Box::new(move |w| orgs.get(w).map(|o| o.to_string())));
        let faults = checker.check(2, &columns, &row("W1")).err().expect("refused");
        let faults: Vec<(&str, &str)> = faults.iter().map(|f| (f.column.as_str(), f.reason.as_str())).collect();
        assert_eq!(faults, [("worker_id", "`W1` is the id of another org's worker")]);
        // The org's own worker, and one the live pay does not know yet (the fold checks it).
        assert!(checker.check(3, &columns, &row("W2")).is_ok());
        assert!(checker.check(4, &columns, &row("W3")).is_ok());
    }
}
