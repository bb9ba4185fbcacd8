//! Results Parquet is readable, unchanged, by other engines: pyarrow and DuckDB read the whole
//! results tree as one hive-partitioned dataset (side files start with `_`, so they skip them)
//! and find the same totals. scripts/test installs both; without them the test fails, it never
//! passes by skipping.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::process::Command;

use common::*;

#[test]
fn pyarrow_and_duckdb_read_the_results() {
    let have = Command::new("python3")
        .args(["-c", "import pyarrow, duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        have,
        "pyarrow and duckdb are needed: python3 -m pip install pyarrow duckdb (scripts/test installs them)"
    );
    let out = tempfile::tempdir().unwrap();
    assert!(run(&sample(), out.path()).status.success());
    let script = r#"
import sys, decimal, csv
import pyarrow.dataset as ds, duckdb
results = sys.argv[1] + "/results"
table = ds.dataset(results, format="parquet", partitioning="hive").to_table()
assert str(table.schema.field("net_pay").type).startswith("decimal128"), table.schema
net_pyarrow = sum(v.as_py() for v in table.column("net_pay"))
rows, net = duckdb.connect().execute(
    f"SELECT count(*), sum(net_pay) FROM read_parquet('{results}/**/*.parquet', hive_partitioning = true)"
).fetchall()[0]
expected = sum(decimal.Decimal(r["net_pay"]) for r in csv.DictReader(open(sys.argv[2])))
assert table.num_rows == rows == 80, (table.num_rows, rows)
assert decimal.Decimal(net) == net_pyarrow == expected, (net, net_pyarrow, expected)
print("ok", rows, net)
"#;
    let output = Command::new("python3")
        .args([
            "-c",
            script,
            &out.path().display().to_string(),
            &sample().join("expected.csv").display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// The days and per-site figures a run writes beside its results are read unchanged by pyarrow
/// and DuckDB, and agree with `expected.csv` (worked out apart from the engine): each worker's
/// days sum to their present days, minutes, overtime and missed punches, each site's summary to
/// its workers' gross, net, employer cost, overtime and loss of pay. `payroll query` reads both.
#[test]
fn the_attendance_days_and_summary_agree_with_the_expected_month() {
    let out = tempfile::tempdir().unwrap();
    assert!(run(&sample(), out.path()).status.success());
    let script = r#"
import sys, decimal, csv, collections
import pyarrow.dataset as ds, duckdb
out, sample = sys.argv[1], sys.argv[2]
D = decimal.Decimal
expected = {r["worker_id"]: r for r in csv.DictReader(open(sample + "/expected.csv"))}
site_of = {r["worker_id"]: r["site_id"] for r in csv.DictReader(open(sample + "/workers.csv"))}

days = duckdb.connect().execute(f"""
    SELECT worker_id, count(*), sum(CASE status WHEN 'present' THEN 1.0 WHEN 'half' THEN 0.5 ELSE 0 END),
           sum(worked_minutes), sum(ot_minutes), sum(CASE WHEN missed_punch THEN 1 ELSE 0 END),
           count(first_in), min(status), max(status)
    FROM read_parquet('{out}/attendance_days/**/*.parquet', hive_partitioning = true)
    GROUP BY worker_id""").fetchall()
assert len(days) == len(expected) == 80, len(days)
for worker, employed, present, minutes, ot, missed, with_in, lo, hi in days:
    e = expected[worker]
    got = (employed, D(present), minutes, D(ot) / 60, missed)
    want = (int(e["employment_days"]), D(e["present_days"]), int(e["worked_minutes"]), D(e["ot_hours"]), int(e["missed_punch_days"]))
    assert got == want, (worker, got, want)
    assert lo in ("absent", "half", "paid_leave", "present", "unpaid_leave", "weekly_off"), lo
# A file holds one run's days of one org: its org, period and run are the path's partitions,
# columns to every reader of the table.
import os
run_id = next(f[:-len(".json")] for f in os.listdir(out + "/runs") if f.endswith(".json"))
orgs = {r["org_id"] for r in csv.DictReader(open(sample + "/workers.csv"))}
keys = duckdb.connect().execute(f"""
    SELECT DISTINCT org_id, period, run_id
    FROM read_parquet('{out}/attendance_days/**/*.parquet', hive_partitioning = true)""").fetchall()
assert sorted(keys) == sorted((org, "2026-10", run_id) for org in orgs), keys
table = ds.dataset(out + "/attendance_days", format="parquet", partitioning="hive").to_table()
assert table.num_rows == sum(int(e["employment_days"]) for e in expected.values()), table.num_rows
for column, want in (("org_id", orgs), ("period", {"2026-10"}), ("run_id", {run_id})):
    assert set(table.column(column).to_pylist()) == want, (column, want)
statuses = {s for (s,) in duckdb.connect().execute(
    f"SELECT DISTINCT status FROM read_parquet('{out}/attendance_days/**/*.parquet', hive_partitioning = true)").fetchall()}
assert {"present", "half", "absent", "weekly_off", "paid_leave"} <= statuses, statuses

summary = ds.dataset(out + "/summary", format="parquet", partitioning="hive").to_table().to_pylist()
want = collections.defaultdict(lambda: collections.Counter())
for worker, e in expected.items():
    s = want[site_of[worker]]
    s["headcount"] += 1
    for column in ("gross", "net_pay", "employer_cost", "ot_hours", "lop_days", "working_days", "paid_leave_days"):
        s[column] += D(e[column])
assert len(summary) == len(want) == 8, summary
for row in summary:
    w = want[row["site_id"]]
    got = (row["headcount"], row["gross"], row["net"], row["employer_cost"], row["ot_hours"], row["lop_days"])
    exp = (w["headcount"], w["gross"], w["net_pay"], w["employer_cost"], w["ot_hours"], w["lop_days"])
    assert got == exp, (row["site_id"], got, exp)
    rate = ((w["working_days"] - w["lop_days"] - w["paid_leave_days"]) / w["working_days"]).quantize(D("0.0001"))
    assert row["attendance_rate"] == rate, (row["site_id"], row["attendance_rate"], rate)

# A run written before the keys moved to the path holds them in its files too (as the first
# version of the table did): `payroll query` below still reads such a store.
import glob, pyarrow as pa, pyarrow.parquet as pq
part = sorted(glob.glob(out + "/attendance_days/org_id=org0/**/*.parquet", recursive=True))[0]
old = pq.ParquetFile(part).read()
for i, (name, value) in enumerate((("run_id", run_id), ("org_id", "org0"), ("period", "2026-10"))):
    old = old.add_column(i, name, pa.array([value] * old.num_rows).dictionary_encode())
pq.write_table(old, part)
print("ok")
"#;
    let output = Command::new("python3")
        .args([
            "-c",
            script,
            &out.path().display().to_string(),
            &sample().display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let columns = payroll(&[
        "query",
        "--csv",
        "--out",
        &out.path().display().to_string(),
        "SELECT * FROM attendance_days LIMIT 1",
    ]);
    assert!(columns.status.success(), "{}", String::from_utf8_lossy(&columns.stderr));
    assert_eq!(
        String::from_utf8_lossy(&columns.stdout).lines().next(),
        Some(
            "org_id,period,run_id,worker_id,site_id,date,status,worked_minutes,ot_minutes,first_in,last_out,missed_punch"
        )
    );
    let query = payroll(&[
        "query",
        "--csv",
        "--out",
        &out.path().display().to_string(),
        "SELECT s.site_id, s.headcount, d.workers FROM summary s JOIN \
         (SELECT site_id, count(DISTINCT worker_id) AS workers FROM attendance_days GROUP BY site_id) d \
         ON s.site_id = d.site_id ORDER BY s.site_id",
    ]);
    assert!(query.status.success(), "{}", String::from_utf8_lossy(&query.stderr));
    let text = String::from_utf8_lossy(&query.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 9, "{text}");
    for line in &lines[1..] {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(
            cells[1], cells[2],
            "a site's headcount is its workers with days: {line}"
        );
    }
}
