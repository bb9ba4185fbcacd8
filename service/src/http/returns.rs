//! Statutory returns of a finalized final run (`returns:download`, each download audited): the
//! EPFO ECR 2.0 text file, the ESIC monthly contribution sheet, and the members either leaves
//! out. Which components fill which column is the `[returns]` mapping of the ruleset the run
//! applied (the copy saved with it).

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use payroll_connectors::results::{applied_ruleset, read_run};
use payroll_pipeline::returns;
use payroll_rules::ReturnsDef;

use super::extractor::ApiPath;
use super::{App, audit};
use crate::caller::Caller;
use crate::db::audit::Action;
use crate::db::runs::Run;
use crate::domain::permissions::Permission;
use crate::error::{Error, Result};

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/runs/{id}/returns/ecr.txt", get(ecr))
        .route("/v1/orgs/{org}/runs/{id}/returns/esic.xlsx", get(esic))
        .route("/v1/orgs/{org}/runs/{id}/returns/exceptions.csv", get(exceptions))
}

/// Members a return leaves out: the header every return carries, with their count.
const EXCEPTIONS_HEADER: &str = "x-return-exceptions";

/// The run (finalized, final) and the `[returns]` mapping of the ruleset it applied.
async fn prepare(ctx: &App, user: &Caller, org: &str, id: &str) -> Result<(Run, ReturnsDef)> {
    user.may(org, Permission::DownloadReturns)?;
    let run = super::payouts::finalized_final(ctx, org, id, "statutory returns").await?;
    let record = read_run(&ctx.store, id).await?;
    let ruleset = applied_ruleset(&ctx.store, &record).await?;
    let mapping = ruleset
        .version(&record.ruleset.version)
        .and_then(|v| v.returns.clone())
        .ok_or_else(|| {
            Error::Conflict(format!(
                "the ruleset run {id} applied ({} version {}) has no [returns] section: add one naming the components of each ECR and ESIC column",
                record.ruleset.name, record.ruleset.version
            ))
        })?;
    Ok((run, mapping))
}

fn file(bytes: Vec<u8>, content_type: &str, name: &str, exceptions: usize) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (
                header::HeaderName::from_static(EXCEPTIONS_HEADER),
                exceptions.to_string(),
            ),
        ],
        Body::from(bytes),
    )
        .into_response()
}

fn missing(id: &str, which: &str) -> Error {
    Error::Conflict(format!(
        "the ruleset run {id} applied has no [returns.{which}] section: add one naming the components of each column"
    ))
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
    let (run, mapping) = prepare(&ctx, &user, &org, &id).await?;
    let def = mapping.ecr.ok_or_else(|| missing(&id, "ecr"))?;
    audit::downloaded(
        &ctx,
        &user,
        Action::ReturnsDownload,
        &format!("runs/{id}/returns/ecr.txt"),
    )
    .await?;
    let ecr = returns::ecr(&ctx.store, &org, &run.period.to_string(), &id, &def).await?;
    Ok(file(
        ecr.bytes,
        "text/plain; charset=utf-8",
        &format!("ecr-{org}-{}.txt", run.period),
        ecr.exceptions.len(),
    ))
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
    let (run, mapping) = prepare(&ctx, &user, &org, &id).await?;
    let def = mapping.esic.ok_or_else(|| missing(&id, "esic"))?;
    audit::downloaded(
        &ctx,
        &user,
        Action::ReturnsDownload,
        &format!("runs/{id}/returns/esic.xlsx"),
    )
    .await?;
    let esic = returns::esic(&ctx.store, &org, run.period, &id, &def).await?;
    Ok(file(
        esic.bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &format!("esic-{org}-{}.xlsx", run.period),
        esic.exceptions.len(),
    ))
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
    let (run, mapping) = prepare(&ctx, &user, &org, &id).await?;
    audit::downloaded(
        &ctx,
        &user,
        Action::ReturnsDownload,
        &format!("runs/{id}/returns/exceptions.csv"),
    )
    .await?;
    let mut all = Vec::new();
    if let Some(def) = &mapping.ecr {
        all.extend(
            returns::ecr(&ctx.store, &org, &run.period.to_string(), &id, def)
                .await?
                .exceptions,
        );
    }
    if let Some(def) = &mapping.esic {
        all.extend(returns::esic(&ctx.store, &org, run.period, &id, def).await?.exceptions);
    }
    let count = all.len();
    Ok(file(
        returns::exceptions_csv(&all)?,
        "text/csv",
        &format!("return-exceptions-{org}-{}.csv", run.period),
        count,
    ))
}
