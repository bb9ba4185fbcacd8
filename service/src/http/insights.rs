//! An org's insights over HTTP (`crate::insights` says what they hold and who reads what).

use std::convert::Infallible;

use axum::extract::State;
use axum::response::Response;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use futures::Stream;
use payroll_rules::vocabulary::PayPeriod;
use serde::Deserialize;
use utoipa::IntoParams;

use super::App;
use super::extractor::{ApiPath, ApiQuery, QueryFaults};
use crate::caller::Caller;
use crate::domain::uploads::Format;
use crate::error::{Error, Result};
use crate::insights::{self as operations, Ask, Insights, Table};

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/insights", get(insights))
        .route("/v1/orgs/{org}/insights.csv", get(csv))
        .route("/v1/orgs/{org}/insights/today", get(today))
        .route("/v1/orgs/{org}/insights/today/events", get(today_events))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InsightsQuery {
    /// The first period, YYYY-MM; 11 periods before `until` by default (at most 36 periods).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub from: Option<String>,
    /// The last period, YYYY-MM; the org's newest period with a calculated run by default.
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub until: Option<String>,
    /// Only this site's figures (the total is then the site's).
    pub site: Option<String>,
    /// The heatmap's period; `until` by default.
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub heatmap: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TableQuery {
    /// `sites` (the default): a row per period and site, and the period's total; `heatmap`: a
    /// row per site and day of the heatmap's period.
    #[param(pattern = "^(sites|heatmap)$")]
    pub table: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TodayQuery {
    /// The day, YYYY-MM-DD; the newest day the stream has a punch of by default.
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub date: Option<String>,
    /// A first `in` after this local time (HH:MM) is late; 09:30 by default.
    #[param(pattern = "^[0-9]{2}:[0-9]{2}$")]
    pub late_after: Option<String>,
}

impl TodayQuery {
    fn parse(&self) -> Result<(Option<chrono::NaiveDate>, chrono::NaiveTime)> {
        let mut faults = QueryFaults::default();
        let date = faults.parse::<chrono::NaiveDate>("date", self.date.as_deref());
        let late_after = match self.late_after.as_deref() {
            None => chrono::NaiveTime::from_hms_opt(9, 30, 0),
            Some(text) => chrono::NaiveTime::parse_from_str(text, "%H:%M").ok().or_else(|| {
                faults.note("late_after", format!("`{text}`: expected a local time like 09:30"));
                None
            }),
        };
        faults.check()?;
        Ok((date, late_after.unwrap_or_default()))
    }
}

/// Today's attendance per site, live from the stream (stream mode only; 409 in files mode):
/// checked in now, present so far, late arrivals (first `in` after `late_after`, local time at
/// the site) and missed punches, as the stream's live board has them (updated every live
/// interval). `insights:view`; for a caller without `pay:view` a site of fewer than 5 workers
/// on the board is withheld.
#[utoipa::path(get, path = "/v1/orgs/{org}/insights/today", tag = "insights",
    params(("org" = String, Path), TodayQuery),
    responses((status = 200, body = operations::Today), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody),
        (status = 409, description = "The service reads files, not a stream", body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn today(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
    ApiQuery(query): ApiQuery<TodayQuery>,
) -> Result<Json<operations::Today>> {
    let (date, late_after) = query.parse()?;
    Ok(Json(operations::today(&ctx, &user, &org, date, late_after).await?))
}

/// How often the live board's events look at it: well inside the stream's live interval.
const BOARD_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Server-Sent Events of today's attendance: a `today` event (the body of `GET
/// .../insights/today`) at once and whenever it changes.
#[utoipa::path(get, path = "/v1/orgs/{org}/insights/today/events", tag = "insights",
    params(("org" = String, Path), TodayQuery),
    responses((status = 200, description = "text/event-stream of `today` events, each a Today", content_type = "text/event-stream"),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 409, description = "The service reads files, not a stream", body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn today_events(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
    ApiQuery(query): ApiQuery<TodayQuery>,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    let (date, late_after) = query.parse()?;
    // Refused here, before the stream starts, as the plain GET would be.
    let first = operations::today(&ctx, &user, &org, date, late_after).await?;
    let stream = futures::stream::unfold(
        (ctx, user, org, Some(first), None::<operations::Today>),
        move |(ctx, user, org, mut next, last)| async move {
            loop {
                let now = match next.take() {
                    Some(now) => now,
                    None => {
                        tokio::time::sleep(BOARD_EVERY).await;
                        operations::today(&ctx, &user, &org, date, late_after).await.ok()?
                    }
                };
                if last.as_ref() != Some(&now) {
                    let event = Event::default().event("today").json_data(&now).ok()?;
                    return Some((Ok(event), (ctx, user, org, None, Some(now))));
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn ask(from: Option<&str>, until: Option<&str>, site: Option<String>, heatmap: Option<&str>) -> Result<Ask> {
    let mut faults = QueryFaults::default();
    let ask = Ask {
        from: faults.parse::<PayPeriod>("from", from),
        until: faults.parse::<PayPeriod>("until", until),
        site,
        heatmap: faults.parse::<PayPeriod>("heatmap", heatmap),
    };
    faults.check()?;
    Ok(ask)
}

/// Per period of `from..=until` (the run it shows: the locking final run, else the latest
/// calculated one) and per site: headcount, gross, net, employer cost, overtime hours, loss-of-pay
/// days and attendance rate, each with the change from the period before; and the attendance
/// heatmap (site by day) of one period. Amounts are decimal strings. `insights:view`; for a
/// caller without `pay:view` (an analyst) every figure built from fewer than 5 workers is
/// `null` with the reason in `withheld`.
#[utoipa::path(get, path = "/v1/orgs/{org}/insights", tag = "insights",
    params(("org" = String, Path), InsightsQuery),
    responses((status = 200, body = Insights), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn insights(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
    ApiQuery(query): ApiQuery<InsightsQuery>,
) -> Result<Json<Insights>> {
    let ask = ask(
        query.from.as_deref(),
        query.until.as_deref(),
        query.site,
        query.heatmap.as_deref(),
    )?;
    Ok(Json(operations::insights(&ctx, &user, &org, &ask).await?))
}

/// A table of the insights as CSV: `table=sites` (`period, run_id, site_id, headcount, gross,
/// net, employer_cost, ot_hours, lop_days, attendance_rate, withheld`, each period's total as
/// site `total`) or `table=heatmap` (`period, run_id, site_id, date, workers, attended, rate,
/// withheld`). Withheld figures are empty, with the reason.
#[utoipa::path(get, path = "/v1/orgs/{org}/insights.csv", tag = "insights",
    params(("org" = String, Path), InsightsQuery, TableQuery),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn csv(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
    ApiQuery(query): ApiQuery<InsightsQuery>,
    ApiQuery(table): ApiQuery<TableQuery>,
) -> Result<Response> {
    let table = match table.table.as_deref() {
        None | Some("sites") => Table::Sites,
        Some("heatmap") => Table::Heatmap,
        Some(other) => return Err(Error::invalid("table", format!("`{other}`: expected sites or heatmap"))),
    };
    let ask = ask(
        query.from.as_deref(),
        query.until.as_deref(),
        query.site,
        query.heatmap.as_deref(),
    )?;
    let insights = operations::insights(&ctx, &user, &org, &ask).await?;
    let name = match table {
        Table::Sites => "sites",
        Table::Heatmap => "heatmap",
    };
    Ok(super::results::download(
        operations::csv(&insights, table)?,
        Format::Csv.content_type(),
        &format!("insights-{org}-{name}.csv"),
    ))
}
