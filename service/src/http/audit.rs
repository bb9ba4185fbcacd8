//! The audit log as the API shows it (`crate::audit`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::App;
use super::extractor::{ApiPath, ApiQuery, QueryFaults};
use crate::audit;
use crate::caller::Caller;
use crate::db::audit::{Action, Entry, Filter};
use crate::error::Result;

pub fn router() -> Router<App> {
    Router::new().route("/v1/orgs/{org}/audit", get(list))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries of this action, e.g. `run.approve`.
    pub action: Option<String>,
    /// Only entries of this user (the token's `sub`).
    pub actor: Option<String>,
    /// Only entries at or after this time (RFC 3339, UTC).
    pub from: Option<String>,
    /// Only entries before this time (RFC 3339, UTC).
    pub until: Option<String>,
    /// 1 to 500; 100 by default.
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the page before.
    #[param(pattern = "^[0-9]+$")]
    pub page_token: Option<String>,
}

/// One entry: who did what to which target, when, and the target before and after.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryBody {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub roles: Vec<String>,
    pub action: String,
    pub target: String,
    pub request_id: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
    /// The hash of the entry before (all zeros for the first) and of this one.
    pub prev_hash: String,
    pub hash: String,
}

impl From<Entry> for AuditEntryBody {
    fn from(e: Entry) -> Self {
        AuditEntryBody {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            roles: e.roles,
            action: e.action,
            target: e.target,
            request_id: e.request_id,
            before: e.before,
            after: e.after,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryBody>,
    pub next_page_token: Option<String>,
}

/// The org's audit log, oldest first, with filters.
#[utoipa::path(get, path = "/v1/orgs/{org}/audit", tag = "audit", params(("org" = String, Path), AuditQuery),
    responses((status = 200, body = AuditPage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>> {
    let mut faults = QueryFaults::default();
    let size = faults.page_size(query.page_size, 100, 500);
    let action = faults.parse::<Action>("action", query.action.as_deref());
    let mut time = |name: &str, value: Option<String>| {
        let text = value?;
        match chrono::DateTime::parse_from_rfc3339(&text) {
            Ok(t) => Some(crate::db::timestamp(t.with_timezone(&chrono::Utc))),
            Err(_) => {
                faults.note(name, format!("`{text}`: expected an RFC 3339 time"));
                None
            }
        }
    };
    let (from, until) = (time("from", query.from), time("until", query.until));
    let after_seq = faults.token::<i64>(query.page_token.as_deref());
    faults.check()?;
    let filter = Filter {
        action,
        actor: query.actor,
        from,
        until,
        after_seq,
    };
    let (entries, next) = audit::list(&ctx, &user, &org, &filter, size).await?;
    Ok(Json(AuditPage {
        entries: entries.into_iter().map(AuditEntryBody::from).collect(),
        next_page_token: next.map(|seq| seq.to_string()),
    }))
}
