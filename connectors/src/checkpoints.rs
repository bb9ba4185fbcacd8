//! Checkpoints in the state store. Each is written once, create-only, under its shard's next
//! name ([`CheckpointName`]): it is whole or absent, and of two instances that both think they
//! own a shard only one can write a given name.
//!
//! An instance that takes a shard over claims a new epoch, above every epoch in the shard's
//! place, and names its checkpoints with it; the current checkpoint is the highest (epoch, seq).
//! A zombie (an instance that lost the shard and does not know it yet) writes under its old
//! epoch, below the new owner's: the write is found fenced, removed, and the zombie drops the
//! shard. A latest checkpoint that cannot be read (damaged, or sealed with another key) is
//! skipped for the one before it, loudly. Checkpoints can be sealed at rest ([`Seal`]).

use std::collections::BTreeMap;

use object_store::path::Path;
use payroll_engine::{Checkpoint, Ledger};

use crate::error::{Error, Result};
use crate::layout::{self, CheckpointName};
use crate::seal::{KEY_VAR, Seal, is_sealed};
use crate::store::Store;

/// How many of a shard's latest checkpoints are kept: the current one, and one to fall back to.
const KEEP: usize = 2;

#[derive(Debug, Clone)]
pub struct Checkpoints {
    store: Store,
    seal: Option<std::sync::Arc<Seal>>,
}

/// A shard as an instance taking it over finds it.
#[derive(Debug)]
pub struct Restored {
    /// The newest readable checkpoint, if the shard has one.
    pub checkpoint: Option<Checkpoint>,
    /// Its name.
    pub name: Option<CheckpointName>,
    /// The epoch this instance writes the shard's checkpoints under.
    pub epoch: u32,
    /// Newer checkpoints that could not be read, with why (already logged).
    pub skipped: Vec<(CheckpointName, String)>,
}

/// What a create-only write of a checkpoint found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Written,
    /// The name was taken: another instance of the same epoch wrote it first.
    Taken,
    /// A newer epoch has claimed the shard: this instance lost it. Its write was removed.
    Fenced,
}

/// Every shard's latest checkpoint, merged: what a run over the state computes from.
pub struct Merged {
    pub ledger: Ledger,
    /// `topic/partition` to the next offset: what the state contains.
    pub offsets: BTreeMap<String, i64>,
    pub shards: usize,
}

impl Checkpoints {
    /// The checkpoints of `store`, sealed with the key in [`KEY_VAR`] if it is set.
    pub fn open(store: Store) -> Result<Self> {
        Ok(Checkpoints::new(store, Seal::from_env()?))
    }

    pub fn new(store: Store, seal: Option<Seal>) -> Self {
        Checkpoints {
            store,
            seal: seal.map(std::sync::Arc::new),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Every checkpoint's name, in checkpoint order.
    pub async fn names(&self) -> Result<Vec<CheckpointName>> {
        self.names_in(&Path::from(layout::CHECKPOINTS)).await
    }

    /// A shard's checkpoints, in checkpoint order (the current one last).
    pub async fn names_of(&self, partitions: u32, shard: u32) -> Result<Vec<CheckpointName>> {
        self.names_in(&layout::checkpoint_dir(partitions, shard)).await
    }

    async fn names_in(&self, dir: &Path) -> Result<Vec<CheckpointName>> {
        let mut names: Vec<CheckpointName> = self
            .store
            .list(dir)
            .await?
            .iter()
            .filter_map(|meta| CheckpointName::parse(&meta.location))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Checkpoint `name`. A damaged or foreign object is [`Error::Input`], naming it; a store
    /// that does not answer is another error, to be retried rather than skipped.
    pub async fn read(&self, name: CheckpointName, sites: &Ledger) -> Result<Checkpoint> {
        let path = name.path();
        let url = self.store.url_of(&path);
        let bytes = self.store.get(&path).await?;
        let plain = match (&self.seal, is_sealed(&bytes)) {
            (Some(seal), _) => seal
                .open(path.as_ref(), &bytes)
                .map_err(|e| Error::input(&url, e.to_string()))?,
            (None, true) => {
                return Err(Error::input(
                    url,
                    format!("sealed: set {KEY_VAR} to the key it was written with"),
                ));
            }
            (None, false) => bytes.to_vec(),
        };
        Checkpoint::decode(&plain, sites).map_err(|e| Error::input(url, e.to_string()))
    }

    /// The shard for an instance taking it over: its newest readable checkpoint and a new epoch
    /// to write under.
    pub async fn restore(&self, partitions: u32, shard: u32, sites: &Ledger) -> Result<Restored> {
        let names = self.names_of(partitions, shard).await?;
        self.restore_listed(&names, sites).await
    }

    /// [`Checkpoints::restore`] of a shard whose checkpoints' names were just listed.
    pub async fn restore_listed(&self, names: &[CheckpointName], sites: &Ledger) -> Result<Restored> {
        let epoch = names.iter().map(|n| n.epoch).max().map_or(0, |e| e + 1);
        let (checkpoint, skipped) = self.newest_readable(names, sites).await?;
        Ok(Restored {
            name: checkpoint.as_ref().map(|(name, _)| *name),
            checkpoint: checkpoint.map(|(_, c)| c),
            epoch,
            skipped,
        })
    }

    /// The newest of a shard's checkpoints `names` (in checkpoint order) that can be read. An
    /// unreadable one is skipped (logged as an error) for the one before; if there are some
    /// and none can be read, the shard cannot be restored, and that is an error.
    async fn newest_readable(
        &self,
        names: &[CheckpointName],
        sites: &Ledger,
    ) -> Result<(Option<(CheckpointName, Checkpoint)>, Vec<(CheckpointName, String)>)> {
        let mut skipped = Vec::new();
        for &name in names.iter().rev() {
            match self.read(name, sites).await {
                Ok(checkpoint) => return Ok((Some((name, checkpoint)), skipped)),
                Err(Error::Input { path, message }) => {
                    tracing::error!(shard = name.shard, checkpoint = %path, error = %message, "checkpoint unreadable: falling back to the one before");
                    skipped.push((name, message));
                }
                Err(e) => return Err(e),
            }
        }
        match skipped.first() {
            None => Ok((None, skipped)),
            Some((name, message)) => Err(Error::input(
                self.store.url_of(&name.path()),
                format!(
                    "no readable checkpoint of shard {} ({} tried): {message}",
                    name.shard,
                    skipped.len()
                ),
            )),
        }
    }

    /// Writes checkpoint `name` create-only, sealed if a key is set; then removes the shard's
    /// checkpoints older than the kept ones.
    pub async fn save(&self, name: CheckpointName, bytes: Vec<u8>) -> Result<Saved> {
        let path = name.path();
        let bytes = match &self.seal {
            Some(seal) => seal.seal(path.as_ref(), bytes)?,
            None => bytes,
        };
        if !self.store.create(&path, bytes).await? {
            return Ok(Saved::Taken);
        }
        let names = self.names_of(name.partitions, name.shard).await?;
        if names.iter().any(|n| n.epoch > name.epoch) {
            self.store.delete(&path).await?;
            return Ok(Saved::Fenced);
        }
        for old in names.iter().rev().skip(KEEP) {
            // Best effort: a leftover old checkpoint is only wasted space.
            if let Err(e) = self.store.delete(&old.path()).await {
                tracing::debug!(checkpoint = %old.path(), error = %e, "old checkpoint not removed");
            }
        }
        Ok(Saved::Written)
    }

    /// Every shard's latest readable checkpoint merged into one ledger. Shards of another
    /// partition count than the newest are refused rather than merged: they hold other workers'
    /// stale state (the topics were repartitioned since), and must be removed first.
    pub async fn merged(&self, sites: &Ledger) -> Result<Merged> {
        let root = self.store.url_of(&Path::from(layout::CHECKPOINTS));
        let mut shards: BTreeMap<(u32, u32), Vec<CheckpointName>> = BTreeMap::new();
        for name in self.names().await? {
            shards.entry((name.partitions, name.shard)).or_default().push(name);
        }
        let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
        for (partitions, _) in shards.keys() {
            *counts.entry(*partitions).or_default() += 1;
        }
        if counts.is_empty() {
            return Err(Error::input(
                root,
                "no checkpoints: run `payroll stream` with this --state first",
            ));
        }
        if counts.len() > 1 {
            let found: Vec<String> = counts
                .iter()
                .map(|(p, n)| format!("{n} shard(s) of {p} partitions"))
                .collect();
            return Err(Error::input(
                root,
                format!(
                    "checkpoints of different partition counts ({}): the topics were repartitioned, so the shards of the older count hold stale state; remove their partitions-<count> folder and let the stream rebuild",
                    found.join(", ")
                ),
            ));
        }
        let mut ledger = sites.empty_like();
        let mut offsets = BTreeMap::new();
        for names in shards.values() {
            let (Some((name, checkpoint)), _) = self.newest_readable(names, sites).await? else {
                continue;
            };
            for (topic, offset) in checkpoint.offsets {
                offsets.insert(format!("{topic}/{}", name.shard), offset);
            }
            ledger.merge(checkpoint.ledger);
        }
        Ok(Merged {
            ledger,
            offsets,
            shards: shards.len(),
        })
    }
}
