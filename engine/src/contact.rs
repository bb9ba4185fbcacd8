//! A worker's contact: the phone and email payslip notices are sent to, and the language they
//! are written in. Phone numbers and emails are personal data: like bank accounts (see
//! [`crate::masking`]), their `Debug` form is masked, so a log line or a dead letter never
//! carries them in clear; only the notice sent to the worker reveals them.

use std::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::masking::{mask_email, mask_phone};

/// A phone number in E.164 form: `+`, a country code and the number, 8 to 15 digits in all
/// (`+919812345678`). Spaces, dashes and brackets people type are dropped when it is read.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(CompactString);

impl Phone {
    pub fn parse(text: &str) -> Result<Phone, Invalid> {
        let typed = |c: char| matches!(c, ' ' | '-' | '(' | ')' | '.');
        let text = text.trim();
        // Most numbers come without them: taken whole, not rebuilt a character at a time.
        let compact: CompactString = match text.contains(typed) {
            true => text.chars().filter(|&c| !typed(c)).collect(),
            false => text.into(),
        };
        let digits = compact.strip_prefix('+').unwrap_or("");
        // The value is never echoed: it is personal data, and the reason may reach a log.
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
            return Err(Invalid::field(
                "phone",
                "not a phone number in E.164 form: expected +, the country code and the number, 8 to 15 digits in all (an Indian mobile is +91 and its ten digits)",
            ));
        }
        Ok(Phone(compact))
    }

    /// The number in clear: only for the notice sent to it.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.masked())
    }
}

/// An email address, checked to be plausible (one `@`, a local part, a domain with a dot, no
/// spaces), not that it exists: only delivery tells that.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(CompactString);

impl Email {
    pub fn parse(text: &str) -> Result<Email, Invalid> {
        let text = text.trim();
        let plausible = text.len() <= 254
            && !text
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
            && text.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            });
        if !plausible {
            return Err(Invalid::field(
                "email",
                "not an email address: expected one like name@example.com",
            ));
        }
        Ok(Email(text.into()))
    }

    /// The address in clear: only for the notice sent to it.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask_email(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.masked())
    }
}

/// The language a worker reads notices in: an ISO 639 code, two or three lowercase letters
/// (`en`, `hi`, `ta`). Whether a template exists for it is the notifier's business.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Language(String);

impl Language {
    pub fn parse(text: &str) -> Result<Language, Invalid> {
        let code = text.trim().to_ascii_lowercase();
        if !(2..=3).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(Invalid::field(
                "language",
                format!("`{}`: expected an ISO 639 language code like en, hi or ta", text.trim()),
            ));
        }
        Ok(Language(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_e164_after_dropping_what_people_type() {
        assert_eq!(Phone::parse(" +91 98123-45678 ").unwrap().reveal(), "+919812345678");
        for bad in [
            "9812345678",
            "+0912345678",
            "+91981234567890123",
            "+91abc45678",
            "+",
            "",
        ] {
            let refused = Phone::parse(bad).unwrap_err();
            assert_eq!(refused.field.as_deref(), Some("phone"), "{bad}");
            assert!(bad.len() < 4 || !refused.reason.contains(bad), "echoed {bad}");
        }
        assert_eq!(
            format!("{:?}", Phone::parse("+919812345678").unwrap()),
            "\"XXXXXXXX5678\""
        );
    }

    #[test]
    fn emails_are_plausible_and_masked_in_debug() {
        let email = Email::parse("asha.k@example.in").unwrap();
        assert_eq!(email.reveal(), "asha.k@example.in");
        assert_eq!(format!("{email:?}"), "\"a***@example.in\"");
        for bad in [
            "asha",
            "asha@",
            "@example.in",
            "a@b",
            "a b@example.in",
            "a@@example.in",
            "a@example..in",
        ] {
            let refused = Email::parse(bad).unwrap_err();
            assert!(!refused.reason.contains(bad), "echoed {bad}");
        }
    }

    #[test]
    fn languages_are_iso_codes() {
        assert_eq!(Language::parse("HI").unwrap().as_str(), "hi");
        assert_eq!(Language::parse("tam").unwrap().as_str(), "tam");
        assert!(Language::parse("hindi").is_err() && Language::parse("e1").is_err());
    }
}
