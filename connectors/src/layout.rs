//! Where everything lives in the output store, in one place. Results are hive-partitioned so
//! any engine can prune by org, period and run:
//!
//! ```text
//! results/org_id=<org>/period=<YYYY-MM>/run_id=<id>/part-00000.parquet
//! results/org_id=<org>/period=<YYYY-MM>/run_id=<id>/manifest.json
//! payslips/org_id=<org>/period=<YYYY-MM>/run_id=<id>/<worker_id>.pdf|.xlsx
//! payslips/org_id=<org>/period=<YYYY-MM>/run_id=<id>/register.xlsx, manifest.json
//! runs/<id>.json               the run: period, orgs, ruleset, totals
//! runs/<id>.ruleset.toml       the ruleset text the run applied (for `explain`)
//! dead-letter/<source>.ndjson  refused events and rows of the latest run, with reasons
//!                              (`<source>` is the input's name without extension: `attendance`)
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
    results_dir(org, period, run_id).join("manifest.json")
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
