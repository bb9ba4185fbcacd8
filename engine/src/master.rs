//! Master data: workers (from `workers.csv` or the compacted `workers` topic) and sites. A
//! record is decoded from named text fields, so CSV rows and JSON objects share one validation.

use std::fmt;

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use compact_str::CompactString;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::contact::{Email, Language, Phone};
use crate::error::Invalid;
use crate::event::date;
use crate::masking::mask_account;
use crate::money::parse_amount;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PayBasis {
    Daily,
    Hourly,
    Monthly,
}

impl PayBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            PayBasis::Daily => "daily",
            PayBasis::Hourly => "hourly",
            PayBasis::Monthly => "monthly",
        }
    }
}

/// A bank account number or PAN: kept whole for payslips and bank files, shown masked
/// everywhere else, so a log line or a debug print never carries it in clear. Checkpoints keep
/// it whole, as the worker master they restore does.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sensitive(CompactString);

impl Sensitive {
    pub fn new(value: impl Into<CompactString>) -> Self {
        Sensitive(value.into())
    }

    /// The value in clear: only for documents addressed to the worker or the bank.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// The value as it may be shown, by the account policy of [`crate::masking`]; a PAN is
    /// shown by [`crate::masking::mask_pan`].
    pub fn masked(&self) -> String {
        mask_account(&self.0)
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.masked())
    }
}

/// A worker's master record. Its text is kept inline ([`CompactString`], up to 24 bytes) rather
/// than in an allocation per field: ids, codes and most names are shorter, and a million
/// workers' master was fourteen million allocations (a run of a million workers peaks 0.1 GB
/// lower without them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worker {
    pub worker_id: CompactString,
    pub org_id: CompactString,
    pub site_id: CompactString,
    pub name: CompactString,
    pub gender: CompactString,
    pub state: CompactString,
    pub skill: CompactString,
    pub designation: CompactString,
    pub pay_basis: PayBasis,
    pub rate: Decimal,
    pub pf_applicable: bool,
    pub esi_applicable: bool,
    pub uan: CompactString,
    pub esic_no: CompactString,
    pub bank_account: Sensitive,
    pub ifsc: CompactString,
    pub pan: Sensitive,
    pub joined_on: NaiveDate,
    pub exited_on: Option<NaiveDate>,
    /// Where payslip notices go, and in which language; all optional.
    pub phone: Option<Phone>,
    pub email: Option<Email>,
    pub language: Option<Language>,
}

pub const SKILLS: [&str; 4] = ["unskilled", "semi_skilled", "skilled", "highly_skilled"];

impl Worker {
    /// Decodes a worker from its named fields (a CSV row or a JSON object as text).
    pub fn decode<'a>(field: impl Fn(&str) -> Option<&'a str>) -> Result<Worker, Invalid> {
        let text = |name: &str| -> Result<&'a str, Invalid> {
            match field(name).map(str::trim) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(Invalid::field(name, "missing")),
            }
        };
        let key = |name: &str| -> Result<CompactString, Invalid> {
            let v = text(name)?;
            if !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(Invalid::field(
                    name,
                    format!("`{v}`: expected letters, digits, `-` or `_`"),
                ));
            }
            Ok(v.into())
        };
        let one_of = |name: &str, allowed: &[&str]| -> Result<CompactString, Invalid> {
            let v = text(name)?;
            if !allowed.contains(&v) {
                return Err(Invalid::field(
                    name,
                    format!("`{v}`: expected one of {}", allowed.join(", ")),
                ));
            }
            Ok(v.into())
        };
        let flag = |name: &str| -> Result<bool, Invalid> {
            match text(name)? {
                "true" => Ok(true),
                "false" => Ok(false),
                v => Err(Invalid::field(name, format!("`{v}`: expected true or false"))),
            }
        };
        let pay_basis = match text("pay_basis")? {
            "daily" => PayBasis::Daily,
            "hourly" => PayBasis::Hourly,
            "monthly" => PayBasis::Monthly,
            v => {
                return Err(Invalid::field(
                    "pay_basis",
                    format!("`{v}`: expected daily, hourly or monthly"),
                ));
            }
        };
        let rate = parse_amount(text("rate")?).map_err(|e| Invalid::field("rate", e))?;
        if rate.is_zero() {
            return Err(Invalid::field("rate", "zero: expected a positive rate"));
        }
        let joined_on = date("joined_on", text("joined_on")?)?;
        let exited_on = match field("exited_on").map(str::trim) {
            None | Some("") => None,
            Some(v) => Some(date("exited_on", v)?),
        };
        if exited_on.is_some_and(|e| e < joined_on) {
            return Err(Invalid::field("exited_on", format!("before joined_on ({joined_on})")));
        }
        let optional = |name: &str| field(name).map(str::trim).filter(|v| !v.is_empty());
        let phone = optional("phone").map(Phone::parse).transpose()?;
        let email = optional("email").map(Email::parse).transpose()?;
        let language = optional("language").map(Language::parse).transpose()?;
        Ok(Worker {
            worker_id: key("worker_id")?,
            org_id: key("org_id")?,
            site_id: key("site_id")?,
            name: text("name")?.into(),
            gender: one_of("gender", &["M", "F"])?,
            state: text("state")?.into(),
            skill: one_of("skill", &SKILLS)?,
            designation: field("designation").unwrap_or_default().trim().into(),
            pay_basis,
            rate,
            pf_applicable: flag("pf_applicable")?,
            esi_applicable: flag("esi_applicable")?,
            uan: field("uan").unwrap_or_default().trim().into(),
            esic_no: field("esic_no").unwrap_or_default().trim().into(),
            bank_account: Sensitive::new(field("bank_account").unwrap_or_default().trim()),
            ifsc: field("ifsc").unwrap_or_default().trim().into(),
            pan: Sensitive::new(field("pan").unwrap_or_default().trim()),
            joined_on,
            exited_on,
            phone,
            email,
            language,
        })
    }

    /// Decodes a worker from a message of the `workers` topic: one JSON object with the fields
    /// of `workers.csv`, as strings, flags also as JSON booleans.
    pub fn decode_json(json: &[u8]) -> Result<Worker, Invalid> {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(json)
            .map_err(|e| Invalid::record(format!("malformed JSON: expected an object of worker fields ({e})")))?;
        for (name, value) in &object {
            if !matches!(
                value,
                serde_json::Value::String(_) | serde_json::Value::Bool(_) | serde_json::Value::Null
            ) {
                // The value is not echoed: it may be a bank account or PAN sent as a number.
                let kind = match value {
                    serde_json::Value::Number(_) => "a number",
                    serde_json::Value::Array(_) => "a list",
                    _ => "an object",
                };
                return Err(Invalid::field(
                    name.as_str(),
                    format!("{kind}: expected a string (amounts as decimal strings, like \"650.00\")"),
                ));
            }
        }
        Worker::decode(|name| match object.get(name)? {
            serde_json::Value::String(s) => Some(s.as_str()),
            serde_json::Value::Bool(true) => Some("true"),
            serde_json::Value::Bool(false) => Some("false"),
            _ => None,
        })
    }

    /// The worker as the named fields [`Worker::decode`] reads, in `workers.csv`'s order, the
    /// optional contact columns last: equal workers give equal fields (a rate of `650` and one
    /// of `650.00` are both `650.00`), so two records compare field by field, as a review of a
    /// master change shows them. Sensitive values are in clear: mask them to show them.
    pub fn fields(&self) -> [(&'static str, String); 22] {
        let flag = |b: bool| if b { "true" } else { "false" }.to_string();
        // A rate has at most 2 decimals (`parse_amount`).
        let rate = format!("{:.2}", self.rate);
        [
            ("worker_id", self.worker_id.to_string()),
            ("org_id", self.org_id.to_string()),
            ("site_id", self.site_id.to_string()),
            ("name", self.name.to_string()),
            ("gender", self.gender.to_string()),
            ("state", self.state.to_string()),
            ("skill", self.skill.to_string()),
            ("designation", self.designation.to_string()),
            ("pay_basis", self.pay_basis.as_str().to_string()),
            ("rate", rate),
            ("pf_applicable", flag(self.pf_applicable)),
            ("esi_applicable", flag(self.esi_applicable)),
            ("uan", self.uan.to_string()),
            ("esic_no", self.esic_no.to_string()),
            ("bank_account", self.bank_account.reveal().to_string()),
            ("ifsc", self.ifsc.to_string()),
            ("pan", self.pan.reveal().to_string()),
            ("joined_on", self.joined_on.to_string()),
            ("exited_on", self.exited_on.map(|d| d.to_string()).unwrap_or_default()),
            (
                "phone",
                self.phone.as_ref().map(|p| p.reveal().to_string()).unwrap_or_default(),
            ),
            (
                "email",
                self.email.as_ref().map(|e| e.reveal().to_string()).unwrap_or_default(),
            ),
            (
                "language",
                self.language
                    .as_ref()
                    .map(|l| l.as_str().to_string())
                    .unwrap_or_default(),
            ),
        ]
    }

    /// The days of employment, inclusive.
    pub fn employed_on(&self, day: NaiveDate) -> bool {
        day >= self.joined_on && self.exited_on.is_none_or(|e| day <= e)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub site_id: CompactString,
    pub org_id: CompactString,
    pub name: CompactString,
    pub state: CompactString,
    pub timezone: Tz,
    pub weekly_off: Weekday,
}

impl Site {
    pub fn decode<'a>(field: impl Fn(&str) -> Option<&'a str>) -> Result<Site, Invalid> {
        let text = |name: &str| -> Result<&'a str, Invalid> {
            match field(name).map(str::trim) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(Invalid::field(name, "missing")),
            }
        };
        let timezone = text("timezone")?;
        let weekly_off = text("weekly_off")?;
        Ok(Site {
            site_id: text("site_id")?.into(),
            org_id: text("org_id")?.into(),
            name: text("name")?.into(),
            state: text("state")?.into(),
            timezone: timezone.parse().map_err(|_| {
                Invalid::field(
                    "timezone",
                    format!("`{timezone}`: expected an IANA time zone like Asia/Kolkata"),
                )
            })?,
            weekly_off: match weekly_off {
                "MON" => Weekday::Mon,
                "TUE" => Weekday::Tue,
                "WED" => Weekday::Wed,
                "THU" => Weekday::Thu,
                "FRI" => Weekday::Fri,
                "SAT" => Weekday::Sat,
                "SUN" => Weekday::Sun,
                v => {
                    return Err(Invalid::field(
                        "weekly_off",
                        format!("`{v}`: expected MON, TUE, ..., SUN"),
                    ));
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_values_are_masked_in_debug_output() {
        let account = Sensitive::new("494833411340");
        assert_eq!(account.masked(), "XXXXXXXX1340");
        assert_eq!(format!("{account:?}"), "\"XXXXXXXX1340\"");
        // A short value would be shown whole by "the last four": it is hidden whole.
        for (short, masked) in [("1340", "XXXX"), ("12", "XX"), ("", ""), ("12345", "X2345")] {
            assert_eq!(Sensitive::new(short).masked(), masked, "{short}");
        }
    }

    const WORKER: &str = r#"{"worker_id": "W1", "org_id": "ORG1", "site_id": "S1", "name": "Asha", "gender": "F",
        "state": "KA", "skill": "skilled", "designation": "", "pay_basis": "daily", "rate": "650.00",
        "pf_applicable": true, "esi_applicable": "false", "uan": "", "esic_no": "", "bank_account": "494833411340",
        "ifsc": "SBIN0001", "pan": "ABCDE1234F", "joined_on": "2026-01-01", "exited_on": null}"#;

    #[test]
    fn a_worker_decodes_from_its_own_fields_and_equal_values_give_equal_fields() {
        let json = WORKER.replace(
            r#""exited_on": null"#,
            r#""exited_on": "2026-03-31", "phone": "+91 98123 45678", "language": "hi""#,
        );
        let worker = Worker::decode_json(json.as_bytes()).unwrap();
        let fields = worker.fields();
        let again = Worker::decode(|name| fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())).unwrap();
        assert_eq!(again, worker);
        let whole = Worker::decode_json(WORKER.replace("650.00", "650").as_bytes()).unwrap();
        let rate = |w: &Worker| w.fields()[9].1.clone();
        assert_eq!(
            (rate(&whole), rate(&worker)),
            ("650.00".to_string(), "650.00".to_string())
        );
        let tenth = Worker::decode_json(WORKER.replace("650.00", "650.5").as_bytes()).unwrap();
        assert_eq!(rate(&tenth), "650.50");
        assert_eq!(fields[19], ("phone", "+919812345678".to_string()));
    }

    #[test]
    fn decodes_a_worker_message_with_flags_as_booleans_or_strings() {
        let worker = Worker::decode_json(WORKER.as_bytes()).unwrap();
        assert!(worker.pf_applicable && !worker.esi_applicable);
        assert_eq!((worker.rate, worker.exited_on), (Decimal::new(65000, 2), None));
    }

    #[test]
    fn contact_columns_are_optional_validated_and_never_echoed() {
        let worker = Worker::decode_json(WORKER.as_bytes()).unwrap();
        assert_eq!((worker.phone, worker.email, worker.language), (None, None, None));
        let json = WORKER.replace(
            r#""exited_on": null"#,
            r#""exited_on": null, "phone": "+91 98123 45678", "email": "asha@example.in", "language": "hi""#,
        );
        let worker = Worker::decode_json(json.as_bytes()).unwrap();
        assert_eq!(worker.phone.as_ref().map(|p| p.reveal()), Some("+919812345678"));
        assert_eq!(worker.language.as_ref().map(|l| l.as_str()), Some("hi"));
        assert!(!format!("{worker:?}").contains("98123") && !format!("{worker:?}").contains("asha@"));
        let json = WORKER.replace(r#""exited_on": null"#, r#""exited_on": null, "phone": "98123 45678""#);
        let invalid = Worker::decode_json(json.as_bytes()).unwrap_err();
        assert_eq!(invalid.field.as_deref(), Some("phone"));
        assert!(!invalid.to_string().contains("45678"), "{invalid}");
    }

    #[test]
    fn refuses_amounts_as_json_numbers() {
        let json = WORKER.replace(r#""650.00""#, "650.5");
        let invalid = Worker::decode_json(json.as_bytes()).unwrap_err();
        assert_eq!(invalid.field.as_deref(), Some("rate"));
        assert!(invalid.reason.contains("expected a string"), "{invalid}");
    }

    #[test]
    fn a_reason_never_echoes_a_bank_account_or_pan() {
        for (field, value) in [("bank_account", "494833411340"), ("pan", "1234567890")] {
            let json = WORKER.replace(&format!(r#""{field}": "#), &format!(r#""{field}": {value}, "x": "#));
            let invalid = Worker::decode_json(json.as_bytes()).unwrap_err();
            assert_eq!(invalid.field.as_deref(), Some(field));
            assert!(!invalid.to_string().contains(value), "{invalid}");
        }
    }
}
