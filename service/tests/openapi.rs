//! schemathesis (PyPI) against the service's own `/openapi.json`, with a valid token: every
//! operation is called with the document's examples, boundary values and fuzzed data; no answer
//! may be a 5xx, and every status, content type, header and body must match the document.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

mod common;

use common::*;
use payroll_service::auth::{Keys, claims};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_matches_the_openapi_document() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let run = h.finalized_run().await;

    // Path parameters name real things, so operations get past 404 to their own logic.
    let config = h.dir.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[parameters]\n\"path.org\" = \"org0\"\n\"path.id\" = \"{run}\"\n\"path.worker\" = \"W000000\"\n\
             \"path.file\" = \"W000000.pdf\"\n\"path.period\" = \"2026-10\"\n"
        ),
    )
    .unwrap();
    // Every permission of HR and of an approver, and not the run's maker.
    let roles = ["hr_admin".to_string(), "approver".to_string()];
    let token = Keys::hs256(SECRET.as_bytes())
        .mint(&claims(
            "schemathesis",
            "org0",
            &roles,
            std::time::Duration::from_secs(600),
        ))
        .unwrap();
    // As a module of the Python that installed it: no dependence on where pip put the script.
    let output = std::process::Command::new("python3")
        .args(["-m", "schemathesis.cli", "--config-file"])
        .arg(&config)
        .args(["run", &format!("{}/openapi.json", h.base)])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // Semantic rules no JSON Schema states (a cron expression, an IANA zone, a locked
        // period) make valid-looking data a 4xx: that check would report the API as right.
        .args(["--checks", "all", "--exclude-checks", "positive_data_acceptance"])
        .args([
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "25",
            "--workers",
            "1",
        ])
        .args(["--seed", "20261128", "--generation-database", "none"])
        // Anything it leaves behind stays in the test's directory.
        .current_dir(h.dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("schemathesis is needed: python3 -m pip install schemathesis (scripts/test installs it)");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "schemathesis found failures:\n{report}");
    assert!(report.contains("Tested: 63"), "every operation was tested:\n{report}");
    h.stop().await;
}
