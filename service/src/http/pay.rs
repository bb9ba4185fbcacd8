//! A worker's pay-to-date, and whether a period is open or locked.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use payroll_engine::calc::WORKER_ERROR_COLUMN;
use payroll_engine::lifecycle::{RunKind, RunStatus};
use payroll_rules::vocabulary::PayPeriod;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::ApiContext;
use super::extractor::{ApiPath, ApiQuery, AuthUser};
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
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub period: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayBody {
    pub worker_id: String,
    pub org_id: String,
    pub period: String,
    /// `false` only when the figures are those of the period's approved final run.
    pub provisional: bool,
    /// The run the figures come from and its kind; absent for live pay from the stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_kind: Option<String>,
    /// When the figures were computed.
    pub as_of: String,
    /// What a run's figures reflect: input files by content, or a stream's offsets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceBody>,
    /// Live pay (stream mode, the open period): how far the stream has read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveBody>,
    /// Live pay only: why the stream could not compute the worker's pay (a component without
    /// a value: `component `x`: no row of table ...`); the components in `pay` are then null.
    /// Fixing the ruleset or the worker's inputs computes it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_error: Option<String>,
    /// Every input and component of the worker, amounts as decimal strings.
    pub pay: Map<String, Value>,
}

/// A worker's pay-to-date for a period: the stream's live pay for its open period (stream
/// mode), else the latest calculated run of the period.
#[utoipa::path(get, path = "/v1/orgs/{org}/workers/{worker}/pay", tag = "pay",
    params(("org" = String, Path), ("worker" = String, Path), PayQuery),
    responses((status = 200, body = PayBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn pay(
    State(ctx): State<ApiContext>,
    user: AuthUser,
    ApiPath((org, worker)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<PayQuery>,
) -> Result<Json<PayBody>> {
    user.may_see_pay_of(&org, &worker, Permission::ViewPay)?;
    let period = match query.period {
        Some(p) => p.parse().map_err(|e: String| Error::invalid("period", e))?,
        None => PayPeriod::of(Utc::now().date_naive()),
    };
    if let Some(live) = ctx.live.as_ref().filter(|live| live.period == period) {
        let mut found = live
            .pay(&worker)
            .await?
            .filter(|found| found.pay.get("org_id").and_then(Value::as_str) == Some(org.as_str()))
            .ok_or_else(|| Error::NotFound(format!("worker `{worker}` in the live pay of {period}")))?;
        let worker_error = match found.pay.remove(WORKER_ERROR_COLUMN) {
            Some(Value::String(why)) => Some(why),
            _ => None,
        };
        return Ok(Json(PayBody {
            worker_id: worker,
            org_id: org,
            period: period.to_string(),
            provisional: true,
            run_id: None,
            run_kind: None,
            as_of: crate::db::timestamp(found.as_of),
            source: None,
            live: Some(LiveBody {
                messages_folded: live.status.folded.load(Ordering::Relaxed),
                lag: live.status.lag.load(Ordering::Relaxed),
            }),
            worker_error,
            pay: found.pay,
        }));
    }
    let run = ctx
        .results
        .latest(&ctx, &org, period)
        .await?
        .ok_or_else(|| Error::NotFound(format!("a calculated run of {period} for org `{org}`")))?;
    let Some(pay) = ctx.results.get(&ctx, &run).await?.worker(&worker) else {
        // A worker the run could not compute is in no result: say why.
        let errors = crate::db::worker_errors::of_worker(&ctx.db, &org, &run.id, &worker).await?;
        if errors.is_empty() {
            return Err(Error::NotFound(format!(
                "worker `{worker}` in run {} ({period})",
                run.id
            )));
        }
        let why: Vec<String> = errors
            .iter()
            .map(|e| format!("component `{}`: {}", e.component, e.reason))
            .collect();
        return Err(Error::NotFound(format!(
            "pay of worker `{worker}` in run {} ({period}: the run could not compute it: {})",
            run.id,
            why.join("; ")
        )));
    };
    Ok(Json(PayBody {
        worker_id: worker,
        org_id: org,
        period: period.to_string(),
        provisional: !(run.kind == RunKind::Final
            && matches!(run.status, RunStatus::Finalizing | RunStatus::Finalized)),
        run_id: Some(run.id.clone()),
        run_kind: Some(run.kind.as_str().to_string()),
        as_of: crate::db::timestamp(run.updated_at),
        source: run.summary.as_ref().map(SourceBody::of),
        live: None,
        worker_error: None,
        pay,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LiveBody {
    /// Messages folded by this instance's stream since it started.
    pub messages_folded: u64,
    /// Messages not yet read, all partitions it owns (-1: not known yet).
    pub lag: i64,
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
    ApiPath((org, period)): ApiPath<(String, String)>,
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
