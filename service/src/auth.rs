//! The bearer tokens (JWT) that name a user's org and roles, and the keys that verify them.
//! What the roles grant is `domain::permissions`.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::error::TokenError;

/// What a token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id; a worker's worker id.
    pub sub: String,
    pub org: String,
    pub roles: Vec<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// When it was issued, seconds since the Unix epoch: with `exp`, how long the token lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

/// The longest a token may live unless `[auth] max_token_lifetime` says otherwise: the printed
/// demo tokens' lifetime, a working day and a half.
pub const DEFAULT_MAX_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// What a token must say beyond a good signature: who issued it and for whom (when configured),
/// and a lifetime no longer than `max_lifetime`, so a leaked token is useful for hours, not
/// for months.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub max_lifetime: std::time::Duration,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            issuer: None,
            audience: None,
            max_lifetime: DEFAULT_MAX_TOKEN_LIFETIME,
        }
    }
}

impl TokenPolicy {
    /// Refuses a token living longer than allowed: `exp` less issue time, where the issue time is
    /// `iat` but never later than now (a token saying it was issued a minute before it expires
    /// still lives until `exp`), and now when there is no `iat`.
    pub fn lifetime(&self, claims: &Claims) -> Result<(), TokenError> {
        let now = now_epoch();
        let issued = claims.iat.map_or(now, |iat| iat.min(now));
        let lifetime = claims.exp.saturating_sub(issued);
        if lifetime > self.max_lifetime.as_secs() {
            return Err(TokenError::TooLong {
                lifetime: humantime::format_duration(std::time::Duration::from_secs(lifetime)).to_string(),
                max: humantime::format_duration(self.max_lifetime).to_string(),
            });
        }
        Ok(())
    }
}

/// A `jsonwebtoken` refusal as said to the caller.
pub(crate) fn refusal(e: &jsonwebtoken::errors::Error) -> TokenError {
    match e.kind() {
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidIssuer => TokenError::Issuer,
        ErrorKind::InvalidAudience => TokenError::Audience,
        ErrorKind::MissingRequiredClaim(claim) => TokenError::Malformed(format!("no `{claim}` claim")),
        _ => TokenError::Malformed(e.to_string()),
    }
}

/// The keys tokens are checked with, and (for HS256) minted with.
#[derive(Clone)]
pub struct Keys {
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    algorithm: Algorithm,
    validation: Validation,
    policy: TokenPolicy,
    /// The OpenID Connect provider whose RS256/ES256 tokens are accepted beside these keys'.
    oidc: Option<std::sync::Arc<crate::oidc::Provider>>,
}

impl Keys {
    pub fn hs256(secret: &[u8]) -> Keys {
        Keys {
            decoding: DecodingKey::from_secret(secret),
            encoding: Some(EncodingKey::from_secret(secret)),
            algorithm: Algorithm::HS256,
            validation: validation(Algorithm::HS256, &TokenPolicy::default()),
            policy: TokenPolicy::default(),
            oidc: None,
        }
    }

    /// Tokens from an identity provider: this service checks them, never mints them.
    pub fn rs256(public_key_pem: &[u8]) -> Result<Keys, TokenError> {
        Ok(Keys {
            decoding: DecodingKey::from_rsa_pem(public_key_pem).map_err(|e| TokenError::Malformed(e.to_string()))?,
            encoding: None,
            algorithm: Algorithm::RS256,
            validation: validation(Algorithm::RS256, &TokenPolicy::default()),
            policy: TokenPolicy::default(),
            oidc: None,
        })
    }

    /// These keys holding tokens to `policy` (the config's `[auth]`), and minting by it.
    pub fn with_policy(self, policy: TokenPolicy) -> Keys {
        Keys {
            validation: validation(self.algorithm, &policy),
            policy,
            ..self
        }
    }

    /// These keys, and also the tokens of an OpenID Connect provider (by its published keys).
    pub fn with_oidc(self, provider: crate::oidc::Provider) -> Keys {
        Keys {
            oidc: Some(std::sync::Arc::new(provider)),
            ..self
        }
    }

    pub fn oidc(&self) -> Option<&crate::oidc::Provider> {
        self.oidc.as_deref()
    }

    /// A token of these keys, or of the OpenID Connect provider when one is configured and the
    /// token is signed as providers sign (RS256/ES256 with a key id).
    pub async fn check(&self, token: &str) -> Result<Claims, TokenError> {
        if let Some(provider) = &self.oidc {
            let header = jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
            if header.kid.is_some() && matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
                // The provider checks its own issuer and audience; the lifetime is ours to bound.
                let claims = provider.verify(token).await?;
                self.policy.lifetime(&claims)?;
                return Ok(claims);
            }
        }
        self.verify(token)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| refusal(&e))?;
        self.policy.lifetime(&claims)?;
        Ok(claims)
    }

    /// A signed token, when these keys can sign (HS256), naming the configured issuer and
    /// audience so that this service accepts it.
    #[allow(clippy::expect_used, reason = "HS256 encoding of JSON claims cannot fail")]
    pub fn mint(&self, claims: &Claims) -> Option<String> {
        let key = self.encoding.as_ref()?;
        let mut body = serde_json::to_value(claims).expect("claims are JSON");
        if let Some(body) = body.as_object_mut() {
            for (name, value) in [("iss", &self.policy.issuer), ("aud", &self.policy.audience)] {
                if let Some(value) = value {
                    body.insert(name.to_string(), serde_json::Value::String(value.clone()));
                }
            }
        }
        Some(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &body, key).expect("HS256 encoding cannot fail"))
    }
}

fn validation(algorithm: Algorithm, policy: &TokenPolicy) -> Validation {
    let mut validation = Validation::new(algorithm);
    let mut required = vec!["exp", "sub"];
    if let Some(issuer) = &policy.issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    if let Some(audience) = &policy.audience {
        validation.set_audience(&[audience]);
        required.push("aud");
    }
    validation.set_required_spec_claims(&required);
    // A token handed out before its time (`nbf`) is not valid yet.
    validation.validate_nbf = true;
    // Clocks of the issuer and this service agree within seconds, not the default minute.
    validation.leeway = 5;
    validation
}

/// Seconds since the Unix epoch, for `exp`.
pub fn now_epoch() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Claims for `payroll token` and the embedded default's printed tokens.
pub fn claims(sub: &str, org: &str, roles: &[String], ttl: std::time::Duration) -> Claims {
    let now = now_epoch();
    Claims {
        sub: sub.to_string(),
        org: org.to_string(),
        roles: roles.to_vec(),
        exp: now + ttl.as_secs(),
        iat: Some(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_by_reason() {
        let keys = Keys::hs256(b"test secret");
        let good = claims("hr1", "org0", &["hr_admin".into()], std::time::Duration::from_secs(60));
        let token = keys.mint(&good).unwrap();
        assert_eq!(keys.verify(&token), Ok(good.clone()));

        let other = Keys::hs256(b"another secret");
        assert_eq!(other.verify(&token), Err(TokenError::BadSignature));

        let expired = Claims {
            exp: now_epoch() - 60,
            ..good
        };
        assert_eq!(keys.verify(&keys.mint(&expired).unwrap()), Err(TokenError::Expired));
        assert!(matches!(keys.verify("not.a.token"), Err(TokenError::Malformed(_))));
    }
}
