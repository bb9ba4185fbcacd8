//! The payslip's languages and the words of its frame in each.
//!
//! A worker reads their payslip in their own language: the master's `language`, else their
//! org's, else English ([`Language::choose`]). The frame's labels (title, identity, attendance,
//! tables, net pay, footer) come from one catalogue per language, `lang/<code>.toml`, compiled
//! in; component labels come from the ruleset. Amounts keep Indian grouping in Latin digits in
//! every language.

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

/// The languages payslips are printed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Language {
    #[default]
    En,
    Hi,
    Mr,
    Ta,
    Te,
    Kn,
    Ml,
    Bn,
    Gu,
    Pa,
    Or,
}

impl Language {
    pub const ALL: [Language; 11] = [
        Language::En,
        Language::Hi,
        Language::Mr,
        Language::Ta,
        Language::Te,
        Language::Kn,
        Language::Ml,
        Language::Bn,
        Language::Gu,
        Language::Pa,
        Language::Or,
    ];

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Hi => "hi",
            Language::Mr => "mr",
            Language::Ta => "ta",
            Language::Te => "te",
            Language::Kn => "kn",
            Language::Ml => "ml",
            Language::Bn => "bn",
            Language::Gu => "gu",
            Language::Pa => "pa",
            Language::Or => "or",
        }
    }

    /// The language of an ISO 639-1 code, when payslips are printed in it.
    pub fn from_code(code: &str) -> Option<Language> {
        Language::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code.trim()))
    }

    /// The worker's language when payslips are printed in it, else the org's, else English.
    pub fn choose(worker: Option<&str>, org: Option<Language>) -> Language {
        worker.and_then(Language::from_code).or(org).unwrap_or_default()
    }

    /// The frame's words in this language.
    pub fn catalogue(self) -> &'static Catalogue {
        &CATALOGUES[self as usize]
    }

    /// A date as the payslip prints it: "05 Dec 2026", "05 दिसंबर 2026".
    pub fn date(self, d: NaiveDate) -> String {
        match self {
            Language::En => d.format("%d %b %Y").to_string(),
            _ => format!("{:02} {}", d.day(), self.catalogue().month_year(d.year(), d.month())),
        }
    }
}

/// From its code, so configuration can name one (`[orgs.X] language = "ta"`).
impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Language::from_code(&code).ok_or_else(|| {
            let known: Vec<&str> = Language::ALL.iter().map(|l| l.code()).collect();
            serde::de::Error::custom(format!("`{code}`: payslips are printed in {}", known.join(", ")))
        })
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// How a payslip's labels are printed: the org's choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// In the payslip's language alone.
    #[default]
    Single,
    /// In the payslip's language with English beneath each label, for auditors and banks.
    Bilingual,
}

/// The words of a payslip's frame in one language; `{period}` in a label is replaced by the
/// month and year.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// The language's own name for itself.
    pub language: String,
    pub title: String,
    pub run_id: String,
    pub generated: String,
    pub period: String,
    pub employee_details: String,
    pub employee_id: String,
    pub name: String,
    pub designation: String,
    pub site: String,
    pub uan: String,
    pub esic_no: String,
    pub bank_account: String,
    pub pan: String,
    pub attendance: String,
    pub working_days: String,
    pub days_present: String,
    pub paid_leave: String,
    pub lop_days: String,
    pub overtime_hours: String,
    pub missed_punches: String,
    pub earnings: String,
    pub deductions: String,
    pub amount: String,
    pub gross_earnings: String,
    pub total_deductions: String,
    pub employer_contributions: String,
    pub arrears: String,
    pub difference: String,
    pub arrears_net: String,
    pub net_pay_of_period: String,
    pub net_pay: String,
    pub net_payable: String,
    pub in_words: String,
    pub footer: String,
    pub months: [String; 12],
}

impl Catalogue {
    /// "October 2026" in this language, for a month numbered from 1.
    pub fn month_year(&self, year: i32, month: u32) -> String {
        let name = self
            .months
            .get(month.wrapping_sub(1) as usize)
            .map_or("", String::as_str);
        format!("{name} {year}")
    }

    /// A label with `{period}` replaced.
    pub fn with_period(label: &str, period: &str) -> String {
        label.replace("{period}", period)
    }
}

/// The catalogues in [`Language::ALL`]'s order, parsed once; `every_catalogue_parses` holds
/// each file to the struct, so parsing here cannot fail in a build that passed its tests.
static CATALOGUES: LazyLock<Vec<Catalogue>> = LazyLock::new(|| {
    Language::ALL
        .iter()
        .map(|l| {
            #[allow(clippy::expect_used, reason = "every_catalogue_parses checks each file")]
            toml::from_str(source(*l)).expect("a catalogue of lang/ that every_catalogue_parses read")
        })
        .collect()
});

fn source(language: Language) -> &'static str {
    match language {
        Language::En => include_str!("../lang/en.toml"),
        Language::Hi => include_str!("../lang/hi.toml"),
        Language::Mr => include_str!("../lang/mr.toml"),
        Language::Ta => include_str!("../lang/ta.toml"),
        Language::Te => include_str!("../lang/te.toml"),
        Language::Kn => include_str!("../lang/kn.toml"),
        Language::Ml => include_str!("../lang/ml.toml"),
        Language::Bn => include_str!("../lang/bn.toml"),
        Language::Gu => include_str!("../lang/gu.toml"),
        Language::Pa => include_str!("../lang/pa.toml"),
        Language::Or => include_str!("../lang/or.toml"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::Script;

    #[test]
    fn every_catalogue_parses() {
        for language in Language::ALL {
            let parsed: Result<Catalogue, _> = toml::from_str(source(language));
            assert!(parsed.is_ok(), "lang/{language}.toml: {:?}", parsed.err());
        }
    }

    /// Each catalogue is written in its language's script (and English in Latin only): a label
    /// pasted into the wrong file shows here.
    #[test]
    fn every_catalogue_is_in_its_own_script() {
        for language in Language::ALL {
            let c = language.catalogue();
            let labels = [&c.title, &c.earnings, &c.deductions, &c.net_pay, &c.in_words, &c.footer];
            for label in labels.into_iter().chain(&c.months) {
                // The dandas are Devanagari's, and Bengali, Gurmukhi and Odia end sentences with them.
                let scripts: Vec<Script> = label
                    .chars()
                    .filter(|c| !matches!(c, '\u{0964}' | '\u{0965}'))
                    .filter_map(Script::of)
                    .collect();
                match Script::of_language(language) {
                    None => assert!(scripts.is_empty(), "{language}: {label}"),
                    Some(script) => {
                        assert!(!scripts.is_empty(), "{language}: {label}");
                        assert!(scripts.iter().all(|s| *s == script), "{language}: {label}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_workers_language_then_the_orgs_then_english() {
        assert_eq!(Language::choose(Some("hi"), Some(Language::Ta)), Language::Hi);
        assert_eq!(Language::choose(Some("HI "), None), Language::Hi);
        // A language payslips are not printed in falls to the org's, then to English.
        assert_eq!(Language::choose(Some("ur"), Some(Language::Ta)), Language::Ta);
        assert_eq!(Language::choose(None, Some(Language::Kn)), Language::Kn);
        assert_eq!(Language::choose(Some("fr"), None), Language::En);
        assert_eq!(Language::choose(None, None), Language::En);
    }

    #[test]
    fn months_and_periods() {
        assert_eq!(Language::En.catalogue().month_year(2026, 10), "October 2026");
        assert_eq!(Language::Hi.catalogue().month_year(2026, 10), "अक्टूबर 2026");
        assert_eq!(
            Catalogue::with_period(&Language::Hi.catalogue().title, "अक्टूबर 2026"),
            "अक्टूबर 2026 की वेतन पर्ची"
        );
    }
}
