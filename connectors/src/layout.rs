//! Where everything lives in the output store, in one place. Results are hive-partitioned so
//! any engine can prune by org, period and run; side files in the results tree start with `_`,
//! which pyarrow, Spark and Hive skip when they read the tree as a dataset:
//!
//! ```text
//! results/org_id=<org>/period=<YYYY-MM>/run_id=<id>/part-00000.parquet
//! results/org_id=<org>/period=<YYYY-MM>/run_id=<id>/_manifest.json
//! payslips/org_id=<org>/period=<YYYY-MM>/run_id=<id>/<worker_id>.pdf|.xlsx
//! payslips/org_id=<org>/period=<YYYY-MM>/run_id=<id>/register.xlsx, manifest.json
//! runs/<id>.json               the run: period, orgs, ruleset, totals
//! runs/<id>.ruleset.toml       the ruleset text the run applied (for `explain`)
//! dead-letter/<source>.ndjson  refused events and rows of the latest run, with reasons
//!                              (`<source>` is the input's name without extension: `attendance`)
//! ```
//!
//! A stream's state store (`--state`) holds its checkpoints and live results:
//!
//! ```text
//! checkpoints/shard-<NNNN>/<seq>.ckpt          a shard's state and offsets; the highest seq is current
//! live/period=<YYYY-MM>/shard-<NNNN>.parquet   the open period's pay, kept current
//! ```

use object_store::path::Path;

pub const RESULTS: &str = "results";
pub const RUNS: &str = "runs";

pub fn results_dir(org: &str, period: &str, run_id: &str) -> Path {
    Path::from(format!("{RESULTS}/org_id={org}/period={period}/run_id={run_id}"))
}

pub fn results_part(org: &str, period: &str, run_id: &str, part: usize) -> Path {
    results_dir(org, period, run_id).join(format!("part-{part:05}.parquet"))
}

pub fn manifest(org: &str, period: &str, run_id: &str) -> Path {
    results_dir(org, period, run_id).join("_manifest.json")
}

pub fn payslips_dir(org: &str, period: &str, run_id: &str) -> Path {
    Path::from(format!("payslips/org_id={org}/period={period}/run_id={run_id}"))
}

pub fn run_record(run_id: &str) -> Path {
    Path::from(format!("{RUNS}/{run_id}.json"))
}

pub fn run_ruleset(run_id: &str) -> Path {
    Path::from(format!("{RUNS}/{run_id}.ruleset.toml"))
}

pub fn dead_letter(source: &str) -> Path {
    let stem = source.split_once('.').map_or(source, |(stem, _)| stem);
    Path::from(format!("dead-letter/{stem}.ndjson"))
}

pub const CHECKPOINTS: &str = "checkpoints";

pub fn checkpoint_dir(shard: u32) -> Path {
    Path::from(format!("{CHECKPOINTS}/shard-{shard:04}"))
}

/// Sequence numbers are zero-padded, so names sort in checkpoint order.
pub fn checkpoint(shard: u32, seq: u64) -> Path {
    checkpoint_dir(shard).join(format!("{seq:012}.ckpt"))
}

/// The shard and sequence number of a checkpoint's path.
pub fn parse_checkpoint(path: &Path) -> Option<(u32, u64)> {
    let mut parts = path.parts().skip_while(|p| p.as_ref() != CHECKPOINTS).skip(1);
    let shard = parts.next()?.as_ref().strip_prefix("shard-")?.parse().ok()?;
    let seq = parts.next()?.as_ref().strip_suffix(".ckpt")?.parse().ok()?;
    Some((shard, seq))
}

pub const LIVE: &str = "live";

/// Every shard's live results of a period.
pub fn live_dir(period: &str) -> Path {
    Path::from(format!("{LIVE}/period={period}"))
}

pub fn live_part(period: &str, shard: u32) -> Path {
    live_dir(period).join(format!("shard-{shard:04}.parquet"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_paths_round_trip() {
        assert_eq!(checkpoint(3, 12).as_ref(), "checkpoints/shard-0003/000000000012.ckpt");
        assert_eq!(parse_checkpoint(&checkpoint(3, 12)), Some((3, 12)));
        assert_eq!(parse_checkpoint(&Path::from("checkpoints/shard-0003/x.tmp")), None);
    }
}
