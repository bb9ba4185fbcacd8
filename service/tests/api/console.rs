//! The web console as the service serves it: its files with their content types, cache headers
//! and Content-Security-Policy; `/console/config.json` for each way of signing in; the demo's
//! token endpoint only in the embedded demo; `GET /v1/me`. The console itself is tested in a real
//! browser by `service/console/tests` (run by scripts/test).

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::*;
use serde_json::{Value, json};

async fn raw(h: &Harness, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}{path}", h.base));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_served_with_their_types_cache_headers_and_a_strict_policy() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let index = raw(&h, "/", &[]).await;
    assert_eq!(index.status(), 200);
    assert_eq!(header(&index, "content-type"), "text/html; charset=utf-8");
    let csp = header(&index, "content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "style-src 'self';",
        "frame-ancestors 'none'",
        "connect-src 'self';",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(header(&index, "x-content-type-options"), "nosniff");
    let html = index.text().await.unwrap();
    // No inline script: every <script> names its file.
    for tag in html.split("<script").skip(1) {
        assert!(
            tag.trim_start().contains("src=\"/console/"),
            "an inline script: <script{tag}"
        );
    }

    let js = raw(&h, "/console/app.js", &[]).await;
    assert_eq!(js.status(), 200);
    assert_eq!(header(&js, "content-type"), "text/javascript; charset=utf-8");
    assert_eq!(header(&js, "cache-control"), "no-cache");
    let etag = header(&js, "etag");
    assert!(etag.starts_with('"'), "{etag}");
    let again = raw(&h, "/console/app.js", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    assert_eq!(
        header(&raw(&h, "/console/app.css", &[]).await, "content-type"),
        "text/css; charset=utf-8"
    );
    let page = raw(&h, "/console/pages/run.js", &[]).await;
    assert_eq!(page.status(), 200);
    assert_eq!(raw(&h, "/console/../Cargo.toml", &[]).await.status(), 404);
    assert_eq!(raw(&h, "/console/nothing.js", &[]).await.status(), 404);

    // Files mode, no provider: the console asks for a token; no demo tokens for anyone.
    let config: Value =
        serde_json::from_str(&raw(&h, "/console/config.json", &[]).await.text().await.unwrap()).unwrap();
    assert_eq!(config, json!({"auth": "token"}));
    let demo = h
        .call(
            "POST",
            "/console/demo-token",
            None,
            Some(&json!({"role": "hr_admin"})),
            None,
        )
        .await;
    assert!(matches!(demo.status, 404 | 405), "{}", demo.status);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oidc_provider_is_named_to_the_console_and_in_the_policy_and_turns_the_demo_off() {
    // The embedded demo's inputs, but a provider configured: no demo tokens.
    let oidc = "[auth.oidc]\nissuer = \"https://idp.example.com/realms/acme\"\nclient_id = \"payroll-console\"\n\
                roles_claim = \"payroll_roles\"\n";
    let h = Harness::start_with(Backend::Sqlite, "", oidc).await;
    let response = raw(&h, "/console/config.json", &[]).await;
    assert_eq!(header(&response, "cache-control"), "no-store");
    let csp = header(&response, "content-security-policy");
    assert!(csp.contains("connect-src 'self' https://idp.example.com;"), "{csp}");
    let config: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(
        config,
        json!({"auth": "oidc", "issuer": "https://idp.example.com/realms/acme", "client_id": "payroll-console",
            "scopes": "openid profile", "org_claim": "org", "roles_claim": "payroll_roles"})
    );
    let demo = h
        .call(
            "POST",
            "/console/demo-token",
            None,
            Some(&json!({"role": "hr_admin"})),
            None,
        )
        .await;
    assert!(matches!(demo.status, 404 | 405), "{}", demo.status);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_demo_gives_a_token_per_role() {
    let h = Harness::start_with(Backend::Sqlite, "", "").await;
    let config: Value =
        serde_json::from_str(&raw(&h, "/console/config.json", &[]).await.text().await.unwrap()).unwrap();
    assert_eq!(config["auth"], "demo");
    let roles: Vec<&str> = config["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(roles.contains(&"hr_admin") && roles.contains(&"worker"), "{roles:?}");

    let reply = h
        .call(
            "POST",
            "/console/demo-token",
            None,
            Some(&json!({"role": "worker"})),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let token = reply.json()["token"].as_str().unwrap().to_string();
    let me = h.get("/v1/me", &token).await.json();
    assert_eq!(me["sub"], config["worker"]);
    assert_eq!(me["roles"], json!(["worker"]));
    assert_eq!(me["permissions"], json!(["pay:own"]));

    let unknown = h
        .call(
            "POST",
            "/console/demo-token",
            None,
            Some(&json!({"role": "root"})),
            None,
        )
        .await;
    assert_eq!(unknown.status, 422, "{}", unknown.text());
    h.stop().await;
}

/// The console's worker search: `q` over every worker of a run, by id or name; a caller who may
/// not read names (anonymized results) finds by id only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_searched_by_id_or_name_within_what_the_caller_may_read() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let run = h.trigger("org0", &hr, "2026-10", "provisional", "search").await;
    h.wait("org0", &run, &hr, "calculated").await;
    let ids = |reply: Reply| -> Vec<String> {
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["worker_id"].as_str().unwrap().to_string())
            .collect()
    };
    let path = |q: &str| format!("/v1/orgs/org0/runs/{run}/results?page_size=1000&q={q}");
    assert_eq!(ids(h.get(&path("w000000"), &hr).await), ["W000000"]);
    let mut by_name = ids(h.get(&path("WORKER%202"), &hr).await);
    by_name.sort();
    let named = named_in_october("org0", "worker 2");
    assert!(named.len() > 1, "the check needs several matches: {named:?}");
    assert_eq!(
        by_name, named,
        "every org0 worker of October named like \"worker 2\", and only those"
    );
    // Pages count matching workers only.
    let first = h
        .get(
            &format!("/v1/orgs/org0/runs/{run}/results?page_size=1&q=worker%202"),
            &hr,
        )
        .await
        .json();
    assert_eq!(first["rows"].as_array().unwrap().len(), 1);
    assert!(first["next_page_token"].is_string(), "{first}");

    let analyst = h.token("an1", "org0", "analyst");
    assert_eq!(ids(h.get(&path("W000002"), &analyst).await), ["W000002"]);
    assert!(ids(h.get(&path("worker%202"), &analyst).await).is_empty());
    let long = h.get(&path(&"x".repeat(101)), &hr).await;
    assert_eq!(long.status, 422, "{}", long.text());
    h.stop().await;
}

/// The sample master's workers of `org` employed in October 2026 (the run's workers) whose name
/// contains `needle` in any case, sorted: what a name search must return, read from the CSV
/// rather than from the service.
fn named_in_october(org: &str, needle: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_path(sample().join("workers.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (id, org_id, name, joined, exited) = (
        at("worker_id"),
        at("org_id"),
        at("name"),
        at("joined_on"),
        at("exited_on"),
    );
    let mut ids: Vec<String> = reader
        .records()
        .map(|r| r.unwrap())
        // ISO dates compare as text; an empty exit date means still employed.
        .filter(|r| {
            &r[org_id] == org && &r[joined] <= "2026-10-31" && (r[exited].is_empty() || &r[exited] >= "2026-10-01")
        })
        .filter(|r| r[name].to_lowercase().contains(needle))
        .map(|r| r[id].to_string())
        .collect();
    ids.sort();
    ids
}
