//! A run's variance report over HTTP (`crate::variance` says what it compares).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use utoipa::IntoParams;

use super::App;
use super::extractor::{ApiPath, ApiQuery};
use crate::caller::Caller;
use crate::domain::uploads::Format;
use crate::error::{Error, Result};
use crate::variance::{self as operations, Report};

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/runs/{id}/variance.csv", get(csv))
        .route("/v1/orgs/{org}/runs/{id}/variance.xlsx", get(xlsx))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VarianceQuery {
    /// `worker` (the default): a row per worker; `site`: a row per site.
    #[param(pattern = "^(worker|site)$")]
    pub by: Option<String>,
}

/// The run against the org's last finalized period, as CSV: per worker (`worker_id, name,
/// site_id, last_net, this_net, difference, moved_most`, the biggest change first), or per site
/// with `by=site` (`site_id, headcount_last, headcount_now, cost_last, cost_now,
/// cost_difference`; cost is `employer_cost`, else gross pay).
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/variance.csv", tag = "runs",
    params(("org" = String, Path), ("id" = String, Path), VarianceQuery),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Not calculated, or no finalized period before it", body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn csv(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<VarianceQuery>,
) -> Result<Response> {
    let which = match query.by.as_deref() {
        None | Some("worker") => Report::WorkersCsv,
        Some("site") => Report::SitesCsv,
        Some(other) => return Err(Error::invalid("by", format!("`{other}`: expected worker or site"))),
    };
    let (bytes, then, now) = operations::report(&ctx, &user, &org, &id, which).await?;
    Ok(super::results::download(
        bytes,
        Format::Csv.content_type(),
        &format!("variance-{org}-{then}-{now}.csv"),
    ))
}

/// Both tables of the variance report in one workbook: sheets `workers` and `sites`.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/variance.xlsx", tag = "runs",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Not calculated, or no finalized period before it", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn xlsx(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Response> {
    let (bytes, then, now) = operations::report(&ctx, &user, &org, &id, Report::Xlsx).await?;
    Ok(super::results::download(
        bytes,
        Format::Xlsx.content_type(),
        &format!("variance-{org}-{then}-{now}.xlsx"),
    ))
}
