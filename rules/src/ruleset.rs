//! A ruleset file: its versions (the base and each dated revision), compiled, and its inline
//! test cases. A period uses the version in force on its first day.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::compile::{CompiledVersion, Source, VersionSource, compile};
use crate::error::{Diagnostic, Error, Location, Result};
use crate::file::{ComponentDef, RulesetFile, TableDef, line_of};
use crate::labels::Labels;
use crate::testcase::TestCase;

#[derive(Debug)]
pub struct Ruleset {
    pub name: String,
    pub description: String,
    pub file: PathBuf,
    /// SHA-256 of the file and every table file it reads: what a run's manifest records.
    pub hash: String,
    /// The file as read, saved beside each run so `explain` shows the rules that were applied.
    pub text: String,
    /// Oldest first.
    pub versions: Vec<CompiledVersion>,
    /// Component labels in other languages, shared by the versions.
    pub labels: Labels,
    pub tests: Vec<TestCase>,
}

impl Ruleset {
    pub fn load(path: impl AsRef<Path>) -> Result<Ruleset> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ruleset::parse(&text, path)
    }

    /// Parses and validates `text`, read from `file` (table files are relative to it).
    pub fn parse(text: &str, file: &Path) -> Result<Ruleset> {
        let source = Source { text, file };
        let raw: RulesetFile = toml::from_str(text).map_err(|e| {
            Error::Invalid(vec![Diagnostic {
                location: Location {
                    file: file.to_path_buf(),
                    line: e.span().map_or(1, |s| line_of(text, s.start)),
                    component: None,
                },
                message: e.message().trim().to_string(),
            }])
        })?;
        let mut diagnostics = Vec::new();
        let mut table_files = BTreeMap::new();
        let mut versions = Vec::new();
        for version in version_sources(&raw, &source, &mut diagnostics) {
            if let Some(v) = compile(&source, version, &mut table_files, &mut diagnostics) {
                versions.push(v);
            }
        }
        let labels = Labels::from_file(&raw.labels, &versions, text, file, &mut diagnostics);
        for version in &mut versions {
            version.labels = labels.clone();
        }
        let tests = raw
            .tests
            .iter()
            .filter_map(|t| TestCase::from_def(t, &raw.test_defaults, &source, &versions, &mut diagnostics))
            .collect();
        if !diagnostics.is_empty() {
            return Err(Error::Invalid(diagnostics));
        }
        let mut hasher = Sha256::new();
        hasher.update(text.as_bytes());
        for (name, bytes) in &table_files {
            hasher.update(name.as_bytes());
            hasher.update(bytes);
        }
        Ok(Ruleset {
            name: raw.name.into_inner(),
            description: raw.description,
            file: file.to_path_buf(),
            hash: hex::encode(hasher.finalize()),
            text: text.to_string(),
            versions,
            labels,
            tests,
        })
    }

    /// A version by its name (as a run's manifest records it).
    pub fn version(&self, version: &str) -> Option<&CompiledVersion> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// The version in force on `date` (a period's first day).
    pub fn version_on(&self, date: NaiveDate) -> Result<&CompiledVersion> {
        self.versions
            .iter()
            .rev()
            .find(|v| v.effective_from <= date)
            .ok_or_else(|| Error::NotInForce {
                ruleset: self.name.clone(),
                date,
                earliest: self.versions[0].effective_from,
            })
    }
}

/// The base version and, for each revision in date order, the base with every revision up to
/// it applied: a revision replaces components and tables by name and adds new ones.
fn version_sources<'a>(
    raw: &'a RulesetFile,
    source: &Source<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<VersionSource<'a>> {
    let date = |s: &Spanned<String>, diagnostics: &mut Vec<Diagnostic>| {
        NaiveDate::parse_from_str(s.get_ref(), "%Y-%m-%d")
            .map_err(|_| {
                diagnostics.push(Diagnostic {
                    location: Location {
                        file: source.file.to_path_buf(),
                        line: line_of(source.text, s.span().start),
                        component: None,
                    },
                    message: format!("`{}` is not a date: expected YYYY-MM-DD", s.get_ref()),
                })
            })
            .ok()
    };
    let Some(base_from) = date(&raw.effective_from, diagnostics) else {
        return Vec::new();
    };
    let mut components: Vec<&Spanned<ComponentDef>> = raw.components.iter().collect();
    let mut tables: BTreeMap<String, &Spanned<TableDef>> = raw.tables.iter().map(|(k, v)| (k.clone(), v)).collect();
    let mut versions = vec![VersionSource {
        version: raw.version.get_ref().clone(),
        effective_from: base_from,
        description: raw.description.clone(),
        payslip: raw.payslip.as_ref(),
        returns: raw.returns.as_ref(),
        components: components.clone(),
        tables: tables.clone(),
        checks: &raw.checks,
    }];
    let mut revisions: Vec<_> = raw
        .revisions
        .iter()
        .filter_map(|r| Some((date(&r.get_ref().effective_from, diagnostics)?, r)))
        .collect();
    revisions.sort_by_key(|(d, _)| *d);
    let mut previous = base_from;
    for (from, revision) in revisions {
        let r = revision.get_ref();
        if from <= previous {
            diagnostics.push(Diagnostic {
                location: Location {
                    file: source.file.to_path_buf(),
                    line: line_of(source.text, r.effective_from.span().start),
                    component: None,
                },
                message: format!(
                    "revision `{}` applies from {from}, which is not after the version before it ({previous})",
                    r.version.get_ref()
                ),
            });
            continue;
        }
        previous = from;
        for removed in &r.remove {
            let before = components.len();
            components.retain(|c| c.get_ref().name.get_ref() != removed);
            if components.len() == before {
                diagnostics.push(Diagnostic {
                    location: Location {
                        file: source.file.to_path_buf(),
                        line: line_of(source.text, revision.span().start),
                        component: Some(removed.clone()),
                    },
                    message: format!(
                        "revision `{}` removes a component that does not exist",
                        r.version.get_ref()
                    ),
                });
            }
        }
        for c in &r.components {
            let name = c.get_ref().name.get_ref();
            match components.iter_mut().find(|old| old.get_ref().name.get_ref() == name) {
                Some(old) => *old = c,
                None => components.push(c),
            }
        }
        tables.extend(r.tables.iter().map(|(k, v)| (k.clone(), v)));
        versions.push(VersionSource {
            version: r.version.get_ref().clone(),
            effective_from: from,
            description: r.description.clone(),
            payslip: raw.payslip.as_ref(),
            returns: raw.returns.as_ref(),
            components: components.clone(),
            tables: tables.clone(),
            checks: &raw.checks,
        });
    }
    versions
}
