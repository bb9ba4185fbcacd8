//! What operators and tools read without a token: liveness, readiness, metrics and the OpenAPI
//! document. None of them carries pay or personal data.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::App;

pub fn router() -> Router<App> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(|| async { Json(openapi()) }))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "payroll", description = "Exact, fast payroll for contract and blue-collar workforces: runs, approvals, worker errors and exclusions, locked periods, results, payslips and schedules."),
    paths(
        super::runs::trigger, super::runs::list, super::runs::read, super::runs::approve, super::runs::reject,
        super::runs::cancel, super::runs::events, super::runs::worker_errors, super::runs::exclude,
        super::findings::list, super::findings::acknowledge, super::findings::acknowledge_check,
        super::variance::csv, super::variance::xlsx,
        super::insights::insights, super::insights::csv, super::insights::today, super::insights::today_events,
        super::previews::create, super::previews::read, super::previews::workers,
        super::previews::results_parquet, super::previews::results_csv,
        super::dead_letters::list, super::dead_letters::csv_file,
        super::results::results_json, super::results::results_csv, super::results::results_parquet,
        super::results::arrears,
        super::results::explain, super::results::payslip, super::results::register,
        super::pay::pay, super::pay::worker_periods, super::pay::periods, super::pay::period,
        super::schedule::read, super::schedule::write,
        super::audit::list,
        super::adjustments::request, super::adjustments::list, super::adjustments::read,
        super::adjustments::approve, super::adjustments::reject,
        super::adjustments::approve_upload, super::adjustments::reject_upload,
        super::roles::list, super::roles::read, super::roles::write,
        super::uploads::create, super::uploads::list, super::uploads::read,
        super::uploads::errors_xlsx, super::uploads::errors_csv, super::uploads::changes,
        super::payouts::create, super::payouts::list, super::payouts::read, super::payouts::pain001, super::payouts::neft,
        super::payouts::exceptions, super::payouts::returns, super::payouts::list_returns,
        super::payouts::approve_return, super::payouts::reject_return,
        super::returns::ecr, super::returns::esic, super::returns::exceptions,
        super::notices::list, super::notices::retry, super::notices::list_of_upload,
        super::notices::retry_of_upload, super::notices::signed_payslip,
        super::me::me,
        healthz, readyz, metrics,
    ),
    modifiers(&Bearer),
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The OpenAPI 3 document of this API, generated from the handlers' annotations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub database: String,
    pub object_store: String,
    /// Stream mode: `ok` once the brokers answered and the assigned shards are restored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
}

/// The database and the object store answer (and, in stream mode, the stream runs).
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn readyz(State(ctx): State<App>) -> impl IntoResponse {
    let database = match ctx.db.ping().await {
        Ok(()) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    let object_store = match ctx.store.head(&object_store::path::Path::from("runs")).await {
        Ok(_) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    let stream = ctx.live.as_ref().map(|live| {
        if live.running() {
            "ok"
        } else {
            "starting: waiting for the brokers and the topics"
        }
        .to_string()
    });
    let ready = database == "ok" && object_store == "ok" && stream.as_deref().is_none_or(|s| s == "ok");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready,
            database,
            object_store,
            stream,
        }),
    )
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(ctx): State<App>) -> impl IntoResponse {
    ctx.metrics.uploads_receiving(ctx.receiving.total());
    if let Some(live) = &ctx.live {
        ctx.metrics.observe_stream(&live.status);
        match live.worker_errors().await {
            Ok(workers) => ctx.metrics.live_worker_errors(workers),
            Err(e) => tracing::warn!(error = %e, "reading the live results for their worker errors"),
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        ctx.metrics.render(),
    )
}
