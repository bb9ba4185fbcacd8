//! `payroll upload` against a served instance: the counts printed, the error report written
//! when rows are rejected, and the exit status saying what happened (0 all applied, 2 some
//! rejected, 1 nothing applied).

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::time::Duration;

use common::*;
use payroll_service::ServeConfig;
use payroll_service::auth::{Keys, claims};

const SECRET: &str = "cli-upload-test-secret-of-32-chars+";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payroll_upload_prints_the_counts_writes_the_report_and_exits_by_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = sample_copy();
    let config = format!(
        "listen = \"127.0.0.1:0\"\ndata = {data:?}\ninputs = {inputs:?}\n[auth]\nhs256_secret = {SECRET:?}\n",
        data = dir.path().join("data"),
        inputs = inputs.path(),
    );
    let service = payroll_service::start(toml::from_str::<ServeConfig>(&config).unwrap())
        .await
        .unwrap();
    let server = format!("http://{}", service.addr);
    let token = Keys::hs256(SECRET.as_bytes())
        .mint(&claims(
            "hr1",
            "org0",
            &["hr_admin".to_string()],
            Duration::from_secs(600),
        ))
        .unwrap();
    let file = dir.path().join("october.csv");
    let report = dir.path().join("report.csv");
    let upload = |file: std::path::PathBuf, extra: Vec<String>| {
        let mut args: Vec<String> = ["upload", "--server", &server, "--token", &token, "--org", "org0"]
            .map(String::from)
            .to_vec();
        args.extend(["--kind".to_string(), "adjustments".to_string()]);
        args.extend(extra);
        args.push(file.display().to_string());
        tokio::task::spawn_blocking(move || payroll(&args))
    };

    std::fs::write(
        &file,
        "worker_id,period,kind,code,amount,reason\n\
         W000002,2026-10,earning,bonus,1500.00,festival\n\
         W000004,2026-10,earning,bonus,12.345,three decimals\n",
    )
    .unwrap();
    let output = upload(file.clone(), vec!["--errors".into(), report.display().to_string()])
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "some rows rejected: {stdout}");
    assert!(
        stdout.contains("Rejected") && stdout.contains("1 rows rejected"),
        "{stdout}"
    );
    let written = std::fs::read_to_string(&report).unwrap();
    assert!(written.starts_with("row,column,value,reason,worker_id"), "{written}");
    assert!(written.contains("3,amount,12.345,"), "{written}");

    std::fs::write(
        &file,
        "worker_id,period,kind,code,amount,reason\nW000004,2026-10,deduction,canteen,50.00,dues\n",
    )
    .unwrap();
    let output = upload(file.clone(), vec![]).await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));

    std::fs::write(
        &file,
        "worker_id,period,kind,code,amount,reason\nW000004,2026-10,earning,x,1.00,r\nW000004,2026-10,gift,x,1.00,r\n",
    )
    .unwrap();
    let output = upload(file.clone(), vec!["--mode".into(), "all_or_nothing".into()])
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "nothing applied: {stdout}");
    assert!(stdout.contains("nothing was applied"), "{stdout}");
    assert!(
        dir.path().join("october.csv.errors.xlsx").exists(),
        "the report is written beside the file by default"
    );

    // A refusal is the service's reason, said once.
    let output = upload(file.clone(), vec!["--mode".into(), "sometimes".into()])
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("mode") && stderr.contains("accept_valid, all_or_nothing"),
        "{stderr}"
    );
    service.shutdown().await;
}
