//! Checkpoints, as pure logic: a shard's folded state together with the source offsets it
//! contains, encoded as one object so that it is written whole or not at all. Where and how
//! checkpoints are stored is the connectors' business; this module only turns them into bytes
//! and back.
//!
//! The encoding is postcard (compact, schema-free serde) compressed with LZ4 in one block per
//! core (each as its length and the block), behind a magic header that names the format version, so a checkpoint from an incompatible engine is refused
//! by name instead of misread.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::parallel::{cores, map_in_order};
use crate::state::Ledger;

// Version 2: punch event ids that are UUIDs are kept as their bits.
const MAGIC: &[u8; 8] = b"PAYCKPT2";

/// A shard's state at a point in its source partitions: the ledger folded from every message
/// before `offsets` (topic name to the next offset to read).
#[derive(Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    pub shard: u32,
    /// Counts the shard's checkpoints; the next one is `seq + 1`.
    pub seq: u64,
    pub offsets: BTreeMap<String, i64>,
    pub ledger: Ledger,
}

/// The same fields by reference: postcard writes a struct as its fields in order, so both read
/// and write the same bytes, and a checkpoint is encoded without copying the ledger.
#[derive(Serialize)]
struct CheckpointRef<'a> {
    shard: u32,
    seq: u64,
    offsets: &'a BTreeMap<String, i64>,
    ledger: &'a Ledger,
}

impl Checkpoint {
    pub fn encode(&self) -> Vec<u8> {
        Checkpoint::encode_parts(self.shard, self.seq, &self.offsets, &self.ledger)
    }

    pub fn encode_parts(shard: u32, seq: u64, offsets: &BTreeMap<String, i64>, ledger: &Ledger) -> Vec<u8> {
        let parts = CheckpointRef {
            shard,
            seq,
            offsets,
            ledger,
        };
        let body = postcard::to_allocvec(&parts).expect("a ledger serializes into memory");
        // Compressed in one block per core, on every core: a large shard's checkpoint must not
        // hold up the stream.
        let blocks = map_in_order(
            body.chunks(body.len().div_ceil(cores()).max(1)),
            lz4_flex::compress_prepend_size,
        );
        let mut out = Vec::with_capacity(MAGIC.len() + blocks.iter().map(|b| b.len() + 8).sum::<usize>());
        out.extend_from_slice(MAGIC);
        for block in blocks {
            out.extend_from_slice(&(block.len() as u64).to_le_bytes());
            out.extend_from_slice(&block);
        }
        out
    }

    /// Decodes a checkpoint, giving its ledger the sites of `sites` (sites are configuration,
    /// not state); fails if a restored worker's site is not among them.
    pub fn decode(bytes: &[u8], sites: &Ledger) -> Result<Checkpoint, Invalid> {
        let Some(compressed) = bytes.strip_prefix(MAGIC) else {
            return Err(Invalid::record(format!(
                "not a checkpoint of this engine version (expected it to start with {})",
                String::from_utf8_lossy(MAGIC)
            )));
        };
        let corrupt = |e: &dyn std::fmt::Display| Invalid::record(format!("corrupt checkpoint: {e}"));
        let mut blocks = Vec::new();
        let mut rest = compressed;
        while !rest.is_empty() {
            let (length, tail) = rest
                .split_first_chunk::<8>()
                .ok_or_else(|| corrupt(&"truncated block"))?;
            let length = usize::try_from(u64::from_le_bytes(*length)).map_err(|e| corrupt(&e))?;
            let block = tail.get(..length).ok_or_else(|| corrupt(&"truncated block"))?;
            blocks.push(block);
            rest = &tail[length..];
        }
        let decompressed = map_in_order(blocks, |block| {
            lz4_flex::decompress_size_prepended(block).map_err(|e| corrupt(&e))
        });
        let body = decompressed.into_iter().collect::<Result<Vec<_>, _>>()?.concat();
        let checkpoint: Checkpoint =
            postcard::from_bytes(&body).map_err(|e| Invalid::record(format!("corrupt checkpoint: {e}")))?;
        let ledger = checkpoint
            .ledger
            .with_sites_of(sites)
            .map_err(|e| Invalid::record(format!("checkpoint does not fit the sites file: {e}")))?;
        Ok(Checkpoint { ledger, ..checkpoint })
    }
}
