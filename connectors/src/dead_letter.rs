//! Dead letters: every refused event or row, with where it was, the field at fault and why,
//! and the original text, so nothing is lost and HR can fix and resend it. The original has its
//! bank account and PAN masked ([`payroll_engine::masking::mask_record`]): a dead-letter file is
//! read by people who must not see them.
//!
//! A letter names the org its record belongs to when the record says (a master row's
//! `org_id`) or names a worker of the master: a run of one org keeps only that org's letters
//! and sets aside those no org can be told of ([`DeadLetters::split_for`]), so one org never
//! reads another's refused rows.

use std::collections::BTreeMap;

use object_store::path::Path;
use payroll_engine::{Invalid, masking};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::layout;
use crate::store::Store;

/// Where a refused record was: a line of a text file or a row of a spreadsheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    Line(u64),
    Row(u64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The file (or topic) it came from.
    pub source: String,
    #[serde(flatten)]
    pub position: Position,
    pub field: Option<String>,
    pub reason: String,
    pub original: String,
    /// The org the record belongs to; `None` when it names no org and no worker of the master
    /// (an unknown worker, a line that is not JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
}

impl std::fmt::Display for DeadLetter {
    /// One line for a terminal: where and why, never the original (it may hold bank numbers).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, n) = match self.position {
            Position::Line(n) => ("line", n),
            Position::Row(n) => ("row", n),
        };
        write!(f, "{} {kind} {n}: ", self.source)?;
        match &self.field {
            Some(field) => write!(f, "field `{field}`: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

#[derive(Debug, Default)]
pub struct DeadLetters {
    by_source: BTreeMap<String, Vec<DeadLetter>>,
}

impl DeadLetters {
    pub fn push(&mut self, source: &str, position: Position, invalid: Invalid, original: &str, org_id: Option<&str>) {
        let letter = DeadLetter {
            source: source.to_string(),
            position,
            field: invalid.field,
            reason: invalid.reason,
            original: masking::mask_record_text(original).into_owned(),
            org_id: org_id.map(str::to_string),
        };
        tracing::debug!(%letter, "dead letter");
        self.by_source.entry(source.to_string()).or_default().push(letter);
    }

    pub fn total(&self) -> u64 {
        self.by_source.values().map(|v| v.len() as u64).sum()
    }

    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.by_source
            .iter()
            .map(|(k, v)| (k.clone(), v.len() as u64))
            .collect()
    }

    /// The counts per source of `org`'s letters: what its manifest says.
    pub fn counts_of(&self, org: &str) -> BTreeMap<String, u64> {
        self.by_source
            .iter()
            .map(|(source, letters)| {
                let of_org = letters.iter().filter(|l| l.org_id.as_deref() == Some(org)).count();
                (source.clone(), of_org as u64)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &DeadLetter> {
        self.by_source.values().flatten()
    }

    /// The letters of `org`, and those of no org; other orgs' letters are left to their runs.
    pub fn split_for(self, org: &str) -> (DeadLetters, DeadLetters) {
        let (mut of_org, mut of_none) = (DeadLetters::default(), DeadLetters::default());
        for (source, letters) in self.by_source {
            for letter in letters {
                let to = match letter.org_id.as_deref() {
                    Some(o) if o == org => &mut of_org,
                    Some(_) => continue,
                    None => &mut of_none,
                };
                to.by_source.entry(source.clone()).or_default().push(letter);
            }
        }
        (of_org, of_none)
    }

    /// Writes `dead-letter/run_id=<run_id>/<source>.ndjson` for each source with refusals, in
    /// input order.
    pub async fn write(&self, store: &Store, run_id: &str) -> Result<()> {
        self.write_each(store, |source| layout::dead_letter(run_id, source))
            .await
    }

    /// Writes letters set aside from a run of one org (they belong to none) under
    /// `dead-letter/run_id=<run_id>/unattributed/`, for the operator.
    pub async fn write_unattributed(&self, store: &Store, run_id: &str) -> Result<()> {
        self.write_each(store, |source| layout::unattributed_dead_letter(run_id, source))
            .await
    }

    async fn write_each(&self, store: &Store, path: impl Fn(&str) -> Path) -> Result<()> {
        for (source, letters) in &self.by_source {
            let mut sorted: Vec<&DeadLetter> = letters.iter().collect();
            sorted.sort_by_key(|l| match l.position {
                Position::Line(n) | Position::Row(n) => n,
            });
            let mut out = Vec::new();
            for letter in sorted {
                serde_json::to_writer(&mut out, letter)?;
                out.push(b'\n');
            }
            store.put(&path(source), out).await?;
        }
        Ok(())
    }
}

/// The letters a run wrote for `source` (a name its record counts), in input order; none when
/// it wrote none.
pub async fn read(store: &Store, run_id: &str, source: &str) -> Result<Vec<DeadLetter>> {
    let Some(bytes) = store.get_opt(&layout::dead_letter(run_id, source)).await? else {
        return Ok(Vec::new());
    };
    bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).map_err(Into::into))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letters() -> DeadLetters {
        let mut letters = DeadLetters::default();
        let invalid = || Invalid::field("direction", "unknown variant `sideways`");
        letters.push("attendance.ndjson", Position::Line(3), invalid(), "{}", Some("org0"));
        letters.push("attendance.ndjson", Position::Line(1), invalid(), "{}", Some("org1"));
        letters.push("attendance.ndjson", Position::Line(2), invalid(), "not json", None);
        letters.push("workers.csv", Position::Line(9), invalid(), "W1,org0", Some("org0"));
        letters
    }

    #[test]
    fn a_run_of_one_org_keeps_its_letters_and_sets_aside_those_of_no_org() {
        let (of_org, of_none) = letters().split_for("org0");
        let lines = |l: &DeadLetters| l.iter().map(|l| (l.source.clone(), l.position)).collect::<Vec<_>>();
        assert_eq!(
            lines(&of_org),
            [
                ("attendance.ndjson".to_string(), Position::Line(3)),
                ("workers.csv".to_string(), Position::Line(9))
            ]
        );
        assert_eq!(lines(&of_none), [("attendance.ndjson".to_string(), Position::Line(2))]);
        let all = letters();
        assert_eq!(
            all.counts_of("org0"),
            BTreeMap::from([("attendance.ndjson".to_string(), 1), ("workers.csv".to_string(), 1)])
        );
        assert_eq!(
            all.counts_of("org1"),
            BTreeMap::from([("attendance.ndjson".to_string(), 1)])
        );
        assert_eq!(all.counts()["attendance.ndjson"], 3);
    }

    #[tokio::test]
    async fn letters_read_back_as_written_in_input_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_str().unwrap()).unwrap();
        let letters = letters();
        letters.write(&store, "r1").await.unwrap();
        let back = read(&store, "r1", "attendance.ndjson").await.unwrap();
        assert_eq!(
            back.iter()
                .map(|l| (l.position, l.org_id.as_deref()))
                .collect::<Vec<_>>(),
            [
                (Position::Line(1), Some("org1")),
                (Position::Line(2), None),
                (Position::Line(3), Some("org0"))
            ]
        );
        assert!(read(&store, "r1", "leave.ndjson").await.unwrap().is_empty());
    }
}
