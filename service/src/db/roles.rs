//! Each org's roles and what they grant. A token names its bearer's roles; what a role may do
//! is read from here, so a change is in force with no restart and no new token: on the next
//! request on the instance that made it, and within [`FRESH_FOR`] on the others. An org's table
//! is seeded from the config's roles the first time the org is seen.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::audit::{Action, Actor, Audited};
use super::{Db, timestamp};
use crate::domain::permissions::{Permission, Permissions, Roles};
use crate::error::{Error, Result};

/// Every role of `org` and what it grants, seeding the org from `seeds` if it has none yet.
pub async fn all(db: &Db, org: &str, seeds: &Roles) -> Result<RoleTable> {
    let roles = read(db, org).await?;
    if !roles.is_empty() {
        return Ok(roles);
    }
    seed(db, org, seeds).await?;
    read(db, org).await
}

/// How long an instance trusts the role table it read: every request reading the database
/// instead cost four fifths of pay-to-date's throughput.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// An org's roles and what each grants.
pub type RoleTable = BTreeMap<String, Permissions>;

/// Each org's role table as this instance last read it, and when.
#[derive(Default)]
pub struct RoleTables {
    read: tokio::sync::Mutex<HashMap<String, (Instant, Arc<RoleTable>)>>,
}

impl RoleTables {
    /// What the named roles grant together in `org`; roles the org does not have grant nothing.
    pub async fn grants(&self, db: &Db, org: &str, roles: &[String], seeds: &Roles) -> Result<Permissions> {
        let cached = self
            .read
            .lock()
            .await
            .get(org)
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, table)| Arc::clone(table));
        let table = match cached {
            Some(table) => table,
            None => {
                let table = Arc::new(all(db, org, seeds).await?);
                self.read
                    .lock()
                    .await
                    .insert(org.to_string(), (Instant::now(), Arc::clone(&table)));
                table
            }
        };
        Ok(roles.iter().filter_map(|r| table.get(r)).flatten().copied().collect())
    }

    /// Forgets `org`'s table: its next request reads the change just made.
    pub async fn changed(&self, org: &str) {
        self.read.lock().await.remove(org);
    }
}

async fn read(db: &Db, org: &str) -> Result<RoleTable> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT role, permissions FROM org_roles WHERE org_id = $1")
        .bind(org)
        .fetch_all(db.pool())
        .await?;
    rows.into_iter()
        .map(|(role, permissions)| {
            let permissions: Permissions = serde_json::from_str(&permissions)
                .map_err(|e| Error::Internal(format!("the permissions of role {role} of {org}: {e}")))?;
            Ok((role, permissions))
        })
        .collect()
}

/// Two requests seeding one org at once: the second's rows are already there and are kept. One
/// transaction, so a request reading the org's roles meanwhile sees all of them or none (a
/// half-seeded table would refuse roles not written yet, and be trusted for `FRESH_FOR`).
async fn seed(db: &Db, org: &str, seeds: &Roles) -> Result<()> {
    let now = timestamp(Utc::now());
    let mut tx = db.pool().begin().await?;
    for (role, permissions) in seeds.iter() {
        sqlx::query(
            "INSERT INTO org_roles (org_id, role, permissions, updated_by, updated_at) VALUES ($1, $2, $3, 'system:config', $4) \
             ON CONFLICT (org_id, role) DO NOTHING",
        )
        .bind(org)
        .bind(role)
        .bind(encode(permissions)?)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn encode(permissions: &Permissions) -> Result<String> {
    serde_json::to_string(permissions).map_err(|e| Error::Internal(e.to_string()))
}

/// Sets what `role` grants in `org` (adding the role if new); returns what it granted before.
/// Refused (409) when no role of the org would be left to manage roles: an org never locks
/// itself out of its own roles. The `roles.change` audit entry of `actor` (what the role granted
/// before and grants now) is written in the same transaction.
pub async fn put(
    db: &Db,
    org: &str,
    role: &str,
    permissions: &Permissions,
    by: &str,
    seeds: &Roles,
    actor: &Actor<'_>,
) -> Result<Option<Permissions>> {
    all(db, org, seeds).await?;
    let mut tx = db.pool().begin().await?;
    // Touching the org's rows first serializes two changes of its roles: two admins each
    // removing the other's last roles:manage at once must not both succeed.
    sqlx::query("UPDATE org_roles SET updated_at = updated_at WHERE org_id = $1")
        .bind(org)
        .execute(&mut *tx)
        .await?;
    let before: Option<(String,)> = sqlx::query_as("SELECT permissions FROM org_roles WHERE org_id = $1 AND role = $2")
        .bind(org)
        .bind(role)
        .fetch_optional(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM org_roles WHERE org_id = $1 AND role = $2")
        .bind(org)
        .bind(role)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO org_roles (org_id, role, permissions, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(org)
    .bind(role)
    .bind(encode(permissions)?)
    .bind(by)
    .bind(timestamp(Utc::now()))
    .execute(&mut *tx)
    .await?;
    let all: Vec<(String,)> = sqlx::query_as("SELECT permissions FROM org_roles WHERE org_id = $1")
        .bind(org)
        .fetch_all(&mut *tx)
        .await?;
    let manages = all
        .iter()
        .any(|(p,)| serde_json::from_str::<Permissions>(p).is_ok_and(|p| p.contains(&Permission::ManageRoles)));
    if !manages {
        // Dropped without a commit: rolled back.
        drop(tx);
        return Err(Error::Conflict(format!(
            "no role of {org} would keep roles:manage: give it to another role first, so someone can still manage roles"
        )));
    }
    let before: Option<Permissions> = before
        .map(|(p,)| serde_json::from_str(&p).map_err(|e| Error::Internal(format!("role {role} of {org}: {e}"))))
        .transpose()?;
    Audited::new(actor.clone(), Action::RolesChange, format!("roles/{role}"))
        .before(before.as_ref().map(|p| serde_json::json!({"permissions": p})))
        .after(Some(serde_json::json!({"permissions": permissions})))
        .write(&mut tx, org)
        .await?;
    tx.commit().await?;
    Ok(before)
}
