//! schemathesis (PyPI) against the service's own `/openapi.json`, with a valid token: every
//! operation is called with the document's examples, boundary values and fuzzed data; no answer
//! may be a 5xx, and every status, content type, header and body must match the document.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

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
    assert!(report.contains("Tested: 77"), "every operation was tested:\n{report}");
    h.stop().await;
}

/// The document as reviewed, pinned in `tests/data/openapi.json` (keys sorted): a change to a
/// route, schema or description shows as a diff of that file, and moving code between layers
/// cannot change it unseen. `UPDATE_GOLDEN=1` rewrites the file after a reviewed change.
#[test]
fn the_document_is_the_reviewed_one() {
    let document = serde_json::to_value(payroll_service::http::openapi()).unwrap();
    let text = format!("{}\n", serde_json::to_string_pretty(&sorted(document)).unwrap());
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/openapi.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap();
    if text != expected {
        let first = text
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| text.lines().count().min(expected.lines().count()));
        panic!(
            "the OpenAPI document differs from {} from line {}: now `{}`, reviewed `{}` (UPDATE_GOLDEN=1 rewrites it)",
            golden.display(),
            first + 1,
            text.lines().nth(first).unwrap_or("<end>"),
            expected.lines().nth(first).unwrap_or("<end>"),
        );
    }
}

/// `value` with every object's keys in order, whatever order the document was built in.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
