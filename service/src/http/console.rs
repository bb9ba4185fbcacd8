//! The web console: static HTML, CSS and ES modules compiled into the binary and served from `/`
//! and `/console/...`, with a strict Content-Security-Policy (no inline script or style, no
//! origin but this one and the sign-in provider). The console talks only to the `/v1` API with
//! the user's bearer token; it is no second API.
//!
//! `/console/config.json` tells the console how to sign in: through the configured OpenID
//! Connect provider, or (the embedded demo only) with one button per role, whose token comes from
//! `POST /console/demo-token`. That route exists only when the service runs its embedded demo
//! month on loopback with a key that can sign, the same tokens `payroll serve` prints at start.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::Extension;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::App;
use super::extractor::{ApiJson, ApiPath};
use crate::config::ServeConfig;
use crate::error::{Error, Result};

/// Every file of the console: name under `/console/`, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("index.html", HTML, include_bytes!("../../console/index.html")),
    ("app.css", CSS, include_bytes!("../../console/app.css")),
    ("app.js", JS, include_bytes!("../../console/app.js")),
    ("api.js", JS, include_bytes!("../../console/api.js")),
    ("auth.js", JS, include_bytes!("../../console/auth.js")),
    ("format.js", JS, include_bytes!("../../console/format.js")),
    ("ui.js", JS, include_bytes!("../../console/ui.js")),
    ("pages/runs.js", JS, include_bytes!("../../console/pages/runs.js")),
    ("pages/run.js", JS, include_bytes!("../../console/pages/run.js")),
    ("pages/periods.js", JS, include_bytes!("../../console/pages/periods.js")),
    (
        "pages/insights.js",
        JS,
        include_bytes!("../../console/pages/insights.js"),
    ),
    (
        "pages/adjustments.js",
        JS,
        include_bytes!("../../console/pages/adjustments.js"),
    ),
    ("pages/uploads.js", JS, include_bytes!("../../console/pages/uploads.js")),
    ("pages/audit.js", JS, include_bytes!("../../console/pages/audit.js")),
    (
        "pages/schedule.js",
        JS,
        include_bytes!("../../console/pages/schedule.js"),
    ),
    ("pages/roles.js", JS, include_bytes!("../../console/pages/roles.js")),
    ("pages/mypay.js", JS, include_bytes!("../../console/pages/mypay.js")),
    ("pages/payouts.js", JS, include_bytes!("../../console/pages/payouts.js")),
    (
        "pages/previews.js",
        JS,
        include_bytes!("../../console/pages/previews.js"),
    ),
    ("icon.svg", "image/svg+xml", include_bytes!("../../console/icon.svg")),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

pub fn router(config: &ServeConfig) -> axum::Router<App> {
    let mut router = Router::new()
        .route("/", get(index))
        .route("/console/config.json", get(console_config))
        .route("/console/{*file}", get(asset));
    if demo(config) {
        router = router.route("/console/demo-token", post(demo_token));
    }
    router
}

/// The embedded demo: no config file, and no inputs, stream or provider configured (the service
/// generated its demo month), bound to loopback. Only then may anyone who can reach the port
/// have a token per role, and are tokens printed at start.
pub fn demo(config: &ServeConfig) -> bool {
    config.file.is_none()
        && config.inputs.is_none()
        && config.state.is_none()
        && config.brokers.is_none()
        && config.auth.oidc.is_none()
        && config.auth.rs256_public_key.is_none()
        && config.listen.ip().is_loopback()
}

/// The policy every console response carries. `connect-src` adds the provider's origin: the
/// console reads its discovery document and exchanges the code there. Blob URLs are the payslip
/// previewed inline and the files downloaded with the token.
fn policy(config: &ServeConfig) -> String {
    let provider = config
        .auth
        .oidc
        .as_ref()
        .and_then(|o| origin(&o.issuer))
        .map_or_else(String::new, |o| format!(" {o}"));
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         connect-src 'self'{provider}; frame-src 'self' blob:; object-src 'self' blob:; base-uri 'none'; \
         form-action 'self'{provider}; frame-ancestors 'none'"
    )
}

/// `https://idp.example.com` of `https://idp.example.com/realms/x`.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    };
    (matches!(scheme, "http" | "https") && ok(host)).then(|| format!("{scheme}://{host}"))
}

fn secure(response: &mut Response, config: &ServeConfig) {
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&policy(config)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// Each asset's ETag, hashed once: a new binary's changed file is refetched, an unchanged one
/// answered 304.
fn etags() -> &'static Vec<String> {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(_, _, bytes)| format!("\"{}\"", hex::encode(&Sha256::digest(bytes)[..12])))
            .collect()
    })
}

fn serve(ctx: &App, name: &str, headers: &HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|(n, _, _)| *n == name) else {
        let mut response = (StatusCode::NOT_FOUND, "no such file in the console").into_response();
        secure(&mut response, &ctx.config);
        return response;
    };
    let (_, content_type, bytes) = ASSETS[i];
    let etag = &etags()[i];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
    };
    let h = response.headers_mut();
    // Revalidated on each load: an upgraded binary's console is never mixed with a cached one.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, etag);
    }
    secure(&mut response, &ctx.config);
    response
}

async fn index(State(ctx): State<App>, headers: HeaderMap) -> Response {
    serve(&ctx, "index.html", &headers)
}

async fn asset(State(ctx): State<App>, ApiPath(file): ApiPath<String>, headers: HeaderMap) -> Response {
    serve(&ctx, &file, &headers)
}

/// How the console signs in; nothing secret (a public client has no secret).
async fn console_config(State(ctx): State<App>) -> Response {
    let config = &ctx.config;
    let body = if let Some(oidc) = &config.auth.oidc {
        json!({"auth": "oidc", "issuer": oidc.issuer, "client_id": oidc.client_id, "scopes": oidc.scopes,
            "org_claim": oidc.org_claim, "roles_claim": oidc.roles_claim})
    } else if let Some(demo) = demo(config).then(|| crate::demo::demo_tokens(&ctx)).flatten() {
        let roles: Vec<&str> = demo.tokens.iter().map(|(role, _)| role.as_str()).collect();
        json!({"auth": "demo", "org": demo.org, "worker": demo.worker, "roles": roles})
    } else {
        json!({"auth": "token"})
    };
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(&mut response, config);
    response
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoRole {
    role: String,
}

/// The address the service listens on (known once bound), for [`loopback_host`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Listening(pub SocketAddr);

/// A page of another site whose name its owner points at 127.0.0.1 (DNS rebinding) reaches the
/// demo's port from the visitor's browser, same-origin to that page, but the browser sends the
/// page's name as `Host`. Only this service's loopback names and port get a token.
fn loopback_host(headers: &HeaderMap, port: u16) -> Result<()> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (name, at) = match host.rsplit_once(':') {
        Some((name, at)) if !at.contains(']') => (name, at.parse::<u16>().ok()),
        // No port: a browser leaves out HTTP's 80.
        _ => (host, Some(80)),
    };
    let loopback = name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "[::1]";
    if loopback && at == Some(port) {
        return Ok(());
    }
    Err(Error::Forbidden(format!(
        "the demo's tokens are given only to requests whose Host is this service on loopback \
         (127.0.0.1:{port}, localhost:{port} or [::1]:{port}), not `{host}`: open the console at one of those"
    )))
}

/// A token for one of the demo's roles (embedded demo on loopback only; see [`demo`]), asked
/// for by this service's own console ([`loopback_host`]).
async fn demo_token(
    State(ctx): State<App>,
    Extension(Listening(addr)): Extension<Listening>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<DemoRole>,
) -> Result<Response> {
    loopback_host(&headers, addr.port())?;
    let demo = crate::demo::demo_tokens(&ctx).ok_or_else(|| Error::NotFound("no demo tokens here".into()))?;
    let (role, token) = demo
        .tokens
        .iter()
        .find(|(role, _)| *role == body.role)
        .ok_or_else(|| Error::invalid("role", format!("`{}` is not a role of the demo", body.role)))?;
    let sub = if role == "worker" {
        demo.worker.clone()
    } else {
        format!("demo-{role}")
    };
    let mut response = Json(json!({"token": token, "org": demo.org, "sub": sub, "role": role})).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(&mut response, &ctx.config);
    Ok(response)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_console_file_is_served_and_nothing_else() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut on_disk = Vec::new();
        for sub in ["", "pages"] {
            for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    let name = path.strip_prefix(&dir).unwrap().display().to_string();
                    on_disk.push(name);
                }
            }
        }
        on_disk.sort();
        let mut served: Vec<String> = ASSETS.iter().map(|(n, _, _)| n.to_string()).collect();
        served.sort();
        assert_eq!(on_disk, served, "service/console/ and ASSETS must list the same files");
    }

    #[test]
    fn the_policy_allows_only_this_origin_and_the_provider() {
        assert_eq!(
            origin("https://idp.example.com/realms/acme").as_deref(),
            Some("https://idp.example.com")
        );
        assert_eq!(
            origin("http://127.0.0.1:4000").as_deref(),
            Some("http://127.0.0.1:4000")
        );
        assert_eq!(origin("javascript:alert(1)"), None);
        assert_eq!(origin("https://a.example; script-src *"), None);
    }
}
