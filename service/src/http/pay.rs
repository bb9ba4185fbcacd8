//! A worker's pay-to-date, and whether a period is open or locked.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use payroll_engine::lifecycle::{RunKind, RunStatus};
use payroll_rules::vocabulary::PayPeriod;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::ApiContext;
use super::extractor::AuthUser;
use super::runs::SourceBody;
use crate::auth::Permission;
use crate::db::runs;
use crate::error::{Error, Result};

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/v1/orgs/{org}/workers/{worker}/pay", get(pay))
        .route("/v1/orgs/{org}/periods/{period}", get(period))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PayQuery {
    /// `YYYY-MM`; the current month by default.
    pub period: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayBody {
    pub worker_id: String,
    pub org_id: String,
    pub period: String,
    /// `false` only when the figures are those of the period's approved final run.
    pub provisional: bool,
    /// The run the figures come from, its kind and when it was calculated.
    pub run_id: String,
    pub run_kind: String,
    pub as_of: String,
    /// What the figures reflect: input files by content, or a stream's offsets.
    pub source: Option<SourceBody>,
    /// Every input and component of the worker, amounts as decimal strings.
    pub pay: Map<String, Value>,
}

/// A worker's pay-to-date for a period, from the latest calculated run of it.
#[utoipa::path(get, path = "/v1/orgs/{org}/workers/{worker}/pay", tag = "pay",
    params(("org" = String, Path), ("worker" = String, Path), PayQuery),
    responses((status = 200, body = PayBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn pay(
    State(ctx): State<ApiContext>,
    user: AuthUser,
    Path((org, worker)): Path<(String, String)>,
    Query(query): Query<PayQuery>,
) -> Result<Json<PayBody>> {
    user.may_see_pay_of(&org, &worker, Permission::ViewPay)?;
    let period = match query.period {
        Some(p) => p.parse().map_err(|e: String| Error::invalid("period", e))?,
        None => PayPeriod::of(Utc::now().date_naive()),
    };
    let run = runs::latest_calculated(&ctx.db, &org, period)
        .await?
        .ok_or_else(|| Error::NotFound(format!("a calculated run of {period} for org `{org}`")))?;
    let batches = ctx.results.get(&ctx, &run).await?;
    let pay = super::results::worker_row(&batches, &worker, None)
        .ok_or_else(|| Error::NotFound(format!("worker `{worker}` in run {} ({period})", run.id)))?;
    let body = super::runs::RunBody::new(run.clone(), None, &user);
    Ok(Json(PayBody {
        worker_id: worker,
        org_id: org,
        period: period.to_string(),
        provisional: !(run.kind == RunKind::Final
            && matches!(run.status, RunStatus::Finalizing | RunStatus::Finalized)),
        run_id: run.id,
        run_kind: run.kind.as_str().to_string(),
        as_of: body.updated_at,
        source: body.source,
        pay,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodBody {
    pub org_id: String,
    pub period: String,
    /// `open` or `locked`.
    #[schema(example = "locked")]
    pub status: String,
    /// The approved final run that locked it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_at: Option<String>,
}

/// Whether a period is open or locked, and by which final run.
#[utoipa::path(get, path = "/v1/orgs/{org}/periods/{period}", tag = "runs",
    params(("org" = String, Path), ("period" = String, Path, description = "`YYYY-MM`")),
    responses((status = 200, body = PeriodBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn period(
    State(ctx): State<ApiContext>,
    user: AuthUser,
    Path((org, period)): Path<(String, String)>,
) -> Result<Json<PeriodBody>> {
    user.may(&org, Permission::ViewRuns)?;
    let period: PayPeriod = period.parse().map_err(|e: String| Error::invalid("period", e))?;
    let lock = runs::period_lock(&ctx.db, &org, period).await?;
    Ok(Json(PeriodBody {
        org_id: org,
        period: period.to_string(),
        status: if lock.is_some() { "locked" } else { "open" }.to_string(),
        locked_by: lock.as_ref().map(|(run, _)| run.clone()),
        locked_at: lock.map(|(_, at)| at),
    }))
}
