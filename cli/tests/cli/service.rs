//! `payroll run --database` and `payroll serve` over one database and store: the CLI's run is
//! the service's run (listed, approved there), and a period the service locked refuses the CLI.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

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
    // The run's block findings are the service's too (the sample pays workers below the
    // minimum wage): approval waits until someone acknowledges them.
    let held = client
        .post(format!("{base}/v1/orgs/org0/runs/{id}/approve"))
        .bearer_auth(token("appr1", "approver"))
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), 409);
    let acknowledged = client
        .post(format!("{base}/v1/orgs/org0/runs/{id}/findings/acknowledge"))
        .bearer_auth(token("appr1", "approver"))
        .header("Content-Type", "application/json")
        .body(r#"{"check": "rate_below_minimum_wage", "reason": "rates under revision"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(acknowledged.status(), 200);
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

/// What `payroll serve` prints and whether it still runs: `args` and `env` as given, any other
/// `PAYROLL_` setting of the test's environment removed. Stops it once it has said how to call it
/// (or at once if it exits).
fn serve_output(args: &[&str], env: &[(&str, &str)]) -> (Option<std::process::ExitStatus>, String, String) {
    use std::io::Read;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_payroll"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("PAYROLL_")) {
        command.env_remove(name);
    }
    let mut child = command
        .arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the payroll binary runs");
    let reader = |mut pipe: Box<dyn Read + Send>| {
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = std::sync::Arc::clone(&text);
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buffer) {
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        text
    };
    let stdout = reader(Box::new(child.stdout.take().unwrap()));
    let stderr = reader(Box::new(child.stderr.take().unwrap()));
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let exited = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        // `inputs:` follows `listening on`; the tokens, if any, are printed right after it.
        if stdout.lock().unwrap().contains("inputs:") {
            std::thread::sleep(Duration::from_millis(500));
            break None;
        }
        assert!(std::time::Instant::now() < deadline, "payroll serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    if exited.is_none() {
        child.kill().unwrap();
    }
    child.wait().unwrap();
    // The readers end with the pipes.
    std::thread::sleep(Duration::from_millis(100));
    let take = |text: std::sync::Arc<std::sync::Mutex<String>>| text.lock().unwrap().clone();
    (exited, take(stdout), take(stderr))
}

/// Ready tokens end in journald or container logs: only the generated demo month prints them,
/// never a service over an operator's inputs or config file, even on loopback.
#[test]
fn serve_prints_ready_tokens_for_the_generated_demo_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = |name: &str| dir.path().join(name).display().to_string();
    let listen = ["--listen", "127.0.0.1:0"];

    let demo = data("demo");
    let (exited, stdout, stderr) = serve_output(&[&listen[..], &["--data", &demo]].concat(), &[]);
    assert_eq!(exited, None, "{stdout}{stderr}");
    assert!(
        stdout.contains("Tokens for org"),
        "the demo prints its tokens: {stdout}"
    );

    let inputs = sample().display().to_string();
    let files = data("files");
    let (exited, stdout, stderr) = serve_output(&[&listen[..], &["--data", &files, "--inputs", &inputs]].concat(), &[]);
    assert_eq!(exited, None, "{stdout}{stderr}");
    assert!(
        !stdout.contains("Tokens for org") && !stdout.contains("eyJ"),
        "configured inputs: {stdout}"
    );

    // A config file naming no inputs: an operator's setup all the same.
    let file = dir.path().join("payroll.toml");
    std::fs::write(
        &file,
        format!("listen = \"127.0.0.1:0\"\ndata = {:?}\n", data("configured")),
    )
    .unwrap();
    let (exited, stdout, stderr) = serve_output(&["--config", &file.display().to_string()], &[]);
    assert_eq!(exited, None, "{stdout}{stderr}");
    assert!(
        !stdout.contains("Tokens for org") && !stdout.contains("eyJ"),
        "a config file: {stdout}"
    );
}

/// Secrets set the way docker/compose.yaml sets them, from the environment: a weak one stops
/// `payroll serve` before it listens, naming the key.
#[test]
fn serve_refuses_weak_secrets_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let inputs = sample().display().to_string();
    let args = ["--listen", "127.0.0.1:0", "--data", &data, "--inputs", &inputs];
    let aaaa = "a".repeat(64);
    for (name, value, named) in [
        (
            "PAYROLL_AUTH__HS256_SECRET",
            "replace-with-the-output-of-openssl-rand-hex-32",
            "auth.hs256_secret",
        ),
        ("PAYROLL_CHECKPOINT_KEY", aaaa.as_str(), "PAYROLL_CHECKPOINT_KEY"),
    ] {
        let (exited, stdout, stderr) = serve_output(&args, &[(name, value)]);
        assert!(exited.is_some_and(|s| !s.success()), "{name}={value} started: {stdout}");
        assert!(stderr.contains(named), "{name}: {stderr}");
    }
}
