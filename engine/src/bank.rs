//! Bank details as a bank file needs them: the formats of an IFSC, an Indian bank account number
//! and a PAN. The worker master keeps whatever text it was given (the fold never drops a worker
//! for a typo in a bank field: the worker is still paid in the results), so these checks run
//! where details enter (uploads refuse a bad row) and again where money leaves: a worker whose
//! details fail here is a payout exception, never silently paid or dropped.

use std::fmt;

use crate::master::Worker;
use crate::spreadsheet::starts_formula;

/// An IFSC: `^[A-Z]{4}0[A-Z0-9]{6}$`, the bank's four letters, a zero, the branch's six.
pub fn is_ifsc(ifsc: &str) -> bool {
    let b = ifsc.as_bytes();
    b.len() == 11
        && b[..4].iter().all(u8::is_ascii_uppercase)
        && b[4] == b'0'
        && b[5..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// An Indian bank account number: 9 to 18 digits, nothing else.
pub fn is_account(account: &str) -> bool {
    (9..=18).contains(&account.len()) && account.bytes().all(|b| b.is_ascii_digit())
}

/// A PAN: `^[A-Z]{5}[0-9]{4}[A-Z]$`.
pub fn is_pan(pan: &str) -> bool {
    let b = pan.as_bytes();
    b.len() == 10
        && b[..5].iter().all(u8::is_ascii_uppercase)
        && b[5..9].iter().all(u8::is_ascii_digit)
        && b[9].is_ascii_uppercase()
}

/// Why a worker's details cannot go in a bank file. The messages never carry the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankFault {
    NoAccount,
    BadAccount,
    NoIfsc,
    BadIfsc,
    /// The beneficiary name starts with `=`, `+`, `-`, `@`, a tab or a carriage return. Bank
    /// files carry the name exactly (no `'` can be added), and a NEFT CSV is often opened in a
    /// spreadsheet before it is uploaded: no name a spreadsheet would run goes into one.
    FormulaName,
}

impl BankFault {
    /// A stable code, for exception reports read by programs.
    pub fn code(self) -> &'static str {
        match self {
            BankFault::NoAccount => "no_account",
            BankFault::BadAccount => "invalid_account",
            BankFault::NoIfsc => "no_ifsc",
            BankFault::BadIfsc => "invalid_ifsc",
            BankFault::FormulaName => "invalid_name",
        }
    }
}

impl fmt::Display for BankFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BankFault::NoAccount => "no bank account in the worker master",
            BankFault::BadAccount => "bank account is not 9 to 18 digits",
            BankFault::NoIfsc => "no IFSC in the worker master",
            BankFault::BadIfsc => "IFSC is not 4 capital letters, a 0 and 6 capital letters or digits",
            BankFault::FormulaName => "name starts with =, +, -, @, a tab or a carriage return",
        })
    }
}

/// What keeps `worker` out of a bank file: its account and IFSC, checked by format (a PAN is a
/// tax id, not a payment detail; uploads check its format where it enters), and a name that
/// would start a formula.
pub fn faults(worker: &Worker) -> Vec<BankFault> {
    let mut faults = Vec::new();
    let account = worker.bank_account.reveal();
    if account.is_empty() {
        faults.push(BankFault::NoAccount);
    } else if !is_account(account) {
        faults.push(BankFault::BadAccount);
    }
    if worker.ifsc.is_empty() {
        faults.push(BankFault::NoIfsc);
    } else if !is_ifsc(&worker.ifsc) {
        faults.push(BankFault::BadIfsc);
    }
    if starts_formula(&worker.name) {
        faults.push(BankFault::FormulaName);
    }
    faults
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifsc_is_four_letters_a_zero_and_six_letters_or_digits() {
        for good in ["SBIN0001234", "HDFC0ABC123", "ICIC0000001"] {
            assert!(is_ifsc(good), "{good}");
        }
        for bad in [
            "",
            "SBIN1001234",
            "sbin0001234",
            "SBI00001234",
            "SBIN000123",
            "SBIN00012345",
            "SBIN000123a",
            "SBIN 001234",
            "SB1N0001234",
        ] {
            assert!(!is_ifsc(bad), "{bad}");
        }
    }

    #[test]
    fn accounts_are_nine_to_eighteen_digits() {
        assert!(is_account("123456789"));
        assert!(is_account("123456789012345678"));
        for bad in [
            "12345678",
            "1234567890123456789",
            "12345678X",
            "1234-56789",
            " 123456789",
            "",
        ] {
            assert!(!is_account(bad), "{bad}");
        }
    }

    #[test]
    fn pans_are_five_letters_four_digits_a_letter() {
        assert!(is_pan("ABCDE1234F"));
        for bad in [
            "abcde1234f",
            "ABCD1234F",
            "ABCDE12345",
            "ABCDE1234",
            "ABCDE1234FG",
            "ABCDEX234F",
            "",
        ] {
            assert!(!is_pan(bad), "{bad}");
        }
    }

    /// A worker every bank file can pay.
    fn payable() -> Worker {
        Worker::decode_json(
            br#"{"worker_id": "W1", "org_id": "ORG1", "site_id": "S1", "name": "Asha", "gender": "F",
            "state": "KA", "skill": "skilled", "pay_basis": "daily", "rate": "650.00", "pf_applicable": true,
            "esi_applicable": false, "bank_account": "494833411340", "ifsc": "SBIN0001234", "pan": "ABCDE1234F",
            "joined_on": "2026-01-01"}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_worker_is_faulted_by_account_and_ifsc_never_echoing_them() {
        let mut worker = payable();
        assert_eq!(faults(&worker), vec![]);
        worker.ifsc = "SBIN1001234".into();
        worker.bank_account = crate::Sensitive::new("12345");
        assert_eq!(faults(&worker), vec![BankFault::BadAccount, BankFault::BadIfsc]);
        worker.ifsc.clear();
        worker.bank_account = crate::Sensitive::new(String::new());
        assert_eq!(faults(&worker), vec![BankFault::NoAccount, BankFault::NoIfsc]);
        for fault in [BankFault::BadAccount, BankFault::BadIfsc] {
            assert!(!fault.to_string().contains("12345"));
        }
    }

    #[test]
    fn a_name_a_spreadsheet_would_run_keeps_a_worker_out_of_bank_files() {
        let mut worker = payable();
        for name in [
            r#"=HYPERLINK("http://x","y")"#,
            "+cmd",
            "-5",
            "@SUM(1)",
            "\tAsha",
            "\rAsha",
        ] {
            worker.name = name.into();
            assert_eq!(faults(&worker), vec![BankFault::FormulaName], "{name:?}");
        }
        for name in ["Asha K", "A-sha", "D'Souza"] {
            worker.name = name.into();
            assert_eq!(faults(&worker), vec![], "{name:?}");
        }
    }
}
