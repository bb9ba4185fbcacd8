//! An org's nightly provisional run: when (cron) and in which time zone.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::App;
use super::extractor::{ApiJson, ApiPath};
use crate::caller::Caller;
use crate::db;
use crate::domain::permissions::Permission;
use crate::domain::schedule::Schedule;
use crate::error::{Error, Result};
use crate::schedule;

pub fn router() -> Router<App> {
    Router::new().route("/v1/orgs/{org}/schedule", get(read).put(write))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// Five fields: minute hour day-of-month month day-of-week.
    #[schema(example = "0 2 * * *")]
    pub cron: String,
    /// An IANA time zone.
    #[schema(example = "Asia/Kolkata")]
    pub timezone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleBody {
    pub org_id: String,
    pub cron: String,
    pub timezone: String,
    pub updated_by: String,
    pub updated_at: String,
    /// The latest slot a run was queued for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_slot: Option<String>,
    /// The next slot after now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_slot: Option<String>,
}

impl From<Schedule> for ScheduleBody {
    fn from(s: Schedule) -> Self {
        let now = Utc::now();
        let next_slot = s
            .spec
            .cron
            .find_next_occurrence(&now.with_timezone(&s.spec.timezone), false)
            .ok()
            .map(|t| db::timestamp(t.with_timezone(&Utc)));
        ScheduleBody {
            cron: s.spec.text,
            timezone: s.spec.timezone.name().to_string(),
            updated_by: s.updated_by,
            updated_at: db::timestamp(s.updated_at),
            last_slot: s.last_slot.map(db::timestamp),
            next_slot,
            org_id: s.org_id,
        }
    }
}

/// The org's schedule.
#[utoipa::path(get, path = "/v1/orgs/{org}/schedule", tag = "schedule", params(("org" = String, Path)),
    responses((status = 200, body = ScheduleBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn read(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
) -> Result<Json<ScheduleBody>> {
    user.may(&org, Permission::ViewRuns)?;
    let schedule = db::schedules::get(&ctx.db, &org)
        .await?
        .ok_or_else(|| Error::NotFound(format!("a schedule for org `{org}`")))?;
    Ok(Json(schedule.into()))
}

/// Set the org's schedule; slots before now are not owed by the new one.
#[utoipa::path(put, path = "/v1/orgs/{org}/schedule", tag = "schedule", params(("org" = String, Path)),
    request_body = ScheduleRequest,
    responses((status = 200, body = ScheduleBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn write(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
    ApiJson(body): ApiJson<ScheduleRequest>,
) -> Result<Json<ScheduleBody>> {
    let schedule = schedule::set(&ctx.db, &user, &org, &body.cron, &body.timezone).await?;
    Ok(Json(schedule.into()))
}
