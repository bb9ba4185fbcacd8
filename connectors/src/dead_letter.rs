//! Dead letters: every refused event or row, with where it was, the field at fault and why,
//! and the original text, so nothing is lost and HR can fix and resend it. The original has its
//! bank account and PAN masked ([`payroll_engine::masking::mask_record`]): a dead-letter file is
//! read by people who must not see them.

use std::collections::BTreeMap;

use payroll_engine::{Invalid, masking};
use serde::Serialize;

use crate::error::Result;
use crate::layout;
use crate::store::Store;

/// Where a refused record was: a line of a text file or a row of a spreadsheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    Line(u64),
    Row(u64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// The file (or topic) it came from.
    pub source: String,
    #[serde(flatten)]
    pub position: Position,
    pub field: Option<String>,
    pub reason: String,
    pub original: String,
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
    pub fn push(&mut self, source: &str, position: Position, invalid: Invalid, original: &str) {
        let letter = DeadLetter {
            source: source.to_string(),
            position,
            field: invalid.field,
            reason: invalid.reason,
            original: masking::mask_record_text(original).into_owned(),
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

    pub fn iter(&self) -> impl Iterator<Item = &DeadLetter> {
        self.by_source.values().flatten()
    }

    /// Writes `dead-letter/run_id=<run_id>/<source>.ndjson` for each source with refusals, in
    /// input order.
    pub async fn write(&self, store: &Store, run_id: &str) -> Result<()> {
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
            store.put(&layout::dead_letter(run_id, source), out).await?;
        }
        Ok(())
    }
}
