//! A caller outside HTTP, such as `payroll run --database`: the same token, keys and role tables
//! as an API request, so the CLI can do nothing its caller's token could not do through the API
//! (a final run triggered there still needs a second person to approve it).

use crate::auth::{Permission, Permissions};
use crate::config::ServeConfig;
use crate::db::Db;
use crate::db::audit::Actor;
use crate::error::{Error, Result};

/// Who called, from a verified token, and what their roles grant in their org now.
#[derive(Debug)]
pub struct Caller {
    pub sub: String,
    pub org: String,
    pub roles: Vec<String>,
    permissions: Permissions,
}

impl Caller {
    /// Verifies `token` with the service's keys (from its config, as `payroll serve` reads
    /// them) and reads what its roles grant in the org's role table.
    pub async fn from_token(config: &ServeConfig, db: &Db, token: &str) -> anyhow::Result<Caller> {
        let keys = crate::signing_keys(config)?;
        let claims = keys
            .check(token.trim())
            .await
            .map_err(|e| anyhow::anyhow!("the token does not verify with the service's keys: {e}"))?;
        let seeds = crate::auth::Roles::with_overrides(&config.roles);
        let permissions = crate::db::roles::RoleTables::default()
            .grants(db, &claims.org, &claims.roles, &seeds)
            .await?;
        Ok(Caller {
            sub: claims.sub,
            org: claims.org,
            roles: claims.roles,
            permissions,
        })
    }

    /// Whether the caller may do what `permission` allows in `org`, with the API's reasons.
    pub fn may(&self, org: &str, permission: Permission) -> Result<()> {
        if self.org != org {
            return Err(Error::OtherOrg {
                token: self.org.clone(),
                path: org.to_string(),
            });
        }
        match self.permissions.contains(&permission) {
            true => Ok(()),
            false => Err(Error::Missing(permission)),
        }
    }

    /// The caller as the audit log names them: no request, so the request id says where from.
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            sub: &self.sub,
            roles: &self.roles,
            request_id: "cli",
        }
    }
}
