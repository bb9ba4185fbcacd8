//! Where a what-if preview is.

wire_enum! {
    PreviewStatus {
        Queued = "queued",
        Calculating = "calculating",
        Done = "done",
        /// With why (`error`): the base run's results unreadable, or the service stopped.
        Failed = "failed",
    }
}
