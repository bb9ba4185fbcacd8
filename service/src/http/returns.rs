//! Statutory returns of a finalized final run over HTTP (`crate::returns` says what each is):
//! the EPFO ECR 2.0 text file, the ESIC monthly contribution sheet, and the members either
//! leaves out.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::App;
use super::extractor::ApiPath;
use crate::caller::Caller;
use crate::domain::uploads::Format;
use crate::error::Result;
use crate::returns::{self as operations, Return};

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/runs/{id}/returns/ecr.txt", get(ecr))
        .route("/v1/orgs/{org}/runs/{id}/returns/esic.xlsx", get(esic))
        .route("/v1/orgs/{org}/runs/{id}/returns/exceptions.csv", get(exceptions))
}

/// Members a return leaves out: the header every return carries, with their count.
const EXCEPTIONS_HEADER: &str = "x-return-exceptions";

/// The return as a download: named for the org and period, with the members it leaves out
/// counted in `X-Return-Exceptions`.
async fn file(ctx: &App, user: &Caller, org: &str, id: &str, which: Return) -> Result<Response> {
    let filed = operations::download(ctx, user, org, id, which).await?;
    let (content_type, name) = match which {
        Return::Ecr => ("text/plain; charset=utf-8", format!("ecr-{org}-{}.txt", filed.period)),
        Return::Esic => (Format::Xlsx.content_type(), format!("esic-{org}-{}.xlsx", filed.period)),
        Return::Exceptions => (
            Format::Csv.content_type(),
            format!("return-exceptions-{org}-{}.csv", filed.period),
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (
                header::HeaderName::from_static(EXCEPTIONS_HEADER),
                filed.exceptions.to_string(),
            ),
        ],
        Body::from(filed.bytes),
    )
        .into_response())
}

/// The EPFO ECR 2.0 file: one line per member, fields separated by `#~#`, amounts in whole
/// rupees (each member's rounded half up). Members without a 12-digit UAN are left out and
/// counted in `X-Return-Exceptions` (listed by `exceptions.csv`).
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/returns/ecr.txt", tag = "returns",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, content_type = "text/plain", body = String,
            headers(("X-Return-Exceptions" = u64, description = "Members left out (see exceptions.csv)"))),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Not a finalized final run, or its ruleset maps no ECR", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn ecr(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Response> {
    file(&ctx, &user, &org, &id, Return::Ecr).await
}

/// The ESIC monthly contribution sheet: IP number, name, days paid, total wages (whole
/// rupees), the reason code for zero working days and the last working day. Insured persons
/// without a 10-digit IP number are left out and counted in `X-Return-Exceptions`.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/returns/esic.xlsx", tag = "returns",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>,
            headers(("X-Return-Exceptions" = u64, description = "Insured persons left out (see exceptions.csv)"))),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Not a finalized final run, or its ruleset maps no ESIC", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn esic(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Response> {
    file(&ctx, &user, &org, &id, Return::Esic).await
}

/// The members the ECR and the ESIC sheet leave out: return, worker, name, reason and the
/// amounts each would have carried.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/returns/exceptions.csv", tag = "returns",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn exceptions(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Response> {
    file(&ctx, &user, &org, &id, Return::Exceptions).await
}
