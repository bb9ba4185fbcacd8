//! Anchors of the audit log. The hash chain finds an entry edited or deleted in the middle, but
//! not a chain cut short (its last entries deleted) nor one rewritten whole and hashed again:
//! whoever can write the database can do either. So every few minutes each org's chain head
//! (sequence number and hash) is signed with the anchor key and written, once, to the object
//! store (`audit-anchors/org_id=<org>/<seq>.json`), out of the database's reach; `payroll audit
//! verify --config` checks each chain against its anchors and names what does not hold.
//!
//! [`Anchor::sign`], [`Anchor::holds`] and [`check`] are pure; [`publish`] and [`read`] are the
//! I/O at the edges.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use payroll_connectors::{Store, layout};
use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::db::audit;
use crate::db::{Db, timestamp};
use crate::error::{Error, Result};

/// An org's chain head as it was at a time, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub org_id: String,
    pub seq: i64,
    pub hash: String,
    pub at: String,
    /// HMAC-SHA256 of the fields above, hex.
    pub mac: String,
}

/// The key anchors are signed with.
pub struct AnchorKey(hmac::Key);

impl AnchorKey {
    pub fn new(secret: &[u8]) -> AnchorKey {
        AnchorKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }
}

impl Anchor {
    pub fn sign(key: &AnchorKey, org_id: &str, seq: i64, hash: &str, at: DateTime<Utc>) -> Anchor {
        let at = timestamp(at);
        let mac = hex::encode(hmac::sign(&key.0, signed_text(org_id, seq, hash, &at).as_bytes()));
        Anchor {
            org_id: org_id.to_string(),
            seq,
            hash: hash.to_string(),
            at,
            mac,
        }
    }

    /// Whether `key` signed this anchor as it reads.
    pub fn holds(&self, key: &AnchorKey) -> bool {
        hex::decode(&self.mac).is_ok_and(|mac| {
            let text = signed_text(&self.org_id, self.seq, &self.hash, &self.at);
            hmac::verify(&key.0, text.as_bytes(), &mac).is_ok()
        })
    }
}

/// What the MAC covers: every field, unambiguously (ids and hashes hold no newline).
fn signed_text(org_id: &str, seq: i64, hash: &str, at: &str) -> String {
    format!("payroll audit anchor v1\n{org_id}\n{seq}\n{hash}\n{at}")
}

/// Checks an org's chain, as `(seq, hash)` of each entry in order, against its anchors: each
/// anchor must be signed by `key`, and the chain must still hold the entry it anchored, with
/// the same hash. The first fault, in words, or `None`.
pub fn check(key: &AnchorKey, chain: &[(i64, String)], anchors: &[Anchor]) -> Option<String> {
    let by_seq: BTreeMap<i64, &str> = chain.iter().map(|(seq, hash)| (*seq, hash.as_str())).collect();
    let last = chain.last().map_or(0, |(seq, _)| *seq);
    for anchor in anchors {
        if !anchor.holds(key) {
            return Some(format!(
                "the anchor of entry {} ({}) is not signed by this anchor key: forged, or signed with another key",
                anchor.seq, anchor.at
            ));
        }
        match by_seq.get(&anchor.seq) {
            None => {
                return Some(format!(
                    "entry {} was anchored at {}, but the chain ends at entry {last}: it was cut short (entries deleted from its end)",
                    anchor.seq, anchor.at
                ));
            }
            Some(hash) if *hash != anchor.hash => {
                return Some(format!(
                    "entry {}'s hash is not the one anchored at {}: the chain was rewritten",
                    anchor.seq, anchor.at
                ));
            }
            Some(_) => {}
        }
    }
    None
}

/// Anchors each org's chain head that no anchor holds yet; returns how many were written.
pub async fn publish(db: &Db, store: &Store, key: &AnchorKey, now: DateTime<Utc>) -> Result<usize> {
    let mut written = 0;
    for (org, seq, hash) in audit::heads(db).await? {
        let path = layout::audit_anchor(&org, seq);
        if store.head(&path).await?.is_some() {
            continue;
        }
        let anchor = Anchor::sign(key, &org, seq, &hash, now);
        let bytes = serde_json::to_vec(&anchor).map_err(|e| Error::Internal(format!("anchor: {e}")))?;
        // Written once: an anchor is never replaced, not even by another instance's.
        if store.create(&path, bytes).await? {
            written += 1;
        }
    }
    Ok(written)
}

/// Anchors the chain heads every `every`, for as long as the service runs: a head is anchored
/// within `every` of its entry, so a chain cut short or rewritten after that is found.
pub async fn run(db: Db, store: Store, key: AnchorKey, every: std::time::Duration) {
    loop {
        match publish(&db, &store, &key, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(anchored = n, "audit chain heads anchored"),
            Err(e) => tracing::warn!(error = %e, "audit chain heads not anchored; tried again next time"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Checks every org's chain (or `only` one's) against its anchors: the first org whose chain
/// does not hold and why, or `None`. Orgs with anchors but no entry left are checked too.
pub async fn verify(db: &Db, store: &Store, key: &AnchorKey, only: Option<&str>) -> Result<Option<(String, String)>> {
    let mut orgs: std::collections::BTreeSet<String> =
        audit::heads(db).await?.into_iter().map(|(org, ..)| org).collect();
    for object in store.list(&object_store::path::Path::from("audit-anchors")).await? {
        let org = object
            .location
            .parts()
            .nth(1)
            .and_then(|part| part.as_ref().strip_prefix("org_id=").map(str::to_string));
        orgs.extend(org);
    }
    for org in orgs.into_iter().filter(|org| only.is_none_or(|only| only == org)) {
        let chain = audit::chain(db, &org).await?;
        if let Some(why) = check(key, &chain, &read(store, &org).await?) {
            return Ok(Some((org, why)));
        }
    }
    Ok(None)
}

/// Every anchor of `org`, oldest first. An anchor that does not parse is returned as one that
/// cannot hold, so [`check`] names it.
pub async fn read(store: &Store, org: &str) -> Result<Vec<Anchor>> {
    let mut anchors = Vec::new();
    for object in store.list(&layout::audit_anchors(org)).await? {
        let bytes = store.get(&object.location).await?;
        anchors.push(serde_json::from_slice(&bytes).unwrap_or_else(|_| Anchor {
            org_id: org.to_string(),
            seq: -1,
            hash: String::new(),
            at: object.location.to_string(),
            mac: String::new(),
        }));
    }
    anchors.sort_by_key(|a: &Anchor| a.seq);
    Ok(anchors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<(i64, String)> {
        (1..=n).map(|seq| (seq, format!("h{seq}"))).collect()
    }

    #[test]
    fn a_chain_cut_short_rewritten_or_a_forged_anchor_is_named() {
        let key = AnchorKey::new(b"an anchor key of thirty-two bytes!");
        let at = DateTime::parse_from_rfc3339("2026-10-31T12:00:00Z").unwrap().to_utc();
        let anchors = [
            Anchor::sign(&key, "org0", 2, "h2", at),
            Anchor::sign(&key, "org0", 4, "h4", at),
        ];
        assert_eq!(check(&key, &chain(4), &anchors), None);
        assert_eq!(check(&key, &chain(5), &anchors), None, "entries after the last anchor");
        let cut = check(&key, &chain(3), &anchors).unwrap();
        assert!(
            cut.contains("entry 4 was anchored") && cut.contains("cut short"),
            "{cut}"
        );
        let mut rewritten = chain(4);
        rewritten[1].1 = "x2".into();
        let why = check(&key, &rewritten, &anchors).unwrap();
        assert!(why.contains("entry 2's hash") && why.contains("rewritten"), "{why}");
        let mut forged = anchors.clone();
        forged[1].hash = "h9".into();
        assert!(check(&key, &chain(4), &forged).unwrap().contains("not signed"));
        let other = AnchorKey::new(b"another key, also thirty-two bytes");
        assert!(check(&other, &chain(4), &anchors).unwrap().contains("not signed"));
    }
}
