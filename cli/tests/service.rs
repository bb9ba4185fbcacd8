//! `payroll run --database` and `payroll serve` over one database and store: the CLI's run is
//! the service's run (listed, approved there), and a period the service locked refuses the CLI.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

mod common;

use std::time::Duration;

use common::*;
use payroll_service::ServeConfig;
use payroll_service::auth::{Keys, claims};

const SECRET: &str = "cli-and-service-share-one-secret-of-32+";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_and_the_service_see_the_same_runs_and_locks() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("payroll.db").display());
    let store = dir.path().join("store").display().to_string();
    let recorded = ["--database", &database, "--org", "org0", "--kind", "final"];

    let output = payroll(&run_args(&sample(), &store, &recorded));
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("Net pay"));

    let config = format!(
        "listen = \"127.0.0.1:0\"\ndata = {data:?}\ndatabase = {database:?}\nout = {store:?}\ninputs = {inputs:?}\n[auth]\nhs256_secret = {SECRET:?}\n",
        data = dir.path().join("data"),
        inputs = sample(),
    );
    let service = payroll_service::start(toml::from_str::<ServeConfig>(&config).unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", service.addr);
    let keys = Keys::hs256(SECRET.as_bytes());
    let token = |sub: &str, role: &str| {
        keys.mint(&claims(sub, "org0", &[role.to_string()], Duration::from_secs(600)))
            .unwrap()
    };
    let client = reqwest::Client::new();
    let get = |path: String| {
        let request = client
            .get(format!("{base}{path}"))
            .bearer_auth(token("hr1", "hr_admin"));
        async move {
            let bytes = request.send().await.unwrap().bytes().await.unwrap();
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        }
    };

    let runs = get("/v1/orgs/org0/runs".into()).await;
    let run = &runs["runs"][0];
    assert_eq!(
        (run["kind"].as_str(), run["status"].as_str()),
        (Some("final"), Some("calculated")),
        "{runs:#}"
    );
    assert!(run["requested_by"].as_str().unwrap().starts_with("cli:"));
    let id = run["id"].as_str().unwrap().to_string();
    let results = get(format!("/v1/orgs/org0/runs/{id}/results")).await;
    assert!(
        !results["rows"].as_array().unwrap().is_empty(),
        "the service reads the CLI's results"
    );

    let approved = client
        .post(format!("{base}/v1/orgs/org0/runs/{id}/approve"))
        .bearer_auth(token("appr1", "approver"))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);

    let refused = payroll(&run_args(
        &sample(),
        &store,
        &["--database", &database, "--org", "org0"],
    ));
    assert!(!refused.status.success(), "a locked period refuses the CLI too");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!("period 2026-10 locked by run {id}")),
        "{stderr}"
    );
    service.shutdown().await;
}
