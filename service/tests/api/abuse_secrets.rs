//! Secure by default, tried as an attacker would: a secret copied from the documentation, a
//! low-entropy or short one, ready tokens printed by a configured service, and a DNS-rebinding
//! page asking the demo for a token. Config-level checks: SQLite is enough.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::time::Duration;

use common::*;
use payroll_connectors::seal::Seal;
use payroll_service::auth::{Keys, claims};
use payroll_service::{ServeConfig, Service};
use serde_json::json;

/// A strong secret: 32 random bytes as 64 hex digits (`openssl rand -hex 32`).
const STRONG: &str = "9b3bcb8885304cc72abc9cccf937e2c07dafe59a6a9c0170981d073a4a74edc8";

/// The value `docker/.env.example` gives `name`: what an operator who copies the file runs with.
fn documented(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker/.env.example");
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} is no longer in {}", path.display()))
        .to_string()
}

/// Weak secrets, each with what makes it weak.
fn weak() -> Vec<(&'static str, String)> {
    vec![
        ("the docker placeholder", documented("PAYROLL_JWT_SECRET")),
        ("64 a's", "a".repeat(64)),
        // 31 random bytes, as hex (62 digits), base64 and raw: 248 bits however written.
        (
            "31 bytes as hex",
            "8749c5b38136f1bdc0c1df50891f675734d3ab4a0f48e9e15b330fb3a17d31".to_string(),
        ),
        (
            "31 bytes as base64",
            "h0nFs4E28b3Awd9QiR9nVzTTq0oPSOnhWzMPs6F9MQ==".to_string(),
        ),
        ("31 raw bytes", "Xq7#mP2$vL9@wR4!tN6&yB8*kD3^hF5".to_string()),
    ]
}

/// `payroll serve` over the sample month with `config` appended; the error chain if it does not
/// start. The directory lives as long as the service.
async fn start(config: &str) -> (tempfile::TempDir, Result<Service, String>) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata = {data:?}\n{files}\n{config}\n",
        data = dir.path().join("data"),
        files = files(),
    );
    let config: ServeConfig = toml::from_str(&text).expect("a valid test config");
    let started = payroll_service::start(config).await.map_err(|e| format!("{e:#}"));
    (dir, started)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weak_signing_secret_refuses_to_start_naming_the_key() {
    for (what, secret) in weak() {
        let (_dir, started) = start(&format!("[auth]\nhs256_secret = {secret:?}")).await;
        match started {
            Ok(service) => {
                service.shutdown().await;
                panic!("{what}: the service started signing tokens with `{secret}`");
            }
            Err(e) => assert!(e.contains("auth.hs256_secret"), "{what}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weak_link_secret_refuses_to_start_naming_the_key() {
    for (what, secret) in weak() {
        let config = format!("[auth]\nhs256_secret = {STRONG:?}\n[notices]\nlink_secret = {secret:?}");
        let (_dir, started) = start(&config).await;
        match started {
            Ok(service) => {
                service.shutdown().await;
                panic!("{what}: the service started signing payslip links with `{secret}`");
            }
            Err(e) => assert!(e.contains("notices.link_secret"), "{what}: {e}"),
        }
    }
}

/// The checkpoint key is 64 hex digits by format; `aaaa…` and the documented placeholder are
/// still no key. (`payroll serve` refusing it at start is in cli/tests/cli/service.rs: it is read
/// from the environment.)
#[test]
fn a_weak_checkpoint_key_is_refused_naming_the_variable() {
    for key in [documented("CHECKPOINT_KEY"), "a".repeat(64), "0".repeat(64)] {
        let error = Seal::from_hex(&key).map(|_| ()).unwrap_err().to_string();
        assert!(error.contains("PAYROLL_CHECKPOINT_KEY"), "{key}: {error}");
    }
    Seal::from_hex(STRONG).expect("a random key opens a seal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strong_secret_starts_and_signs() {
    for secret in [
        STRONG.to_string(),
        "sbOEBBbO5TNb5GfpXtcpZ6rlBTu9iVrUQVNw02aF9tc=".to_string(),
        // The other tests' secret: 45 raw bytes.
        SECRET.to_string(),
    ] {
        let config = format!("[auth]\nhs256_secret = {secret:?}\n[notices]\nlink_secret = {secret:?}");
        let (_dir, started) = start(&config).await;
        let service = started.unwrap_or_else(|e| panic!("{secret}: {e}"));
        let token = Keys::hs256(secret.as_bytes())
            .mint(&claims(
                "hr1",
                "org0",
                &["hr_admin".to_string()],
                Duration::from_secs(60),
            ))
            .unwrap();
        let me = reqwest::Client::new()
            .get(format!("http://{}/v1/me", service.addr))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200, "{secret}");
        service.shutdown().await;
    }
}

/// Ready tokens are for the generated demo only: a service over configured inputs (an
/// operator's files) has none to print, even on loopback. `payroll serve`'s stdout is checked in
/// cli/tests/cli/service.rs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ready_tokens_when_inputs_are_configured() {
    let h = Harness::start(Backend::Sqlite, "").await;
    assert!(h.service.addr.ip().is_loopback());
    let printed = h.service.tokens.as_ref().map(|t| t.tokens.len());
    h.stop().await;
    assert_eq!(printed, None, "ready tokens for a service over configured inputs");

    let demo = Harness::start_with(Backend::Sqlite, "", "").await;
    assert!(
        demo.service.tokens.is_some(),
        "the generated demo keeps its ready tokens"
    );
    demo.stop().await;
}

/// A page on `evil.example` whose name an attacker rebinds to 127.0.0.1 reaches the demo's port
/// from the victim's browser, with its own name in `Host`: no token for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_token_is_refused_to_another_host() {
    let h = Harness::start_with(Backend::Sqlite, "", "").await;
    let port = h.service.addr.port();
    let ask = |host: String| {
        reqwest::Client::new()
            .post(format!("{}/console/demo-token", h.base))
            .header("Host", host)
            .header("Content-Type", "application/json")
            .body(json!({"role": "hr_admin"}).to_string())
            .send()
    };
    for host in [
        format!("evil.example:{port}"),
        format!("127.0.0.1.evil.example:{port}"),
        "evil.example".to_string(),
        // A loopback name, but another port: another service's page.
        format!("localhost:{}", port.wrapping_add(1)),
    ] {
        let reply = ask(host.clone()).await.unwrap();
        let status = reply.status().as_u16();
        let body = reply.text().await.unwrap();
        assert_eq!(status, 403, "{host}: {body}");
        assert!(!body.contains("\"token\""), "{host}: {body}");
        assert!(body.contains("Host"), "{host}: the refusal says why: {body}");
    }
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LOCALHOST:{port}"),
        format!("[::1]:{port}"),
    ] {
        let reply = ask(host.clone()).await.unwrap();
        assert_eq!(reply.status(), 200, "{host}: {}", reply.text().await.unwrap());
    }
    h.stop().await;
}
