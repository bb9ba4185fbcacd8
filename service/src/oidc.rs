//! Tokens from the company's OpenID Connect provider: checked against the keys it publishes
//! (discovery document → `jwks_uri`), the configured claims mapped to org and roles.
//!
//! Keys are fetched on first use and cached; a token naming a key id the cache does not hold
//! refetches them (the provider rotated its keys), at most once per [`REFETCH_AFTER`] so a flood
//! of tokens with made-up key ids cannot make this service hammer the provider.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::auth::{Claims, TokenError};
use crate::config::OidcConfig;

/// The shortest time between two fetches of the provider's keys.
const REFETCH_AFTER: Duration = Duration::from_secs(10);

/// The provider, its keys as last fetched, and how its claims map to ours.
pub struct Provider {
    config: OidcConfig,
    client: reqwest::Client,
    keys: Mutex<KeyCache>,
}

#[derive(Default)]
struct KeyCache {
    by_kid: HashMap<String, (DecodingKey, Algorithm)>,
    fetched: Option<Instant>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl Provider {
    pub fn new(config: OidcConfig) -> Provider {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Provider {
            config,
            client,
            keys: Mutex::new(KeyCache::default()),
        }
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// A provider's token: signature by a published key (RS256 or ES256), issuer, audience,
    /// expiry, and the org and roles claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(TokenError::Malformed(format!(
                "algorithm {:?}: the provider's tokens are RS256 or ES256",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenError::Malformed("the token names no key (`kid`)".into()))?;
        let (key, alg) = self.key(&kid).await?;
        if alg != header.alg {
            return Err(TokenError::Malformed(format!(
                "key `{kid}` is {alg:?}, the token says {:?}",
                header.alg
            )));
        }
        let mut validation = Validation::new(alg);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.set_issuer(&[self.config.issuer.trim_end_matches('/'), &self.config.issuer]);
        validation.set_audience(&[self.config.audience.as_deref().unwrap_or(&self.config.client_id)]);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::InvalidSignature => TokenError::BadSignature,
            _ => TokenError::Malformed(e.to_string()),
        })?;
        self.claims(&data.claims)
    }

    /// Our claims from the provider's: `sub`, `exp`, and the configured org and roles claims
    /// (roles as an array of strings or one space-separated string).
    fn claims(&self, claims: &Value) -> Result<Claims, TokenError> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
        let sub = text("sub").ok_or_else(|| TokenError::Malformed("no `sub` claim".into()))?;
        let exp = claims
            .get("exp")
            .and_then(Value::as_u64)
            .ok_or_else(|| TokenError::Malformed("no `exp` claim".into()))?;
        let org = text(&self.config.org_claim)
            .ok_or_else(|| TokenError::Malformed(format!("no `{}` claim naming the org", self.config.org_claim)))?;
        let roles = match claims.get(&self.config.roles_claim) {
            Some(Value::Array(roles)) => roles.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            Some(Value::String(roles)) => roles.split_whitespace().map(str::to_string).collect(),
            _ => Vec::new(),
        };
        Ok(Claims { sub, org, roles, exp })
    }

    /// The key `kid`, refetching the provider's keys when it is unknown.
    async fn key(&self, kid: &str) -> Result<(DecodingKey, Algorithm), TokenError> {
        let mut cache = self.keys.lock().await;
        if let Some(found) = cache.by_kid.get(kid) {
            return Ok(found.clone());
        }
        if cache.fetched.is_none_or(|at| at.elapsed() >= REFETCH_AFTER) {
            cache.fetched = Some(Instant::now());
            match self.fetch().await {
                Ok(keys) => cache.by_kid = keys,
                Err(e) => {
                    tracing::warn!(issuer = %self.config.issuer, error = %e, "fetching the provider's keys");
                }
            }
        }
        cache
            .by_kid
            .get(kid)
            .cloned()
            .ok_or_else(|| TokenError::Malformed(format!("the provider publishes no key `{kid}`")))
    }

    async fn fetch(&self) -> Result<HashMap<String, (DecodingKey, Algorithm)>, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self.get_json(&url).await?;
        if discovery.issuer.trim_end_matches('/') != self.config.issuer.trim_end_matches('/') {
            return Err(format!(
                "{url} names issuer {}, the config {}",
                discovery.issuer, self.config.issuer
            ));
        }
        let set: JwkSet = self.get_json(&discovery.jwks_uri).await?;
        Ok(set.keys.iter().filter_map(usable).collect())
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let response = self.client.get(url).send().await.map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: {}", response.status()));
        }
        let bytes = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{url}: {e}"))
    }
}

/// A published signing key this service accepts: RSA (RS256) or P-256 (ES256), with a key id.
fn usable(jwk: &Jwk) -> Option<(String, (DecodingKey, Algorithm))> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, PublicKeyUse};
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return None,
    };
    let kid = jwk.common.key_id.clone()?;
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, (key, alg)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::routing::get;
    use axum::{Json, Router};
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    /// A P-256 key made for this test (`openssl ecparam -name prime256v1 -genkey`), and its
    /// public half as a JWK.
    const EC_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzVwb+wdp9GpcayZF
cA+TMTyz7kbOpm9KsuXl89o0mfuhRANCAATOtpC2W53neXpR6CZNG2PN5NRFcH+8
2q929CcRSpehQMI2bEP2nX9xh7EjpJRY+64U6xnRCuS4NVUx1Z6kphIX
-----END PRIVATE KEY-----
";
    const EC_X: &str = "zraQtlud53l6UegmTRtjzeTURXB_vNqvdvQnEUqXoUA";
    const EC_Y: &str = "wjZsQ_adf3GHsSOklFj7rhTrGdEK5Lg1VTHVnqSmEhc";

    /// A provider on loopback publishing the key as `kid` (swapped by the test), counting
    /// fetches of its keys.
    async fn provider(kid: Arc<std::sync::Mutex<String>>, fetches: Arc<AtomicUsize>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = base.clone();
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let issuer = issuer.clone();
                    async move { Json(json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")})) }
                }),
            )
            .route(
                "/jwks",
                get(move || {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    let kid = kid.lock().unwrap().clone();
                    async move {
                        Json(json!({"keys": [{"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y,
                            "kid": kid, "use": "sig", "alg": "ES256"}]}))
                    }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }

    fn token(issuer: &str, kid: &str, claims: Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_string());
        let mut body = json!({"iss": issuer, "aud": "console", "sub": "hr1",
            "exp": crate::auth::now_epoch() + 60, "org": "org0", "payroll_roles": ["hr_admin", "approver"]});
        if let (Some(body), Value::Object(more)) = (body.as_object_mut(), claims) {
            body.extend(more);
        }
        let key = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
        jsonwebtoken::encode(&header, &body, &key).unwrap()
    }

    fn config(issuer: &str) -> OidcConfig {
        toml::from_str(&format!(
            "issuer = {issuer:?}\nclient_id = \"console\"\nroles_claim = \"payroll_roles\"\n"
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn tokens_verify_by_the_published_keys_and_map_claims() {
        let kid = Arc::new(std::sync::Mutex::new("k1".to_string()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let issuer = provider(Arc::clone(&kid), Arc::clone(&fetches)).await;
        let p = Provider::new(config(&issuer));

        let claims = p.verify(&token(&issuer, "k1", json!({}))).await.unwrap();
        assert_eq!((claims.sub.as_str(), claims.org.as_str()), ("hr1", "org0"));
        assert_eq!(claims.roles, ["hr_admin", "approver"]);
        // Cached: a second token does not refetch.
        p.verify(&token(&issuer, "k1", json!({}))).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 1);

        // Roles as one space-separated string, as some providers send scopes.
        let spaced = token(&issuer, "k1", json!({"payroll_roles": "worker ops_viewer"}));
        assert_eq!(p.verify(&spaced).await.unwrap().roles, ["worker", "ops_viewer"]);

        for (why, claims, want) in [
            ("another audience", json!({"aud": "other"}), "InvalidAudience"),
            (
                "another issuer",
                json!({"iss": "https://evil.example"}),
                "InvalidIssuer",
            ),
            ("no org", json!({"org": null}), "no `org` claim"),
        ] {
            let err = p.verify(&token(&issuer, "k1", claims)).await.unwrap_err().to_string();
            assert!(err.contains(want), "{why}: {err}");
        }
        let expired = token(&issuer, "k1", json!({"exp": crate::auth::now_epoch() - 60}));
        assert_eq!(p.verify(&expired).await, Err(TokenError::Expired));
        // An HS256 token signed with anything is not the provider's.
        let hs = crate::auth::Keys::hs256(b"0123456789abcdef0123456789abcdef")
            .mint(&crate::auth::claims("hr1", "org0", &[], Duration::from_secs(60)))
            .unwrap();
        assert!(matches!(p.verify(&hs).await, Err(TokenError::Malformed(_))));
    }

    #[tokio::test]
    async fn an_unknown_key_id_refetches_at_most_once_in_a_while() {
        let kid = Arc::new(std::sync::Mutex::new("k1".to_string()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let issuer = provider(Arc::clone(&kid), Arc::clone(&fetches)).await;
        let p = Provider::new(config(&issuer));
        p.verify(&token(&issuer, "k1", json!({}))).await.unwrap();

        // The provider rotates to k2, but the last fetch was just now: refused, no fetch.
        *kid.lock().unwrap() = "k2".to_string();
        let err = p.verify(&token(&issuer, "k2", json!({}))).await.unwrap_err();
        assert!(err.to_string().contains("no key `k2`"), "{err}");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);

        // Later, the unknown key id refetches and the rotated key verifies.
        p.keys.lock().await.fetched = Some(Instant::now() - REFETCH_AFTER);
        p.verify(&token(&issuer, "k2", json!({}))).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }
}
