//! What a notice is, as the outbox stores it and the API lists it: its channel, status, plan
//! and subject. The notices module builds them; `db::notices` keeps them; the dispatcher sends
//! them.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How a notice reaches a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
    Whatsapp,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Whatsapp];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Whatsapp => "whatsapp",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Channel, String> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("`{s}`: expected email, sms or whatsapp"))
    }
}

/// Where a notice is in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NoticeStatus {
    /// Waiting to be sent (first time, or again after a temporary failure).
    Pending,
    /// Claimed by a dispatcher, under a lease.
    Sending,
    /// Accepted by the vendor.
    Sent,
    /// Every channel failed: kept with the reasons, retryable through the API.
    Dead,
}

impl NoticeStatus {
    pub const ALL: [NoticeStatus; 4] = [
        NoticeStatus::Pending,
        NoticeStatus::Sending,
        NoticeStatus::Sent,
        NoticeStatus::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeStatus::Pending => "pending",
            NoticeStatus::Sending => "sending",
            NoticeStatus::Sent => "sent",
            NoticeStatus::Dead => "dead",
        }
    }
}

impl fmt::Display for NoticeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NoticeStatus {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<NoticeStatus, String> {
        NoticeStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("`{s}`: expected pending, sending, sent or dead"))
    }
}

/// One channel of a notice's plan and the recipient on it (a phone number or an email, in
/// clear: only the vendor is given it; the API shows it masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub channel: Channel,
    pub to: String,
}

impl Step {
    pub fn masked_to(&self) -> String {
        match self.channel {
            Channel::Email => payroll_engine::masking::mask_email(&self.to),
            Channel::Sms | Channel::Whatsapp => payroll_engine::masking::mask_phone(&self.to),
        }
    }
}

/// What a notice tells the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum About {
    /// Their pay of a finalized run: its period and net payable (a decimal string).
    Payslip { period: String, net_payable: String },
    /// A change to their bank details or contact, approved on `on` (a date): the fields.
    ContactChange { on: String, fields: Vec<String> },
    /// To HR: a nightly run of `period` found new `block` findings, each `check: count`.
    FindingsDigest { period: String, findings: Vec<String> },
}

impl About {
    pub fn kind(&self) -> NoticeKind {
        match self {
            About::Payslip { .. } => NoticeKind::Payslip,
            About::ContactChange { .. } => NoticeKind::ContactChange,
            About::FindingsDigest { .. } => NoticeKind::FindingsDigest,
        }
    }
}

/// A notice's kind, as stored and listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Payslip,
    ContactChange,
    FindingsDigest,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Payslip => "payslip",
            NoticeKind::ContactChange => "contact_change",
            NoticeKind::FindingsDigest => "findings_digest",
        }
    }
}

/// The fields whose change the worker is told of: where their pay goes, and where they are told.
pub const CONTACT_FIELDS: [&str; 4] = ["bank_account", "ifsc", "phone", "email"];

/// A notice of a change to a worker's bank details or contact, as the outbox gets it when the
/// workers upload is approved.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactNotice {
    pub worker_id: String,
    pub worker_name: String,
    pub language: String,
    /// The worker's contacts before the change.
    pub plan: Vec<Step>,
    /// Which of [`CONTACT_FIELDS`] changed.
    pub fields: Vec<String>,
}

/// A notice as the outbox gets it when its run is finalized.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotice {
    pub worker_id: String,
    pub worker_name: String,
    pub net_payable: Decimal,
    pub language: String,
    pub plan: Vec<Step>,
}
