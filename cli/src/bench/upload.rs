//! `payroll bench upload`: a bulk upload through the service, on this machine. A generated
//! month gives the org's workers; an XLSX of `--rows` rows (adjustments, or attendance
//! summaries over several months) is uploaded to a service in this process (embedded SQLite,
//! the month as its input folder) and timed from the POST to `done`: the file kept, every row
//! read and checked, the accepted ones applied (adjustments recorded pending in one
//! transaction, summary rows appended to the input folder). Adjustments are then approved
//! by another user in one request, the whole upload, until every one is published.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use payroll_rules::vocabulary::PayPeriod;
use payroll_service::ServeConfig;
use payroll_service::auth::{Keys, claims};
use rust_xlsxwriter::Workbook;

use crate::upload::Client;

/// A random key: the service refuses a weak one (`payroll_connectors::secret`).
const SECRET: &str = "4bca1dba740cbba693fd3978e7b44875b2b7da002eb48ebbaaef8c915e6609e1";

/// Workers of the generated month (org0 has about 45 % of them).
const WORKERS: usize = 4_000;

#[allow(clippy::expect_used, reason = "HS256 keys made from a secret always sign")]
pub async fn upload(rows: usize, kind: &str, period: PayPeriod) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let inputs = dir.path().join("inputs");
    super::generate(WORKERS, period, &inputs)?;
    let workers = org_workers(&inputs.join("workers.csv"), "org0")?;
    if workers.is_empty() {
        bail!("the generated month has no worker of org0");
    }
    let started = Instant::now();
    let sheet = match kind {
        "adjustments" => adjustments(rows, &workers, period)?,
        "attendance_summary" => summaries(rows, &workers, period)?,
        other => bail!("--kind {other}: expected adjustments or attendance_summary"),
    };
    let made = started.elapsed().as_secs_f64();
    let config = format!(
        "listen = \"127.0.0.1:0\"\ndata = {data:?}\ninputs = {inputs:?}\nworkers = 0\n[auth]\nhs256_secret = {SECRET:?}\n",
        data = dir.path().join("data"),
    );
    let service = payroll_service::start(toml::from_str::<ServeConfig>(&config)?).await?;
    let keys = Keys::hs256(SECRET.as_bytes());
    let token = |sub: &str, role: &str| {
        keys.mint(&claims(sub, "org0", &[role.to_string()], Duration::from_secs(3600)))
            .expect("HS256 keys sign")
    };
    let base = format!("http://{}", service.addr);
    let client = Client::new(&base, &token("bench-hr", "hr_admin"));
    let bytes = sheet.len();

    let started = Instant::now();
    let created = client
        .upload("org0", kind, "accept_valid", "bench.xlsx", sheet, None)
        .await?;
    let id = created["id"].as_str().context("the upload's id")?.to_string();
    let mut done = serde_json::Value::Null;
    while !matches!(done["status"].as_str(), Some("done" | "failed")) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        done = client.get(&format!("/v1/orgs/org0/uploads/{id}")).await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    if done["status"] != "done" || done["accepted"].as_u64() != Some(rows as u64) {
        service.shutdown().await;
        bail!("the upload did not accept every row: {done:#}");
    }
    let approved = match kind {
        "adjustments" => {
            let checker = Client::new(&base, &token("bench-approver", "approver"));
            let started = Instant::now();
            let decision = checker
                .post(&format!("/v1/orgs/org0/uploads/{id}/approve"), &serde_json::json!({}))
                .await?;
            let seconds = started.elapsed().as_secs_f64();
            if decision["decided"].as_u64() != Some(rows as u64) {
                service.shutdown().await;
                bail!("the approval did not decide every row: {decision:#}");
            }
            format!("\n  the whole upload approved by another user and published in {seconds:.2} s")
        }
        _ => String::new(),
    };
    service.shutdown().await;
    println!(
        "upload, {rows} {kind} rows as XLSX ({:.1} MB, made in {made:.2} s), {} cores:\n  \
         POST to done {seconds:.2} s, {:.0} rows/s (read, checked and applied: {} accepted, {} applied); \
         peak RSS {:.0} MiB{approved}",
        bytes as f64 / 1e6,
        payroll_engine::parallel::cores(),
        rows as f64 / seconds,
        done["accepted"],
        done["applied"],
        crate::ui::peak_rss_mib().unwrap_or(f64::NAN),
    );
    Ok(())
}

/// Rows of adjustments a person could type: each worker a few, codes and amounts varied so no
/// two rows are the same.
fn adjustments(rows: usize, workers: &[String], period: PayPeriod) -> Result<Vec<u8>> {
    let header = ["worker_id", "period", "kind", "code", "amount", "reason"];
    sheet(&header, rows, |i, row| {
        let worker = &workers[i % workers.len()];
        let round = i / workers.len();
        let (kind, code) = match i % 3 {
            0 => ("earning", format!("bonus_{round}")),
            1 => ("earning", format!("incentive_{round}")),
            _ => ("deduction", format!("canteen_{round}")),
        };
        let amount = format!("{}.{:02}", 100 + i % 4000, i % 100);
        row.extend([
            worker.clone(),
            period.to_string(),
            kind.to_string(),
            code,
            amount,
            "bench upload".to_string(),
        ]);
    })
}

/// Rows of attendance summaries: each worker once per month, over as many months before
/// `period` as the rows need.
fn summaries(rows: usize, workers: &[String], period: PayPeriod) -> Result<Vec<u8>> {
    let header = payroll_connectors::files::SUMMARY_COLUMNS;
    sheet(&header, rows, |i, row| {
        let worker = &workers[i % workers.len()];
        let back = (i / workers.len()) as i64;
        let month = (i64::from(period.year) * 12 + i64::from(period.month) - 1 - back).max(0);
        let p = PayPeriod {
            year: (month / 12) as i32,
            month: (month % 12 + 1) as u32,
        };
        let days = i64::from(p.days());
        row.extend([
            worker.clone(),
            p.to_string(),
            days.to_string(),
            (days - 4).to_string(),
            format!("{}.5", days - 8),
            "1".to_string(),
            "0".to_string(),
            "1.5".to_string(),
            ((days - 8) * 480).to_string(),
            "2".to_string(),
            "0".to_string(),
        ]);
    })
}

/// An XLSX of `header` and `rows` rows made by `fill` (which pushes row `i`'s cells).
fn sheet(header: &[&str], rows: usize, fill: impl Fn(usize, &mut Vec<String>)) -> Result<Vec<u8>> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory()?;
    for (c, name) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *name)?;
    }
    let mut cells = Vec::with_capacity(header.len());
    for i in 0..rows {
        cells.clear();
        fill(i, &mut cells);
        for (c, cell) in cells.iter().enumerate() {
            sheet.write_string(i as u32 + 1, c as u16, cell)?;
        }
    }
    Ok(book.save_to_buffer()?)
}

fn org_workers(workers_csv: &std::path::Path, org: &str) -> Result<Vec<String>> {
    let mut reader = csv::Reader::from_path(workers_csv)?;
    let mut ids = Vec::new();
    for record in reader.records() {
        let record = record?;
        if record.get(1) == Some(org) {
            ids.push(record.get(0).unwrap_or_default().to_string());
        }
    }
    Ok(ids)
}
