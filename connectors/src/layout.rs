//! Where everything lives in the output store, in one place. Results are hive-partitioned so
//! any engine can prune by org, period and run; side files in the results tree start with `_`,
//! which pyarrow, Spark and Hive skip when they read the tree as a dataset:
//!
//! ```text
//! results/org_id=<org>/period=<YYYY-MM>/run_id=<id>/part-<NNNNN>.parquet   one a chunk of workers
//! results/org_id=<org>/period=<YYYY-MM>/run_id=<id>/_manifest.json
//! attendance_days/org_id=<org>/period=<YYYY-MM>/run_id=<id>/part-<NNNNN>.parquet
//!                              one row per worker and day of employment the run counted from
//!                              punches and leave (not for summaries uploaded instead): status,
//!                              minutes, first in and last out; a worker the run could not
//!                              compute or excluded keeps their days (they were worked)
//! summary/org_id=<org>/period=<YYYY-MM>/run_id=<id>/part-00000.parquet
//!                              one row per site: headcount, gross, net, employer cost, OT hours,
//!                              LOP days, attendance rate, summed from the results rows
//! arrears/org_id=<org>/period=<YYYY-MM>/run_id=<id>/part-00000.parquet
//!                              what the run carries for earlier, locked periods: one row per
//!                              worker, original period and component
//! payslips/org_id=<org>/period=<YYYY-MM>/run_id=<id>/<worker_id>.pdf|.xlsx
//! payslips/org_id=<org>/period=<YYYY-MM>/run_id=<id>/register.xlsx, manifest.json
//! payouts/org_id=<org>/period=<YYYY-MM>/run_id=<id>/payout_id=<pid>/pain.001.xml, neft.csv,
//!                              exceptions.csv
//!                              a payout of a finalized run: the bank files carry full account
//!                              numbers and are written nowhere else
//! runs/<id>.json               the run: period, orgs, ruleset, totals
//! runs/<id>.ruleset.toml       the ruleset text the run applied (for `explain`)
//! dead-letter/run_id=<id>/<source>.ndjson
//!                              the run's refused events and rows, with reasons (`<source>` is
//!                              the input's name without extension: `attendance`)
//! ```
//!
//! A stream's state store (`--state`) holds its checkpoints and live results:
//!
//! ```text
//! checkpoints/partitions-<NNNN>/shard-<NNNN>/<epoch>-<seq>.ckpt
//!                                              a shard's state and offsets; the highest
//!                                              (epoch, seq) is current
//! live/period=<YYYY-MM>/shard-<NNNN>.parquet   the open period's pay, kept current
//! live-board/period=<YYYY-MM>/shard-<NNNN>.parquet
//!                                              each worker's last two days with a punch: who is
//!                                              checked in, came late, missed a punch
//! locks/org_id=<org>/period=<YYYY-MM>.json      a period the service locked (its run, when):
//!                                              the stream archives its events
//! audit-anchors/org_id=<org>/<seq>.json          an org's audit chain head (sequence number
//!                                              and hash) as it was, signed; written once
//! archive/<kind>/org_id=<org>/period=<YYYY-MM>/partitions-<NNNN>-shard-<NNNN>.parquet
//!                                              a closed period's raw events (`kind`: punches,
//!                                              leaves, adjustments), one file a shard
//! ```

use object_store::path::Path;

pub const RESULTS: &str = "results";

/// An org's audit anchors (the service's output store).
pub fn audit_anchors(org: &str) -> Path {
    Path::from(format!("audit-anchors/org_id={org}"))
}

/// The anchor of an org's audit entry `seq`: zero-padded, so they list in chain order.
pub fn audit_anchor(org: &str, seq: i64) -> Path {
    audit_anchors(org).join(format!("{seq:020}.json"))
}
pub const RUNS: &str = "runs";

pub fn results_dir(org: &str, period: &str, run_id: &str) -> Path {
    Path::from(format!("{RESULTS}/org_id={org}/period={period}/run_id={run_id}"))
}

pub fn results_part(org: &str, period: &str, run_id: &str, part: usize) -> Path {
    results_dir(org, period, run_id).join(format!("part-{part:05}.parquet"))
}

pub const ATTENDANCE_DAYS: &str = "attendance_days";

pub fn attendance_days_dir(org: &str, period: &str, run_id: &str) -> Path {
    Path::from(format!(
        "{ATTENDANCE_DAYS}/org_id={org}/period={period}/run_id={run_id}"
    ))
}

pub fn attendance_days_part(org: &str, period: &str, run_id: &str, part: usize) -> Path {
    attendance_days_dir(org, period, run_id).join(format!("part-{part:05}.parquet"))
}

pub const SUMMARY: &str = "summary";

/// A run's summary of one org, a row per site.
pub fn summary_part(org: &str, period: &str, run_id: &str) -> Path {
    Path::from(format!(
        "{SUMMARY}/org_id={org}/period={period}/run_id={run_id}/part-00000.parquet"
    ))
}

pub const ARREARS: &str = "arrears";

pub fn arrears_part(org: &str, period: &str, run_id: &str) -> Path {
    Path::from(format!(
        "{ARREARS}/org_id={org}/period={period}/run_id={run_id}/part-00000.parquet"
    ))
}

pub const FINDINGS: &str = "findings";

/// A run's findings of one org, beside its results and partitioned like them.
pub fn findings_part(org: &str, period: &str, run_id: &str) -> Path {
    Path::from(format!(
        "{FINDINGS}/org_id={org}/period={period}/run_id={run_id}/part-00000.parquet"
    ))
}

pub const PREVIEWS: &str = "previews";

/// A file of a what-if preview: its results and its per-worker figures.
pub fn preview_file(org: &str, period: &str, preview_id: &str, name: &str) -> Path {
    Path::from(format!(
        "{PREVIEWS}/org_id={org}/period={period}/preview_id={preview_id}/{name}"
    ))
}

pub fn manifest(org: &str, period: &str, run_id: &str) -> Path {
    results_dir(org, period, run_id).join("_manifest.json")
}

pub fn payslips_dir(org: &str, period: &str, run_id: &str) -> Path {
    Path::from(format!("payslips/org_id={org}/period={period}/run_id={run_id}"))
}

pub const PAYOUTS: &str = "payouts";

/// A file of a payout of a run: `pain.001.xml`, `neft.csv` or `exceptions.csv`.
pub fn payout_file(org: &str, period: &str, run_id: &str, payout_id: &str, name: &str) -> Path {
    Path::from(format!(
        "{PAYOUTS}/org_id={org}/period={period}/run_id={run_id}/payout_id={payout_id}/{name}"
    ))
}

pub fn run_record(run_id: &str) -> Path {
    Path::from(format!("{RUNS}/{run_id}.json"))
}

pub fn run_ruleset(run_id: &str) -> Path {
    Path::from(format!("{RUNS}/{run_id}.ruleset.toml"))
}

pub fn dead_letter(run_id: &str, source: &str) -> Path {
    Path::from(format!("dead-letter/run_id={run_id}/{}.ndjson", stem(source)))
}

/// Letters a run of one org set aside: they name no org or worker of the master.
pub fn unattributed_dead_letter(run_id: &str, source: &str) -> Path {
    Path::from(format!(
        "dead-letter/run_id={run_id}/unattributed/{}.ndjson",
        stem(source)
    ))
}

fn stem(source: &str) -> &str {
    source.split_once('.').map_or(source, |(stem, _)| stem)
}

pub const CHECKPOINTS: &str = "checkpoints";

/// A checkpoint's place: the partition count of the topics it was folded from (shards of
/// another count hold other workers), its shard, the epoch of the instance that wrote it and
/// its sequence number. An instance that takes a shard over claims the next epoch, so a zombie
/// that lost the shard can only write checkpoints that sort below the new owner's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CheckpointName {
    pub partitions: u32,
    pub shard: u32,
    pub epoch: u32,
    pub seq: u64,
}

impl CheckpointName {
    pub fn path(&self) -> Path {
        checkpoint_dir(self.partitions, self.shard).join(format!("{:06}-{:012}.ckpt", self.epoch, self.seq))
    }

    pub fn parse(path: &Path) -> Option<CheckpointName> {
        let mut parts = path.parts().skip_while(|p| p.as_ref() != CHECKPOINTS).skip(1);
        let partitions = parts.next()?.as_ref().strip_prefix("partitions-")?.parse().ok()?;
        let shard = parts.next()?.as_ref().strip_prefix("shard-")?.parse().ok()?;
        let file = parts.next()?;
        let (epoch, seq) = file.as_ref().strip_suffix(".ckpt")?.split_once('-')?;
        Some(CheckpointName {
            partitions,
            shard,
            epoch: epoch.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

pub fn checkpoint_dir(partitions: u32, shard: u32) -> Path {
    Path::from(format!("{CHECKPOINTS}/partitions-{partitions:04}/shard-{shard:04}"))
}

pub const LIVE: &str = "live";

/// Every shard's live results of a period.
pub fn live_dir(period: &str) -> Path {
    Path::from(format!("{LIVE}/period={period}"))
}

pub fn live_part(period: &str, shard: u32) -> Path {
    live_dir(period).join(format!("shard-{shard:04}.parquet"))
}

pub const LIVE_BOARD: &str = "live-board";

/// Every shard's live board of a period: each worker's recent days with a punch.
pub fn live_board_dir(period: &str) -> Path {
    Path::from(format!("{LIVE_BOARD}/period={period}"))
}

pub fn live_board_part(period: &str, shard: u32) -> Path {
    live_board_dir(period).join(format!("shard-{shard:04}.parquet"))
}

pub const LOCKS: &str = "locks";

pub fn lock(org: &str, period: &str) -> Path {
    Path::from(format!("{LOCKS}/org_id={org}/period={period}.json"))
}

/// The org and period a lock marker's path names.
pub fn parse_lock(path: &Path) -> Option<(String, String)> {
    let mut parts = path.parts().skip_while(|p| p.as_ref() != LOCKS).skip(1);
    let org = parts.next()?.as_ref().strip_prefix("org_id=")?.to_string();
    let period = parts
        .next()?
        .as_ref()
        .strip_prefix("period=")?
        .strip_suffix(".json")?
        .to_string();
    Some((org, period))
}

pub const ARCHIVE: &str = "archive";

/// The kinds of raw event a closed period's archive keeps, each a dataset of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Punches,
    Leaves,
    Adjustments,
}

impl ArchiveKind {
    pub const ALL: [ArchiveKind; 3] = [ArchiveKind::Punches, ArchiveKind::Leaves, ArchiveKind::Adjustments];

    pub fn name(self) -> &'static str {
        match self {
            ArchiveKind::Punches => "punches",
            ArchiveKind::Leaves => "leaves",
            ArchiveKind::Adjustments => "adjustments",
        }
    }
}

pub fn archive_dir(kind: ArchiveKind, org: &str, period: &str) -> Path {
    Path::from(format!("{ARCHIVE}/{}/org_id={org}/period={period}", kind.name()))
}

pub fn archive_file(kind: ArchiveKind, org: &str, period: &str, partitions: u32, shard: u32) -> Path {
    archive_dir(kind, org, period).join(format!("partitions-{partitions:04}-shard-{shard:04}.parquet"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_paths_round_trip_and_sort_in_checkpoint_order() {
        let name = CheckpointName {
            partitions: 16,
            shard: 3,
            epoch: 2,
            seq: 12,
        };
        assert_eq!(
            name.path().as_ref(),
            "checkpoints/partitions-0016/shard-0003/000002-000000000012.ckpt"
        );
        assert_eq!(CheckpointName::parse(&name.path()), Some(name));
        let later = CheckpointName {
            epoch: 3,
            seq: 1,
            ..name
        };
        assert!(later > name && later.path().as_ref() > name.path().as_ref());
        for other in [
            "checkpoints/partitions-0016/shard-0003/x.tmp",
            "checkpoints/shard-0003/000000000012.ckpt",
        ] {
            assert_eq!(CheckpointName::parse(&Path::from(other)), None, "{other}");
        }
    }

    #[test]
    fn lock_markers_name_their_org_and_period() {
        let path = lock("ORG1", "2026-10");
        assert_eq!(path.as_ref(), "locks/org_id=ORG1/period=2026-10.json");
        assert_eq!(parse_lock(&path), Some(("ORG1".into(), "2026-10".into())));
        assert_eq!(parse_lock(&Path::from("locks/ORG1/2026-10.json")), None);
    }
}
