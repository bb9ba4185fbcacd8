//! The audit log's verbs: reading it (`audit:view`), and recording a download before the file
//! is handed out. A change is audited by the operation that makes it, in the change's own
//! transaction (`db::audit::Audited`).

use crate::app::App;
use crate::caller::Caller;
use crate::db::audit::{self, Action, Entry, Filter};
use crate::domain::permissions::Permission;
use crate::error::Result;

/// Records a download by the caller: a file is handed out only once its entry is written.
pub async fn downloaded(app: &App, caller: &Caller, action: Action, target: &str) -> Result<()> {
    audit::append(&app.db, &caller.org, &caller.actor(), action, target, None, None).await
}

/// A page of `org`'s audit log (`audit:view`), oldest first: up to `size` entries the filter
/// admits, and the sequence number the next page starts after.
pub async fn list(
    app: &App,
    caller: &Caller,
    org: &str,
    filter: &Filter,
    size: u32,
) -> Result<(Vec<Entry>, Option<i64>)> {
    caller.may(org, Permission::ViewAudit)?;
    audit::list(&app.db, org, filter, size).await
}
