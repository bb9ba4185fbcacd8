//! Tokens and idempotency keys, tried as an attacker would: a token meant for another service
//! (`aud`) or from another issuer (`iss`), one not valid yet (`nbf`), one living a month, of
//! every kind the service accepts (HS256, RS256, an OpenID Connect provider's); a caller sending
//! the scheduler's next `Idempotency-Key` first, so that the nightly runs stop; two callers, of
//! one org or of two, sending the same key. Token checks do not touch the database: SQLite is
//! enough for them; the keys are tried on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::path::PathBuf;

use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use payroll_service::auth::{claims, now_epoch};
use payroll_service::domain::schedule;
use payroll_service::{ServeConfig, Service, db, jobs};
use serde_json::{Value, json};

const ISSUER: &str = "https://payroll.example";
const AUDIENCE: &str = "payroll-api";
const DAY: u64 = 24 * 3600;

/// A P-256 key for the test provider (the one `src/oidc.rs`'s tests use), and its public half
/// as a JWK.
const EC_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzVwb+wdp9GpcayZF
cA+TMTyz7kbOpm9KsuXl89o0mfuhRANCAATOtpC2W53neXpR6CZNG2PN5NRFcH+8
2q929CcRSpehQMI2bEP2nX9xh7EjpJRY+64U6xnRCuS4NVUx1Z6kphIX
-----END PRIVATE KEY-----
";
const EC_X: &str = "zraQtlud53l6UegmTRtjzeTURXB_vNqvdvQnEUqXoUA";
const EC_Y: &str = "wjZsQ_adf3GHsSOklFj7rhTrGdEK5Lg1VTHVnqSmEhc";

/// An RSA key made for these tests (`openssl genpkey -algorithm RSA`): the identity provider's
/// private half signs, the service is given the public half.
fn rsa(name: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tokens")
        .join(name)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hs256,
    Rs256,
    Oidc,
}

/// A signer of one kind and the `[auth]` section that makes the service accept it.
struct Signer {
    kind: Kind,
    /// The OpenID Connect provider's issuer URL, for `Kind::Oidc`.
    provider: String,
}

impl Signer {
    async fn new(kind: Kind) -> Signer {
        let provider = if kind == Kind::Oidc {
            provider().await
        } else {
            String::new()
        };
        Signer { kind, provider }
    }

    /// `[auth]` with `extra` keys in it.
    fn auth(&self, extra: &str) -> String {
        match self.kind {
            Kind::Hs256 => format!("[auth]\nhs256_secret = {SECRET:?}\n{extra}\n"),
            Kind::Rs256 => format!("[auth]\nrs256_public_key = {:?}\n{extra}\n", rsa("rs256.pub.pem")),
            Kind::Oidc => format!(
                "[auth]\nhs256_secret = {SECRET:?}\n{extra}\n[auth.oidc]\nissuer = {:?}\nclient_id = \"console\"\n",
                self.provider
            ),
        }
    }

    /// A token for org0's HR admin, issued now for ten minutes, with `more` over its claims (a
    /// null removes one). The provider's tokens name it as issuer and the console as audience.
    fn sign(&self, more: Value) -> String {
        let now = now_epoch();
        let mut body = json!({"sub": "hr1", "org": "org0", "roles": ["hr_admin"], "iat": now, "exp": now + 600});
        if self.kind == Kind::Oidc {
            body["iss"] = json!(self.provider);
            body["aud"] = json!("console");
        }
        let object = body.as_object_mut().unwrap();
        for (name, value) in more.as_object().unwrap() {
            match value {
                Value::Null => object.remove(name),
                value => object.insert(name.clone(), value.clone()),
            };
        }
        let (header, key) = match self.kind {
            Kind::Hs256 => (
                Header::new(Algorithm::HS256),
                EncodingKey::from_secret(SECRET.as_bytes()),
            ),
            Kind::Rs256 => (
                Header::new(Algorithm::RS256),
                EncodingKey::from_rsa_pem(&std::fs::read(rsa("rs256.pem")).unwrap()).unwrap(),
            ),
            Kind::Oidc => {
                let mut header = Header::new(Algorithm::ES256);
                header.kid = Some("k1".to_string());
                (header, EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap())
            }
        };
        jsonwebtoken::encode(&header, &body, &key).unwrap()
    }
}

/// An OpenID Connect provider on loopback publishing the P-256 key as `k1`; its issuer URL.
async fn provider() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")});
    let keys = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "kid": "k1", "use": "sig", "alg": "ES256"}]});
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(discovery) }),
        )
        .route("/jwks", get(move || async move { Json(keys) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

/// The service over the sample month with `auth` as its `[auth]` section.
async fn start(auth: &str) -> (tempfile::TempDir, Service) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata = {data:?}\nworkers = 0\n{files}\n{auth}",
        data = dir.path().join("data"),
        files = files(),
    );
    let config: ServeConfig = toml::from_str(&text).expect("a valid test config");
    let service = payroll_service::start(config).await.expect("the service starts");
    (dir, service)
}

/// Each token's answer to a read of org0's runs; the mismatches, described.
async fn tried(service: &Service, kind: Kind, cases: &[(&str, String, u16, &str)]) -> Vec<String> {
    let mut failures = Vec::new();
    for (what, token, status, reason) in cases {
        let reply = reqwest::Client::new()
            .get(format!("http://{}/v1/orgs/org0/runs", service.addr))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let got = reply.status().as_u16();
        let text = reply.text().await.unwrap();
        if got != *status || !text.to_lowercase().contains(reason) {
            failures.push(format!(
                "{kind:?} {what}: {got} (expected {status}, saying `{reason}`): {text}"
            ));
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_audience_or_from_another_issuer_is_refused() {
    let mut failures = Vec::new();
    for kind in [Kind::Hs256, Kind::Rs256, Kind::Oidc] {
        let signer = Signer::new(kind).await;
        let settings = format!("issuer = {ISSUER:?}\naudience = {AUDIENCE:?}\nmax_token_lifetime = \"1h\"");
        let (_dir, service) = start(&signer.auth(&settings)).await;
        let ours = json!({"iss": ISSUER, "aud": AUDIENCE});
        let mut cases = match kind {
            Kind::Hs256 | Kind::Rs256 => vec![
                ("iss and aud as configured", signer.sign(ours.clone()), 200, ""),
                (
                    "another service's audience",
                    signer.sign(json!({"iss": ISSUER, "aud": "another-service"})),
                    401,
                    "audience",
                ),
                (
                    "another issuer",
                    signer.sign(json!({"iss": "https://evil.example", "aud": AUDIENCE})),
                    401,
                    "issuer",
                ),
                ("no audience", signer.sign(json!({"iss": ISSUER})), 401, "aud"),
                ("no issuer", signer.sign(json!({"aud": AUDIENCE})), 401, "iss"),
                (
                    "two hours, over the configured hour",
                    signer.sign(json!({"iss": ISSUER, "aud": AUDIENCE, "exp": now_epoch() + 7200})),
                    401,
                    "lifetime",
                ),
            ],
            // The provider's tokens are held to its own issuer and the console's client id.
            Kind::Oidc => vec![
                ("the provider's, for the console", signer.sign(json!({})), 200, ""),
                (
                    "the provider's, for another client",
                    signer.sign(json!({"aud": "another-client"})),
                    401,
                    "audience",
                ),
                (
                    "another issuer",
                    signer.sign(json!({"iss": "https://evil.example"})),
                    401,
                    "issuer",
                ),
                ("no audience", signer.sign(json!({"aud": null})), 401, "aud"),
                (
                    "two hours, over the configured hour",
                    signer.sign(json!({"exp": now_epoch() + 7200})),
                    401,
                    "lifetime",
                ),
            ],
        };
        if kind == Kind::Hs256 {
            // What `payroll token` and the demo mint carries the configured issuer and audience.
            let minted = service
                .ctx
                .keys
                .mint(&claims(
                    "hr1",
                    "org0",
                    &["hr_admin".to_string()],
                    std::time::Duration::from_secs(600),
                ))
                .unwrap();
            cases.push(("minted by the service's keys", minted, 200, ""));
        }
        failures.extend(tried(&service, kind, &cases).await);
        service.shutdown().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_not_valid_yet_or_living_too_long_is_refused() {
    let mut failures = Vec::new();
    for kind in [Kind::Hs256, Kind::Rs256, Kind::Oidc] {
        let signer = Signer::new(kind).await;
        // The defaults: no issuer or audience configured, tokens live twelve hours at most.
        let (_dir, service) = start(&signer.auth("")).await;
        let now = now_epoch();
        let cases = [
            ("ten minutes", signer.sign(json!({})), 200, ""),
            (
                "twelve hours, the printed tokens' lifetime",
                signer.sign(json!({"exp": now + 12 * 3600})),
                200,
                "",
            ),
            (
                "not valid for another hour",
                signer.sign(json!({"nbf": now + 3600})),
                401,
                "not valid yet",
            ),
            (
                "thirty days",
                signer.sign(json!({"exp": now + 30 * DAY})),
                401,
                "lifetime",
            ),
            (
                "thirty days, no iat",
                signer.sign(json!({"iat": null, "exp": now + 30 * DAY})),
                401,
                "lifetime",
            ),
            (
                "thirty days, issued (it says) a minute before it expires",
                signer.sign(json!({"iat": now + 30 * DAY - 60, "exp": now + 30 * DAY})),
                401,
                "lifetime",
            ),
        ];
        failures.extend(tried(&service, kind, &cases).await);
        service.shutdown().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_belong_to_their_caller_and_the_scheduler_keeps_its_own() {
    for backend in backends() {
        a_caller_cannot_take_the_schedulers_key(backend).await;
        the_same_key_from_another_caller_is_another_key(backend).await;
    }
}

async fn a_caller_cannot_take_the_schedulers_key(backend: Backend) {
    let h = Harness::start(backend, "workers = 0").await;
    // Org0 and org1 run nightly at 02:00, the README's example. Org0's HR admin works out the
    // slot the scheduler owes now and its key (`schedule:<slot>`), and sends that key first.
    // Org0 sorts first: today the scheduler fails on org0's slot and never reaches org1.
    let since = Utc::now() - chrono::Duration::days(3);
    let now = Utc::now();
    let nightly = schedule::Schedule {
        org_id: "org0".into(),
        spec: schedule::Spec::parse("0 2 * * *", "Asia/Kolkata").unwrap(),
        updated_by: "hr1".into(),
        updated_at: since,
        last_slot: None,
    };
    let slot = schedule::due(&nightly, now).unwrap();
    let key = format!("schedule:{}", db::timestamp(slot));
    let attacker = h.token("mallory", "org0", "hr_admin");
    h.trigger("org0", &attacker, "2026-10", "provisional", &key).await;
    for org in ["org0", "org1"] {
        db::schedules::put(&h.service.ctx.db, org, "0 2 * * *", "Asia/Kolkata", "hr1", since)
            .await
            .unwrap();
    }
    let ticked = jobs::scheduler::tick(&h.service.ctx, now).await;
    assert_eq!(
        h.scheduled_runs("org1").await.len(),
        1,
        "{backend:?}: org1's nightly run is queued whatever org0 sent (tick: {ticked:?})"
    );
    assert_eq!(
        h.scheduled_runs("org0").await.len(),
        1,
        "{backend:?}: and org0's own, beside the run its caller asked for"
    );
    ticked.unwrap();

    // One org's failing tick (here a key row of the next slot the scheduler did not write, as a
    // caller could leave one before keys were scoped) costs no other org its run, and says which.
    let later = now + chrono::Duration::days(1);
    let schedule = db::schedules::get(&h.service.ctx.db, "org0").await.unwrap().unwrap();
    let next = schedule::due(&schedule, later).unwrap();
    sqlx::query(
        "INSERT INTO idempotency_keys (org_id, key, request_sha256, run_id, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind("org0")
    .bind(format!("schedule:{}", db::timestamp(next)))
    .bind("not the scheduler's")
    .bind("no-such-run")
    .bind(db::timestamp(now))
    .execute(h.service.ctx.db.pool())
    .await
    .unwrap();
    let failed = jobs::scheduler::tick(&h.service.ctx, later).await;
    assert_eq!(
        h.scheduled_runs("org1").await.len(),
        2,
        "{backend:?}: org1's next run is queued though org0's fails ({failed:?})"
    );
    let error = failed.unwrap_err().to_string();
    assert!(
        error.contains("org0"),
        "{backend:?}: the failure names the org: {error}"
    );
    h.stop().await;
}

async fn the_same_key_from_another_caller_is_another_key(backend: Backend) {
    let h = Harness::start(backend, "workers = 0").await;
    let hr1 = h.token("hr1", "org0", "hr_admin");
    let hr2 = h.token("hr2", "org0", "hr_admin");
    // Org1's HR admin happens to have org0's admin's user id too.
    let org1_hr1 = h.token("hr1", "org1", "hr_admin");

    let first = h.trigger("org0", &hr1, "2026-10", "provisional", "october").await;
    let other_org = h.trigger("org1", &org1_hr1, "2026-10", "provisional", "october").await;
    let other_caller = h.trigger("org0", &hr2, "2026-10", "provisional", "october").await;
    let retry = h.trigger("org0", &hr1, "2026-10", "provisional", "october").await;
    assert_eq!(retry, first, "{backend:?}: the caller's retry gets their run");
    assert_ne!(other_org, first, "{backend:?}: another org's caller gets their own run");
    assert_ne!(
        other_caller, first,
        "{backend:?}: another caller of the org gets their own run"
    );
    let run = h.get(&format!("/v1/orgs/org0/runs/{other_caller}"), &hr2).await.json();
    assert_eq!(run["requested_by"], "hr2", "{backend:?}");
    // Another caller's key with another request is theirs to use, not a conflict.
    let september = h.trigger("org0", &hr2, "2026-09", "provisional", "september").await;
    let reused = h
        .call(
            "POST",
            "/v1/orgs/org0/runs",
            Some(&hr1),
            Some(&json!({"period": "2026-11", "kind": "provisional"})),
            Some("september"),
        )
        .await;
    assert_eq!(reused.status, 202, "{backend:?}: {}", reused.text());
    assert_ne!(reused.json()["id"], september.as_str());

    // An adjustment: the second caller's request is theirs, waiting for a second person.
    let bonus = json!({"worker_id": "W000000", "period": "2026-10", "kind": "earning", "code": "bonus",
                       "amount": "1500.00", "reason": "festival bonus"});
    let mut requested = Vec::new();
    for token in [&hr1, &hr2] {
        let reply = h
            .call(
                "POST",
                "/v1/orgs/org0/adjustments",
                Some(token),
                Some(&bonus),
                Some("bonus"),
            )
            .await;
        assert_eq!(reply.status, 201, "{backend:?}: {}", reply.text());
        requested.push(reply.json());
    }
    assert_ne!(requested[0]["id"], requested[1]["id"], "{backend:?}");
    assert_eq!(requested[1]["requested_by"], "hr2", "{backend:?}");
    h.stop().await;
}
