//! What-if previews over HTTP (`crate::previews` says who may ask and read what).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use payroll_pipeline::preview::Summary;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::App;
use super::extractor::{ApiJson, ApiPath, ApiQuery, Offset};
use crate::caller::Caller;
use crate::db::previews::StoredPreview;
use crate::domain::previews::PreviewStatus;
use crate::domain::uploads::Format;
use crate::error::{Error, Result};
use crate::previews::{self as operations, Ask};

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/previews", post(create))
        .route("/v1/orgs/{org}/previews/{id}", get(read))
        .route("/v1/orgs/{org}/previews/{id}/workers", get(workers))
        .route("/v1/orgs/{org}/previews/{id}/results.parquet", get(results_parquet))
        .route("/v1/orgs/{org}/previews/{id}/results.csv", get(results_csv))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskPreview {
    /// `YYYY-MM`
    #[schema(example = "2026-10")]
    pub period: String,
    /// A ruleset's TOML text to preview; the org's own ruleset when absent.
    pub ruleset: Option<String>,
    /// New rates for some workers, in the unit of each worker's pay basis.
    #[serde(default)]
    pub rates: Vec<Rate>,
    /// The calculated run whose inputs the preview reads; the period's latest (a final run
    /// first) when absent.
    pub base_run: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub worker_id: String,
    /// A decimal string, e.g. `"850.00"`.
    pub rate: String,
}

/// A component's total in the base run, in the preview, and the difference.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotalBody {
    pub component: String,
    pub base: Option<String>,
    pub preview: Option<String>,
    pub difference: String,
}

/// A site's net pay in the base run and in the preview.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteBody {
    pub site_id: String,
    pub workers: u64,
    pub base: String,
    pub preview: String,
    pub difference: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewSummaryBody {
    /// Workers of the base run or the preview.
    pub workers: u64,
    /// Workers whose net pay would rise, fall or stay.
    pub gain: u64,
    pub lose: u64,
    pub same: u64,
    /// Workers whose findings of the ruleset's checks would differ from the base run's.
    pub findings_changed: u64,
    /// Workers the previewed rules give no value for.
    pub worker_errors: u64,
    pub totals: Vec<TotalBody>,
    /// Net pay per site.
    pub sites: Vec<SiteBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewBody {
    pub id: String,
    pub period: String,
    pub base_run: String,
    pub status: PreviewStatus,
    pub requested_by: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub ruleset: String,
    pub ruleset_version: String,
    /// Workers given a new rate.
    pub rates: i64,
    /// Once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<PreviewSummaryBody>,
}

impl TryFrom<StoredPreview> for PreviewBody {
    type Error = Error;

    fn try_from(p: StoredPreview) -> Result<PreviewBody> {
        let summary = p
            .summary
            .as_deref()
            .map(serde_json::from_str::<Summary>)
            .transpose()
            .map_err(|e| Error::Internal(format!("stored summary of preview {}: {e}", p.id)))?
            .map(|s| PreviewSummaryBody {
                workers: s.workers,
                gain: s.gain,
                lose: s.lose,
                same: s.same,
                findings_changed: s.findings_changed,
                worker_errors: s.worker_errors,
                totals: s
                    .totals
                    .into_iter()
                    .map(|t| TotalBody {
                        difference: format!("{:.2}", t.preview.unwrap_or_default() - t.base.unwrap_or_default()),
                        base: t.base.map(|v| format!("{v:.2}")),
                        preview: t.preview.map(|v| format!("{v:.2}")),
                        component: t.component,
                    })
                    .collect(),
                sites: s
                    .sites
                    .into_iter()
                    .map(|site| SiteBody {
                        difference: format!("{:.2}", site.preview - site.base),
                        base: format!("{:.2}", site.base),
                        preview: format!("{:.2}", site.preview),
                        workers: site.workers,
                        site_id: site.site_id,
                    })
                    .collect(),
            });
        Ok(PreviewBody {
            id: p.id,
            period: p.period,
            base_run: p.base_run,
            status: p.status,
            requested_by: p.requested_by,
            created_at: p.created_at,
            finished_at: p.finished_at,
            error: p.error,
            ruleset: p.ruleset_name,
            ruleset_version: p.ruleset_version,
            rates: p.rates,
            summary,
        })
    }
}

/// Preview a period's pay under another ruleset (its TOML text) or other rates, from a
/// calculated run's inputs: 202, then poll the preview until `done`. Never a run: no lock, no
/// payslip. A ruleset that does not validate: 422 with every fault and its line.
#[utoipa::path(post, path = "/v1/orgs/{org}/previews", tag = "previews",
    params(("org" = String, Path)),
    request_body = AskPreview,
    responses((status = 202, description = "Queued; `Location` names the preview", body = PreviewBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "No calculated run of the period to read", body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn create(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
    ApiJson(body): ApiJson<AskPreview>,
) -> Result<Response> {
    let ask = Ask {
        period: body.period,
        ruleset: body.ruleset,
        rates: body.rates.into_iter().map(|r| (r.worker_id, r.rate)).collect(),
        base_run: body.base_run,
    };
    let preview = PreviewBody::try_from(operations::create(&ctx, &user, &org, ask).await?)?;
    let location = format!("/v1/orgs/{org}/previews/{}", preview.id);
    let mut response = (StatusCode::ACCEPTED, Json(preview)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// A preview: where it is and, once done, its totals per component for the base and the
/// preview and how many workers gain, lose or change findings.
#[utoipa::path(get, path = "/v1/orgs/{org}/previews/{id}", tag = "previews",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = PreviewBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn read(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Json<PreviewBody>> {
    Ok(Json(operations::get(&ctx, &user, &org, &id).await?.try_into()?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorkersQuery {
    /// 1 to 1000; 100 by default.
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the page before.
    #[param(pattern = "^[0-9]+$")]
    pub page_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewWorkerBody {
    pub worker_id: String,
    pub base_net: Option<String>,
    pub preview_net: Option<String>,
    pub difference: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewWorkerPage {
    pub workers: Vec<PreviewWorkerBody>,
    pub total: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A done preview's workers, the biggest change first: net pay in the base run and in the
/// preview (`pay:view`).
#[utoipa::path(get, path = "/v1/orgs/{org}/previews/{id}/workers", tag = "previews",
    params(("org" = String, Path), ("id" = String, Path), WorkersQuery),
    responses((status = 200, body = PreviewWorkerPage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Not done yet", body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn workers(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<WorkersQuery>,
) -> Result<Json<PreviewWorkerPage>> {
    let offset = Offset::of(query.page_size, query.page_token.as_deref())?;
    let (page, total) = operations::workers(&ctx, &user, &org, &id, offset.start, offset.size).await?;
    let next = offset.next(page.len(), offset.start + page.len() < total);
    Ok(Json(PreviewWorkerPage {
        workers: page
            .into_iter()
            .map(|w| PreviewWorkerBody {
                difference: format!("{:.2}", w.difference()),
                base_net: w.base.map(|v| format!("{v:.2}")),
                preview_net: w.preview.map(|v| format!("{v:.2}")),
                worker_id: w.worker_id,
            })
            .collect(),
        total,
        next_page_token: next,
    }))
}

/// A done preview's results in a run's result schema, as Parquet (`pay:view`, audited).
#[utoipa::path(get, path = "/v1/orgs/{org}/previews/{id}/results.parquet", tag = "previews",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, content_type = "application/vnd.apache.parquet", body = Vec<u8>),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Not done yet", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn results_parquet(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Response> {
    let bytes = operations::results_parquet(&ctx, &user, &org, &id).await?;
    Ok(super::results::download(
        bytes,
        "application/vnd.apache.parquet",
        &format!("preview-{id}.parquet"),
    ))
}

/// A done preview's results as CSV (`pay:view`, audited).
#[utoipa::path(get, path = "/v1/orgs/{org}/previews/{id}/results.csv", tag = "previews",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Not done yet", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn results_csv(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Response> {
    let bytes = operations::results_csv(&ctx, &user, &org, &id).await?;
    Ok(super::results::download(
        bytes,
        Format::Csv.content_type(),
        &format!("preview-{id}.csv"),
    ))
}
