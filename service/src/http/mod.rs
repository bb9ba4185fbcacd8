//! The HTTP API over the [`App`]: one error type, the `Caller` extractor on every `/v1` route. Each resource module owns its wire structs and its `router()`; this
//! module merges them and adds request ids, tracing and metrics once.

mod adjustments;
mod audit;
pub(crate) mod console;
mod dead_letters;
mod error;
mod extractor;
mod findings;
mod insights;
mod me;
mod notices;
mod ops;
mod pay;
mod payouts;
mod previews;
mod results;
mod returns;
mod roles;
mod runs;
mod schedule;
mod uploads;
mod variance;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use tracing::Instrument;

use crate::app::App;

pub use ops::openapi;

/// The id of the request being answered, for the audit log.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub fn router(ctx: App) -> Router {
    Router::new()
        .merge(runs::router())
        .merge(findings::router())
        .merge(variance::router())
        .merge(insights::router())
        .merge(previews::router())
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
        .layer(middleware::from_fn_with_state(ctx.clone(), observe))
        .with_state(ctx)
}

/// Gives each request an id of the server's own (answered as `X-Request-Id`: a client cannot
/// choose the id the audit log records, nor make two requests share one), a span that carries
/// it, the client's own `X-Request-Id` beside it if it sent one, and the matched route, and its
/// latency in the metrics. The `Authorization` header is never logged.
///
/// Answers 503 when a request takes longer than `[http] request_timeout` to answer, so a slow
/// client or a stuck dependency holds no task for long. Not uploads, whose body arrives while
/// the handler runs (`[uploads] max_in_progress` bounds them), nor server-sent events, whose
/// response streams after the handler has returned. One middleware for both: each layer costs
/// every request a boxed future and a clone of the state.
async fn observe(State(ctx): State<App>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let exempt = match route.as_str() {
        "/v1/orgs/{org}/uploads" => request.method() == axum::http::Method::POST,
        route => route.ends_with("/events"),
    };
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
    let answer = next.run(request).instrument(span.clone());
    let limit = ctx.config.http.request_timeout;
    let mut response = match exempt {
        true => answer.await,
        false => match tokio::time::timeout(limit, answer).await {
            Ok(response) => response,
            Err(_) => axum::response::IntoResponse::into_response(crate::error::Error::Unavailable(format!(
                "no answer within {} ([http] request_timeout): try again later",
                humantime::format_duration(limit)
            ))),
        },
    };
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
