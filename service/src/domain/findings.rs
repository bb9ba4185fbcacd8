//! Where a finding of a run is: open until a person acknowledges it, saying why, or excludes
//! its worker from the run.

wire_enum! {
    FindingStatus {
        /// Nobody has resolved it: an open `block` finding keeps a final run from approval.
        Open = "open",
        /// A person with `findings:acknowledge` looked and said why the run may go on.
        Acknowledged = "acknowledged",
        /// Its worker is excluded from the run.
        Excluded = "excluded",
    }
}
