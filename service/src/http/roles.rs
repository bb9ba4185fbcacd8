//! What each role of an org may do, read and changed by `roles:manage` (the `org_admin` role by
//! default); a change is audited and in force on the very next request.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::App;
use super::extractor::{ApiJson, ApiPath};
use crate::caller::Caller;
use crate::db::roles;
use crate::domain::permissions::{Permission, Permissions};
use crate::error::{Error, Result};

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/roles", get(list))
        .route("/v1/orgs/{org}/roles/{role}", get(read).put(write))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleBody {
    pub role: String,
    /// Permission names, e.g. `runs:view`, `pay:view`.
    #[schema(value_type = Vec<String>)]
    pub permissions: Permissions,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRole {
    /// Permission names, e.g. `["runs:view", "pay:view"]`; an empty list grants nothing.
    #[schema(value_type = Vec<String>)]
    pub permissions: Permissions,
}

/// Every role of the org and what it grants.
#[utoipa::path(get, path = "/v1/orgs/{org}/roles", tag = "roles", params(("org" = String, Path)),
    responses((status = 200, body = Vec<RoleBody>), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
) -> Result<Json<Vec<RoleBody>>> {
    user.may(&org, Permission::ManageRoles)?;
    let table = roles::all(&ctx.db, &org, &ctx.roles).await?;
    Ok(Json(
        table
            .into_iter()
            .map(|(role, permissions)| RoleBody { role, permissions })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/v1/orgs/{org}/roles/{role}", tag = "roles", params(("org" = String, Path), ("role" = String, Path)),
    responses((status = 200, body = RoleBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn read(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, role)): ApiPath<(String, String)>,
) -> Result<Json<RoleBody>> {
    user.may(&org, Permission::ManageRoles)?;
    let mut table = roles::all(&ctx.db, &org, &ctx.roles).await?;
    let permissions = table
        .remove(&role)
        .ok_or_else(|| Error::NotFound(format!("role `{role}` in {org}")))?;
    Ok(Json(RoleBody { role, permissions }))
}

/// Set what a role grants (a new name adds a role). In force on the next request of every
/// token naming the role. Refused (409) if no role would be left with `roles:manage`.
#[utoipa::path(put, path = "/v1/orgs/{org}/roles/{role}", tag = "roles", params(("org" = String, Path), ("role" = String, Path)),
    request_body = PutRole,
    responses((status = 200, body = RoleBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn write(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, role)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<PutRole>,
) -> Result<Json<RoleBody>> {
    user.may(&org, Permission::ManageRoles)?;
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
        &ctx.db,
        &org,
        &role,
        &body.permissions,
        &user.sub,
        &ctx.roles,
        &user.actor(),
    )
    .await?;
    ctx.role_tables.changed(&org).await;
    Ok(Json(RoleBody {
        role,
        permissions: body.permissions,
    }))
}
