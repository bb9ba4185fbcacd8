//! What an upload is, as the database stores it and the API shows it: its kind, mode, status
//! and format, each a closed set with its wire name.

use payroll_connectors::files::sheet;

wire_enum! {
    /// What an upload's rows are.
    UploadKind {
        /// One row per worker and period: the attendance part of the period inputs.
        AttendanceSummary = "attendance_summary",
        /// `worker_id, period, kind, code, amount, reason`: each a pending adjustment.
        Adjustments = "adjustments",
        /// Worker master records, in the columns of workers.csv.
        Workers = "workers",
    }
}

wire_enum! {
    /// What happens to the good rows of a file with bad ones.
    UploadMode {
        /// The good rows are applied, the bad ones reported.
        AcceptValid = "accept_valid",
        /// One bad row and nothing is applied (the upload is `failed`); all rows are reported.
        AllOrNothing = "all_or_nothing",
    }
}

wire_enum! {
    /// Where an upload is.
    UploadStatus {
        Queued = "queued",
        Processing = "processing",
        /// Read to the end; its accepted rows are applied.
        Done = "done",
        /// Nothing applied: the file could not be read, or (all_or_nothing) a row was rejected.
        Failed = "failed",
        /// A workers upload read to the end: its accepted rows wait, staged, for another person
        /// with `workers:approve` (review.rs), then are applied (`done`) or dropped (`rejected`).
        AwaitingApproval = "awaiting_approval",
        /// A workers upload whose staged rows were dropped by a reviewer: nothing applied.
        Rejected = "rejected",
    }
}

wire_enum! {
    /// The file's format.
    Format {
        Csv = "csv",
        Xlsx = "xlsx",
    }
}

impl Format {
    /// The media type a file of this format is served and recognised by.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

impl From<Format> for sheet::Format {
    fn from(format: Format) -> sheet::Format {
        match format {
            Format::Csv => sheet::Format::Csv,
            Format::Xlsx => sheet::Format::Xlsx,
        }
    }
}
