//! Each org's nightly schedule: seeded from the config when the org has none, then owned by
//! `PUT /v1/orgs/{org}/schedule`.

use chrono::{DateTime, Utc};

use serde_json::json;

use super::audit::{Action, Actor, Audited};
use super::{Db, parse_timestamp, timestamp};
use crate::domain::schedule::Schedule;
use crate::error::Result;

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    org_id: String,
    cron: String,
    timezone: String,
    updated_by: String,
    updated_at: String,
    last_slot: Option<String>,
}

const COLUMNS: &str = "org_id, cron, timezone, updated_by, updated_at, last_slot";

impl ScheduleRow {
    fn into_schedule(self) -> Result<Schedule> {
        Ok(Schedule {
            spec: crate::domain::schedule::Spec::parse(&self.cron, &self.timezone)
                .map_err(|e| crate::Error::Internal(format!("stored schedule of {}: {e}", self.org_id)))?,
            updated_by: self.updated_by,
            updated_at: parse_timestamp(&self.updated_at)?,
            last_slot: self.last_slot.as_deref().map(parse_timestamp).transpose()?,
            org_id: self.org_id,
        })
    }
}

pub async fn get(db: &Db, org: &str) -> Result<Option<Schedule>> {
    sqlx::query_as::<_, ScheduleRow>(&format!("SELECT {COLUMNS} FROM schedules WHERE org_id = $1"))
        .bind(org)
        .fetch_optional(db.pool())
        .await?
        .map(ScheduleRow::into_schedule)
        .transpose()
}

pub async fn all(db: &Db) -> Result<Vec<Schedule>> {
    sqlx::query_as::<_, ScheduleRow>(&format!("SELECT {COLUMNS} FROM schedules ORDER BY org_id"))
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .map(ScheduleRow::into_schedule)
        .collect()
}

/// Sets an org's schedule; slots before now are not owed by the new one.
pub async fn put(db: &Db, org: &str, cron: &str, timezone: &str, by: &str, now: DateTime<Utc>) -> Result<Schedule> {
    put_audited(db, org, cron, timezone, by, now, None).await
}

/// [`put`], with the `schedule.change` audit entry of `actor` (the schedule before and after)
/// written in the same transaction: the schedule does not change unaudited.
#[allow(clippy::expect_used, reason = "the row was just written")]
pub async fn put_audited(
    db: &Db,
    org: &str,
    cron: &str,
    timezone: &str,
    by: &str,
    now: DateTime<Utc>,
    actor: Option<&Actor<'_>>,
) -> Result<Schedule> {
    let mut tx = db.pool().begin().await?;
    let read = |row: Option<ScheduleRow>| row.map(ScheduleRow::into_schedule).transpose();
    let select = format!("SELECT {COLUMNS} FROM schedules WHERE org_id = $1");
    let before = read(
        sqlx::query_as::<_, ScheduleRow>(&select)
            .bind(org)
            .fetch_optional(&mut *tx)
            .await?,
    )?;
    sqlx::query(
        "INSERT INTO schedules (org_id, cron, timezone, updated_by, updated_at, last_slot) VALUES ($1, $2, $3, $4, $5, NULL) \
         ON CONFLICT (org_id) DO UPDATE SET cron = $2, timezone = $3, updated_by = $4, updated_at = $5",
    )
    .bind(org)
    .bind(cron)
    .bind(timezone)
    .bind(by)
    .bind(timestamp(now))
    .execute(&mut *tx)
    .await?;
    let after = read(
        sqlx::query_as::<_, ScheduleRow>(&select)
            .bind(org)
            .fetch_optional(&mut *tx)
            .await?,
    )?
    .expect("the row was just written");
    if let Some(actor) = actor {
        let spec = |s: &Schedule| json!({"cron": s.spec.text, "timezone": s.spec.timezone.name()});
        Audited::new(actor.clone(), Action::ScheduleChange, "schedule")
            .before(before.as_ref().map(spec))
            .after(Some(spec(&after)))
            .write(&mut tx, org)
            .await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// Seeds an org's schedule from the config unless it has one.
pub async fn seed(db: &Db, org: &str, cron: &str, timezone: &str, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO schedules (org_id, cron, timezone, updated_by, updated_at, last_slot) \
         VALUES ($1, $2, $3, 'system:config', $4, NULL) ON CONFLICT (org_id) DO NOTHING",
    )
    .bind(org)
    .bind(cron)
    .bind(timezone)
    .bind(timestamp(now))
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Records that `slot` was handled; never moves back (another instance may be ahead).
pub async fn mark_slot(db: &Db, org: &str, slot: DateTime<Utc>) -> Result<()> {
    let slot = timestamp(slot);
    sqlx::query("UPDATE schedules SET last_slot = $1 WHERE org_id = $2 AND (last_slot IS NULL OR last_slot < $1)")
        .bind(slot)
        .bind(org)
        .execute(db.pool())
        .await?;
    Ok(())
}
