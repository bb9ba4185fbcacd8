//! Payslips through the CLI: their content matches the results to the paisa, the register's
//! totals are the sums, the manifest's hashes verify, and a batch written to a real S3 server
//! (s3s-fs on loopback) resumes after losing files.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use calamine::{Data, Reader, Xlsx, open_workbook};
use common::*;
use datafusion::arrow::array::RecordBatch;
use rust_decimal::Decimal;

/// The one run folder under `root/payslips/org_id=<org>/period=2026-10/`.
fn payslip_dir(root: &Path, org: &str) -> PathBuf {
    let period = root.join(format!("payslips/org_id={org}/period=2026-10"));
    std::fs::read_dir(&period).unwrap().next().unwrap().unwrap().path()
}

fn tool(name: &str) -> Command {
    assert!(
        Command::new("which")
            .arg(name)
            .output()
            .is_ok_and(|o| o.status.success()),
        "{name} is needed: apt-get install poppler-utils (scripts/test installs it)"
    );
    Command::new(name)
}

/// Every file the manifest lists is there, with its size and BLAKE3 hash; returns how many.
fn verify_manifest(dir: &Path) -> usize {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["failures"].as_array().unwrap().len(), 0);
    let files = manifest["files"].as_array().unwrap();
    for f in files {
        let bytes = std::fs::read(dir.join(f["name"].as_str().unwrap())).unwrap();
        assert_eq!(bytes.len() as u64, f["bytes"].as_u64().unwrap(), "{f}");
        assert_eq!(
            blake3::hash(&bytes).to_hex().as_str(),
            f["blake3"].as_str().unwrap(),
            "{f}"
        );
    }
    files.len()
}

fn result_row(results: &[RecordBatch], worker: &str) -> HashMap<String, String> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::util::display::array_value_to_string;
    for batch in results {
        let ids = batch.column_by_name("worker_id").unwrap().as_string::<i32>();
        if let Some(row) = (0..batch.num_rows()).find(|&i| ids.value(i) == worker) {
            return batch
                .schema()
                .fields()
                .iter()
                .zip(batch.columns())
                .map(|(f, c)| (f.name().clone(), array_value_to_string(c, row).unwrap()))
                .collect();
        }
    }
    panic!("no result for {worker}")
}

/// A spreadsheet number as a decimal of paise (the file format stores f64).
fn paise(value: f64) -> Decimal {
    Decimal::try_from(value).unwrap().round_dp(2)
}

#[tokio::test]
async fn payslips_and_register_match_the_results_to_the_paisa() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display().to_string();
    let output = payroll(&run_args(&sample(), &o, &["--payslips"]));
    assert!(output.status.success());
    let results = results(out.path()).await;
    let w1 = result_row(&results, "W000001");

    let dir = payslip_dir(out.path(), "org1");
    assert_eq!(
        verify_manifest(&dir) + verify_manifest(&payslip_dir(out.path(), "org0")),
        80 * 2 + 2
    );

    // The PDF, as a worker reads it.
    let pdf = dir.join("W000001.pdf");
    assert!(
        std::fs::metadata(&pdf).unwrap().len() <= 40 * 1024,
        "a payslip PDF stays under 40 KB"
    );
    let text = String::from_utf8(
        tool("pdftotext")
            .args(["-layout"])
            .arg(&pdf)
            .arg("-")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "Worker 1",
        "October 2026",
        "₹18,314.05",
        "Rupees Eighteen Thousand Three Hundred Fourteen and Five Paise Only",
        "XXXXXXXX0832",
        "₹18,308.45",
        "₹1,800.00",
        "Days present",
        "20.5",
    ] {
        assert!(text.contains(want), "missing {want:?} in {text}");
    }
    for secret in ["441782430832", "ABCDE0001F"] {
        assert!(!text.contains(secret), "{secret} must not appear in clear");
    }
    let png = out.path().join("W000001");
    assert!(
        tool("pdftoppm")
            .args(["-png", "-r", "60", "-singlefile"])
            .arg(&pdf)
            .arg(&png)
            .status()
            .unwrap()
            .success()
    );
    assert!(std::fs::metadata(png.with_extension("png")).unwrap().len() > 10_000);

    // The XLSX payslip: every amount, by its label, equals the result.
    let mut book: Xlsx<_> = open_workbook(dir.join("W000001.xlsx")).unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    let mut amounts: HashMap<String, Vec<Decimal>> = HashMap::new();
    for row in sheet.rows() {
        for pair in row.windows(2) {
            if let (Data::String(label), Data::Float(v)) = (&pair[0], &pair[1]) {
                amounts.entry(label.clone()).or_default().push(paise(*v));
            }
        }
    }
    for (label, component) in [
        ("Basic wage", "basic"),
        ("Overtime (2x)", "overtime"),
        ("Provident fund (EPF)", "pf_employee"),
        ("Provident fund (EPF)", "epf_employer"),
        ("ESI", "esi_employee"),
        ("ESI", "esi_employer"),
        ("Pension (EPS)", "eps_employer"),
        ("Gross earnings", "gross"),
        ("Total deductions", "total_deductions"),
    ] {
        let want: Decimal = w1[component].parse().unwrap();
        assert!(
            amounts.get(label).is_some_and(|v| v.contains(&want)),
            "{label} {want} not in {amounts:?}"
        );
    }
    assert!(
        amounts
            .values()
            .flatten()
            .any(|v| *v == w1["net_pay"].parse::<Decimal>().unwrap()),
        "net pay"
    );

    // The register: each worker's row, cell by cell, is `expected.csv`'s (org0's and org1's
    // registers together hold every worker), and a totals row equals the column sums.
    let register = register_batch(&[
        dir.join("register.xlsx"),
        payslip_dir(out.path(), "org0").join("register.xlsx"),
    ]);
    let register_columns = register_columns();
    let columns: Vec<&str> = register_columns.iter().filter_map(|(_, c)| c.as_deref()).collect();
    let mismatches = differences_in(&[register], &sample().join("expected.csv"), Some(&columns));
    assert!(mismatches.is_empty(), "register: {}", mismatches.join("\n"));
    let mut register: Xlsx<_> = open_workbook(dir.join("register.xlsx")).unwrap();
    let sheet = register.worksheet_range("Register").unwrap();
    let rows: Vec<&[Data]> = sheet.rows().collect();
    let workers: Vec<&&[Data]> = rows[1..]
        .iter()
        .filter(|r| matches!(&r[0], Data::String(s) if s.starts_with('W')))
        .collect();
    let total_row = rows[1..]
        .iter()
        .find(|r| r.iter().any(|c| matches!(c, Data::String(s) if s.contains("Total"))))
        .unwrap();
    for column in 4..rows[0].len() {
        let sum: Decimal = workers
            .iter()
            .map(|r| match &r[column] {
                Data::Float(v) => paise(*v),
                other => panic!("{other:?}"),
            })
            .sum();
        let Data::Float(total) = total_row[column] else {
            panic!("{:?}", total_row[column])
        };
        assert_eq!(paise(total), sum, "total of {}", rows[0][column]);
    }
}

/// The register's headings after the key columns (worker, name, org, site), in order, with the
/// `expected.csv` column each holds (`tests/data/register_columns.csv`, shared with the
/// service's month-end test). The ruleset's labels repeat (EPF and ESI are both a deduction and
/// an employer contribution), so the place tells which is which. The sample month carries no
/// arrears: its "Arrears net" is zero and its "Net payable" the net pay.
fn register_columns() -> Vec<(String, Option<String>)> {
    let mut reader =
        csv::Reader::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/register_columns.csv")).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), Some(r[1].to_string()).filter(|c| !c.is_empty()))
        })
        .collect()
}

/// The worker rows of the `registers` as one batch: `worker_id`, then each amount column under
/// its `expected.csv` name, in paise. Checks the headings against [`register_columns`], and that
/// each row's arrears net is zero and its net payable its net pay.
fn register_batch(registers: &[PathBuf]) -> RecordBatch {
    use datafusion::arrow::array::{ArrayRef, Decimal128Array, StringArray};
    let mut ids = Vec::new();
    let register = register_columns();
    let mut amounts: Vec<Vec<i128>> = vec![Vec::new(); register.len()];
    let net_pay = register
        .iter()
        .position(|(_, c)| c.as_deref() == Some("net_pay"))
        .unwrap();
    for path in registers {
        let mut book: Xlsx<_> = open_workbook(path).unwrap();
        let sheet = book.worksheet_range("Register").unwrap();
        let mut rows = sheet.rows();
        let headings: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
        let want: Vec<&str> = ["Worker ID", "Name", "Org", "Site"]
            .into_iter()
            .chain(register.iter().map(|(label, _)| label.as_str()))
            .collect();
        assert_eq!(headings, want, "the headings of {}", path.display());
        for cells in rows.take_while(|r| r[0] != Data::String("Total".into())) {
            let id = cells[0].to_string();
            let row: Vec<Decimal> = cells[4..]
                .iter()
                .map(|c| match c {
                    Data::Float(v) => paise(*v),
                    other => panic!("{id}: an amount, not {other:?}"),
                })
                .collect();
            assert_eq!(
                row[row.len() - 2..],
                [Decimal::ZERO, row[net_pay]],
                "{id}: arrears net, net payable"
            );
            for (column, mut amount) in amounts.iter_mut().zip(row) {
                amount.rescale(2);
                column.push(amount.mantissa());
            }
            ids.push(id);
        }
    }
    let mut columns: Vec<(&str, ArrayRef)> = vec![("worker_id", std::sync::Arc::new(StringArray::from(ids)))];
    for ((_, name), values) in register.iter().zip(amounts) {
        if let Some(name) = name.as_deref() {
            let array = Decimal128Array::from(values).with_precision_and_scale(38, 2).unwrap();
            columns.push((name, std::sync::Arc::new(array)));
        }
    }
    RecordBatch::try_from_iter(columns).unwrap()
}

/// An S3-compatible server on loopback for the length of a test: s3s-fs over a temp folder,
/// where each bucket is a folder we can look into directly.
struct S3Server {
    child: Child,
    port: u16,
    root: tempfile::TempDir,
}

impl S3Server {
    fn start(bucket: &str) -> S3Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(bucket)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("s3s-fs")
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--access-key",
                "payroll",
                "--secret-key",
                "payroll-secret",
            ])
            .arg(root.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect(
                "s3s-fs is needed on the path: scripts/test installs it into target/tools/bin (or cargo install s3s-fs@0.14.1 --features binary --locked)",
            );
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        S3Server { child, port, root }
    }

    fn payroll<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_payroll"))
            .args(args)
            .env("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port))
            .env("AWS_ACCESS_KEY_ID", "payroll")
            .env("AWS_SECRET_ACCESS_KEY", "payroll-secret")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ALLOW_HTTP", "true")
            .output()
            .unwrap()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_batch_lands_in_s3_with_a_manifest_that_verifies_and_resumes_after_losing_files() {
    let s3 = S3Server::start("payroll");
    let out = "s3://payroll/acme";
    let run = s3.payroll(&run_args(&sample(), out, &["--payslips"]));
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

    let root = s3.root.path().join("payroll/acme");
    let dir = payslip_dir(&root, "org0");
    let files = verify_manifest(&dir);
    assert_eq!(
        files,
        std::fs::read_dir(&dir).unwrap().count() - 1,
        "the manifest lists every file"
    );

    // Lose some files, as a crashed batch would, and run the batch again.
    for name in ["W000000.pdf", "W000002.xlsx", "register.xlsx"] {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    let again = s3.payroll(&["payslips", "--latest", "--period", PERIOD, "--out", out]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let summary = String::from_utf8_lossy(&again.stdout);
    assert!(summary.contains("3 files written, 159 already present"), "{summary}");
    assert_eq!(verify_manifest(&dir), files);

    // Results in S3 are queryable as they are.
    let query = s3.payroll(&["query", "--out", out, "--csv", "SELECT count(*) AS n FROM results"]);
    assert!(query.status.success(), "{}", String::from_utf8_lossy(&query.stderr));
    assert_eq!(String::from_utf8_lossy(&query.stdout).lines().nth(1), Some("80"));
}
