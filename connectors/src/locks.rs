//! Period locks as a stream sees them. The service locks an org's period when a second person
//! approves its final run, and publishes a marker into the stream's state store; the stream
//! reads the markers and closes each locked period in its hot state (see `archive`). Markers
//! are only ever added: a locked period stays locked.

use payroll_rules::vocabulary::PayPeriod;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::layout;
use crate::store::Store;

/// What a marker records: the run that locked the period, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub run_id: String,
    pub locked_at: String,
}

/// Publishes `org`'s `period` as locked; publishing it again rewrites the same marker.
pub async fn publish(store: &Store, org: &str, period: PayPeriod, lock: &Lock) -> Result<()> {
    let path = layout::lock(org, &period.to_string());
    store.put(&path, serde_json::to_vec_pretty(lock)?).await
}

/// Every locked (org, period), in order. A marker whose name is not one is skipped with a
/// warning: someone else's file must not stop the stream.
pub async fn list(store: &Store) -> Result<Vec<(String, PayPeriod)>> {
    let mut locked = Vec::new();
    for meta in store.list(&object_store::path::Path::from(layout::LOCKS)).await? {
        match layout::parse_lock(&meta.location).and_then(|(org, period)| Some((org, period.parse().ok()?))) {
            Some(lock) => locked.push(lock),
            None => {
                tracing::warn!(path = %meta.location, "not a lock marker (locks/org_id=<org>/period=<YYYY-MM>.json); skipped")
            }
        }
    }
    locked.sort();
    Ok(locked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn published_locks_are_listed_and_strangers_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().display().to_string()).unwrap();
        let lock = Lock {
            run_id: "r1".into(),
            locked_at: "2026-11-02T10:00:00Z".into(),
        };
        for (org, period) in [("ORG2", "2026-09"), ("ORG1", "2026-10"), ("ORG1", "2026-10")] {
            publish(&store, org, period.parse().unwrap(), &lock).await.unwrap();
        }
        let stranger = object_store::path::Path::from("locks/org_id=ORG1/period=October.json");
        store.put(&stranger, b"{}".to_vec()).await.unwrap();
        let listed = list(&store).await.unwrap();
        let expected: Vec<(String, PayPeriod)> = vec![
            ("ORG1".into(), "2026-10".parse().unwrap()),
            ("ORG2".into(), "2026-09".parse().unwrap()),
        ];
        assert_eq!(listed, expected);
    }
}
