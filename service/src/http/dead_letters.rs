//! A run's dead letters: the org's refused input rows and events, each with where it was, the
//! field at fault and why, so HR can correct and resend them: a page at a time, or all as a
//! CSV (audited, as every download is).
//!
//! Only letters the run attributed to the org are served (a run of one org writes no other
//! org's, and a letter without an org is never served): one org never reads another's rows.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use payroll_connectors::{DeadLetter, Position, dead_letter};
use payroll_engine::spreadsheet::neutralise;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::App;
use super::extractor::{ApiPath, ApiQuery, Offset};
use super::results::{calculated, download};
use crate::audit;
use crate::caller::Caller;
use crate::db::audit::Action;
use crate::db::runs::Run;
use crate::domain::permissions::Permission;
use crate::error::{Error, Result};

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/runs/{id}/dead-letters", get(list))
        .route("/v1/orgs/{org}/runs/{id}/dead-letters.csv", get(csv_file))
}

/// Fields whose refused value is money: their reason quotes it, so callers who may not see
/// amounts get the field without the reason.
const MONEY_FIELDS: [&str; 2] = ["amount", "rate"];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Only this source, as the run's `dead_letters` name it (`attendance.ndjson`).
    pub source: Option<String>,
    /// 1 to 1000; 100 by default.
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the page before.
    #[param(pattern = "^[0-9]+$")]
    pub page_token: Option<String>,
}

/// A refused row or event.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterBody {
    #[schema(example = "attendance.ndjson")]
    pub source: String,
    /// The line of a text file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The row of a spreadsheet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// The field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "direction")]
    pub field: Option<String>,
    /// Why it was refused; withheld from callers without `pay:view` when the field is money.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "unknown variant `sideways`, expected `in` or `out`")]
    pub reason: Option<String>,
    /// The row or event as given, bank account and PAN masked (for callers with `pay:view`:
    /// it may hold amounts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterPage {
    pub run_id: String,
    pub dead_letters: Vec<DeadLetterBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// The org's refused rows and events of a run, by source and then line or row.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/dead-letters", tag = "runs",
    params(("org" = String, Path), ("id" = String, Path), DeadLetterQuery),
    responses((status = 200, body = DeadLetterPage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<DeadLetterQuery>,
) -> Result<Json<DeadLetterPage>> {
    user.may(&org, Permission::ViewDeadLetters)?;
    let offset = Offset::of(query.page_size, query.page_token.as_deref())?;
    let run = calculated(&ctx, &org, &id).await?;
    let sees_pay = user.can(Permission::ViewPay);
    let letters = of_org(&ctx, &org, &run, query.source.as_deref()).await?;
    let mut matching = letters.into_iter().skip(offset.start);
    let page: Vec<DeadLetterBody> = matching
        .by_ref()
        .take(offset.size)
        .map(|letter| DeadLetterBody::of(letter, sees_pay))
        .collect();
    let next = offset.next(page.len(), matching.next().is_some());
    Ok(Json(DeadLetterPage {
        run_id: run.id,
        dead_letters: page,
        next_page_token: next,
    }))
}

/// Every refused row and event of the org in the run, as CSV: `source, line, row, field,
/// reason, original`, with the same fields withheld as the JSON list withholds.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/dead-letters.csv", tag = "runs",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn csv_file(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Response> {
    user.may(&org, Permission::ViewDeadLetters)?;
    let run = calculated(&ctx, &org, &id).await?;
    let sees_pay = user.can(Permission::ViewPay);
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| Error::Internal(format!("writing CSV: {e}"));
    out.write_record(["source", "line", "row", "field", "reason", "original"])
        .map_err(csv_error)?;
    for letter in of_org(&ctx, &org, &run, None).await? {
        let body = DeadLetterBody::of(letter, sees_pay);
        let number = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
        // `original` is the refused line as written: it may start with anything.
        out.write_record(
            [
                body.source,
                number(body.line),
                number(body.row),
                body.field.unwrap_or_default(),
                body.reason.unwrap_or_default(),
                body.original.unwrap_or_default(),
            ]
            .map(|cell| neutralise(cell).into_owned()),
        )
        .map_err(csv_error)?;
    }
    let bytes = out.into_inner().map_err(|e| Error::Internal(e.to_string()))?;
    audit::downloaded(
        &ctx,
        &user,
        Action::DeadLettersDownload,
        &format!("runs/{id}/dead-letters.csv"),
    )
    .await?;
    Ok(download(
        bytes,
        "text/csv; charset=utf-8",
        &format!("dead-letters-{org}-{}-{id}.csv", run.period),
    ))
}

/// The org's letters of a run, by source (only `source` if given) and then line or row.
async fn of_org(ctx: &App, org: &str, run: &Run, source: Option<&str>) -> Result<Vec<DeadLetter>> {
    // The sources the run counted: a name from the query is only ever matched against them,
    // never made into a path.
    let sources = run
        .summary
        .as_ref()
        .map(|s| s.dead_letters.keys().collect::<Vec<_>>())
        .unwrap_or_default();
    let mut letters = Vec::new();
    for counted in sources {
        if source.is_some_and(|s| s != counted) {
            continue;
        }
        let read = dead_letter::read(&ctx.store, &run.id, counted).await?;
        letters.extend(read.into_iter().filter(|l| l.org_id.as_deref() == Some(org)));
    }
    Ok(letters)
}

impl DeadLetterBody {
    fn of(letter: DeadLetter, sees_pay: bool) -> DeadLetterBody {
        let (line, row) = match letter.position {
            Position::Line(n) => (Some(n), None),
            Position::Row(n) => (None, Some(n)),
        };
        let money = letter.field.as_deref().is_some_and(|f| MONEY_FIELDS.contains(&f));
        DeadLetterBody {
            source: letter.source,
            line,
            row,
            reason: (sees_pay || !money).then_some(letter.reason),
            field: letter.field,
            original: sees_pay.then_some(letter.original),
        }
    }
}
