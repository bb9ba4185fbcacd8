//! Where a what-if preview is.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PreviewStatus {
    Queued,
    Calculating,
    Done,
    /// With why (`error`): the base run's results unreadable, or the service stopped.
    Failed,
}

impl PreviewStatus {
    pub const ALL: [PreviewStatus; 4] = [
        PreviewStatus::Queued,
        PreviewStatus::Calculating,
        PreviewStatus::Done,
        PreviewStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PreviewStatus::Queued => "queued",
            PreviewStatus::Calculating => "calculating",
            PreviewStatus::Done => "done",
            PreviewStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for PreviewStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PreviewStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<PreviewStatus, String> {
        PreviewStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("`{s}`: expected queued, calculating, done or failed"))
    }
}
