//! Checks: what a run's findings are made of. A ruleset's `[[check]]` names a condition over one
//! worker's row (the inputs, the master fields, the components, and `prev_<component>`: the same
//! worker's value in the org's last finalized period, NULL if none), a severity, and a message
//! that quotes values (`{net_pay}`). They are compiled with the components (every fault with its
//! line) and evaluated on each run's results; checks no row can see (two workers paid into one
//! account) are built into the engine.

use std::fmt;
use std::str::FromStr;

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::Expr;
use serde::{Deserialize, Serialize};

/// How much a finding weighs: a `block` keeps a final run from approval until it is resolved
/// (the worker excluded, or the finding acknowledged with a reason); a `warn` asks for a look;
/// an `info` (built-in checks only) tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Block,
    Warn,
    Info,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Block, Severity::Warn, Severity::Info];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Block => "block",
            Severity::Warn => "warn",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Severity, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("`{s}`: expected block, warn or info"))
    }
}

/// The checks built into the engine, over the whole run: no one row sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltIn {
    /// One bank account (account and IFSC) for two or more workers of the org.
    SharedBankAccount,
    /// One PAN for two or more workers.
    SharedPan,
    /// One UAN for two or more workers.
    SharedUan,
    /// A worker new this period paid above the org's 99th percentile of net pay.
    NewAboveP99,
    /// A worker paid in the org's last finalized period and absent from this run.
    AbsentSinceLastPeriod,
}

impl BuiltIn {
    pub const ALL: [BuiltIn; 5] = [
        BuiltIn::SharedBankAccount,
        BuiltIn::SharedPan,
        BuiltIn::SharedUan,
        BuiltIn::NewAboveP99,
        BuiltIn::AbsentSinceLastPeriod,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BuiltIn::SharedBankAccount => "shared_bank_account",
            BuiltIn::SharedPan => "shared_pan",
            BuiltIn::SharedUan => "shared_uan",
            BuiltIn::NewAboveP99 => "new_worker_above_p99",
            BuiltIn::AbsentSinceLastPeriod => "absent_since_last_period",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BuiltIn::SharedBankAccount => "Bank account shared with another worker",
            BuiltIn::SharedPan => "PAN shared with another worker",
            BuiltIn::SharedUan => "UAN shared with another worker",
            BuiltIn::NewAboveP99 => "New worker paid above the 99th percentile",
            BuiltIn::AbsentSinceLastPeriod => "Paid last period, absent now",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            BuiltIn::SharedBankAccount | BuiltIn::SharedPan | BuiltIn::SharedUan => Severity::Block,
            BuiltIn::NewAboveP99 => Severity::Warn,
            BuiltIn::AbsentSinceLastPeriod => Severity::Info,
        }
    }
}

/// The prefix that names a component's value in the org's last finalized period.
pub const PREV: &str = "prev_";

/// One check as compiled.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub label: String,
    pub severity: Severity,
    /// The condition as written.
    pub when: String,
    pub message: Message,
    /// Inputs, components and `prev_` columns the condition and message read.
    pub uses: Vec<String>,
    pub line: usize,
    /// The condition planned over the results and the `prev_` columns: true when it fires.
    pub(crate) expr: Expr,
}

/// A finding's message: text with `{column}` placeholders, each replaced by the worker's value
/// (`{{` and `}}` for braces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(String),
}

impl Message {
    pub fn parse(text: &str) -> Result<Message, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('{', Some('{')) | ('}', Some('}')) => {
                    chars.next();
                    literal.push(c);
                }
                ('{', _) => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("`{{{name}` in the message is not closed with `}}`")),
                        }
                    }
                    let name = name.trim();
                    if name.is_empty()
                        || !name
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    {
                        return Err(format!(
                            "`{{{name}}}` in the message: a placeholder names a column, like {{net_pay}} (write {{{{ for a brace)"
                        ));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Value(name.to_string()));
                }
                ('}', _) => return Err("a `}` in the message closes no placeholder (write }} for a brace)".into()),
                _ => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Message { parts })
    }

    /// The columns the message quotes, in order.
    pub fn quotes(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Value(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The message with each placeholder replaced by `value(column)`.
    pub fn render(&self, mut value: impl FnMut(&str) -> String) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Value(name) => out.push_str(&value(name)),
            }
        }
        out
    }
}

/// Whether a column of `data_type` can carry a last-period value a check compares: amounts,
/// counts and flags.
pub(crate) fn has_prev(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Decimal128(..) | DataType::Int64 | DataType::Boolean
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_quotes_columns_and_keeps_doubled_braces() {
        let m = Message::parse("net {net_pay} was {prev_net_pay} {{sic}}").unwrap();
        assert_eq!(m.quotes().collect::<Vec<_>>(), ["net_pay", "prev_net_pay"]);
        assert_eq!(m.render(|c| format!("<{c}>")), "net <net_pay> was <prev_net_pay> {sic}");
        assert!(Message::parse("{Net Pay}").is_err());
        assert!(Message::parse("{}").is_err());
        assert!(Message::parse("a } b").is_err());
        assert!(Message::parse("net {net_pay").is_err());
    }
}
