//! The HTTP API: one context shared by every handler, one error type, the `AuthUser` extractor
//! on every `/v1` route. Each resource module owns its wire structs and its `router()`; this
//! module merges them and adds request ids, tracing and metrics once.

mod adjustments;
mod audit;
pub(crate) mod console;
mod dead_letters;
mod error;
mod extractor;
mod me;
mod notices;
mod ops;
mod pay;
mod payouts;
mod results;
mod returns;
mod roles;
mod runs;
mod schedule;
mod uploads;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use payroll_connectors::Store;
use payroll_pipeline::Source;
use payroll_rules::Ruleset;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::auth::{Keys, Roles};
use crate::config::ServeConfig;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::worker::Compute;

pub use extractor::AuthUser;
pub use ops::openapi;
pub use results::{ResultsCache, Rows};

/// Everything a handler, the run worker and the scheduler share.
#[derive(Clone)]
pub struct ApiContext {
    pub config: Arc<ServeConfig>,
    pub db: Db,
    /// Results and payslips.
    pub store: Store,
    pub keys: Arc<Keys>,
    /// The config's roles: what each org's roles in the database start from.
    pub roles: Arc<Roles>,
    /// Each org's roles as this instance last read them from the database.
    pub role_tables: Arc<crate::db::roles::RoleTables>,
    pub rulesets: Arc<Rulesets>,
    /// Where runs read their inputs: files mode's folder, or a stream's state.
    pub source: Arc<Source>,
    /// Wakes the run worker when a run is queued or approved.
    pub work: Arc<Notify>,
    /// This process, as it names itself on the runs it claims.
    pub instance: Arc<str>,
    pub compute: Compute,
    pub metrics: Arc<Metrics>,
    pub results: Arc<ResultsCache>,
    /// Uploads this process is receiving, per org (`[uploads] max_in_progress`).
    pub receiving: Arc<uploads::Receiving>,
    /// Stream mode: the stream this service consumes, and its live pay.
    pub live: Option<Arc<crate::live::LiveStream>>,
    /// Signs and checks the payslip links notices carry.
    pub link_key: crate::notices::link::LinkKey,
    /// Seals raw uploads and payout files with the checkpoint key, if one is set.
    pub at_rest: crate::at_rest::AtRest,
}

impl ApiContext {
    /// A request id unique across instances: this instance's name and a counter.
    fn next_request_id(&self) -> String {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        format!(
            "{}-{:x}",
            self.instance,
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    }
}

/// The id of the request being answered, for the audit log.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The default ruleset and the orgs that have their own.
pub struct Rulesets {
    pub default: Arc<Ruleset>,
    pub by_org: BTreeMap<String, Arc<Ruleset>>,
}

impl Rulesets {
    pub fn of(&self, org: &str) -> Arc<Ruleset> {
        Arc::clone(self.by_org.get(org).unwrap_or(&self.default))
    }
}

pub fn router(ctx: ApiContext) -> Router {
    Router::new()
        .merge(runs::router())
        .merge(results::router())
        .merge(dead_letters::router())
        .merge(pay::router())
        .merge(schedule::router())
        .merge(audit::router())
        .merge(adjustments::router())
        .merge(roles::router())
        .merge(uploads::router())
        .merge(payouts::router())
        .merge(returns::router())
        .merge(notices::router())
        .merge(ops::router())
        .merge(me::router())
        .merge(console::router(&ctx.config))
        .layer(middleware::from_fn_with_state(ctx.clone(), deadline))
        .layer(middleware::from_fn_with_state(ctx.clone(), observe))
        .with_state(ctx)
}

/// Answers 503 when a request takes longer than `[http] request_timeout` to answer, so a slow
/// client or a stuck dependency holds no task for long. Not uploads, whose body arrives while
/// the handler runs (`[uploads] max_in_progress` bounds them), nor server-sent events, whose
/// response streams after the handler has returned.
async fn deadline(State(ctx): State<ApiContext>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let exempt = match route.as_deref() {
        Some("/v1/orgs/{org}/uploads") => request.method() == axum::http::Method::POST,
        Some(route) => route.ends_with("/events"),
        None => false,
    };
    let limit = ctx.config.http.request_timeout;
    if exempt {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => axum::response::IntoResponse::into_response(crate::error::Error::Unavailable(format!(
            "no answer within {} ([http] request_timeout): try again later",
            humantime::format_duration(limit)
        ))),
    }
}

/// Gives each request an id of the server's own (answered as `X-Request-Id`: a client cannot
/// choose the id the audit log records, nor make two requests share one), a span that carries
/// it, the client's own `X-Request-Id` beside it if it sent one, and the matched route, and its
/// latency in the metrics. The `Authorization` header is never logged.
async fn observe(State(ctx): State<ApiContext>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let request_id = ctx.next_request_id();
    // The client's id, to find its request in our logs; only what cannot forge a log line.
    let client_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or_default()
        .to_string();
    request.extensions_mut().insert(RequestId(request_id.clone()));
    let method = request.method().clone();
    let span = tracing::info_span!("request", id = %request_id, client_id, %method, %route);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    ctx.metrics
        .observe_request(&route, method.as_str(), status.as_u16(), started.elapsed());
    span.in_scope(|| {
        tracing::debug!(
            status = status.as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "answered"
        )
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
