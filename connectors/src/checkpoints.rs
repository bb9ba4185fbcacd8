//! Checkpoints in the state store. Each is written once under the next sequence number of its
//! shard with a create-only put: it is whole or absent, and of two instances that both think
//! they own a shard only one can write its next checkpoint (the other learns it lost the shard).

use std::collections::BTreeMap;

use object_store::path::Path;
use payroll_engine::{Checkpoint, Ledger};

use crate::error::{Error, Result};
use crate::layout;
use crate::store::Store;

/// How many of a shard's latest checkpoints are kept.
const KEEP: u64 = 2;

#[derive(Debug, Clone)]
pub struct Checkpoints {
    store: Store,
}

/// Every shard's latest checkpoint, merged: what a run over the state computes from.
pub struct Merged {
    pub ledger: Ledger,
    /// `topic/partition` to the next offset: what the state contains.
    pub offsets: BTreeMap<String, i64>,
    pub shards: usize,
}

impl Checkpoints {
    pub fn new(store: Store) -> Self {
        Checkpoints { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The latest checkpoint's sequence number of each shard.
    pub async fn latest_seqs(&self) -> Result<BTreeMap<u32, u64>> {
        let mut latest = BTreeMap::new();
        for meta in self.store.list(&Path::from(layout::CHECKPOINTS)).await? {
            if let Some((shard, seq)) = layout::parse_checkpoint(&meta.location) {
                let entry = latest.entry(shard).or_insert(seq);
                *entry = (*entry).max(seq);
            }
        }
        Ok(latest)
    }

    pub async fn latest_seq(&self, shard: u32) -> Result<Option<u64>> {
        let found = self.store.list(&layout::checkpoint_dir(shard)).await?;
        Ok(found
            .iter()
            .filter_map(|meta| layout::parse_checkpoint(&meta.location))
            .map(|(_, seq)| seq)
            .max())
    }

    /// The shard's latest checkpoint, if it has one.
    pub async fn latest(&self, shard: u32, sites: &Ledger) -> Result<Option<Checkpoint>> {
        let Some(seq) = self.latest_seq(shard).await? else {
            return Ok(None);
        };
        self.read(shard, seq, sites).await.map(Some)
    }

    /// Checkpoint `seq` of `shard`.
    pub async fn read(&self, shard: u32, seq: u64, sites: &Ledger) -> Result<Checkpoint> {
        let path = layout::checkpoint(shard, seq);
        let bytes = self.store.get(&path).await?;
        Checkpoint::decode(&bytes, sites).map_err(|e| Error::input(self.store.url_of(&path), e.to_string()))
    }

    /// Writes checkpoint `seq` of `shard`; `Ok(false)` if it already exists (another instance
    /// owns the shard now). Older checkpoints beyond the kept ones are removed.
    pub async fn save(&self, shard: u32, seq: u64, bytes: Vec<u8>) -> Result<bool> {
        if !self.store.create(&layout::checkpoint(shard, seq), bytes).await? {
            return Ok(false);
        }
        if let Some(old) = seq.checked_sub(KEEP) {
            // Best effort: a leftover old checkpoint is only wasted space.
            if let Err(e) = self.store.delete(&layout::checkpoint(shard, old)).await {
                tracing::debug!(shard, seq = old, error = %e, "old checkpoint not removed");
            }
        }
        Ok(true)
    }

    /// Every shard's latest checkpoint merged into one ledger.
    pub async fn merged(&self, sites: &Ledger) -> Result<Merged> {
        let latest = self.latest_seqs().await?;
        if latest.is_empty() {
            return Err(Error::input(
                self.store.url_of(&Path::from(layout::CHECKPOINTS)),
                "no checkpoints: run `payroll stream` with this --state first",
            ));
        }
        let mut ledger = sites.empty_like();
        let mut offsets = BTreeMap::new();
        for (&shard, &seq) in &latest {
            let checkpoint = self.read(shard, seq, sites).await?;
            for (topic, offset) in checkpoint.offsets {
                offsets.insert(format!("{topic}/{shard}"), offset);
            }
            ledger.merge(checkpoint.ledger);
        }
        Ok(Merged {
            ledger,
            offsets,
            shards: latest.len(),
        })
    }
}
