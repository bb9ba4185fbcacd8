//! What each role of an org may do: read and changed by `roles:manage` (the `org_admin` role by
//! default). A change is audited as `roles.change` in its transaction and in force on the very
//! next request of every token naming the role.

use crate::app::App;
use crate::caller::Caller;
use crate::db::roles::{self, RoleTable};
use crate::domain::permissions::{Permission, Permissions};
use crate::error::{Error, Result};

/// Every role of `org` and what it grants (`roles:manage`).
pub async fn list(app: &App, caller: &Caller, org: &str) -> Result<RoleTable> {
    caller.may(org, Permission::ManageRoles)?;
    roles::all(&app.db, org, &app.roles).await
}

/// What `role` grants in `org` (`roles:manage`).
pub async fn get(app: &App, caller: &Caller, org: &str, role: &str) -> Result<Permissions> {
    let mut table = list(app, caller, org).await?;
    table
        .remove(role)
        .ok_or_else(|| Error::NotFound(format!("role `{role}` in {org}")))
}

/// Sets what `role` grants in `org` (`roles:manage`; a new name adds a role). Refused (409) if
/// no role would be left with `roles:manage`.
pub async fn set(app: &App, caller: &Caller, org: &str, role: &str, permissions: &Permissions) -> Result<()> {
    caller.may(org, Permission::ManageRoles)?;
    if role.is_empty()
        || role.len() > 40
        || !role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(Error::invalid(
            "role",
            format!("`{role}`: expected 1 to 40 lowercase letters, digits or _"),
        ));
    }
    roles::put(
        &app.db,
        org,
        role,
        permissions,
        &caller.sub,
        &app.roles,
        &caller.actor(),
    )
    .await?;
    app.role_tables.changed(org).await;
    Ok(())
}
