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
    let config = format!(
        "listen = \"127.0.0.1:0\"\ndata = {data:?}\ndatabase = {database:?}\nout = {store:?}\ninputs = {inputs:?}\n[auth]\nhs256_secret = {SECRET:?}\n",
        data = dir.path().join("data"),
        inputs = sample(),
    );
    // The CLI checks its token with the service's keys, read from the service's config file.
    let config_file = dir.path().join("payroll.toml");
    std::fs::write(&config_file, &config).unwrap();
    let config_path = config_file.display().to_string();
    let keys = Keys::hs256(SECRET.as_bytes());
    let token_of = |sub: &str, org: &str, role: &str| {
        keys.mint(&claims(sub, org, &[role.to_string()], Duration::from_secs(600)))
            .unwrap()
    };
    let token = |sub: &str, role: &str| token_of(sub, "org0", role);
    let recorded = [
        "--database",
        &database,
        "--org",
        "org0",
        "--kind",
        "final",
        "--config",
        &config_path,
    ];

    // Four eyes by every path: without a token of the service the CLI records no run, and a
    // token without runs:trigger for the org is refused as the API refuses it.
    let cli = |extra: &[&str]| payroll(&run_args(&sample(), &store, &[&recorded[..], extra].concat()));
    let refused = cli(&[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("it needs --token (or PAYROLL_TOKEN)"));
    for (who, why) in [
        (token("W000000", "worker"), "needs the `runs:trigger` permission"),
        (
            token_of("hr1", "org1", "hr_admin"),
            "the token is for org `org1`, not `org0`",
        ),
        (
            Keys::hs256(b"another key of the right length, 32+ bytes")
                .mint(&claims("hr1", "org0", &["hr_admin".into()], Duration::from_secs(600)))
                .unwrap(),
            "does not verify",
        ),
    ] {
        let refused = cli(&["--token", &who]);
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(why), "{stderr}");
    }

    let output = cli(&["--token", &token("hr1", "hr_admin")]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("Net pay"));

    let service = payroll_service::start(toml::from_str::<ServeConfig>(&config).unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", service.addr);
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
    assert_eq!(run["requested_by"], "hr1", "the token's person requested it");
    let id = run["id"].as_str().unwrap().to_string();
    let results = get(format!("/v1/orgs/org0/runs/{id}/results")).await;
    assert!(
        !results["rows"].as_array().unwrap().is_empty(),
        "the service reads the CLI's results"
    );

    // Who triggered it from the CLI cannot approve it; the trigger is audited under their name.
    let own = client
        .post(format!("{base}/v1/orgs/org0/runs/{id}/approve"))
        .bearer_auth(token("hr1", "approver"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 403);
    let audit = client
        .get(format!("{base}/v1/orgs/org0/audit?action=run.trigger"))
        .bearer_auth(token("admin1", "org_admin"))
        .send()
        .await
        .unwrap();
    let audit: serde_json::Value = serde_json::from_slice(&audit.bytes().await.unwrap()).unwrap();
    let entry = &audit["entries"][0];
    assert_eq!(
        (entry["actor"].as_str(), entry["target"].as_str()),
        (Some("hr1"), Some(format!("runs/{id}").as_str())),
        "{audit:#}"
    );
    let approved = client
        .post(format!("{base}/v1/orgs/org0/runs/{id}/approve"))
        .bearer_auth(token("appr1", "approver"))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);

    let hr = token("hr1", "hr_admin");
    let refused = payroll(&run_args(
        &sample(),
        &store,
        &[
            "--database",
            &database,
            "--org",
            "org0",
            "--config",
            &config_path,
            "--token",
            &hr,
        ],
    ));
    assert!(!refused.status.success(), "a locked period refuses the CLI too");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!("period 2026-10 locked by run {id}")),
        "{stderr}"
    );
    service.shutdown().await;
}
