//! Tokens from the company's OpenID Connect provider: checked against the keys it publishes
//! (discovery document → `jwks_uri`), the configured claims mapped to org and roles.
//!
//! Keys are fetched on first use and cached for [`KEYS_TTL`], so a key the provider withdraws
//! (rotated out, or revoked after a leak) stops verifying within it. A token naming a key id the
//! cache does not hold refetches them (the provider rotated its keys), at most once per
//! [`REFETCH_AFTER`] so a flood of tokens with made-up key ids cannot make this service hammer
//! the provider. A fetch holds no lock the cache is read under: tokens of cached keys verify
//! while it is under way, and its keys replace the cache when it answers.

use std::collections::HashMap;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::auth::Claims;
use crate::config::OidcConfig;
use crate::error::TokenError;

/// How long fetched keys are used before they are fetched again.
const KEYS_TTL: Duration = Duration::from_secs(10 * 60);

/// The shortest time between two fetches of the provider's keys (but the first).
const REFETCH_AFTER: Duration = Duration::from_secs(60);

type KeySet = HashMap<String, (DecodingKey, Algorithm)>;

/// The provider, its keys as last fetched, and how its claims map to ours.
pub struct Provider {
    config: OidcConfig,
    client: reqwest::Client,
    /// Held only to read or replace, never across a fetch.
    keys: std::sync::Mutex<KeyCache>,
    /// Held by the one task fetching, so that tokens waiting for new keys share one fetch.
    fetching: Mutex<()>,
}

#[derive(Default)]
struct KeyCache {
    by_kid: KeySet,
    /// When the keys were last fetched successfully.
    fetched: Option<Instant>,
    /// When a fetch last started, answered or not.
    tried: Option<Instant>,
}

impl KeyCache {
    /// The key `kid` as cached, and whether the keys are to be fetched (again) first: they are
    /// stale or `kid` is unknown, and the last try is long enough ago.
    fn lookup(&self, kid: &str) -> (Option<(DecodingKey, Algorithm)>, bool) {
        let found = self.by_kid.get(kid).cloned();
        let stale = self.fetched.is_none_or(|at| at.elapsed() >= KEYS_TTL);
        let may_try = self.tried.is_none_or(|at| at.elapsed() >= REFETCH_AFTER);
        let due = (stale || found.is_none()) && may_try;
        (found, due)
    }
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
            keys: std::sync::Mutex::new(KeyCache::default()),
            fetching: Mutex::new(()),
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
        validation.validate_nbf = true;
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| crate::auth::refusal(&e))?;
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
        let iat = claims.get("iat").and_then(Value::as_u64);
        Ok(Claims {
            sub,
            org,
            roles,
            exp,
            iat,
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, KeyCache> {
        // A panic while the cache was held left it whole: it is only ever replaced.
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key `kid`, refetching the provider's keys when they are stale or `kid` is unknown.
    async fn key(&self, kid: &str) -> Result<(DecodingKey, Algorithm), TokenError> {
        let unknown = || TokenError::Malformed(format!("the provider publishes no key `{kid}`"));
        let (found, due) = self.cache().lookup(kid);
        if !due {
            return found.ok_or_else(unknown);
        }
        let fetching = match self.fetching.try_lock() {
            Ok(fetching) => fetching,
            // Stale, and another task is fetching: the key verifies until the new set is in.
            Err(_) if found.is_some() => return found.ok_or_else(unknown),
            // Unknown: the fetch under way may bring it.
            Err(_) => self.fetching.lock().await,
        };
        // Another task may have fetched since the look above.
        let (found, due) = self.cache().lookup(kid);
        if !due {
            return found.ok_or_else(unknown);
        }
        self.cache().tried = Some(Instant::now());
        let fetched = self.fetch().await;
        drop(fetching);
        match fetched {
            Ok(keys) => {
                let mut cache = self.cache();
                cache.by_kid = keys;
                cache.fetched = Some(Instant::now());
            }
            // The keys in hand stay in use: the provider being away is no reason to refuse
            // everyone. It is asked again after REFETCH_AFTER.
            Err(e) => tracing::warn!(issuer = %self.config.issuer, error = %e, "fetching the provider's keys"),
        }
        self.cache().lookup(kid).0.ok_or_else(unknown)
    }

    async fn fetch(&self) -> Result<KeySet, String> {
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
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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
        slow_provider(kid, fetches, Arc::default()).await
    }

    /// A provider as [`provider`] whose keys take five seconds to come while `slow` is set.
    async fn slow_provider(
        kid: Arc<std::sync::Mutex<String>>,
        fetches: Arc<AtomicUsize>,
        slow: Arc<AtomicBool>,
    ) -> String {
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
                    let slow = slow.load(Ordering::SeqCst);
                    async move {
                        if slow {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                        }
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
            ("another audience", json!({"aud": "other"}), "audience"),
            ("another issuer", json!({"iss": "https://evil.example"}), "issuer"),
            (
                "not valid yet",
                json!({"nbf": crate::auth::now_epoch() + 3600}),
                "not valid yet",
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
        p.cache().tried = Some(Instant::now() - REFETCH_AFTER);
        p.verify(&token(&issuer, "k2", json!({}))).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    /// The cache as if its last fetch was `ago`.
    fn aged(p: &Provider, ago: Duration) {
        let at = Instant::now().checked_sub(ago).unwrap();
        let mut cache = p.cache();
        (cache.fetched, cache.tried) = (Some(at), Some(at));
    }

    #[tokio::test]
    async fn a_withdrawn_key_stops_verifying_after_the_ttl() {
        let kid = Arc::new(std::sync::Mutex::new("k1".to_string()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let issuer = provider(Arc::clone(&kid), Arc::clone(&fetches)).await;
        let p = Provider::new(config(&issuer));
        p.verify(&token(&issuer, "k1", json!({}))).await.unwrap();

        // The provider withdraws k1 (it leaked) for k2. Within the TTL k1 still verifies, unasked.
        *kid.lock().unwrap() = "k2".to_string();
        p.verify(&token(&issuer, "k1", json!({}))).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 1);

        // After it, the keys are fetched again: k1 is refused, k2 verifies by that one fetch.
        aged(&p, KEYS_TTL);
        let err = p.verify(&token(&issuer, "k1", json!({}))).await.unwrap_err();
        assert!(err.to_string().contains("no key `k1`"), "{err}");
        p.verify(&token(&issuer, "k2", json!({}))).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_fetch_holds_up_no_token_of_a_cached_key() {
        let kid = Arc::new(std::sync::Mutex::new("k1".to_string()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let slow = Arc::new(AtomicBool::new(false));
        let issuer = slow_provider(Arc::clone(&kid), Arc::clone(&fetches), Arc::clone(&slow)).await;
        let p = Arc::new(Provider::new(config(&issuer)));
        p.verify(&token(&issuer, "k1", json!({}))).await.unwrap();

        // A token naming an unknown key starts a fetch that takes five seconds.
        slow.store(true, Ordering::SeqCst);
        aged(&p, REFETCH_AFTER);
        let waiting = tokio::spawn({
            let (p, token) = (Arc::clone(&p), token(&issuer, "k9", json!({})));
            async move { p.verify(&token).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(fetches.load(Ordering::SeqCst), 2, "the slow fetch is under way");

        // Meanwhile a token of the cached key verifies at once, fresh or stale.
        for age in [Duration::ZERO, KEYS_TTL] {
            aged(&p, age);
            let cached = token(&issuer, "k1", json!({}));
            let quick = tokio::time::timeout(Duration::from_secs(1), p.verify(&cached));
            let verified = quick
                .await
                .unwrap_or_else(|_| panic!("waited on the fetch (cache aged {age:?})"));
            verified.unwrap();
        }
        waiting.abort();
    }
}
