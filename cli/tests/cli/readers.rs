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
