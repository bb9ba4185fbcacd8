//! Where a finding of a run is: open until a person acknowledges it, saying why, or excludes
//! its worker from the run.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FindingStatus {
    /// Nobody has resolved it: an open `block` finding keeps a final run from approval.
    Open,
    /// A person with `findings:acknowledge` looked and said why the run may go on.
    Acknowledged,
    /// Its worker is excluded from the run.
    Excluded,
}

impl FindingStatus {
    pub const ALL: [FindingStatus; 3] = [
        FindingStatus::Open,
        FindingStatus::Acknowledged,
        FindingStatus::Excluded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Open => "open",
            FindingStatus::Acknowledged => "acknowledged",
            FindingStatus::Excluded => "excluded",
        }
    }
}

impl fmt::Display for FindingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FindingStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<FindingStatus, String> {
        FindingStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("`{s}`: expected open, acknowledged or excluded"))
    }
}
