//! Component labels in the languages payslips are printed in: a `[labels.<code>]` table per
//! language maps a component's name to its label there (`[labels.hi] basic = "मूल वेतन"`).
//! A component without one shows its own label, which `rules check` warns of.

use std::collections::BTreeMap;

use toml::Spanned;

use crate::compile::CompiledVersion;
use crate::error::{Diagnostic, Location};
use crate::file::{Category, line_of};

/// Labels by language code, then by component name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(BTreeMap<String, BTreeMap<String, String>>);

impl Labels {
    /// The file's tables, checked: a language is an ISO 639 code, each name a component of some
    /// version, each label non-empty.
    pub(crate) fn from_file(
        raw: &BTreeMap<String, Spanned<BTreeMap<String, String>>>,
        versions: &[CompiledVersion],
        text: &str,
        file: &std::path::Path,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Labels {
        let mut labels = BTreeMap::new();
        for (language, table) in raw {
            let line = line_of(text, table.span().start);
            let mut fault = |message: String| {
                diagnostics.push(Diagnostic {
                    location: Location {
                        file: file.to_path_buf(),
                        line,
                        component: None,
                    },
                    message,
                })
            };
            let is_code = (2..=3).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_lowercase());
            if !is_code {
                fault(format!(
                    "`[labels.{language}]`: expected an ISO 639 language code like hi, ta or bn"
                ));
                continue;
            }
            for (name, label) in table.get_ref() {
                if !versions.iter().any(|v| v.component(name).is_some()) {
                    fault(format!(
                        "`[labels.{language}]` names `{name}`, which no version has as a component"
                    ));
                } else if label.trim().is_empty() {
                    fault(format!("`[labels.{language}]`: the label of `{name}` is empty"));
                }
            }
            labels.insert(language.clone(), table.get_ref().clone());
        }
        Labels(labels)
    }

    /// A component's label in `language`, else its own.
    pub fn label<'a>(&'a self, language: &str, name: &str, own: &'a str) -> &'a str {
        self.0
            .get(language)
            .and_then(|t| t.get(name))
            .map_or(own, String::as_str)
    }

    /// The languages that have a table.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The payslip lines (earnings, deductions, employer contributions) of `version` that have
    /// no label in `language`.
    pub fn missing<'v>(&self, language: &str, version: &'v CompiledVersion) -> Vec<&'v str> {
        let table = self.0.get(language);
        version
            .components
            .iter()
            .filter(|c| {
                matches!(
                    c.category,
                    Category::Earning | Category::Deduction | Category::EmployerContribution
                )
            })
            .filter(|c| table.is_none_or(|t| !t.contains_key(&c.name)))
            .map(|c| c.name.as_str())
            .collect()
    }
}
