//! Review before pay: a run's findings through the API, and the gate. The sample month pays six
//! workers of org0 below the minimum wage (a `block` finding each) and has one who punched after
//! leaving (`warn`). A final run is refused approval while a block finding is open; an approver
//! acknowledges one, then the rest of the check at once, each saying why, and the run is
//! approved. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::*;
use serde_json::{Value, json};

/// The workers in a run's results.
async fn worker_ids(h: &Harness, run: &str, token: &str) -> Vec<String> {
    let page = h
        .get(&format!("/v1/orgs/org0/runs/{run}/results?page_size=1000"), token)
        .await
        .json();
    page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["worker_id"].as_str().unwrap().to_string())
        .collect()
}

fn count_of<'a>(run: &'a Value, check: &str) -> &'a Value {
    run["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check)
        .unwrap_or_else(|| panic!("no count of {check}: {run:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_block_finding_holds_a_final_run_until_someone_acknowledges_it() {
    for backend in backends() {
        let h = Harness::start(backend, "").await;
        let hr = h.token("hr1", "org0", "hr_admin");
        let approver = h.token("appr1", "org0", "approver");
        let run = h.trigger("org0", &hr, "2026-10", "final", "final").await;
        let calculated = h.wait("org0", &run, &hr, "calculated").await;

        // The run counts them per check and severity, for those who see pay.
        let low = count_of(&calculated, "rate_below_minimum_wage");
        assert_eq!(
            (low["severity"].clone(), low["count"].clone(), low["open"].clone()),
            (json!("block"), json!(6), json!(6))
        );
        assert_eq!(count_of(&calculated, "punches_after_exit")["severity"], "warn");
        let ops = h
            .get(
                &format!("/v1/orgs/org0/runs/{run}"),
                &h.token("ops1", "org0", "ops_viewer"),
            )
            .await
            .json();
        assert!(ops.get("findings").is_none(), "{ops:#}");

        // Listed with filters, a page at a time.
        let findings = format!("/v1/orgs/org0/runs/{run}/findings");
        let blocks = h
            .get(&format!("{findings}?severity=block&page_size=5"), &approver)
            .await
            .json();
        let first = blocks["findings"].as_array().unwrap().clone();
        assert_eq!(first.len(), 5, "{blocks:#}");
        assert!(
            first
                .iter()
                .all(|f| f["check"] == "rate_below_minimum_wage" && f["status"] == "open")
        );
        assert!(
            first[0]["message"]
                .as_str()
                .unwrap()
                .contains("is below the minimum wage")
        );
        let token = blocks["next_page_token"].as_str().unwrap();
        let rest = h
            .get(
                &format!("{findings}?severity=block&page_size=5&page_token={token}"),
                &approver,
            )
            .await
            .json();
        assert_eq!(rest["findings"].as_array().unwrap().len(), 1, "{rest:#}");
        assert!(rest.get("next_page_token").is_none());
        let warned = h
            .get(&format!("{findings}?check=punches_after_exit"), &approver)
            .await
            .json();
        assert_eq!(warned["findings"].as_array().unwrap().len(), 1);
        let refused = h.get(&format!("{findings}?status=closed"), &approver).await;
        assert_eq!(refused.status, 422, "{}", refused.text());

        // The gate names how many and the first.
        let approve = format!("/v1/orgs/org0/runs/{run}/approve");
        let held = h.post(&approve, &approver, &json!({})).await;
        assert_eq!(held.status, 409, "{}", held.text());
        let why = held.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(why.contains("6 open block finding(s)"), "{why}");
        assert!(why.contains(first[0]["worker_id"].as_str().unwrap()), "{why}");

        // One acknowledged by HR, with a reason; not twice, not without a reason, not by a
        // worker or another org.
        let one = format!("{findings}/{}/acknowledge", first[0]["id"]);
        let said = json!({"reason": "rate revised from November, arrears to follow"});
        assert_eq!(h.post(&one, &hr, &json!({"reason": " "})).await.status, 422);
        assert_eq!(
            h.post(&one, &h.token("W000000", "org0", "worker"), &said).await.status,
            403
        );
        assert_eq!(
            h.post(&one, &h.token("hr9", "org1", "hr_admin"), &said).await.status,
            403
        );
        let acknowledged = h.post(&one, &hr, &said).await;
        assert_eq!(acknowledged.status, 200, "{}", acknowledged.text());
        let acknowledged = acknowledged.json();
        assert_eq!(
            (
                acknowledged["status"].clone(),
                acknowledged["acknowledged_by"].clone(),
                acknowledged["reason"].clone()
            ),
            (json!("acknowledged"), json!("hr1"), said["reason"].clone())
        );
        assert_eq!(h.post(&one, &approver, &said).await.status, 409);
        let still = h.post(&approve, &approver, &json!({})).await;
        assert!(still.text().contains("5 open block finding(s)"), "{}", still.text());

        // One worker is held back instead: excluded, they leave the run's results and totals.
        let held_back = first[1]["worker_id"].as_str().unwrap().to_string();
        assert!(worker_ids(&h, &run, &hr).await.contains(&held_back));
        let rows_before = calculated["rows"].as_u64().unwrap();
        let exclusion = json!({"worker_ids": [held_back], "reason": "paid at the revised rate by cheque"});
        let excluded = h
            .post(&format!("/v1/orgs/org0/runs/{run}/exclusions"), &hr, &exclusion)
            .await;
        assert_eq!(excluded.status, 200, "{}", excluded.text());
        let now = excluded.json();
        assert_eq!(now["rows"].as_u64().unwrap(), rows_before - 1, "{now:#}");
        assert_ne!(now["totals"]["net_pay"], calculated["totals"]["net_pay"]);
        assert!(
            !worker_ids(&h, &run, &hr).await.contains(&held_back),
            "an excluded worker is in no result"
        );
        let theirs = h
            .get(&format!("{findings}?worker_id={held_back}"), &approver)
            .await
            .json();
        assert_eq!(theirs["findings"][0]["status"], "excluded", "{theirs:#}");

        // The rest of the check at once; then the run is approved.
        let all = json!({"check": "rate_below_minimum_wage", "reason": "state notification pending"});
        let bulk = h.post(&format!("{findings}/acknowledge"), &approver, &all).await;
        assert_eq!(bulk.status, 200, "{}", bulk.text());
        assert_eq!(bulk.json()["acknowledged"], 4);
        let open = h
            .get(&format!("{findings}?severity=block&status=open"), &approver)
            .await
            .json();
        assert_eq!(open["findings"], json!([]));
        let approved = h.post(&approve, &approver, &json!({})).await;
        assert_eq!(approved.status, 200, "{}", approved.text());
        h.wait("org0", &run, &hr, "finalized").await;
        assert_eq!(
            h.post(&one, &approver, &said).await.status,
            409,
            "a finalized run's findings stay as they were"
        );

        // The approver sees every acknowledgement; the audit log has each.
        let seen = h
            .get(&format!("{findings}?status=acknowledged&page_size=100"), &approver)
            .await
            .json();
        assert_eq!(seen["findings"].as_array().unwrap().len(), 5);
        let audit = h
            .get("/v1/orgs/org0/audit?action=finding.acknowledge", &hr)
            .await
            .json();
        let entries = audit["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{audit:#}");
        assert_eq!(entries[1]["after"]["acknowledged"], 4);

        let metrics = h.call("GET", "/metrics", None, None, None).await.text();
        assert!(
            metrics.contains("payroll_findings_total{check=\"rate_below_minimum_wage\",severity=\"block\"} 6"),
            "{metrics}"
        );
        h.stop().await;
    }
}

/// One worker's cells of a CSV, by column name.
fn csv_row(text: &str, key: &str) -> std::collections::BTreeMap<String, String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let row = reader
        .records()
        .map(|r| r.unwrap())
        .find(|r| &r[0] == key)
        .unwrap_or_else(|| panic!("no row {key} in:\n{text}"));
    header
        .iter()
        .map(str::to_string)
        .zip(row.iter().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_variance_report_compares_a_run_with_the_last_finalized_period() {
    for backend in backends() {
        let h = Harness::start(backend, "").await;
        let hr = h.token("hr1", "org0", "hr_admin");
        let approver = h.token("appr1", "org0", "approver");
        let provisional = h.trigger("org0", &hr, "2026-10", "provisional", "early").await;
        h.wait("org0", &provisional, &hr, "calculated").await;
        let early = h
            .get(&format!("/v1/orgs/org0/runs/{provisional}/variance.csv"), &approver)
            .await;
        assert_eq!(early.status, 409, "{}", early.text());
        assert!(
            early.text().contains("no finalized period before 2026-10"),
            "{}",
            early.text()
        );

        let october = h.finalized_run().await;
        let november = h.trigger("org0", &hr, "2026-11", "provisional", "november").await;
        h.wait("org0", &november, &hr, "calculated").await;
        let path = format!("/v1/orgs/org0/runs/{november}/variance.csv");
        assert_eq!(h.get(&path, &h.token("ops1", "org0", "ops_viewer")).await.status, 403);
        let report = h.get(&path, &approver).await;
        assert_eq!(report.status, 200, "{}", report.text());
        let net = |run: &str| {
            let h = &h;
            let run = run.to_string();
            let hr = hr.clone();
            async move {
                let page = h
                    .get(&format!("/v1/orgs/org0/runs/{run}/results?page_size=1000"), &hr)
                    .await
                    .json();
                page["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["worker_id"] == "W000000")
                    .map(|r| r["net_pay"].as_str().unwrap().to_string())
            }
        };
        let (then, now) = (net(&october).await.unwrap(), net(&november).await);
        let row = csv_row(&report.text(), "W000000");
        assert_eq!(row["last_net"], then);
        assert_eq!(row["this_net"], now.unwrap_or_default());
        let difference: rust_decimal::Decimal = row["difference"].parse().unwrap();
        let last: rust_decimal::Decimal = then.parse().unwrap();
        let this: rust_decimal::Decimal = row["this_net"].parse().unwrap_or_default();
        assert_eq!(difference, this - last);

        let sites = h.get(&format!("{path}?by=site"), &approver).await;
        assert_eq!(sites.status, 200, "{}", sites.text());
        assert!(
            sites
                .text()
                .starts_with("site_id,headcount_last,headcount_now,cost_last,cost_now,cost_difference\n")
        );
        let xlsx = h
            .get(&format!("/v1/orgs/org0/runs/{november}/variance.xlsx"), &approver)
            .await;
        assert_eq!(xlsx.status, 200);
        assert!(xlsx.bytes.starts_with(b"PK\x03\x04"));
        let audit = h.get("/v1/orgs/org0/audit?action=variance.download", &hr).await.json();
        assert_eq!(audit["entries"].as_array().unwrap().len(), 3, "{audit:#}");
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_of_a_revision_shows_its_cost_without_touching_a_run() {
    for backend in backends() {
        let h = Harness::start(backend, "").await;
        let hr = h.token("hr1", "org0", "hr_admin");
        let analyst = h.token("an1", "org0", "analyst");
        let run = h.trigger("org0", &hr, "2026-10", "final", "final").await;
        h.wait("org0", &run, &hr, "calculated").await;
        let runs_before = h.get("/v1/orgs/org0/runs", &hr).await.json()["runs"]
            .as_array()
            .unwrap()
            .len();

        // A ruleset that does not validate is refused with its faults and lines.
        let broken = payroll_rules::EXAMPLE_RULESET.replace("least(basic, 15000.00)", "least(basic, 15000.00");
        let refused = h
            .post(
                "/v1/orgs/org0/previews",
                &analyst,
                &json!({"period": "2026-10", "ruleset": broken}),
            )
            .await;
        assert_eq!(refused.status, 422, "{}", refused.text());
        assert!(refused.text().contains("ruleset line 55"), "{}", refused.text());
        let bad_rate = json!({"period": "2026-10", "rates": [{"worker_id": "W000000", "rate": "12.345"}]});
        assert_eq!(h.post("/v1/orgs/org0/previews", &analyst, &bad_rate).await.status, 422);
        let approver = h.token("appr1", "org0", "approver");
        let body = json!({"period": "2026-10", "ruleset": payroll_rules::EXAMPLE_RULESET.replace("least(basic, 15000.00)", "least(basic, 25000.00)")});
        assert_eq!(h.post("/v1/orgs/org0/previews", &approver, &body).await.status, 403);

        // The PF ceiling at 25,000: asked by an analyst, read back once done.
        let asked = h.post("/v1/orgs/org0/previews", &analyst, &body).await;
        assert_eq!(asked.status, 202, "{}", asked.text());
        let id = asked.json()["id"].as_str().unwrap().to_string();
        let path = format!("/v1/orgs/org0/previews/{id}");
        let mut done = Value::Null;
        for _ in 0..600 {
            done = h.get(&path, &analyst).await.json();
            if matches!(done["status"].as_str(), Some("done" | "failed")) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(done["status"], "done", "{done:#}");
        assert_eq!(done["base_run"], run.as_str());
        let summary = &done["summary"];
        let pf = summary["totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["component"] == "pf_employee")
            .unwrap();
        let (base, preview): (rust_decimal::Decimal, rust_decimal::Decimal) = (
            pf["base"].as_str().unwrap().parse().unwrap(),
            pf["preview"].as_str().unwrap().parse().unwrap(),
        );
        assert!(preview > base, "{summary:#}");
        assert!(summary["lose"].as_u64().unwrap() > 0, "{summary:#}");

        // Per worker for those who see pay; the analyst sees only the totals.
        assert_eq!(h.get(&format!("{path}/workers"), &analyst).await.status, 403);
        let workers = h.get(&format!("{path}/workers?page_size=2"), &hr).await.json();
        assert_eq!(workers["workers"].as_array().unwrap().len(), 2, "{workers:#}");
        assert!(workers["next_page_token"].is_string());
        let csv = h.get(&format!("{path}/results.csv"), &hr).await;
        assert_eq!(csv.status, 200);
        assert!(csv.text().starts_with("worker_id,"), "{}", &csv.text()[..80]);

        // Audited, and no run, lock or payslip came of it.
        let audit = h.get("/v1/orgs/org0/audit?action=preview.create", &hr).await.json();
        assert_eq!(audit["entries"][0]["actor"], "an1");
        let runs_after = h.get("/v1/orgs/org0/runs", &hr).await.json()["runs"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(runs_after, runs_before);
        let other = h.get(&path, &h.token("hr9", "org1", "hr_admin")).await;
        assert_eq!(other.status, 403);
        h.stop().await;
    }
}
