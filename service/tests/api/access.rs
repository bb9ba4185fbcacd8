//! Who may call what: every endpoint with a token of every role, with another org's token, and
//! with no, expired, badly signed or malformed tokens. Each cell is the status expected. On
//! SQLite and PostgreSQL: the role and org checks read the database (runs, adjustments, uploads).
//! Responses never carry a bank account or PAN in clear, read as their reader shows them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::readable::{Format, as_read};
use common::*;
use payroll_service::auth::{Keys, claims};
use serde_json::Value;

const ROLES: [&str; 6] = ["hr_admin", "approver", "ops_viewer", "analyst", "worker", "org_admin"];
/// The worker token's worker: the paths below name them.
const WORKER: &str = "W000000";

/// (method, path, body, expected status per role in `ROLES` order), one row per endpoint, run
/// on each database. `{worker}` is the worker token's worker, [`WORKER`]. `{run}` is a finalized
/// final run of org0; approving, rejecting, cancelling it or excluding workers from it is
/// allowed to those roles but refused by its state (409).
const MATRIX: &[(&str, &str, Option<&str>, [u16; 6])] = &[
    (
        "POST",
        "/v1/orgs/{org}/runs",
        Some(r#"{"period": "2026-09", "kind": "provisional"}"#),
        [202, 403, 403, 403, 403, 202],
    ),
    ("GET", "/v1/orgs/{org}/runs", None, [200, 200, 200, 200, 403, 200]),
    ("GET", "/v1/orgs/{org}/runs/{run}", None, [200, 200, 200, 200, 403, 200]),
    (
        "POST",
        "/v1/orgs/{org}/runs/{run}/approve",
        Some("{}"),
        [403, 409, 403, 403, 403, 409],
    ),
    (
        "POST",
        "/v1/orgs/{org}/runs/{run}/reject",
        Some(r#"{"reason": "wrong rates"}"#),
        [403, 409, 403, 403, 403, 409],
    ),
    (
        "POST",
        "/v1/orgs/{org}/runs/{run}/cancel",
        Some("{}"),
        [409, 403, 403, 403, 403, 409],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/worker-errors",
        None,
        [200, 200, 403, 200, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/findings",
        None,
        [200, 200, 403, 403, 403, 200],
    ),
    (
        "POST",
        "/v1/orgs/{org}/runs/{run}/findings/1/acknowledge",
        Some(r#"{"reason": "reviewed"}"#),
        [409, 409, 403, 403, 403, 409],
    ),
    (
        "POST",
        "/v1/orgs/{org}/runs/{run}/findings/acknowledge",
        Some(r#"{"check": "rate_below_minimum_wage", "reason": "reviewed"}"#),
        [409, 409, 403, 403, 403, 409],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/variance.csv",
        None,
        [409, 409, 403, 403, 403, 409],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/variance.xlsx",
        None,
        [409, 409, 403, 403, 403, 409],
    ),
    ("GET", "/v1/orgs/{org}/insights", None, [200, 200, 403, 200, 403, 200]),
    // Today's board needs stream mode: 409 here, in files mode, once the caller may ask.
    (
        "GET",
        "/v1/orgs/{org}/insights/today",
        None,
        [409, 409, 403, 409, 403, 409],
    ),
    (
        "GET",
        "/v1/orgs/{org}/insights/today/events",
        None,
        [409, 409, 403, 409, 403, 409],
    ),
    (
        "GET",
        "/v1/orgs/{org}/insights.csv?table=heatmap",
        None,
        [200, 200, 403, 200, 403, 200],
    ),
    (
        "POST",
        "/v1/orgs/{org}/previews",
        Some(r#"{"period": "2026-10"}"#),
        [202, 403, 403, 202, 403, 202],
    ),
    (
        "GET",
        "/v1/orgs/{org}/previews/00000000-0000-0000-0000-000000000000",
        None,
        [404, 404, 403, 404, 403, 404],
    ),
    (
        "GET",
        "/v1/orgs/{org}/previews/00000000-0000-0000-0000-000000000000/workers",
        None,
        [404, 404, 403, 403, 403, 404],
    ),
    (
        "GET",
        "/v1/orgs/{org}/previews/00000000-0000-0000-0000-000000000000/results.csv",
        None,
        [404, 404, 403, 403, 403, 404],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/dead-letters",
        None,
        [200, 403, 200, 403, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/dead-letters.csv",
        None,
        [200, 403, 200, 403, 403, 200],
    ),
    (
        "POST",
        "/v1/orgs/{org}/runs/{run}/exclusions",
        Some(r#"{"worker_ids": ["W000000"], "reason": "paid off-cycle"}"#),
        [409, 409, 403, 403, 403, 409],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/events",
        None,
        [200, 200, 200, 200, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/results",
        None,
        [200, 200, 403, 200, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/results.csv",
        None,
        [200, 200, 403, 200, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/results.parquet",
        None,
        [200, 200, 403, 200, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/arrears",
        None,
        [200, 200, 403, 200, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/workers/{worker}/explain",
        None,
        [200, 200, 403, 403, 200, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/payslips/{worker}.pdf",
        None,
        [200, 200, 403, 403, 200, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/payslips/{worker}.xlsx",
        None,
        [200, 200, 403, 403, 200, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/register.xlsx",
        None,
        [200, 403, 403, 403, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/workers/{worker}/pay?period=2026-10",
        None,
        [200, 200, 403, 403, 200, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/workers/{worker}/periods",
        None,
        [200, 200, 403, 403, 200, 200],
    ),
    ("GET", "/v1/orgs/{org}/periods", None, [200, 200, 200, 200, 403, 200]),
    (
        "GET",
        "/v1/orgs/{org}/periods/2026-10",
        None,
        [200, 200, 200, 200, 403, 200],
    ),
    ("GET", "/v1/orgs/{org}/schedule", None, [200, 200, 200, 200, 403, 200]),
    (
        "PUT",
        "/v1/orgs/{org}/schedule",
        Some(r#"{"cron": "30 1 * * *", "timezone": "Asia/Kolkata"}"#),
        [200, 403, 403, 403, 403, 200],
    ),
    ("GET", "/v1/orgs/{org}/audit", None, [200, 200, 403, 403, 403, 200]),
    (
        "POST",
        "/v1/orgs/{org}/adjustments",
        Some(
            r#"{"worker_id": "W000004", "period": "2026-11", "kind": "earning", "code": "bonus", "amount": "10.00", "reason": "r"}"#,
        ),
        [201, 403, 403, 403, 403, 201],
    ),
    (
        "GET",
        "/v1/orgs/{org}/adjustments",
        None,
        [200, 200, 403, 403, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/adjustments/{adj}",
        None,
        [200, 200, 403, 403, 403, 200],
    ),
    // `{adj}` was requested by hr1: the approver approves it, and then it is decided (409).
    (
        "POST",
        "/v1/orgs/{org}/adjustments/{adj}/approve",
        Some("{}"),
        [403, 200, 403, 403, 403, 409],
    ),
    (
        "POST",
        "/v1/orgs/{org}/adjustments/{adj}/reject",
        Some(r#"{"reason": "not owed"}"#),
        [403, 409, 403, 403, 403, 409],
    ),
    // A JSON body where the form belongs: past the permission check, refused (422).
    (
        "POST",
        "/v1/orgs/{org}/uploads?kind=adjustments",
        Some("{}"),
        [422, 403, 403, 403, 403, 422],
    ),
    // The approver reads uploads to find the workers uploads awaiting them.
    ("GET", "/v1/orgs/{org}/uploads", None, [200, 200, 403, 403, 403, 200]),
    (
        "GET",
        "/v1/orgs/{org}/uploads/{upl}",
        None,
        [200, 200, 403, 403, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/uploads/{upl}/errors.xlsx",
        None,
        [200, 403, 403, 403, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/uploads/{upl}/errors.csv",
        None,
        [200, 403, 403, 403, 403, 200],
    ),
    // `{upl}` was uploaded by hr1: the approver approves its requests, and then none is pending.
    (
        "POST",
        "/v1/orgs/{org}/uploads/{upl}/approve",
        None,
        [403, 200, 403, 403, 403, 409],
    ),
    (
        "POST",
        "/v1/orgs/{org}/uploads/{upl}/reject",
        Some(r#"{"reason": "sent twice"}"#),
        [403, 409, 403, 403, 403, 409],
    ),
    // A workers upload's changes and decision: `{wup}` was uploaded by hr1 and awaits approval;
    // `{upl}`, an adjustments upload, has no worker changes (409).
    (
        "GET",
        "/v1/orgs/{org}/uploads/{upl}/changes",
        None,
        [409, 409, 403, 403, 403, 409],
    ),
    (
        "GET",
        "/v1/orgs/{org}/uploads/{wup}/changes",
        None,
        [200, 200, 403, 403, 403, 200],
    ),
    (
        "POST",
        "/v1/orgs/{org}/uploads/{wup}/approve",
        None,
        [403, 200, 403, 403, 403, 409],
    ),
    (
        "POST",
        "/v1/orgs/{org}/uploads/{wup}/reject",
        Some(r#"{"reason": "sent twice"}"#),
        [403, 409, 403, 403, 403, 409],
    ),
    ("GET", "/v1/orgs/{org}/roles", None, [403, 403, 403, 403, 403, 200]),
    (
        "GET",
        "/v1/orgs/{org}/roles/hr_admin",
        None,
        [403, 403, 403, 403, 403, 200],
    ),
    (
        "PUT",
        "/v1/orgs/{org}/roles/analyst",
        Some(r#"{"permissions": ["runs:view", "results:anonymized"]}"#),
        [403, 403, 403, 403, 403, 200],
    ),
    // Payouts: `{pay}` is the run's first payout, which paid everyone, so another is refused
    // by the run's state (409); a JSON body where the bank's CSV belongs is refused (422).
    (
        "POST",
        "/v1/orgs/{org}/runs/{run}/payouts",
        None,
        [403, 409, 403, 403, 403, 409],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/payouts",
        None,
        [403, 200, 403, 403, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/payouts/{pay}",
        None,
        [403, 200, 403, 403, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/payouts/{pay}/pain.001.xml",
        None,
        [403, 200, 403, 403, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/payouts/{pay}/neft.csv",
        None,
        [403, 200, 403, 403, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/payouts/{pay}/exceptions.csv",
        None,
        [403, 200, 403, 403, 403, 200],
    ),
    (
        "POST",
        "/v1/orgs/{org}/runs/{run}/payouts/{pay}/returns",
        Some("{}"),
        [403, 422, 403, 403, 403, 422],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/payouts/{pay}/returns",
        None,
        [403, 200, 403, 403, 403, 200],
    ),
    // Deciding a return: the payout has none, so `payouts:approve` is past the permission
    // check and finds nothing (404).
    (
        "POST",
        "/v1/orgs/{org}/runs/{run}/payouts/{pay}/returns/none/approve",
        Some("{}"),
        [403, 404, 403, 403, 403, 404],
    ),
    (
        "POST",
        "/v1/orgs/{org}/runs/{run}/payouts/{pay}/returns/none/reject",
        Some(r#"{"reason": "not on the bank's statement"}"#),
        [403, 404, 403, 403, 403, 404],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/returns/ecr.txt",
        None,
        [200, 403, 403, 403, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/returns/esic.xlsx",
        None,
        [200, 403, 403, 403, 403, 200],
    ),
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/returns/exceptions.csv",
        None,
        [200, 403, 403, 403, 403, 200],
    ),
    // Payslip notices: the run has none (no vendor is configured), so a retry is past the
    // permission check and finds nothing (404).
    (
        "GET",
        "/v1/orgs/{org}/runs/{run}/notices",
        None,
        [200, 403, 200, 403, 403, 200],
    ),
    (
        "POST",
        "/v1/orgs/{org}/runs/{run}/notices/none/retry",
        Some("{}"),
        [404, 403, 403, 403, 403, 404],
    ),
    // A workers upload's notices of contact changes: none before its approval.
    (
        "GET",
        "/v1/orgs/{org}/uploads/{wup}/notices",
        None,
        [200, 403, 200, 403, 403, 200],
    ),
    (
        "POST",
        "/v1/orgs/{org}/uploads/{wup}/notices/none/retry",
        Some("{}"),
        [404, 403, 403, 403, 403, 404],
    ),
];

fn sub(role: &str) -> String {
    if role == "worker" {
        WORKER.to_string()
    } else {
        format!("{role}-1")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_by_every_role_and_org() {
    for backend in backends() {
        matrix(backend).await;
    }
}

async fn matrix(backend: Backend) {
    let schedule = "[orgs.org0]\nname = \"Acme Logistics Pvt Ltd\"\nschedule = { cron = \"0 2 * * *\", timezone = \"Asia/Kolkata\" }\n\
                    debit_account = \"000111222333\"\ndebit_ifsc = \"ICIC0000001\"";
    let h = Harness::start(backend, schedule).await;
    let run = h.finalized_run().await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let adjustment = serde_json::json!({"worker_id": "W000002", "period": "2026-11", "kind": "deduction",
        "code": "canteen", "amount": "50.00", "reason": "canteen dues"});
    let adj = h.post("/v1/orgs/org0/adjustments", &hr, &adjustment).await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let upl = uploaded(
        &h,
        &hr,
        "adjustments",
        "worker_id,period,kind,code,amount,reason\nW000002,2026-11,earning,bonus,10.00,r\nW000002,2026-11,gift,x,1,r\n",
        "done",
    )
    .await;
    let master = std::fs::read_to_string(sample().join("workers.csv")).unwrap();
    let workers = format!(
        "{}\nW900001,org0,S00,New Worker,F,MH,skilled,Fitter,daily,800.00,true,true,,,123456789012,SBIN0001234,ABCDE9999F,2026-10-01,\n",
        master.lines().next().unwrap()
    );
    let wup = uploaded(&h, &hr, "workers", &workers, "awaiting_approval").await;
    let approver = h.token("appr1", "org0", "approver");
    let payout = h.payout("org0", &run, &approver, None).await;
    assert_eq!(payout.status, 201, "{}", payout.text());
    let pay = payout.json()["id"].as_str().unwrap().to_string();

    let fill = |template: &str| {
        template
            .replace("{org}", "org0")
            .replace("{worker}", WORKER)
            .replace("{run}", &run)
            .replace("{adj}", &adj)
            .replace("{upl}", &upl)
            .replace("{wup}", &wup)
            .replace("{pay}", &pay)
    };
    let mut bodies = Vec::new();
    let mut failures = Vec::new();
    let mut key = 0;
    for (method, template, body, expected) in MATRIX {
        let body: Option<Value> = body.map(|b| serde_json::from_str(b).unwrap());
        for (role, want) in ROLES.iter().zip(expected) {
            // Own org: the table's status.
            let path = fill(template);
            let token = h.token(&sub(role), "org0", role);
            key += 1;
            let reply = h
                .call(method, &path, Some(&token), body.as_ref(), Some(&format!("k{key}")))
                .await;
            if reply.status != *want {
                failures.push(format!(
                    "{role} {method} {path}: {} (expected {want}): {}",
                    reply.status,
                    reply.text()
                ));
            }
            // The bank files carry full account numbers by design; every other body must not.
            if !path.ends_with("/pain.001.xml") && !path.ends_with("/neft.csv") {
                bodies.push((path.clone(), reply));
            }
            // Another org's token, any role: 403, naming the org.
            let foreign = h.token(&sub(role), "org1", role);
            let reply = h
                .call(method, &path, Some(&foreign), body.as_ref(), Some(&format!("k{key}")))
                .await;
            if reply.status != 403 || !reply.text().contains("not `org0`") {
                failures.push(format!(
                    "org1 {role} {method} {path}: {} (expected 403): {}",
                    reply.status,
                    reply.text()
                ));
            }
        }
        // No token, an expired one, one signed with another key, and garbage: 401.
        let path = fill(template);
        let expired = {
            let mut c = claims("hr1", "org0", &["hr_admin".into()], std::time::Duration::ZERO);
            c.exp -= 60;
            Keys::hs256(SECRET.as_bytes()).mint(&c).unwrap()
        };
        let forged = Keys::hs256(b"another secret entirely, also long enough")
            .mint(&claims(
                "hr1",
                "org0",
                &["hr_admin".into()],
                std::time::Duration::from_secs(60),
            ))
            .unwrap();
        for (what, token, reason) in [
            ("no token", None, "no bearer token"),
            ("expired", Some(expired.as_str()), "expired"),
            ("forged", Some(forged.as_str()), "signature"),
            ("malformed", Some("not-a-jwt"), "malformed"),
        ] {
            let reply = h.call(method, &path, token, body.as_ref(), Some("k-401")).await;
            if reply.status != 401 || !reply.text().contains(reason) {
                failures.push(format!(
                    "{what} {method} {path}: {} (expected 401 {reason}): {}",
                    reply.status,
                    reply.text()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{backend:?}: {} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // A worker sees only their own pay and payslips.
    let worker = h.token(WORKER, "org0", "worker");
    for path in [
        "/v1/orgs/org0/workers/W000002/pay?period=2026-10".to_string(),
        format!("/v1/orgs/org0/runs/{run}/payslips/W000002.pdf"),
    ] {
        let reply = h.get(&path, &worker).await;
        assert_eq!(reply.status, 403, "{path}: {}", reply.text());
        assert!(reply.text().contains("only their own pay"));
    }

    // Amounts and personal columns by role.
    let ops = h.token("ops1", "org0", "ops_viewer");
    let as_ops = h.get(&format!("/v1/orgs/org0/runs/{run}"), &ops).await.json();
    assert!(as_ops.get("totals").is_none(), "ops sees no amounts: {as_ops:#}");
    assert!(as_ops["dead_letters"].is_object(), "ops sees dead letters: {as_ops:#}");
    let approver = h.token("appr1", "org0", "approver");
    let as_approver = h.get(&format!("/v1/orgs/org0/runs/{run}"), &approver).await.json();
    assert!(as_approver.get("dead_letters").is_none(), "{as_approver:#}");
    let as_hr = h.get(&format!("/v1/orgs/org0/runs/{run}"), &hr).await.json();
    assert!(as_hr["totals"]["net_pay"].is_string(), "{as_hr:#}");
    let analyst = h.token("an1", "org0", "analyst");
    let rows = h
        .get(&format!("/v1/orgs/org0/runs/{run}/results"), &analyst)
        .await
        .json();
    let row = &rows["rows"][0];
    assert!(
        row.get("net_pay").is_some() && row.get("name").is_none() && row.get("pan_masked").is_none(),
        "{row:#}"
    );
    let csv = h
        .get(&format!("/v1/orgs/org0/runs/{run}/results.csv"), &analyst)
        .await
        .text();
    assert!(
        !csv.lines()
            .next()
            .unwrap()
            .split(',')
            .any(|c| c == "name" || c == "uan"),
        "{csv}"
    );

    // No bank account or PAN of the sample in clear in any body, decoded first: a PDF's text
    // streams, an XLSX's cells and a Parquet file's pages are compressed, so their raw bytes
    // would not show an account number that a reader of the file sees.
    let secrets = bank_accounts_and_pans();
    let read: Vec<(&str, String)> = bodies
        .iter()
        .map(|(path, reply)| (path.as_str(), readable(path, reply)))
        .collect();
    for (path, text) in &read {
        if let Some(leak) = secrets.iter().find(|s| text.contains(s.as_str())) {
            panic!("{backend:?}: {path} carries {leak} in clear: {text}");
        }
    }
    // Masked, they are there: the scan read each format where the worker's account and PAN
    // would be (W000000's payslips, the results file).
    for format in [Format::Pdf, Format::Xlsx, Format::Parquet] {
        assert!(
            read.iter().any(|(path, text)| Format::of(path) == format
                && text.contains("XXXXXXXX1340")
                && text.contains("XXXXX0000X")),
            "{backend:?}: no {format:?} body shows W000000's masked account and PAN"
        );
    }

    // Operations endpoints need no token and carry no pay.
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let reply = h.call("GET", path, None, None, None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    }
    let metrics = h.call("GET", "/metrics", None, None, None).await.text();
    assert!(
        metrics.contains("payroll_http_requests_total{route=\"/v1/orgs/{org}/runs\",method=\"POST\",status=\"202\"}"),
        "{metrics}"
    );
    h.stop().await;
}

/// A body as its reader shows it; a refusal is a JSON error whatever the path names.
fn readable(path: &str, reply: &Reply) -> String {
    match reply.status {
        200 => as_read(path, &reply.bytes),
        _ => reply.text(),
    }
}

/// Uploads `file` as `kind` and waits until it settles, as `settled`; returns its id.
async fn uploaded(h: &Harness, token: &str, kind: &str, file: &str, settled: &str) -> String {
    let upload = h.upload("org0", kind, "a.csv", file.as_bytes(), token).await;
    assert_eq!(upload["status"], settled, "{upload:#}");
    upload["id"].as_str().unwrap().to_string()
}

fn bank_accounts_and_pans() -> Vec<String> {
    let mut reader = csv::Reader::from_path(sample().join("workers.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let bank = headers.iter().position(|h| h == "bank_account").unwrap();
    let pan = headers.iter().position(|h| h == "pan").unwrap();
    reader
        .records()
        .flat_map(|r| {
            let r = r.unwrap();
            [r[bank].to_string(), r[pan].to_string()]
        })
        .filter(|v| v.len() > 4)
        .collect()
}

/// `GET /v1/me`: every role reads its own token's user, org, roles and permissions; no token is
/// 401. It names no org, so it has no cross-org cell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_is_the_callers_own() {
    let h = Harness::start(Backend::Sqlite, "").await;
    for role in ROLES {
        let me = h.get("/v1/me", &h.token(&sub(role), "org0", role)).await;
        assert_eq!(me.status, 200, "{role}: {}", me.text());
        let me = me.json();
        assert_eq!(
            (me["sub"].as_str(), me["org"].as_str()),
            (Some(sub(role).as_str()), Some("org0"))
        );
        let permissions: Vec<&str> = me["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert_eq!(
            permissions.contains(&"pay:view"),
            ["hr_admin", "approver", "org_admin"].contains(&role),
            "{role}: {permissions:?}"
        );
        assert_eq!(
            permissions.contains(&"roles:manage"),
            role == "org_admin",
            "{role}: {permissions:?}"
        );
    }
    let anonymous = h.call("GET", "/v1/me", None, None, None).await;
    assert_eq!(anonymous.status, 401);
    h.stop().await;
}
