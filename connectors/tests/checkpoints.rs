//! The state store's checkpoints without a broker: fall back past an unreadable latest one,
//! fence a zombie by epoch, refuse shards of another partition count, seal at rest.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use object_store::memory::InMemory;
use payroll_connectors::checkpoints::{Checkpoints, Saved};
use payroll_connectors::files::read_sites;
use payroll_connectors::layout::CheckpointName;
use payroll_connectors::seal::Seal;
use payroll_connectors::{Error, Store};
use payroll_engine::{Checkpoint, Ledger, Worker};

const ACCOUNT: &str = "494833411340";

fn sites() -> Ledger {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/data/sample/sites.csv");
    Ledger::new(read_sites(&path).unwrap())
}

fn memory() -> Store {
    Store::new(Arc::new(InMemory::new()), "memory:///".parse().unwrap())
}

/// A checkpoint's bytes: one worker, and `offset` as its attendance offset.
fn state(offset: i64) -> Vec<u8> {
    let mut ledger = sites().empty_like();
    let worker = format!(
        r#"{{"worker_id": "W1", "org_id": "org0", "site_id": "S00", "name": "A Worker", "gender": "F", "state": "MH",
        "skill": "skilled", "pay_basis": "daily", "rate": "700.00", "pf_applicable": "true", "esi_applicable": "true",
        "bank_account": "{ACCOUNT}", "pan": "ABCDE1234F", "joined_on": "2025-01-01"}}"#
    );
    ledger
        .upsert_worker(Worker::decode_json(worker.as_bytes()).unwrap())
        .unwrap();
    let offsets = BTreeMap::from([("attendance".to_string(), offset)]);
    Checkpoint::encode_parts(0, offset as u64, &offsets, &ledger)
}

fn name(epoch: u32, seq: u64) -> CheckpointName {
    CheckpointName {
        partitions: 2,
        shard: 0,
        epoch,
        seq,
    }
}

fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn an_unreadable_latest_checkpoint_falls_back_to_the_one_before() {
    let store = memory();
    let checkpoints = Checkpoints::new(store.clone(), None);
    block_on(async {
        assert_eq!(checkpoints.save(name(0, 1), state(10)).await.unwrap(), Saved::Written);
        assert_eq!(checkpoints.save(name(0, 2), state(20)).await.unwrap(), Saved::Written);
        // Damaged in place: a checkpoint is only ever damaged by something outside the engine.
        store.put(&name(0, 2).path(), b"PAYCKPT5 torn".to_vec()).await.unwrap();

        let restored = checkpoints.restore(2, 0, &sites()).await.unwrap();
        assert_eq!(restored.name, Some(name(0, 1)));
        assert_eq!(restored.checkpoint.unwrap().offsets["attendance"], 10);
        assert_eq!(restored.skipped.len(), 1);
        assert!(
            restored.skipped[0].1.contains("corrupt checkpoint"),
            "{:?}",
            restored.skipped
        );
        // The next checkpoint goes under a new epoch: never onto the damaged one's name.
        assert_eq!(restored.epoch, 1);
        let merged = checkpoints.merged(&sites()).await.unwrap();
        assert_eq!(merged.offsets["attendance/0"], 10);

        // Nothing readable at all is an error, not an empty shard.
        store.put(&name(0, 1).path(), b"junk".to_vec()).await.unwrap();
        let error = checkpoints.restore(2, 0, &sites()).await.unwrap_err().to_string();
        assert!(error.contains("no readable checkpoint of shard 0 (2 tried)"), "{error}");
    });
}

#[test]
fn a_zombie_is_fenced_by_the_new_owners_epoch() {
    let checkpoints = Checkpoints::new(memory(), None);
    block_on(async {
        // The first owner finds nothing and writes under epoch 0.
        let first = checkpoints.restore(2, 0, &sites()).await.unwrap();
        assert_eq!((first.epoch, first.name), (0, None));
        assert_eq!(checkpoints.save(name(0, 1), state(10)).await.unwrap(), Saved::Written);

        // A rebalance gives the shard to another instance, which claims epoch 1.
        let second = checkpoints.restore(2, 0, &sites()).await.unwrap();
        assert_eq!((second.epoch, second.name), (1, Some(name(0, 1))));
        // Before the new owner writes, the zombie's write still lands: it is the latest.
        assert_eq!(checkpoints.save(name(0, 2), state(15)).await.unwrap(), Saved::Written);
        assert_eq!(checkpoints.save(name(1, 2), state(20)).await.unwrap(), Saved::Written);
        // From then on the zombie can never write again: each attempt is removed.
        for seq in 3..5 {
            assert_eq!(checkpoints.save(name(0, seq), state(30)).await.unwrap(), Saved::Fenced);
        }
        let names = checkpoints.names_of(2, 0).await.unwrap();
        assert_eq!(names, [name(0, 2), name(1, 2)]);
        let restored = checkpoints.restore(2, 0, &sites()).await.unwrap();
        assert_eq!(restored.checkpoint.unwrap().offsets["attendance"], 20);
        assert_eq!(restored.epoch, 2);

        // Two instances of one epoch: the name is the race, and one loses it.
        assert_eq!(checkpoints.save(name(2, 3), state(40)).await.unwrap(), Saved::Written);
        assert_eq!(checkpoints.save(name(2, 3), state(41)).await.unwrap(), Saved::Taken);
        // Only the latest two are kept.
        assert_eq!(checkpoints.names_of(2, 0).await.unwrap(), [name(1, 2), name(2, 3)]);
    });
}

#[test]
fn a_run_over_the_state_refuses_shards_of_another_partition_count() {
    let checkpoints = Checkpoints::new(memory(), None);
    block_on(async {
        checkpoints.save(name(0, 1), state(10)).await.unwrap();
        let repartitioned = CheckpointName {
            partitions: 4,
            shard: 3,
            ..name(0, 1)
        };
        checkpoints.save(repartitioned, state(10)).await.unwrap();
        let error = checkpoints.merged(&sites()).await.err().unwrap().to_string();
        assert!(
            error.contains("1 shard(s) of 2 partitions, 1 shard(s) of 4 partitions"),
            "{error}"
        );
    });
}

#[test]
fn a_sealed_checkpoint_holds_no_personal_data_in_clear_and_needs_its_key() {
    let key = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";
    let store = memory();
    let sealed = Checkpoints::new(store.clone(), Some(Seal::from_hex(key).unwrap()));
    block_on(async {
        // The clear encoding compresses the ledger, so look for the account in a bigger one.
        sealed.save(name(0, 1), state(10)).await.unwrap();
        let bytes = store.get(&name(0, 1).path()).await.unwrap();
        assert!(bytes.starts_with(b"PAYSEAL1"));
        let clear = lz4_blocks_contain(&state(10), ACCOUNT.as_bytes());
        assert!(
            clear,
            "the clear checkpoint holds the account, so the sealed one is tested"
        );
        assert!(!lz4_blocks_contain(&bytes, ACCOUNT.as_bytes()));

        let restored = sealed.restore(2, 0, &sites()).await.unwrap();
        assert_eq!(restored.checkpoint.unwrap().offsets["attendance"], 10);

        let keyless = Checkpoints::new(store.clone(), None);
        let error = keyless.restore(2, 0, &sites()).await.unwrap_err().to_string();
        assert!(error.contains("sealed: set PAYROLL_CHECKPOINT_KEY"), "{error}");
        let other = Seal::from_hex(&key.replace('1', "2")).unwrap();
        let error = Checkpoints::new(store.clone(), Some(other))
            .restore(2, 0, &sites())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Input { .. }), "{error}");
        assert!(error.to_string().contains("does not open"), "{error}");

        // A key set over a store written in clear refuses it rather than mixing the two.
        let clear_store = memory();
        Checkpoints::new(clear_store.clone(), None)
            .save(name(0, 1), state(10))
            .await
            .unwrap();
        let error = Checkpoints::new(clear_store, Some(Seal::from_hex(key).unwrap()))
            .restore(2, 0, &sites())
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("refusing a checkpoint in clear"), "{error}");
    });
}

/// Whether `needle` appears in `bytes` as stored or in any LZ4 block of a clear checkpoint.
fn lz4_blocks_contain(bytes: &[u8], needle: &[u8]) -> bool {
    let found = |b: &[u8]| b.windows(needle.len()).any(|w| w == needle);
    if found(bytes) {
        return true;
    }
    let Some(mut rest) = bytes.strip_prefix(b"PAYCKPT5") else {
        return false;
    };
    while let Some((length, tail)) = rest.split_first_chunk::<8>() {
        let length = u64::from_le_bytes(*length) as usize;
        let Some(block) = tail.get(..length) else {
            return false;
        };
        if lz4_flex::decompress_size_prepended(block).is_ok_and(|plain| found(&plain)) {
            return true;
        }
        rest = &tail[length..];
    }
    false
}
