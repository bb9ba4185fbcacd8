//! A run's results (JSON pages, CSV, Parquet), one worker's explain trace, payslips and the
//! register, read from the object store the run wrote them to.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use payroll_connectors::layout;
use payroll_connectors::results::{read_arrears, read_run, results_parts};
use payroll_engine::lifecycle::RunStatus;
use payroll_engine::spreadsheet::neutralise;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::App;
use super::extractor::{ApiPath, ApiQuery, Offset};
use crate::audit;
use crate::caller::Caller;
use crate::db::audit::Action;
use crate::db::runs::{self, Run};
use crate::domain::permissions::Permission;
use crate::domain::uploads::Format;
use crate::error::{Error, Result};
use crate::results::{WorkerRow, cell};

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/runs/{id}/results", get(results_json))
        .route("/v1/orgs/{org}/runs/{id}/results.csv", get(results_csv))
        .route("/v1/orgs/{org}/runs/{id}/results.parquet", get(results_parquet))
        .route("/v1/orgs/{org}/runs/{id}/arrears", get(arrears))
        .route("/v1/orgs/{org}/runs/{id}/workers/{worker}/explain", get(explain))
        .route("/v1/orgs/{org}/runs/{id}/payslips/{file}", get(payslip))
        .route("/v1/orgs/{org}/runs/{id}/register.xlsx", get(register))
}

/// Columns that name a person; an analyst's results leave them out.
const PERSONAL: [&str; 5] = ["name", "uan", "esic_no", "bank_account_masked", "pan_masked"];

/// The run, if its results are written.
pub(super) async fn calculated(ctx: &App, org: &str, id: &str) -> Result<Run> {
    let run = runs::get(&ctx.db, org, id).await?;
    match run.status {
        RunStatus::Calculated | RunStatus::Finalizing | RunStatus::Finalized => Ok(run),
        status => Err(Error::Conflict(format!(
            "run {id} is {status}: results exist once it is calculated"
        ))),
    }
}

/// Which columns the caller may read: all with `pay:view`, all but the personal ones with
/// `results:anonymized`.
fn readable_columns(user: &Caller, org: &str, batch: Option<&RecordBatch>) -> Result<Vec<usize>> {
    user.org(org)?;
    let anonymized = if user.can(Permission::ViewPay) {
        false
    } else if user.can(Permission::ReadAnonymizedResults) {
        true
    } else {
        return Err(Error::Missing(Permission::ViewPay));
    };
    let Some(batch) = batch else {
        return Ok(Vec::new());
    };
    Ok(batch
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| !(anonymized && PERSONAL.contains(&f.name().as_str())))
        .map(|(i, _)| i)
        .collect())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 1000; 100 by default.
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the page before.
    #[param(pattern = "^[0-9]+$")]
    pub page_token: Option<String>,
    /// Only workers whose id, or name (for callers who may read names), contains this, any
    /// case; pages and their tokens then count matching workers only.
    #[param(max_length = 100)]
    pub q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResultsPage {
    pub run_id: String,
    /// One object per worker: inputs and components, amounts as decimal strings.
    #[schema(value_type = Vec<serde_json::Map<String, serde_json::Value>>)]
    pub rows: Vec<WorkerRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A run's results, a page of workers at a time.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/results", tag = "results",
    params(("org" = String, Path), ("id" = String, Path), PageQuery),
    responses((status = 200, body = ResultsPage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn results_json(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<ResultsPage>> {
    readable_columns(&user, &org, None)?;
    let offset = Offset::of(page.page_size, page.page_token.as_deref())?;
    let needle = match page.q.as_deref().map(str::trim) {
        Some(q) if q.chars().count() > 100 => return Err(Error::invalid("q", "at most 100 characters")),
        Some(q) if !q.is_empty() => Some(q.to_lowercase()),
        _ => None,
    };
    let run = calculated(&ctx, &org, &id).await?;
    let results = ctx.results.get(&ctx, &run).await?;
    let columns = readable_columns(&user, &org, results.batches.first())?;
    let shown: Arc<[bool]> = (0..results.batches.first().map_or(0, RecordBatch::num_columns))
        .map(|i| columns.contains(&i))
        .collect();
    let mut rows = Vec::with_capacity(offset.size);
    let mut seen = 0;
    for (b, batch) in results.batches.iter().enumerate() {
        // Searched only in what the caller may read: an anonymized caller cannot find a worker
        // by name.
        let schema = batch.schema();
        let searched: Vec<usize> = ["worker_id", "name"]
            .iter()
            .filter_map(|name| schema.index_of(name).ok())
            .filter(|i| columns.contains(i))
            .collect();
        for row in 0..batch.num_rows() {
            if let Some(needle) = &needle {
                let found = searched.iter().any(|&i| {
                    array_value_to_string(batch.column(i), row)
                        .is_ok_and(|v| v.to_lowercase().contains(needle.as_str()))
                });
                if !found {
                    continue;
                }
            }
            if seen >= offset.start && rows.len() < offset.size {
                rows.push(results.row(b, row).only(Arc::clone(&shown)));
            }
            seen += 1;
        }
    }
    let next = offset.next(rows.len(), offset.start + rows.len() < seen);
    Ok(Json(ResultsPage {
        run_id: run.id,
        rows,
        next_page_token: next,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArrearsQuery {
    /// Only this worker's arrears.
    pub worker_id: Option<String>,
    /// 1 to 1000; 100 by default.
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the page before.
    #[param(pattern = "^[0-9]+$")]
    pub page_token: Option<String>,
}

/// One component's difference for a worker and an earlier, locked period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArrearBody {
    pub worker_id: String,
    /// The locked period the difference is for, `YYYY-MM`.
    pub original_period: String,
    pub component: String,
    /// What was paid for it: the locked run and arrears settled since (a decimal string).
    pub paid: String,
    /// What the period gives now, with the late events.
    pub recomputed: String,
    /// `recomputed - paid`: negative for a recovery.
    pub arrear: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ArrearsPage {
    pub run_id: String,
    pub arrears: Vec<ArrearBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// The arrears a run carries for earlier, locked periods, by worker, original period and
/// component; their net per worker is its results' `arrears_net`.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/arrears", tag = "results",
    params(("org" = String, Path), ("id" = String, Path), ArrearsQuery),
    responses((status = 200, body = ArrearsPage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn arrears(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ArrearsQuery>,
) -> Result<Json<ArrearsPage>> {
    readable_columns(&user, &org, None)?;
    let offset = Offset::of(query.page_size, query.page_token.as_deref())?;
    let run = calculated(&ctx, &org, &id).await?;
    let carried = read_arrears(&ctx.store, &org, &run.period.to_string(), &run.id).await?;
    let mut matching = carried
        .into_iter()
        .filter(|a| query.worker_id.as_ref().is_none_or(|w| *w == a.worker_id));
    let arrears: Vec<ArrearBody> = matching
        .by_ref()
        .skip(offset.start)
        .take(offset.size)
        .map(|a| ArrearBody {
            worker_id: a.worker_id,
            original_period: a.original_period.to_string(),
            component: a.component,
            paid: a.paid.to_string(),
            recomputed: a.recomputed.to_string(),
            arrear: a.arrear.to_string(),
        })
        .collect();
    let next = offset.next(arrears.len(), matching.next().is_some());
    Ok(Json(ArrearsPage {
        run_id: run.id,
        arrears,
        next_page_token: next,
    }))
}

/// A run's results as CSV, one row per worker.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/results.csv", tag = "results",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn results_csv(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Response> {
    readable_columns(&user, &org, None)?;
    let run = calculated(&ctx, &org, &id).await?;
    let results = ctx.results.get(&ctx, &run).await?;
    let batches = &results.batches;
    let columns = readable_columns(&user, &org, batches.first())?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| Error::Internal(format!("writing CSV: {e}"));
    if let Some(first) = batches.first() {
        let schema = first.schema();
        out.write_record(
            columns
                .iter()
                .map(|&i| neutralise(schema.field(i).name().as_str()).into_owned()),
        )
        .map_err(csv_error)?;
    }
    for batch in batches.iter() {
        for row in 0..batch.num_rows() {
            // A decimal is a string here too: `neutralise` leaves numbers as they are.
            out.write_record(columns.iter().map(|&i| match cell(batch.column(i).as_ref(), row) {
                Value::String(s) => neutralise(s).into_owned(),
                Value::Null => String::new(),
                other => neutralise(other.to_string()).into_owned(),
            }))
            .map_err(csv_error)?;
        }
    }
    let bytes = out.into_inner().map_err(|e| Error::Internal(e.to_string()))?;
    audit::downloaded(&ctx, &user, Action::ResultsDownload, &format!("runs/{id}/results.csv")).await?;
    Ok(download(
        bytes,
        "text/csv; charset=utf-8",
        &format!("results-{org}-{}-{id}.csv", run.period),
    ))
}

/// A run's results as Parquet (decimal columns), as any engine reads them.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/results.parquet", tag = "results",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, content_type = "application/vnd.apache.parquet", body = Vec<u8>),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn results_parquet(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Response> {
    readable_columns(&user, &org, None)?;
    let run = calculated(&ctx, &org, &id).await?;
    let name = format!("results-{org}-{}-{id}.parquet", run.period);
    audit::downloaded(
        &ctx,
        &user,
        Action::ResultsDownload,
        &format!("runs/{id}/results.parquet"),
    )
    .await?;
    // A run written in one part is served as written; one of several parts is read whole.
    let parts = results_parts(&ctx.store, &org, &run.period.to_string(), &id).await?;
    if user.can(Permission::ViewPay)
        && let [part] = parts.as_slice()
    {
        let bytes = ctx.store.get(part).await?;
        return Ok(download(bytes, "application/vnd.apache.parquet", &name));
    }
    let results = ctx.results.get(&ctx, &run).await?;
    let columns = readable_columns(&user, &org, results.batches.first())?;
    let projected: Vec<RecordBatch> = results
        .batches
        .iter()
        .map(|b| b.project(&columns))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let bytes = payroll_connectors::results::parquet(&projected)?;
    Ok(download(bytes, "application/vnd.apache.parquet", &name))
}

/// How each component of one worker's pay was computed in this run.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/workers/{worker}/explain", tag = "results",
    params(("org" = String, Path), ("id" = String, Path), ("worker" = String, Path)),
    responses((status = 200, description = "Each component with its formula, the values it used and its result", body = Object),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn explain(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id, worker)): ApiPath<(String, String, String)>,
) -> Result<Json<payroll_pipeline::explain::Explanation>> {
    user.may_see_pay_of(&org, &worker, Permission::ViewPay)?;
    let run = calculated(&ctx, &org, &id).await?;
    let record = read_run(&ctx.store, &run.id).await?;
    match payroll_pipeline::explain::explain(&ctx.store, &record, &worker).await {
        Ok(explanation) => Ok(Json(explanation)),
        Err(payroll_pipeline::Error::WorkerNotInRun { .. }) => {
            Err(Error::NotFound(format!("worker `{worker}` in run {id}")))
        }
        Err(payroll_pipeline::Error::WorkerNotComputed { errors, .. }) => {
            let why: Vec<String> = errors
                .iter()
                .map(|e| format!("component `{}`: {}", e.component, e.reason))
                .collect();
            Err(Error::NotFound(format!(
                "a result of worker `{worker}` in run {id} (the run could not compute it: {})",
                why.join("; ")
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// A worker's payslip, `{worker}.pdf` or `{worker}.xlsx`, once the run is finalized.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/payslips/{file}", tag = "payslips",
    params(("org" = String, Path), ("id" = String, Path), ("file" = String, Path, description = "`<worker_id>.pdf` or `<worker_id>.xlsx`")),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn payslip(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id, file)): ApiPath<(String, String, String)>,
) -> Result<Response> {
    let (worker, content_type) = match file.rsplit_once('.') {
        Some((worker, "pdf")) => (worker, "application/pdf"),
        Some((worker, "xlsx")) => (worker, Format::Xlsx.content_type()),
        _ => {
            return Err(Error::NotFound(format!(
                "`{file}`: payslips are `<worker_id>.pdf` or `<worker_id>.xlsx`"
            )));
        }
    };
    if worker.is_empty()
        || !worker
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::NotFound(format!("payslip `{file}`")));
    }
    user.may_see_pay_of(&org, worker, Permission::DownloadPayslips)?;
    let run = finalized(&ctx, &org, &id).await?;
    let path = layout::payslips_dir(&org, &run.period.to_string(), &id).join(file.as_str());
    audit::downloaded(
        &ctx,
        &user,
        Action::PayslipDownload,
        &format!("runs/{id}/payslips/{file}"),
    )
    .await?;
    let bytes = ctx
        .store
        .get_opt(&path)
        .await?
        .ok_or_else(|| Error::NotFound(format!("payslip `{file}` in run {id}")))?;
    Ok(download(bytes, content_type, &file))
}

/// The payroll register of the run's org, once the run is finalized.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/register.xlsx", tag = "payslips",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn register(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Response> {
    user.may(&org, Permission::DownloadRegister)?;
    let run = finalized(&ctx, &org, &id).await?;
    let path = layout::payslips_dir(&org, &run.period.to_string(), &id).join("register.xlsx");
    audit::downloaded(
        &ctx,
        &user,
        Action::RegisterDownload,
        &format!("runs/{id}/register.xlsx"),
    )
    .await?;
    let bytes = ctx.store.get(&path).await?;
    Ok(download(
        bytes,
        Format::Xlsx.content_type(),
        &format!("register-{org}-{}-{id}.xlsx", run.period),
    ))
}

pub(super) async fn finalized(ctx: &App, org: &str, id: &str) -> Result<Run> {
    let run = runs::get(&ctx.db, org, id).await?;
    if run.status != RunStatus::Finalized {
        return Err(Error::Conflict(format!(
            "run {id} is {}: payslips and the register are written when an approved final run is finalized",
            run.status
        )));
    }
    Ok(run)
}

pub(super) fn download(bytes: impl Into<Body>, content_type: &str, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes.into(),
    )
        .into_response()
}
