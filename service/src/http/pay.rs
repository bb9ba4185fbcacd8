//! A worker's pay-to-date and the periods they were paid in, and an org's periods: whether
//! each is open or locked.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use payroll_engine::calc::WORKER_ERROR_COLUMN;
use payroll_engine::lifecycle::{RunKind, RunStatus};
use payroll_rules::vocabulary::PayPeriod;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::App;
use super::extractor::{ApiPath, ApiQuery, QueryFaults};
use super::runs::SourceBody;
use crate::caller::Caller;
use crate::db::runs::{self, Run};
use crate::domain::permissions::Permission;
use crate::error::{Error, Result};
use crate::results::WorkerRow;

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/workers/{worker}/pay", get(pay))
        .route("/v1/orgs/{org}/workers/{worker}/periods", get(worker_periods))
        .route("/v1/orgs/{org}/periods", get(periods))
        .route("/v1/orgs/{org}/periods/{period}", get(period))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PayQuery {
    /// `YYYY-MM`; by default the newest period whose pay shows the worker (as
    /// `GET .../workers/{worker}/periods` lists them).
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
    #[schema(value_type = serde_json::Map<String, serde_json::Value>)]
    pub pay: WorkerRow,
}

/// A worker's pay-to-date for a period: the stream's live pay for its open period (stream
/// mode), else the period's calculated run (a final run before a provisional one, then the
/// newest). Without a period, the newest one that computed the worker.
#[utoipa::path(get, path = "/v1/orgs/{org}/workers/{worker}/pay", tag = "pay",
    params(("org" = String, Path), ("worker" = String, Path), PayQuery),
    responses((status = 200, body = PayBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn pay(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, worker)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<PayQuery>,
) -> Result<Json<PayBody>> {
    user.may_see_pay_of(&org, &worker, Permission::ViewPay)?;
    let period = match query.period {
        Some(p) => p.parse().map_err(|e: String| Error::invalid("period", e))?,
        None => paid_periods(&ctx, &org, &worker, None, 1)
            .await?
            .0
            .first()
            .map(|paid| paid.period)
            .ok_or_else(|| Error::NotFound(format!("a calculated pay of worker `{worker}` in org `{org}`")))?,
    };
    if let Some(live) = ctx.live.as_ref().filter(|live| live.period == period) {
        let found = live
            .pay(&worker)
            .await?
            .filter(|found| found.pay.text("org_id") == Some(org.as_str()))
            .ok_or_else(|| Error::NotFound(format!("worker `{worker}` in the live pay of {period}")))?;
        let worker_error = found.pay.text(WORKER_ERROR_COLUMN).map(str::to_string);
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
            pay: found.pay.leaving_out(WORKER_ERROR_COLUMN),
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
        provisional: !final_figures(&run),
        run_id: Some(run.id.clone()),
        run_kind: Some(run.kind.as_str().to_string()),
        as_of: crate::db::timestamp(run.updated_at),
        source: run.summary.as_ref().map(SourceBody::of),
        live: None,
        worker_error: None,
        pay,
    }))
}

/// A period whose pay shows a worker.
struct PaidPeriod {
    period: PayPeriod,
    /// The run the pay comes from; `None` for the stream's live pay.
    run: Option<Arc<Run>>,
    as_of: DateTime<Utc>,
}

/// The periods whose pay shows `worker`, newest first: the stream's live period (stream mode,
/// when the worker is in it), then each period whose calculated run computed the worker. At
/// most `size`, before `before`; the cursor of the next page when more periods may follow.
async fn paid_periods(
    ctx: &App,
    org: &str,
    worker: &str,
    before: Option<PayPeriod>,
    size: usize,
) -> Result<(Vec<PaidPeriod>, Option<PayPeriod>)> {
    let mut found = Vec::new();
    let live = ctx.live.as_ref().filter(|live| before.is_none_or(|b| live.period < b));
    if let Some(live) = live
        && let Some(pay) = live.pay(worker).await?
        && pay.pay.text("org_id") == Some(org)
    {
        found.push(PaidPeriod {
            period: live.period,
            run: None,
            as_of: pay.as_of,
        });
    }
    let mut cursor = before;
    loop {
        // Periods are few (twelve a year): a page of them at a time, each run's results read
        // through the cache pay-to-date shares.
        let (page, next) = runs::calculated_periods(&ctx.db, org, cursor, 12).await?;
        for run in page {
            if live.is_some_and(|live| live.period == run.period) {
                continue;
            }
            if found.len() == size {
                return Ok((found, Some(run.period.next())));
            }
            if ctx.results.get(ctx, &run).await?.contains(worker) {
                let (period, as_of) = (run.period, run.updated_at);
                found.push(PaidPeriod {
                    period,
                    run: Some(Arc::new(run)),
                    as_of,
                });
            }
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok((found, None)),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodsQuery {
    /// 1 to 24; 12 by default (6 for a worker's periods, as many as the results cache holds, since
    /// each is looked up in its run's results).
    #[param(minimum = 1, maximum = 24)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the page before.
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub page_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerPeriodBody {
    #[schema(example = "2026-10")]
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
    /// Whether the run's payslips are written: `GET .../runs/{run_id}/payslips/{worker}.pdf`.
    pub payslip: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerPeriodPage {
    pub worker_id: String,
    pub org_id: String,
    /// Newest first.
    pub periods: Vec<WorkerPeriodBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// The periods a worker has pay in, newest first: the live period (stream mode), then each
/// period whose calculated run computed them, with its run and whether its payslip is out.
#[utoipa::path(get, path = "/v1/orgs/{org}/workers/{worker}/periods", tag = "pay",
    params(("org" = String, Path), ("worker" = String, Path), PeriodsQuery),
    responses((status = 200, body = WorkerPeriodPage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn worker_periods(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, worker)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<PeriodsQuery>,
) -> Result<Json<WorkerPeriodPage>> {
    user.may_see_pay_of(&org, &worker, Permission::ViewPay)?;
    let (size, before) = page_of_periods(&query, 6)?;
    let (paid, next) = paid_periods(&ctx, &org, &worker, before, size as usize).await?;
    Ok(Json(WorkerPeriodPage {
        periods: paid
            .into_iter()
            .map(|paid| WorkerPeriodBody {
                period: paid.period.to_string(),
                provisional: paid.run.as_deref().is_none_or(|run| !final_figures(run)),
                run_id: paid.run.as_ref().map(|run| run.id.clone()),
                run_kind: paid.run.as_ref().map(|run| run.kind.as_str().to_string()),
                as_of: crate::db::timestamp(paid.as_of),
                payslip: paid
                    .run
                    .is_some_and(|run| run.kind == RunKind::Final && run.status == RunStatus::Finalized),
            })
            .collect(),
        next_page_token: next.map(|p| p.to_string()),
        worker_id: worker,
        org_id: org,
    }))
}

/// A page of periods asked for: its size and the period it starts before.
fn page_of_periods(query: &PeriodsQuery, default: u32) -> Result<(u32, Option<PayPeriod>)> {
    let mut faults = QueryFaults::default();
    let size = faults.page_size(query.page_size, default, 24);
    let before = faults.token(query.page_token.as_deref());
    faults.check()?;
    Ok((size, before))
}

/// Whether a run's figures are final: those of an approved final run.
fn final_figures(run: &Run) -> bool {
    run.kind == RunKind::Final && matches!(run.status, RunStatus::Finalizing | RunStatus::Finalized)
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
    /// In the org's list of periods: the run whose figures the period shows (its locking final
    /// run, else a calculated final run, else the newest provisional one) and its kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_kind: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodPage {
    /// Newest first.
    pub periods: Vec<PeriodBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// An org's periods that have a calculated run, newest first, each open or locked: where a
/// page that asks for a period starts.
#[utoipa::path(get, path = "/v1/orgs/{org}/periods", tag = "runs",
    params(("org" = String, Path), PeriodsQuery),
    responses((status = 200, body = PeriodPage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn periods(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
    ApiQuery(query): ApiQuery<PeriodsQuery>,
) -> Result<Json<PeriodPage>> {
    user.may(&org, Permission::ViewRuns)?;
    let (size, before) = page_of_periods(&query, 12)?;
    let (page, next) = runs::calculated_periods(&ctx.db, &org, before, size).await?;
    let mut locks = runs::period_locks(&ctx.db, &org).await?;
    Ok(Json(PeriodPage {
        periods: page
            .into_iter()
            .map(|run| {
                let lock = locks.remove(&run.period);
                PeriodBody {
                    org_id: org.clone(),
                    period: run.period.to_string(),
                    status: if lock.is_some() { "locked" } else { "open" }.to_string(),
                    locked_by: lock.as_ref().map(|(run, _)| run.clone()),
                    locked_at: lock.map(|(_, at)| at),
                    run_id: Some(run.id),
                    run_kind: Some(run.kind.as_str().to_string()),
                }
            })
            .collect(),
        next_page_token: next.map(|p| p.to_string()),
    }))
}

/// Whether a period is open or locked, and by which final run.
#[utoipa::path(get, path = "/v1/orgs/{org}/periods/{period}", tag = "runs",
    params(("org" = String, Path), ("period" = String, Path, description = "`YYYY-MM`")),
    responses((status = 200, body = PeriodBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn period(
    State(ctx): State<App>,
    user: Caller,
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
        run_id: None,
        run_kind: None,
    }))
}
