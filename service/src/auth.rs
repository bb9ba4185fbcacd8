//! Who may do what: permissions, the roles that grant them, and the bearer tokens (JWT) that
//! name a user's org and roles.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

/// One thing a role may do. The wire names are what `[roles]` in the config lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// Trigger and cancel runs.
    #[serde(rename = "runs:trigger")]
    TriggerRuns,
    /// See runs, their status and progress (amounts need `pay:view`).
    #[serde(rename = "runs:view")]
    ViewRuns,
    /// Approve or reject final runs.
    #[serde(rename = "runs:approve")]
    ApproveRuns,
    /// Exclude workers a final run could not compute, so it can be approved without them.
    #[serde(rename = "runs:exclude")]
    ExcludeWorkers,
    /// Salary data: totals, results, pay-to-date, explain.
    #[serde(rename = "pay:view")]
    ViewPay,
    /// Results without the personal columns (name, UAN, ESIC, bank, PAN).
    #[serde(rename = "results:anonymized")]
    ReadAnonymizedResults,
    /// Payslip PDF and XLSX of any worker of the org.
    #[serde(rename = "payslips:download")]
    DownloadPayslips,
    /// The payroll register.
    #[serde(rename = "register:download")]
    DownloadRegister,
    /// Dead-letter counts and reasons of a run.
    #[serde(rename = "dead_letters:view")]
    ViewDeadLetters,
    #[serde(rename = "schedule:edit")]
    EditSchedule,
    /// The caller's own pay-to-date and payslips (`sub` is their worker id).
    #[serde(rename = "pay:own")]
    ViewOwnPay,
    /// The org's audit log.
    #[serde(rename = "audit:view")]
    ViewAudit,
    /// Request a manual adjustment (it waits for a second person).
    #[serde(rename = "adjustments:request")]
    RequestAdjustments,
    /// Approve or reject another user's adjustment.
    #[serde(rename = "adjustments:approve")]
    ApproveAdjustments,
    /// Read and change what each role of the org may do.
    #[serde(rename = "roles:manage")]
    ManageRoles,
    /// Upload a file of attendance summaries, adjustments (each pending a second person) or
    /// workers, and read its progress and error report.
    #[serde(rename = "upload")]
    Upload,
    /// Make a bank payout of a finalized run, and record the bank's return file for it (a
    /// return waits for a second person).
    #[serde(rename = "payouts:create")]
    CreatePayouts,
    /// Read a payout and download its files (full account numbers: every download is audited).
    #[serde(rename = "payouts:view")]
    ViewPayouts,
    /// Approve or reject a bank return another user recorded: an approved one is paid again by
    /// the run's next payout.
    #[serde(rename = "payouts:approve")]
    ApprovePayouts,
    /// The statutory returns of a finalized run (EPFO ECR, ESIC sheet) and their exceptions.
    #[serde(rename = "returns:download")]
    DownloadReturns,
    /// The delivery status of a run's payslip notices (recipients masked).
    #[serde(rename = "notices:view")]
    ViewNotices,
    /// Send a dead-lettered payslip notice again.
    #[serde(rename = "notices:retry")]
    RetryNotices,
}

pub type Permissions = BTreeSet<Permission>;

/// Role name to what it may do: the defaults, overridden per role by the config's `[roles]`.
/// These seed each org's roles in the database (`db::roles`), where `org_admin` edits them.
#[derive(Debug, Clone)]
pub struct Roles(BTreeMap<String, Permissions>);

impl Roles {
    pub fn with_overrides(overrides: &BTreeMap<String, Permissions>) -> Roles {
        use Permission::*;
        let mut roles: BTreeMap<String, Permissions> = [
            (
                "hr_admin",
                &[
                    TriggerRuns,
                    ViewRuns,
                    ExcludeWorkers,
                    ViewPay,
                    DownloadPayslips,
                    DownloadRegister,
                    DownloadReturns,
                    ViewDeadLetters,
                    EditSchedule,
                    ViewAudit,
                    RequestAdjustments,
                    Upload,
                    ViewNotices,
                    RetryNotices,
                ][..],
            ),
            (
                "approver",
                &[
                    ViewRuns,
                    ApproveRuns,
                    ExcludeWorkers,
                    ViewPay,
                    DownloadPayslips,
                    ViewAudit,
                    ApproveAdjustments,
                    CreatePayouts,
                    ViewPayouts,
                    ApprovePayouts,
                ][..],
            ),
            ("ops_viewer", &[ViewRuns, ViewDeadLetters, ViewNotices][..]),
            ("analyst", &[ViewRuns, ReadAnonymizedResults][..]),
            ("worker", &[ViewOwnPay][..]),
            (
                "org_admin",
                &[
                    TriggerRuns,
                    ViewRuns,
                    ApproveRuns,
                    ExcludeWorkers,
                    ViewPay,
                    DownloadPayslips,
                    DownloadRegister,
                    DownloadReturns,
                    ViewDeadLetters,
                    EditSchedule,
                    ViewAudit,
                    RequestAdjustments,
                    ApproveAdjustments,
                    ManageRoles,
                    CreatePayouts,
                    ViewPayouts,
                    ApprovePayouts,
                    Upload,
                    ViewNotices,
                    RetryNotices,
                ][..],
            ),
        ]
        .into_iter()
        .map(|(role, permissions)| (role.to_string(), permissions.iter().copied().collect()))
        .collect();
        roles.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        Roles(roles)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Permissions)> {
        self.0.iter().map(|(role, permissions)| (role.as_str(), permissions))
    }
}

/// What a token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id; a worker's worker id.
    pub sub: String,
    pub org: String,
    pub roles: Vec<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

/// Why a token was not accepted: said in the 401 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token expired")]
    Expired,
}

/// The keys tokens are checked with, and (for HS256) minted with.
#[derive(Clone)]
pub struct Keys {
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
    /// The OpenID Connect provider whose RS256/ES256 tokens are accepted beside these keys'.
    oidc: Option<std::sync::Arc<crate::oidc::Provider>>,
}

impl Keys {
    pub fn hs256(secret: &[u8]) -> Keys {
        Keys {
            decoding: DecodingKey::from_secret(secret),
            encoding: Some(EncodingKey::from_secret(secret)),
            validation: validation(Algorithm::HS256),
            oidc: None,
        }
    }

    /// Tokens from an identity provider: this service checks them, never mints them.
    pub fn rs256(public_key_pem: &[u8]) -> Result<Keys, TokenError> {
        Ok(Keys {
            decoding: DecodingKey::from_rsa_pem(public_key_pem).map_err(|e| TokenError::Malformed(e.to_string()))?,
            encoding: None,
            validation: validation(Algorithm::RS256),
            oidc: None,
        })
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
                return provider.verify(token).await;
            }
        }
        self.verify(token)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                _ => TokenError::Malformed(e.to_string()),
            })
    }

    /// A signed token, when these keys can sign (HS256).
    #[allow(clippy::expect_used, reason = "HS256 encoding cannot fail")]
    pub fn mint(&self, claims: &Claims) -> Option<String> {
        let key = self.encoding.as_ref()?;
        Some(jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, key).expect("HS256 encoding cannot fail"))
    }
}

fn validation(algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.set_required_spec_claims(&["exp", "sub"]);
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
    Claims {
        sub: sub.to_string(),
        org: org.to_string(),
        roles: roles.to_vec(),
        exp: now_epoch() + ttl.as_secs(),
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

    fn of(roles: &Roles, role: &str) -> Option<Permissions> {
        roles.iter().find(|(name, _)| *name == role).map(|(_, p)| p.clone())
    }

    #[test]
    fn roles_grant_the_default_table_and_config_overrides() {
        let roles = Roles::with_overrides(&BTreeMap::new());
        let ops = of(&roles, "ops_viewer").unwrap();
        assert!(ops.contains(&Permission::ViewRuns) && !ops.contains(&Permission::ViewPay));
        assert!(of(&roles, "org_admin").unwrap().contains(&Permission::ManageRoles));
        assert_eq!(of(&roles, "nobody"), None);

        let overrides = BTreeMap::from([("ops_viewer".to_string(), Permissions::from([Permission::ViewPay]))]);
        let roles = Roles::with_overrides(&overrides);
        assert_eq!(of(&roles, "ops_viewer"), Some(Permissions::from([Permission::ViewPay])));
    }

    #[test]
    fn permissions_have_their_config_names() {
        let parsed: Permissions = serde_json::from_str(r#"["runs:trigger", "pay:own"]"#).unwrap();
        assert_eq!(
            parsed,
            Permissions::from([Permission::TriggerRuns, Permission::ViewOwnPay])
        );
    }
}
