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
use crate::parallel::{map_in_order, map_shares};
use crate::state::Ledger;

// Version 2: punch event ids that are UUIDs are kept as their bits. Version 3: every event id
// is 128 bits (other ids hashed), and a punch one integer. Version 4: the ledger records the
// periods closed to the archive and the workers' periods reopened from it. Version 5: workers
// carry their contact (phone, email, language).
const MAGIC: &[u8; 8] = b"PAYCKPT5";
/// Checkpoints are written in one block per core of the writer.
const MAX_BLOCKS: usize = 1024;

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

    #[allow(clippy::expect_used, reason = "a ledger serializes into memory")]
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
        let blocks = map_shares(&body, lz4_flex::compress_prepend_size);
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
            // A block a core: each is decompressed on a thread of its own, so a count no writer
            // has cores for is refused before it spawns them.
            if blocks.len() == MAX_BLOCKS {
                return Err(corrupt(&format!("more than {MAX_BLOCKS} blocks")));
            }
            blocks.push(block);
            rest = &tail[length..];
        }
        let decompressed = map_in_order(blocks, |block| {
            // The size a block declares is allocated before it is checked: refuse one LZ4 could
            // never have produced (it compresses at most 255 to 1) rather than allocate it.
            let (declared, data) = block.split_first_chunk::<4>().ok_or_else(|| corrupt(&"empty block"))?;
            if u64::from(u32::from_le_bytes(*declared)) > (data.len() as u64 + 16) * 255 {
                return Err(corrupt(&"a block declares more than it can hold"));
            }
            lz4_flex::decompress_size_prepended(block).map_err(|e| corrupt(&e))
        });
        let body = decompressed.into_iter().collect::<Result<Vec<_>, _>>()?.concat();
        let checkpoint: Checkpoint =
            postcard::from_bytes(&body).map_err(|e| Invalid::record(format!("corrupt checkpoint: {e}")))?;
        if let Some((topic, offset)) = checkpoint.offsets.iter().find(|(_, offset)| **offset < 0) {
            return Err(corrupt(&format!(
                "topic {topic} at offset {offset}: offsets are never negative"
            )));
        }
        checkpoint.ledger.check_punch_times().map_err(|e| corrupt(&e.reason))?;
        let ledger = checkpoint
            .ledger
            .with_sites_of(sites)
            .map_err(|e| Invalid::record(format!("checkpoint does not fit the sites file: {e}")))?;
        Ok(Checkpoint { ledger, ..checkpoint })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Direction, Event, EventId, Punch};

    fn with_punch_at(at_ms: i64, offset: i64) -> Vec<u8> {
        let mut ledger = Ledger::new([]);
        ledger.apply(Event::Punch(Punch {
            event_id: EventId::new("p1"),
            worker_id: "W1".into(),
            at_ms,
            direction: Direction::In,
        }));
        let offsets = BTreeMap::from([("attendance".to_string(), offset)]);
        Checkpoint::encode_parts(3, 7, &offsets, &ledger)
    }

    #[test]
    fn corrupt_checkpoints_are_refused_by_reason_never_a_panic() {
        let framed = |blocks: &[&[u8]]| {
            let mut out = MAGIC.to_vec();
            for block in blocks {
                out.extend_from_slice(&(block.len() as u64).to_le_bytes());
                out.extend_from_slice(block);
            }
            out
        };
        let mut many_empty = MAGIC.to_vec();
        for _ in 0..100_000 {
            many_empty.extend_from_slice(&0u64.to_le_bytes());
        }
        let mut huge_length = MAGIC.to_vec();
        huge_length.extend_from_slice(&u64::MAX.to_le_bytes());
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "another engine's",
                b"PAYCKPT1xxxx".to_vec(),
                "not a checkpoint of this engine version",
            ),
            ("many empty blocks", many_empty, "more than 1024 blocks"),
            ("an empty block", framed(&[&[]]), "empty block"),
            ("a block longer than the file", huge_length, "truncated block"),
            (
                "a block declaring 4 GB",
                framed(&[&[0xff, 0xff, 0xff, 0xff, 0, 0]]),
                "declares more",
            ),
            (
                "a negative offset",
                with_punch_at(1_790_707_200_000, -5),
                "offsets are never negative",
            ),
            // The most a stored punch can hold: 62 bits of milliseconds.
            ("a punch past any date", with_punch_at(i64::MAX >> 1, 10), "no instant"),
        ];
        for (case, bytes, reason) in cases {
            let refused = Checkpoint::decode(&bytes, &Ledger::new([])).unwrap_err();
            assert!(refused.reason.contains(reason), "{case}: {}", refused.reason);
        }
        assert!(Checkpoint::decode(&with_punch_at(1_790_707_200_000, 10), &Ledger::new([])).is_ok());
    }
}
