//! One bad worker does not sink a run, over HTTP on SQLite and PostgreSQL: a final run whose
//! ruleset has no value for some workers is calculated for the others and shows the errors;
//! approval is refused while any is not excluded; exclusions record who, when and why; once
//! every one is excluded the run is approved and finalized without them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// The reference ruleset with two gaps: no minimum wage for highly skilled workers (a table
/// with no row for them), and a site allowance whose `CASE` has no branch for W000002.
fn gapped_ruleset() -> String {
    payroll_rules::EXAMPLE_RULESET
        .replace("  { skill = \"highly_skilled\", value = \"1035\" },\n", "")
        .replace(
            "# ---------------------------------------------------------------- payslips",
            "[[component]]\nname = \"site_allowance\"\ncategory = \"earning\"\n\
             expr = \"CASE WHEN worker_id <> 'W000002' THEN 0.00 END\"\n\n\
             # ---------------------------------------------------------------- payslips",
        )
}

/// A column of a CSV file of the sample, by worker id.
fn column(file: &str, name: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(sample().join(file)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[0].to_string(), cells[at].to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_run_with_worker_errors_is_approved_once_each_is_excluded() {
    for backend in backends() {
        worker_errors(backend).await;
    }
}

async fn worker_errors(backend: Backend) {
    let rules = tempfile::tempdir().unwrap();
    let path = rules.path().join("gapped.toml");
    std::fs::write(&path, gapped_ruleset()).unwrap();
    let h = Harness::start(backend, &format!("rules = {path:?}")).await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let approver = h.token("appr1", "org0", "approver");
    let ops = h.token("ops1", "org0", "ops_viewer");

    // Which of org0's workers the gaps hit, from the reference.
    let net = column("expected.csv", "net_pay");
    let orgs = column("expected.csv", "org_id");
    let skills = column("workers.csv", "skill");
    let org0: Vec<&str> = net.keys().map(String::as_str).filter(|w| orgs[*w] == "org0").collect();
    let failing: BTreeSet<&str> = org0
        .iter()
        .copied()
        .filter(|w| skills[*w] == "highly_skilled" || *w == "W000002")
        .collect();
    let n = failing.len();
    assert!(n > 2, "{failing:?}");

    let id = h.trigger("org0", &hr, "2026-10", "final", "oct-final").await;
    let run = h.wait("org0", &id, &hr, "calculated").await;
    assert_eq!(run["rows"], (org0.len() - n) as u64, "{run:#}");
    let errors = &run["worker_errors"];
    assert_eq!(errors["workers"], n as u64, "{run:#}");
    assert_eq!(errors["unexcluded"], n as u64, "{run:#}");
    assert!(errors["excluded"].as_array().unwrap().is_empty(), "{run:#}");
    let first = errors["first"].as_array().unwrap();
    assert_eq!(first.len(), n.min(20));
    let w2 = first.iter().find(|e| e["worker_id"] == "W000002").unwrap();
    assert_eq!(w2["component"], "site_allowance");
    assert_eq!(
        w2["reason"],
        "no WHEN of the CASE holds for this worker and it has no ELSE"
    );
    // Totals leave the failing workers out.
    let total: Decimal = org0
        .iter()
        .filter(|w| !failing.contains(*w))
        .map(|w| net[*w].parse::<Decimal>().unwrap())
        .sum();
    assert_eq!(
        run["totals"]["net_pay"].as_str().unwrap().parse::<Decimal>().unwrap(),
        total
    );
    // Ops staff see how many, not who or why.
    let as_ops = h.get(&format!("/v1/orgs/org0/runs/{id}"), &ops).await.json();
    assert_eq!(as_ops["worker_errors"]["workers"], n as u64, "{as_ops:#}");
    assert!(as_ops["worker_errors"].get("first").is_none(), "{as_ops:#}");
    let listed = h.get(&format!("/v1/orgs/org0/runs/{id}/worker-errors"), &ops).await;
    assert_eq!(listed.status, 403, "{}", listed.text());

    // Every error, page by page.
    let mut paged = Vec::new();
    let mut path = format!("/v1/orgs/org0/runs/{id}/worker-errors?page_size=2");
    loop {
        let page = h.get(&path, &hr).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        paged.extend(page["worker_errors"].as_array().unwrap().iter().cloned());
        match page["next_page_token"].as_str() {
            Some(token) => path = format!("/v1/orgs/org0/runs/{id}/worker-errors?page_size=2&page_token={token}"),
            None => break,
        }
    }
    let paged_ids: BTreeSet<&str> = paged.iter().map(|e| e["worker_id"].as_str().unwrap()).collect();
    assert_eq!(paged_ids, failing);
    for e in paged.iter().filter(|e| e["worker_id"] != "W000002") {
        assert_eq!(e["component"], "below_min_wage", "{e:#}");
        assert_eq!(e["reason"], "no row of table `min_wage_day` for skill=`highly_skilled`");
    }

    // No result, explain or payslip for them.
    let results = h
        .get(&format!("/v1/orgs/org0/runs/{id}/results?page_size=1000"), &hr)
        .await
        .json();
    let result_ids: BTreeSet<&str> = results["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["worker_id"].as_str().unwrap())
        .collect();
    assert!(result_ids.is_disjoint(&failing), "{result_ids:?}");
    let explain = h
        .get(&format!("/v1/orgs/org0/runs/{id}/workers/W000002/explain"), &hr)
        .await;
    assert_eq!(explain.status, 404, "{}", explain.text());
    assert!(
        explain.text().contains("component `site_allowance`"),
        "{}",
        explain.text()
    );
    let pay = h.get("/v1/orgs/org0/workers/W000002/pay?period=2026-10", &hr).await;
    assert_eq!(pay.status, 404, "{}", pay.text());
    assert!(
        pay.text().contains("could not compute it: component `site_allowance`"),
        "{}",
        pay.text()
    );

    // Approval is refused, naming how many are left.
    let approve = format!("/v1/orgs/org0/runs/{id}/approve");
    let refused = h.post(&approve, &approver, &json!({})).await;
    assert_eq!(refused.status, 409, "{}", refused.text());
    let message = refused.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with(&format!("{n} worker(s) of this run have errors")),
        "{message}"
    );

    // Exclusions: only by those allowed, only workers with an error, with a reason.
    let exclusions = format!("/v1/orgs/org0/runs/{id}/exclusions");
    let body = |workers: &[&str], reason: &str| json!({"worker_ids": workers, "reason": reason});
    let by_ops = h.post(&exclusions, &ops, &body(&["W000002"], "x")).await;
    assert_eq!(by_ops.status, 403, "{}", by_ops.text());
    let computed_worker = h
        .post(&exclusions, &approver, &body(&["W000000", "W000002"], "paid off-cycle"))
        .await;
    assert_eq!(computed_worker.status, 422, "{}", computed_worker.text());
    assert!(computed_worker.text().contains("W000000"), "{}", computed_worker.text());
    let no_reason = h.post(&exclusions, &approver, &body(&["W000002"], "  ")).await;
    assert_eq!(no_reason.status, 422, "{}", no_reason.text());

    let others: Vec<&str> = failing.iter().copied().filter(|w| *w != "W000002").collect();
    let excluded = h
        .post(
            &exclusions,
            &approver,
            &body(
                &others,
                "skill missing from the minimum wage table; paid by an off-cycle run",
            ),
        )
        .await;
    assert_eq!(excluded.status, 200, "{}", excluded.text());
    let run = excluded.json();
    assert_eq!(run["worker_errors"]["unexcluded"], 1, "{run:#}");
    let refused = h.post(&approve, &approver, &json!({})).await;
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert!(refused.text().contains("1 worker(s)"), "{}", refused.text());

    let excluded = h
        .post(
            &exclusions,
            &hr,
            &body(&["W000002"], "site allowance rule under review"),
        )
        .await;
    assert_eq!(excluded.status, 200, "{}", excluded.text());
    let run = excluded.json();
    assert_eq!(run["worker_errors"]["unexcluded"], 0, "{run:#}");
    let by_worker: BTreeMap<&str, &Value> = run["worker_errors"]["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["worker_id"].as_str().unwrap(), x))
        .collect();
    assert_eq!(by_worker.keys().copied().collect::<BTreeSet<_>>(), failing);
    assert_eq!(by_worker["W000002"]["excluded_by"], "hr1");
    assert_eq!(by_worker["W000002"]["reason"], "site allowance rule under review");
    assert_eq!(by_worker[others[0]]["excluded_by"], "appr1");
    assert!(by_worker[others[0]]["excluded_at"].is_string());
    let page = h
        .get(&format!("/v1/orgs/org0/runs/{id}/worker-errors?page_size=1000"), &hr)
        .await
        .json();
    assert!(
        page["worker_errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["excluded"]["excluded_by"].is_string()),
        "{page:#}"
    );

    // Approved now (the month's block findings acknowledged); finalized without them.
    h.acknowledge_blocks("org0", &id).await;
    let approved = h.post(&approve, &approver, &json!({})).await;
    assert_eq!(approved.status, 200, "{}", approved.text());
    h.wait("org0", &id, &hr, "finalized").await;
    let payslip = |w: &str| format!("/v1/orgs/org0/runs/{id}/payslips/{w}.pdf");
    assert_eq!(h.get(&payslip("W000002"), &hr).await.status, 404);
    let paid = org0.iter().find(|w| !failing.contains(*w)).unwrap();
    assert_eq!(h.get(&payslip(paid), &hr).await.status, 200);
    let late = h.post(&exclusions, &hr, &body(&["W000002"], "again")).await;
    assert_eq!(late.status, 409, "{}", late.text());
    h.stop().await;
}
