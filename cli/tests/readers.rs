//! Results Parquet is readable, unchanged, by other engines: pyarrow and DuckDB read the files
//! and find the same totals. CI installs both (PAYROLL_REQUIRE_PYTHON_READERS=1 makes their
//! absence a failure); elsewhere the test says it skipped.

mod common;

use std::process::Command;

use common::*;

#[test]
fn pyarrow_and_duckdb_read_the_results() {
    let have = Command::new("python3")
        .args(["-c", "import pyarrow, duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        assert!(
            std::env::var_os("PAYROLL_REQUIRE_PYTHON_READERS").is_none(),
            "pyarrow and duckdb are required here"
        );
        eprintln!("skipped: pip install pyarrow duckdb to run this test");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    assert!(run(&sample(), out.path()).status.success());
    let script = r#"
import sys, glob, decimal, csv
import pyarrow.parquet as pq, duckdb
files = sorted(glob.glob(sys.argv[1] + "/results/*/*/*/*.parquet"))
table = pq.read_table(files[0])
assert str(table.schema.field("net_pay").type).startswith("decimal128"), table.schema
rows = sum(pq.read_table(f).num_rows for f in files)
net = duckdb.connect().execute(f"SELECT sum(net_pay) FROM read_parquet({files!r})").fetchall()[0][0]
expected = sum(decimal.Decimal(r["net_pay"]) for r in csv.DictReader(open(sys.argv[2])))
assert rows == 80, rows
assert decimal.Decimal(net) == expected, (net, expected)
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
