//! `payroll run` with a ruleset that gives no value for some workers: the run succeeds for the
//! others (exit 0), the summary counts the workers left out and names the first, the manifest
//! lists them, and `explain` says why one of them has nothing to explain.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::*;

#[test]
fn a_run_with_worker_errors_succeeds_for_the_others_and_says_who_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("gapped.toml");
    // No branch of the site allowance for W000002 (org0), nor for W000001 (org1).
    let text = payroll_rules::EXAMPLE_RULESET.replace(
        "# ---------------------------------------------------------------- payslips",
        "[[component]]\nname = \"site_allowance\"\ncategory = \"earning\"\n\
         expr = \"CASE WHEN worker_id NOT IN ('W000001', 'W000002') THEN 0.00 END\"\n\n\
         # ---------------------------------------------------------------- payslips",
    );
    std::fs::write(&rules, text).unwrap();
    let out = dir.path().join("out");
    let o = out.display().to_string();
    let output = payroll(&[
        "run",
        "--period",
        PERIOD,
        "--inputs",
        &sample().display().to_string(),
        "--rules",
        &rules.display().to_string(),
        "--out",
        &o,
    ]);
    assert!(output.status.success(), "the others are computed: exit 0");
    let summary = String::from_utf8_lossy(&output.stdout);
    let reason = "component `site_allowance`: no WHEN of the CASE holds for this worker and it has no ELSE";
    for want in [
        "Worker errors",
        "Not computed, left out of the results and totals",
        &format!("W000001: {reason}"),
        &format!("W000002: {reason}"),
    ] {
        assert!(summary.contains(want), "missing {want:?} in:\n{summary}");
    }

    let manifest_of = |org: &str| -> serde_json::Value {
        let dir = out
            .join(format!("results/org_id={org}/period=2026-10"))
            .read_dir()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        serde_json::from_slice(&std::fs::read(dir.join("_manifest.json")).unwrap()).unwrap()
    };
    let org0 = manifest_of("org0");
    assert_eq!(
        org0["worker_errors"],
        serde_json::json!([{
            "worker_id": "W000002",
            "org_id": "org0",
            "component": "site_allowance",
            "reason": "no WHEN of the CASE holds for this worker and it has no ELSE",
        }]),
        "{org0:#}"
    );
    assert_eq!(manifest_of("org1")["worker_errors"][0]["worker_id"], "W000001");

    let explain = payroll(&["explain", "--out", &o, "--period", PERIOD, "--worker", "W000002"]);
    assert!(!explain.status.success());
    let stderr = String::from_utf8_lossy(&explain.stderr);
    assert!(
        stderr.contains("worker W000002 has no result in run") && stderr.contains("component `site_allowance`"),
        "{stderr}"
    );
}
