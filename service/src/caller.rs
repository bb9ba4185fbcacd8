//! Who calls: from a verified token, for one org, allowed what their roles grant there now. The
//! HTTP API extracts one from every `/v1` request (`http::extractor`); `payroll run --database`
//! makes one from its `--token` with the same keys and role tables, so the CLI can do nothing
//! its caller's token could not do through the API (a final run triggered there still needs a
//! second person to approve it).

use crate::config::ServeConfig;
use crate::db::Db;
use crate::db::audit::Actor;
use crate::domain::permissions::{Permission, Permissions};
use crate::error::{Error, Result};

/// Who called, from a verified token, and what their roles grant in their org now.
#[derive(Debug, Clone)]
pub struct Caller {
    pub sub: String,
    pub org: String,
    pub roles: Vec<String>,
    pub permissions: Permissions,
    /// The request this call came with (the server's id of an HTTP request, `cli` for the
    /// CLI), for the audit log.
    pub request_id: String,
}

impl Caller {
    /// Verifies `token` with the service's keys (from its config, as `payroll serve` reads
    /// them) and reads what its roles grant in the org's role table.
    pub async fn from_token(config: &ServeConfig, db: &Db, token: &str) -> anyhow::Result<Caller> {
        let keys = crate::secrets::signing_keys(config)?;
        let claims = keys
            .check(token.trim())
            .await
            .map_err(|e| anyhow::anyhow!("the token does not verify with the service's keys: {e}"))?;
        let seeds = crate::domain::permissions::Roles::with_overrides(&config.roles);
        let permissions = crate::db::roles::RoleTables::default()
            .grants(db, &claims.org, &claims.roles, &seeds)
            .await?;
        Ok(Caller {
            sub: claims.sub,
            org: claims.org,
            roles: claims.roles,
            permissions,
            request_id: "cli".to_string(),
        })
    }

    /// The path's org must be the token's; an org id from a path is compared, never trusted.
    pub fn org(&self, org: &str) -> Result<()> {
        if self.org != org {
            return Err(Error::OtherOrg {
                token: self.org.clone(),
                path: org.to_string(),
            });
        }
        Ok(())
    }

    /// The caller as the audit log records them.
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            sub: &self.sub,
            roles: &self.roles,
            request_id: &self.request_id,
        }
    }

    /// A client's `Idempotency-Key` as stored: the caller's own, so the same key from another
    /// caller or org is another key, and no caller can send one the service's own work uses
    /// (the scheduler's `schedule:<slot>`). The org and user id are escaped so that no pair of
    /// them and a key reads as another pair's.
    pub fn idempotency_key(&self, key: &str) -> String {
        let escape = |part: &str| part.replace('%', "%25").replace(':', "%3A");
        format!("caller:{}:{}:{key}", escape(&self.org), escape(&self.sub))
    }

    /// A client's `Idempotency-Key` as sent (`None`: the request has none), checked and stored
    /// as the caller's own ([`Caller::idempotency_key`]).
    pub fn idempotency(&self, key: Option<&str>) -> Result<Option<String>> {
        match key {
            None => Ok(None),
            Some(key)
                if !key.is_empty() && key.len() <= 200 && key.bytes().all(|b| b.is_ascii_graphic() || b == b' ') =>
            {
                Ok(Some(self.idempotency_key(key)))
            }
            Some(_) => Err(Error::invalid(
                "Idempotency-Key",
                "expected 1 to 200 visible ASCII characters",
            )),
        }
    }

    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// The path's org is the token's and the token's roles grant `permission`.
    pub fn may(&self, org: &str, permission: Permission) -> Result<()> {
        self.org(org)?;
        if !self.can(permission) {
            return Err(Error::Missing(permission));
        }
        Ok(())
    }

    /// Salary data of `worker`: anyone with `pay:view`, or the worker themself with `pay:own`.
    pub fn may_see_pay_of(&self, org: &str, worker: &str, any: Permission) -> Result<()> {
        self.org(org)?;
        if self.can(any) || (self.can(Permission::ViewOwnPay) && self.sub == worker) {
            return Ok(());
        }
        if self.can(Permission::ViewOwnPay) {
            return Err(Error::Forbidden(format!(
                "a worker sees only their own pay; this token is for worker `{}`",
                self.sub
            )));
        }
        Err(Error::Missing(any))
    }
}
