//! What each role of an org may do, over HTTP (`crate::roles`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::App;
use super::extractor::{ApiJson, ApiPath};
use crate::caller::Caller;
use crate::domain::permissions::Permissions;
use crate::error::Result;
use crate::roles as operations;

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
    let table = operations::list(&ctx, &user, &org).await?;
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
    let permissions = operations::get(&ctx, &user, &org, &role).await?;
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
    operations::set(&ctx, &user, &org, &role, &body.permissions).await?;
    Ok(Json(RoleBody {
        role,
        permissions: body.permissions,
    }))
}
