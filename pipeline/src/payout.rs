//! Bank payout files of a finalized run: every worker's `net_payable` (net pay plus arrears) as
//! an ISO 20022 `pain.001.001.09` credit-transfer initiation and a bulk NEFT CSV, and the
//! workers that cannot be paid as an exceptions report.
//!
//! Amounts come from the run's results; beneficiary names, full account numbers and IFSCs from
//! the worker master at payout time (results carry accounts only masked). A worker is paid only
//! with a positive amount and bank details in format ([`payroll_engine::bank`]); every other
//! worker of the run is an exception, with the reason: nobody is silently paid or dropped.
//!
//! These files carry full account numbers: the caller writes them only under the run's payouts
//! prefix ([`payroll_connectors::layout::payout_file`]) and streams them to an authorized user;
//! nothing here logs a payment. `Payment`'s `Debug` masks the account.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use payroll_engine::masking::mask_account;
use payroll_engine::spreadsheet::neutralise;
use payroll_engine::{Sensitive, Worker, bank};
use payroll_rules::vocabulary::PayPeriod;
use rust_decimal::Decimal;

use crate::columns;
use crate::error::Result;

/// The longest `EndToEndId` ISO 20022 allows (Max35Text): banks echo it on returns.
pub const MAX_REFERENCE: usize = 35;

/// One worker's amount in the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub worker_id: String,
    pub name: String,
    /// As the run's results show it (the exceptions report shows no more).
    pub account_masked: String,
    pub net_payable: Decimal,
}

/// Each worker's `net_payable` of the org's results of a run, in the results' order.
pub async fn dues(store: &payroll_connectors::Store, org: &str, period: &str, run_id: &str) -> Result<Vec<Due>> {
    let mut dues = Vec::new();
    columns::each_batch(
        store,
        org,
        period,
        run_id,
        &["worker_id", "name", "bank_account_masked", "net_payable"],
        |batch| {
            for row in 0..batch.num_rows() {
                dues.push(Due {
                    worker_id: columns::text(batch, "worker_id", row).to_string(),
                    name: columns::text(batch, "name", row).to_string(),
                    account_masked: columns::text(batch, "bank_account_masked", row).to_string(),
                    net_payable: columns::number(batch, "net_payable", row)?,
                });
            }
            Ok(())
        },
    )
    .await?;
    Ok(dues)
}

/// A credit to one worker. `Debug` shows the account masked.
#[derive(Clone, PartialEq)]
pub struct Payment {
    pub worker_id: String,
    /// The beneficiary's name as the master has it now.
    pub name: String,
    pub account: Sensitive,
    pub ifsc: String,
    pub amount: Decimal,
    /// The end-to-end id: the run and the worker ([`reference`]).
    pub reference: String,
}

impl std::fmt::Debug for Payment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payment")
            .field("worker_id", &self.worker_id)
            .field("account", &self.account)
            .field("ifsc", &self.ifsc)
            .field("amount", &self.amount)
            .field("reference", &self.reference)
            .finish()
    }
}

/// Why a worker of the run is not in the payment files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Net payable zero: nothing to pay.
    Zero,
    /// Net payable below zero: recoveries exceed the pay; nothing is paid, the rest is owed.
    Negative,
    /// Not in the worker master at payout time (no name, account or IFSC to pay to).
    NotInMaster,
    /// The master has the worker in another org: a worker belongs to one org, and no org's
    /// payout pays another's worker (or an account another org put in their record).
    OtherOrg,
    Bank(bank::BankFault),
    /// The worker id makes the end-to-end id longer than a bank takes.
    ReferenceTooLong,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::Zero => "zero_net_payable",
            Reason::Negative => "negative_net_payable",
            Reason::NotInMaster => "not_in_master",
            Reason::OtherOrg => "other_org",
            Reason::Bank(fault) => fault.code(),
            Reason::ReferenceTooLong => "reference_too_long",
        }
    }

    pub fn describe(self) -> String {
        match self {
            Reason::Zero => "net payable is zero: nothing to pay".to_string(),
            Reason::Negative => "net payable is negative: recoveries exceed the pay, nothing is paid".to_string(),
            Reason::NotInMaster => "not in the worker master at payout time: no account to pay to".to_string(),
            Reason::OtherOrg => "the worker master has this worker in another org: not paid by this org".to_string(),
            Reason::Bank(fault) => format!("{fault}: correct the worker master, then pay again"),
            Reason::ReferenceTooLong => {
                format!("the worker id makes the payment reference longer than {MAX_REFERENCE} characters")
            }
        }
    }
}

/// A worker left out of the payment files, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    pub worker_id: String,
    pub name: String,
    pub account_masked: String,
    pub amount: Decimal,
    /// Every reason that applies (a bad account and a bad IFSC are both said).
    pub reasons: Vec<Reason>,
}

/// The end-to-end id of a worker's payment: the last 8 characters of the run id (the random
/// part of a UUIDv7), the payout's sequence number within the run (a returned payment paid
/// again gets a new reference) and the worker id: `1f0e2b7a-1-W000123`.
pub fn reference(run_id: &str, seq: u32, worker_id: &str) -> String {
    let run: String = run_id.chars().filter(char::is_ascii_alphanumeric).collect();
    let short = &run[run.len().saturating_sub(8)..];
    format!("{short}-{seq}-{worker_id}")
}

/// The payments and exceptions of `dues` of `org`'s run: `master` gives each worker's current
/// record. A worker the master has in another org is an exception, with nothing of their record
/// (name or account) shown to this org.
pub fn plan<'m>(
    dues: impl IntoIterator<Item = Due>,
    master: impl Fn(&str) -> Option<&'m Worker>,
    org: &str,
    run_id: &str,
    seq: u32,
) -> (Vec<Payment>, Vec<Exception>) {
    let (mut payments, mut exceptions) = (Vec::new(), Vec::new());
    for due in dues {
        let mut reasons = Vec::new();
        let worker = match master(&due.worker_id) {
            Some(worker) if worker.org_id != org => {
                reasons.push(Reason::OtherOrg);
                None
            }
            worker => worker,
        };
        if due.net_payable.is_zero() {
            reasons.push(Reason::Zero);
        } else if due.net_payable.is_sign_negative() {
            reasons.push(Reason::Negative);
        }
        match worker {
            None if reasons.contains(&Reason::OtherOrg) => {}
            None => reasons.push(Reason::NotInMaster),
            Some(worker) => reasons.extend(bank::faults(worker).into_iter().map(Reason::Bank)),
        }
        let reference = reference(run_id, seq, &due.worker_id);
        if reference.len() > MAX_REFERENCE {
            reasons.push(Reason::ReferenceTooLong);
        }
        match worker {
            Some(worker) if reasons.is_empty() => payments.push(Payment {
                name: worker.name.to_string(),
                account: worker.bank_account.clone(),
                ifsc: worker.ifsc.to_string(),
                amount: due.net_payable,
                reference,
                worker_id: due.worker_id,
            }),
            _ => exceptions.push(Exception {
                account_masked: worker.map_or(due.account_masked, |w| mask_account(w.bank_account.reveal())),
                name: worker.map_or(due.name, |w| w.name.to_string()),
                amount: due.net_payable,
                reasons,
                worker_id: due.worker_id,
            }),
        }
    }
    (payments, exceptions)
}

/// Who pays: the org's debit account (config `[orgs.<id>]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debtor {
    /// The account holder's name (the org's legal name).
    pub name: String,
    pub account: String,
    pub ifsc: String,
    /// The bank's BIC, when the bank wants one beside the IFSC.
    pub bic: Option<String>,
}

/// What the file says of itself.
#[derive(Debug, Clone)]
pub struct Header<'a> {
    /// Unique per file (Max35Text): the payout id.
    pub message_id: &'a str,
    pub created_at: DateTime<Utc>,
    pub period: PayPeriod,
    pub org: &'a str,
    pub debtor: &'a Debtor,
}

impl Header<'_> {
    /// The remittance text each credit carries: `SALARY 2026-10`.
    pub fn narration(&self) -> String {
        format!("SALARY {}", self.period)
    }
}

/// The sum of the payments: the file's control sum.
pub fn total(payments: &[Payment]) -> Decimal {
    payments.iter().map(|p| p.amount).sum()
}

fn amount(value: Decimal) -> String {
    format!("{:.2}", value.round_dp(2))
}

/// `pain.001.001.09`: a group header with the count and control sum, one payment information
/// block for the org's debit account (with its own count and sum), one credit transfer per
/// payment with its end-to-end id, amount in INR, the beneficiary's bank by IFSC (clearing
/// system `INFSC`), name and account.
pub fn pain001(header: &Header<'_>, payments: &[Payment]) -> Vec<u8> {
    let mut x = Xml::default();
    let count = payments.len().to_string();
    let sum = amount(total(payments));
    let created = header.created_at.format("%Y-%m-%dT%H:%M:%S").to_string();
    x.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.raw("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09\">\n");
    x.open("CstmrCdtTrfInitn");
    x.open("GrpHdr");
    x.leaf("MsgId", header.message_id);
    x.leaf("CreDtTm", &created);
    x.leaf("NbOfTxs", &count);
    x.leaf("CtrlSum", &sum);
    x.open("InitgPty");
    x.leaf("Nm", &header.debtor.name);
    x.close("InitgPty");
    x.close("GrpHdr");
    // One block: the org has one debit account. A second account would be a second block with
    // its own PmtInfId, count and sum.
    x.open("PmtInf");
    x.leaf(
        "PmtInfId",
        &format!("{}-1", truncate(header.message_id, MAX_REFERENCE - 2)),
    );
    x.leaf("PmtMtd", "TRF");
    x.leaf("NbOfTxs", &count);
    x.leaf("CtrlSum", &sum);
    x.open("PmtTpInf");
    x.open("LclInstrm");
    x.leaf("Prtry", "NEFT");
    x.close("LclInstrm");
    x.open("CtgyPurp");
    x.leaf("Cd", "SALA");
    x.close("CtgyPurp");
    x.close("PmtTpInf");
    x.open("ReqdExctnDt");
    x.leaf("Dt", &header.created_at.format("%Y-%m-%d").to_string());
    x.close("ReqdExctnDt");
    x.open("Dbtr");
    x.leaf("Nm", &header.debtor.name);
    x.close("Dbtr");
    x.account("DbtrAcct", &header.debtor.account);
    x.agent("DbtrAgt", &header.debtor.ifsc, header.debtor.bic.as_deref());
    x.leaf("ChrgBr", "SLEV");
    let narration = header.narration();
    for p in payments {
        x.open("CdtTrfTxInf");
        x.open("PmtId");
        x.leaf("EndToEndId", &p.reference);
        x.close("PmtId");
        x.open("Amt");
        x.raw(&format!("<InstdAmt Ccy=\"INR\">{}</InstdAmt>", amount(p.amount)));
        x.close("Amt");
        x.agent("CdtrAgt", &p.ifsc, None);
        x.open("Cdtr");
        x.leaf("Nm", truncate(&p.name, 140));
        x.close("Cdtr");
        x.account("CdtrAcct", p.account.reveal());
        x.open("Purp");
        x.leaf("Cd", "SALA");
        x.close("Purp");
        x.open("RmtInf");
        x.leaf("Ustrd", &narration);
        x.close("RmtInf");
        x.close("CdtTrfTxInf");
    }
    x.close("PmtInf");
    x.close("CstmrCdtTrfInitn");
    x.raw("</Document>\n");
    x.0.into_bytes()
}

/// The bulk NEFT upload most Indian banks take: one line per payment with the beneficiary's
/// name, account and IFSC, the amount, the narration and the reference. The bank wants each
/// value exactly, so nothing is neutralised here; instead no field can start a formula: [`plan`]
/// pays no worker whose name would ([`bank::BankFault::FormulaName`]), account and IFSC are
/// checked formats, the amount is positive, the narration and reference start with a letter or
/// digit.
pub fn neft_csv(header: &Header<'_>, payments: &[Payment]) -> Result<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::with_capacity(payments.len() * 96));
    out.write_record([
        "beneficiary_name",
        "account",
        "ifsc",
        "amount",
        "narration",
        "reference",
    ])
    .map_err(csv_error)?;
    let narration = header.narration();
    for p in payments {
        out.write_record([
            p.name.as_str(),
            p.account.reveal(),
            p.ifsc.as_str(),
            &amount(p.amount),
            &narration,
            &p.reference,
        ])
        .map_err(csv_error)?;
    }
    out.into_inner().map_err(|e| csv_error(e.into_error().into()))
}

/// The workers not paid: id, name, masked account, amount and why (codes and sentences). A
/// report for people, so its text is [`neutralise`]d; the amount stays a number.
pub fn exceptions_csv(exceptions: &[Exception]) -> Result<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["worker_id", "name", "account_masked", "net_payable", "codes", "reason"])
        .map_err(csv_error)?;
    for e in exceptions {
        let codes: Vec<&str> = e.reasons.iter().map(|r| r.code()).collect();
        let reasons: Vec<String> = e.reasons.iter().map(|r| r.describe()).collect();
        let cells = [
            neutralise(e.worker_id.as_str()),
            neutralise(e.name.as_str()),
            neutralise(e.account_masked.as_str()),
            neutralise(amount(e.amount)),
            neutralise(codes.join(" ")),
            neutralise(reasons.join("; ")),
        ];
        out.write_record(cells.iter().map(|cell| cell.as_bytes()))
            .map_err(csv_error)?;
    }
    out.into_inner().map_err(|e| csv_error(e.into_error().into()))
}

fn csv_error(e: csv::Error) -> crate::Error {
    crate::Error::Connectors(payroll_connectors::Error::input("payout file", e.to_string()))
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// A small XML writer: elements on their own lines, text escaped.
#[derive(Default)]
struct Xml(String);

impl Xml {
    fn raw(&mut self, text: &str) {
        self.0.push_str(text);
    }

    fn open(&mut self, name: &str) {
        let _ = writeln!(self.0, "<{name}>");
    }

    fn close(&mut self, name: &str) {
        let _ = writeln!(self.0, "</{name}>");
    }

    fn leaf(&mut self, name: &str, text: &str) {
        let _ = write!(self.0, "<{name}>");
        escape(&mut self.0, text);
        let _ = writeln!(self.0, "</{name}>");
    }

    fn account(&mut self, element: &str, account: &str) {
        self.open(element);
        self.open("Id");
        self.open("Othr");
        self.leaf("Id", account);
        self.close("Othr");
        self.close("Id");
        self.close(element);
    }

    /// A bank by IFSC, the Indian clearing system's member id (`INFSC`), and its BIC if given.
    fn agent(&mut self, element: &str, ifsc: &str, bic: Option<&str>) {
        self.open(element);
        self.open("FinInstnId");
        if let Some(bic) = bic {
            self.leaf("BICFI", bic);
        }
        self.open("ClrSysMmbId");
        self.open("ClrSysId");
        self.leaf("Cd", "INFSC");
        self.close("ClrSysId");
        self.leaf("MmbId", ifsc);
        self.close("ClrSysMmbId");
        self.close("FinInstnId");
        self.close(element);
    }
}

/// Text as XML character data: markup escaped, control characters (not allowed in XML 1.0)
/// dropped.
fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(id: &str, account: &str, ifsc: &str) -> Worker {
        let json = format!(
            r#"{{"worker_id": "{id}", "org_id": "org0", "site_id": "S1", "name": "Asha <& Co>", "gender": "F",
            "state": "KA", "skill": "skilled", "pay_basis": "daily", "rate": "650.00", "pf_applicable": true,
            "esi_applicable": false, "bank_account": "{account}", "ifsc": "{ifsc}", "joined_on": "2026-01-01"}}"#
        );
        Worker::decode_json(json.as_bytes()).unwrap()
    }

    fn due(id: &str, amount: &str) -> Due {
        Due {
            worker_id: id.into(),
            name: "From results".into(),
            account_masked: "XXXXXXXX9999".into(),
            net_payable: amount.parse().unwrap(),
        }
    }

    #[test]
    fn pays_positive_amounts_with_good_details_and_says_why_not_for_the_rest() {
        let master = [
            worker("W1", "494833411340", "SBIN0001234"),
            worker("W2", "494833411341", "SBIN1001234"),
            worker("W3", "494833411342", "SBIN0001234"),
            worker("W4", "494833411343", "SBIN0001234"),
        ];
        let find = |id: &str| master.iter().find(|w| w.worker_id == id);
        let dues = vec![
            due("W1", "18314.05"),
            due("W2", "100.00"),
            due("W3", "0.00"),
            due("W4", "-12.50"),
            due("W5", "10.00"),
        ];
        let (payments, exceptions) = plan(dues, find, "org0", "0193b3a4-0000-7000-8000-00000a1b2c3d", 1);
        assert_eq!(payments.len(), 1);
        assert_eq!(payments[0].reference, "0a1b2c3d-1-W1");
        assert_eq!(total(&payments), "18314.05".parse::<Decimal>().unwrap());
        let why: Vec<(&str, Vec<&str>)> = exceptions
            .iter()
            .map(|e| (e.worker_id.as_str(), e.reasons.iter().map(|r| r.code()).collect()))
            .collect();
        assert_eq!(
            why,
            vec![
                ("W2", vec!["invalid_ifsc"]),
                ("W3", vec!["zero_net_payable"]),
                ("W4", vec!["negative_net_payable"]),
                ("W5", vec!["not_in_master"]),
            ]
        );
        assert_eq!(exceptions[0].account_masked, "XXXXXXXX1341");
        assert!(!format!("{payments:?}").contains("494833411340"));
        let csv = String::from_utf8(exceptions_csv(&exceptions).unwrap()).unwrap();
        assert!(!csv.contains("49483341134"), "{csv}");
    }

    #[test]
    fn a_worker_the_master_has_in_another_org_is_never_paid() {
        let mut theirs = worker("W1", "494833411340", "SBIN0001234");
        theirs.org_id = "org1".into();
        theirs.name = "Their Worker".into();
        let master = [theirs, worker("W2", "494833411341", "SBIN0001234")];
        let find = |id: &str| master.iter().find(|w| w.worker_id == id);
        let (payments, exceptions) = plan(
            [due("W1", "100.00"), due("W2", "200.00")],
            find,
            "org0",
            "r-12345678",
            1,
        );
        assert_eq!(
            payments.iter().map(|p| p.worker_id.as_str()).collect::<Vec<_>>(),
            ["W2"]
        );
        assert_eq!(exceptions.len(), 1, "{exceptions:?}");
        let e = &exceptions[0];
        assert_eq!(
            (e.worker_id.as_str(), e.reasons.as_slice()),
            ("W1", [Reason::OtherOrg].as_slice())
        );
        assert_eq!(e.reasons[0].code(), "other_org");
        // The other org's record is not shown: the run's own name and masked account are.
        assert_eq!(
            (e.name.as_str(), e.account_masked.as_str()),
            ("From results", "XXXXXXXX9999")
        );
    }

    #[test]
    fn a_long_worker_id_is_an_exception_not_a_truncated_reference() {
        let long = "W".repeat(30);
        let master = [worker(&long, "494833411340", "SBIN0001234")];
        let (payments, exceptions) = plan([due(&long, "1.00")], |_| master.first(), "org0", "run-0a1b2c3d", 2);
        assert!(payments.is_empty());
        assert_eq!(exceptions[0].reasons, vec![Reason::ReferenceTooLong]);
    }

    #[test]
    fn a_name_that_would_start_a_formula_is_never_paid_and_shows_neutralised() {
        let mut bad = worker("W1", "494833411340", "SBIN0001234");
        bad.name = r#"=HYPERLINK("http://x","y")"#.into();
        let master = [bad, worker("W2", "494833411341", "SBIN0001234")];
        let find = |id: &str| master.iter().find(|w| w.worker_id == id);
        let (payments, exceptions) = plan(
            [due("W1", "100.00"), due("W2", "-731.25")],
            find,
            "org0",
            "r-12345678",
            1,
        );
        assert!(payments.is_empty(), "{payments:?}");
        assert_eq!(exceptions[0].reasons, vec![Reason::Bank(bank::BankFault::FormulaName)]);
        let csv = String::from_utf8(exceptions_csv(&exceptions).unwrap()).unwrap();
        let rows: Vec<Vec<String>> = csv::Reader::from_reader(csv.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        assert_eq!(rows[0][1], r#"'=HYPERLINK("http://x","y")"#, "{csv}");
        assert_eq!(
            (rows[1][1].as_str(), rows[1][3].as_str()),
            ("Asha <& Co>", "-731.25"),
            "{csv}"
        );
    }

    #[test]
    fn the_xml_escapes_names_and_sums_to_the_paisa() {
        let master = [
            worker("W1", "494833411340", "SBIN0001234"),
            worker("W2", "494833411341", "HDFC0ABC123"),
        ];
        let find = |id: &str| master.iter().find(|w| w.worker_id == id);
        let (payments, _) = plan([due("W1", "0.01"), due("W2", "1000.99")], find, "org0", "r-12345678", 1);
        let debtor = Debtor {
            name: "Org & Sons".into(),
            account: "000111222333".into(),
            ifsc: "ICIC0000001".into(),
            bic: None,
        };
        let header = Header {
            message_id: "P1",
            created_at: "2026-11-01T10:00:00Z".parse().unwrap(),
            period: PayPeriod { year: 2026, month: 10 },
            org: "org0",
            debtor: &debtor,
        };
        let xml = String::from_utf8(pain001(&header, &payments)).unwrap();
        assert!(xml.contains("<CtrlSum>1001.00</CtrlSum>"), "{xml}");
        assert_eq!(xml.matches("<NbOfTxs>2</NbOfTxs>").count(), 2);
        assert!(xml.contains("<Nm>Asha &lt;&amp; Co&gt;</Nm>"));
        assert!(xml.contains("<Nm>Org &amp; Sons</Nm>"));
        assert!(xml.contains("<InstdAmt Ccy=\"INR\">0.01</InstdAmt>"));
        assert!(xml.contains("<MmbId>HDFC0ABC123</MmbId>"));
        let neft = String::from_utf8(neft_csv(&header, &payments).unwrap()).unwrap();
        assert_eq!(
            neft.lines().nth(1),
            Some("Asha <& Co>,494833411340,SBIN0001234,0.01,SALARY 2026-10,12345678-1-W1")
        );
    }
}
