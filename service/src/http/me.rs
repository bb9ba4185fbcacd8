//! Who the caller is: the token's user, org and roles, and what those roles grant now (the org's
//! role table, as every request checks it). The console offers only what this allows.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::App;
use crate::caller::Caller;
use crate::error::{Error, Result};

pub fn router() -> Router<App> {
    Router::new().route("/v1/me", get(me))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeBody {
    /// The user id; a worker's worker id.
    #[schema(example = "hr1")]
    pub sub: String,
    #[schema(example = "org0")]
    pub org: String,
    #[schema(example = json!(["hr_admin"]))]
    pub roles: Vec<String>,
    /// What the roles grant in the org now, by the names `[roles]` uses.
    #[schema(example = json!(["runs:trigger", "runs:view", "pay:view"]))]
    pub permissions: Vec<String>,
}

/// The caller: user, org, roles and the permissions they grant.
#[utoipa::path(get, path = "/v1/me", tag = "me",
    responses((status = 200, body = MeBody), (status = 401, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn me(user: Caller) -> Result<Json<MeBody>> {
    let permissions = user
        .permissions
        .iter()
        .map(|p| match serde_json::to_value(p) {
            Ok(serde_json::Value::String(name)) => Ok(name),
            _ => Err(Error::Internal(format!("permission {p:?} has no name"))),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Json(MeBody {
        sub: user.sub,
        org: user.org,
        roles: user.roles,
        permissions,
    }))
}
