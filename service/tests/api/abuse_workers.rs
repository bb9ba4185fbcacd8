//! Changing a worker's bank account alone, tried as an insider would, on SQLite and PostgreSQL:
//! a person with `upload` uploads a workers file that moves W000000's pay to a new account and
//! adds a worker. Nothing reaches the master until another person with `workers:approve`
//! approves: a run and a payout before that see the old account and no new worker; the uploader
//! cannot approve; the reviewer sees each change (accounts masked); the approval applies it and
//! the audit log names each changed field.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::*;
use serde_json::{Value, json};

const DEBIT: &str = "[orgs.org0]\ndebit_account = \"000111222333\"\ndebit_ifsc = \"ICIC0000001\"\n";
const OLD_ACCOUNT: &str = "494833411340";
const NEW_ACCOUNT: &str = "555566667777";

/// Uploads a workers CSV as `token` and waits for it to settle; returns its final state.
async fn upload_workers(h: &Harness, token: &str, csv: &str) -> Value {
    h.upload("org0", "workers", "workers.csv", csv.as_bytes(), token).await
}

async fn pay(h: &Harness, run: &str, token: &str, key: &str) -> Value {
    let reply = h.payout("org0", run, token, Some(key)).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

/// The NEFT row paying `worker` (references end in `-<worker id>`).
fn paying<'a>(rows: &'a [[String; 4]], worker: &str) -> Option<&'a [String; 4]> {
    rows.iter().find(|r| r[3].ends_with(&format!("-{worker}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_cannot_change_a_workers_bank_account_or_add_a_worker() {
    for backend in backends() {
        let h = Harness::start(backend, DEBIT).await;
        let hr = h.token("hr1", "org0", "hr_admin");
        let uploader_approver = h.token("hr1", "org0", "org_admin");
        let approver = h.token("appr2", "org0", "approver");
        let payer = h.token("appr1", "org0", "approver");

        let master = std::fs::read_to_string(h.dir.path().join("inputs").join("workers.csv")).unwrap();
        let mut lines = master.lines();
        let header = lines.next().unwrap();
        let w0 = lines.find(|l| l.starts_with("W000000,")).unwrap();
        assert!(w0.contains(OLD_ACCOUNT), "{w0}");
        let changed = w0.replace(OLD_ACCOUNT, NEW_ACCOUNT);
        let ghost = format!(
            "W900001,org0,S00,Ghost Worker,M,MH,skilled,Fitter,daily,900.00,true,true,,,{NEW_ACCOUNT},SBIN0001234,ABCDE9999F,2026-10-01,"
        );
        let upload = upload_workers(&h, &hr, &format!("{header}\n{changed}\n{ghost}\n")).await;
        let id = upload["id"].as_str().unwrap().to_string();

        // Before anyone approves: the run and its payout know the old master only.
        let run = h.finalized_run().await;
        let results = h
            .get(&format!("/v1/orgs/org0/runs/{run}/results?page_size=1000"), &hr)
            .await
            .json();
        let rows = results["rows"].as_array().unwrap();
        assert!(
            rows.iter().all(|r| r["worker_id"] != "W900001"),
            "{backend:?}: the uploaded worker is in a run before approval"
        );
        let first = pay(&h, &run, &payer, "payout-1").await;
        let paid = h.neft(&first, &payer).await;
        let w0_paid = paying(&paid, "W000000").expect("W000000 is paid").clone();
        assert_eq!(
            w0_paid[0], OLD_ACCOUNT,
            "{backend:?}: a payout before approval pays the uploaded account"
        );
        assert!(paying(&paid, "W900001").is_none(), "{paid:?}");
        assert_eq!(upload["status"], "awaiting_approval", "{upload:#}");
        assert_eq!(upload["applied"], 0, "{upload:#}");

        // The uploader cannot approve, even holding `workers:approve`; without it nobody can.
        for token in [&hr, &uploader_approver] {
            let reply = h
                .post(&format!("/v1/orgs/org0/uploads/{id}/approve"), token, &json!({}))
                .await;
            assert_eq!(reply.status, 403, "{backend:?}: {}", reply.text());
        }

        // The reviewer sees each change, the accounts masked.
        let changes = h.get(&format!("/v1/orgs/org0/uploads/{id}/changes"), &approver).await;
        assert_eq!(changes.status, 200, "{}", changes.text());
        let text = changes.text();
        for secret in [OLD_ACCOUNT, NEW_ACCOUNT, "ABCDE9999F"] {
            assert!(!text.contains(secret), "{secret} in clear: {text}");
        }
        let changes = changes.json();
        let workers = changes["workers"].as_array().unwrap();
        // A page of workers at a time, in the file's order.
        let page = |query: &str| format!("/v1/orgs/org0/uploads/{id}/changes?page_size=1{query}");
        let page1 = h.get(&page(""), &approver).await.json();
        assert_eq!(
            (
                &page1["workers"][0]["worker_id"],
                &page1["total"],
                &page1["next_page_token"]
            ),
            (&json!("W000000"), &json!(2), &json!("1")),
            "{page1:#}"
        );
        let page2 = h.get(&page("&page_token=1"), &approver).await.json();
        assert_eq!(page2["workers"][0]["worker_id"], "W900001", "{page2:#}");
        assert!(page2.get("next_page_token").is_none(), "{page2:#}");
        assert_eq!(h.get(&page("&page_token=x"), &approver).await.status, 422);
        let w0 = workers.iter().find(|w| w["worker_id"] == "W000000").unwrap();
        assert_eq!(w0["new"], false, "{changes:#}");
        assert_eq!(
            w0["fields"].as_array().unwrap().len(),
            1,
            "only the account: {changes:#}"
        );
        let field = &w0["fields"][0];
        assert_eq!(field["field"], "bank_account", "{changes:#}");
        assert!(field["before"].as_str().unwrap().ends_with("1340"), "{changes:#}");
        assert!(field["after"].as_str().unwrap().ends_with("7777"), "{changes:#}");
        let ghost = workers.iter().find(|w| w["worker_id"] == "W900001").unwrap();
        assert_eq!(ghost["new"], true, "{changes:#}");
        assert!(
            ghost["fields"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["before"].is_null())
        );

        // Another person approves: the master has the new account and worker.
        let approved = h
            .post(&format!("/v1/orgs/org0/uploads/{id}/approve"), &approver, &json!({}))
            .await;
        assert_eq!(approved.status, 200, "{backend:?}: {}", approved.text());
        assert_eq!(approved.json()["decided"], 2, "{}", approved.text());
        let again = h
            .post(&format!("/v1/orgs/org0/uploads/{id}/approve"), &approver, &json!({}))
            .await;
        assert_eq!(again.status, 409, "decided once: {}", again.text());
        let upload = h.get(&format!("/v1/orgs/org0/uploads/{id}"), &hr).await.json();
        assert_eq!((&upload["status"], &upload["applied"]), (&json!("done"), &json!(2)));

        // The next payout of W000000 (after an approved return) pays the new account.
        let returns = first["links"]["returns"].as_str().unwrap().to_string();
        let recorded = h
            .post_csv(
                &returns,
                &payer,
                &format!("reference,reason\n{},Account closed\n", w0_paid[3]),
            )
            .await;
        assert_eq!(recorded.status, 201, "{}", recorded.text());
        let rid = recorded.json()["id"].as_str().unwrap().to_string();
        let ok = h.post(&format!("{returns}/{rid}/approve"), &approver, &json!({})).await;
        assert_eq!(ok.status, 200, "{}", ok.text());
        let second = pay(&h, &run, &payer, "payout-2").await;
        let repaid = h.neft(&second, &payer).await;
        assert_eq!(paying(&repaid, "W000000").unwrap()[0], NEW_ACCOUNT, "{repaid:?}");

        // Audited: the account change as one field, masked, by the approver.
        let audit = h
            .get("/v1/orgs/org0/audit?action=worker.change", &approver)
            .await
            .json();
        let entries = audit["entries"].as_array().unwrap();
        let text = serde_json::to_string(entries).unwrap();
        assert!(!text.contains(NEW_ACCOUNT) && !text.contains(OLD_ACCOUNT), "{text}");
        let account = entries
            .iter()
            .find(|e| e["target"] == "workers/W000000")
            .unwrap_or_else(|| panic!("no entry for W000000: {audit:#}"));
        assert_eq!(account["actor"], "appr2", "{account:#}");
        assert!(account["after"]["bank_account"].as_str().unwrap().ends_with("7777"));
        assert!(account["before"]["bank_account"].as_str().unwrap().ends_with("1340"));
        assert_eq!(
            entries.iter().filter(|e| e["target"] == "workers/W000000").count(),
            1,
            "one entry per changed field: {audit:#}"
        );
        assert!(entries.iter().any(|e| e["target"] == "workers/W900001"), "{audit:#}");
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_workers_upload_changes_nothing() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let approver = h.token("appr2", "org0", "approver");
    let path = h.dir.path().join("inputs").join("workers.csv");
    let before = std::fs::read_to_string(&path).unwrap();
    let header = before.lines().next().unwrap();
    let w0 = before.lines().find(|l| l.starts_with("W000000,")).unwrap();
    let upload = upload_workers(
        &h,
        &hr,
        &format!("{header}\n{}\n", w0.replace(OLD_ACCOUNT, NEW_ACCOUNT)),
    )
    .await;
    assert_eq!(upload["status"], "awaiting_approval", "{upload:#}");
    let id = upload["id"].as_str().unwrap();
    let rejected = h
        .post(
            &format!("/v1/orgs/org0/uploads/{id}/reject"),
            &approver,
            &json!({"reason": "not on the signed form"}),
        )
        .await;
    assert_eq!(rejected.status, 200, "{}", rejected.text());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    let upload = h.get(&format!("/v1/orgs/org0/uploads/{id}"), &hr).await.json();
    assert_eq!(upload["status"], "rejected", "{upload:#}");
    let audit = h
        .get("/v1/orgs/org0/audit?action=upload.reject", &approver)
        .await
        .json();
    assert_eq!(
        audit["entries"][0]["after"]["reason"], "not on the signed form",
        "{audit:#}"
    );
    let changes = h.get(&format!("/v1/orgs/org0/uploads/{id}/changes"), &approver).await;
    assert_eq!(changes.status, 409, "{}", changes.text());
    h.stop().await;
}

/// The messages an SMS vendor was given, `(to, text)`.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// An SMS vendor on loopback: records each message it is given.
async fn sms_vendor() -> (Received, String) {
    async fn send(axum::extract::State(received): axum::extract::State<Received>, body: String) -> &'static str {
        let body: Value = serde_json::from_str(&body).unwrap();
        let (to, text) = (body["to"].as_str().unwrap(), body["text"].as_str().unwrap());
        received.lock().unwrap().push((to.to_string(), text.to_string()));
        "accepted"
    }
    let received = Received::default();
    let app = axum::Router::new()
        .route("/send", axum::routing::post(send))
        .with_state(std::sync::Arc::clone(&received));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (received, url)
}

const OLD_PHONE: &str = "+919800000001";
const NEW_PHONE: &str = "+919811111111";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_hears_of_a_new_bank_account_or_phone_on_the_contact_they_had() {
    for backend in backends() {
        let (received, url) = sms_vendor().await;
        let config = format!(
            "[notices]\nlink_secret = \"8f3a91c4d27b5e60a1f9c8d3b7e24a5f90c1d6e8b3a7f2c4e9d05b18a6c3f7e2\"\nchannels = [\"sms\"]\npoll = \"100ms\"\n\
             [notices.sms]\nurl = {url:?}\nbody = '{{\"to\": {{to}}, \"text\": {{text}}}}'\n"
        );
        let h = Harness::start(backend, &config).await;
        let hr = h.token("hr1", "org0", "hr_admin");
        let approver = h.token("appr2", "org0", "approver");
        let stranger = h.token("hr9", "org1", "org_admin");

        // W000000 and W000002 have a phone on file.
        let path = h.dir.path().join("inputs").join("workers.csv");
        let master = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = master.lines().map(str::to_string).collect();
        lines[0].push_str(",phone,email,language");
        for line in &mut lines[1..] {
            let phone = match &line[..8] {
                "W000000," => OLD_PHONE,
                "W000002," => "+919800000002",
                _ => "",
            };
            line.push_str(&format!(",{phone},,"));
        }
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let w0 = &lines[1];
        assert!(w0.starts_with("W000000,") && w0.contains(OLD_ACCOUNT), "{w0}");
        let w2 = lines.iter().find(|l| l.starts_with("W000002,")).unwrap();
        // W000000: a new account and a new phone, as a fraudster would set both. W000002: a
        // new designation only. W900001: a new worker with a phone.
        let fraud = w0.replace(OLD_ACCOUNT, NEW_ACCOUNT).replace(OLD_PHONE, NEW_PHONE);
        let promoted = w2.replace("Worker,", "Worker Lead,");
        assert_ne!(&promoted, w2);
        let hired = format!(
            "W900001,org0,S00,New Hire,F,MH,skilled,Fitter,daily,900.00,true,true,,,{NEW_ACCOUNT},SBIN0001234,ABCDE9999F,2026-10-01,,+919822222222,,"
        );
        let upload = upload_workers(&h, &hr, &format!("{}\n{fraud}\n{promoted}\n{hired}\n", lines[0])).await;
        assert_eq!(upload["status"], "awaiting_approval", "{backend:?}: {upload:#}");
        let id = upload["id"].as_str().unwrap().to_string();
        let notices = format!("/v1/orgs/org0/uploads/{id}/notices");

        // Nothing is said before the change is approved.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert!(received.lock().unwrap().is_empty(), "{backend:?}: told before approval");
        let approved = h
            .post(&format!("/v1/orgs/org0/uploads/{id}/approve"), &approver, &json!({}))
            .await;
        assert_eq!(approved.status, 200, "{backend:?}: {}", approved.text());

        // One message, to the phone W000000 had, naming what changed.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while received.lock().unwrap().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "{backend:?}: no notice of the change within 20 s: {}",
                h.get(&notices, &hr).await.text()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let messages = received.lock().unwrap().clone();
        assert_eq!(
            messages.len(),
            1,
            "{backend:?}: one notice, for W000000 only: {messages:#?}"
        );
        let (to, text) = &messages[0];
        assert_eq!(
            to, OLD_PHONE,
            "{backend:?}: told on the new phone, the fraudster's: {text}"
        );
        assert!(
            text.contains("bank account") && text.contains("phone number") && text.contains("Worker 0"),
            "{backend:?}: {text}"
        );
        assert!(!text.contains(NEW_ACCOUNT) && !text.contains(NEW_PHONE), "{text}");

        // The outbox lists it under the upload, masked; another org does not see it.
        let listed = h.get(&notices, &hr).await;
        assert_eq!(listed.status, 200, "{backend:?}: {}", listed.text());
        let listed = listed.json();
        let notice = &listed["notices"][0];
        assert_eq!(listed["notices"].as_array().unwrap().len(), 1, "{listed:#}");
        assert_eq!(
            (
                &notice["kind"],
                &notice["worker_id"],
                &notice["status"],
                &notice["upload_id"]
            ),
            (&json!("contact_change"), &json!("W000000"), &json!("sent"), &json!(id)),
            "{listed:#}"
        );
        assert_eq!(notice["changed"], json!(["bank_account", "phone"]), "{listed:#}");
        assert_eq!(notice["recipient"], "XXXXXXXX0001", "{listed:#}");
        let foreign = h.get(&format!("/v1/orgs/org1/uploads/{id}/notices"), &stranger).await;
        assert_eq!(foreign.status, 404, "{backend:?}: {}", foreign.text());
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workers_upload_staged_by_one_instance_is_reviewed_and_approved_on_another() {
    for backend in backends() {
        // Two instances, each with its own local disk, sharing the database, the input folder
        // and the object store, as behind a load balancer.
        let shared = tempfile::tempdir().unwrap();
        let out = format!("out = {:?}", shared.path().join("store"));
        let first = Harness::start(backend, &out).await;
        let inputs = first.dir.path().join("inputs");
        let hr = first.token("hr1", "org0", "hr_admin");
        let master = std::fs::read_to_string(inputs.join("workers.csv")).unwrap();
        let header = master.lines().next().unwrap();
        let w0 = master.lines().find(|l| l.starts_with("W000000,")).unwrap();
        let csv = format!("{header}\n{}\n", w0.replace(OLD_ACCOUNT, NEW_ACCOUNT));
        let upload = upload_workers(&first, &hr, &csv).await;
        assert_eq!(upload["status"], "awaiting_approval", "{backend:?}: {upload:#}");
        let id = upload["id"].as_str().unwrap();

        let second = Harness::start_on(
            tempfile::tempdir().unwrap(),
            first.database.clone(),
            &format!("inputs = {inputs:?}"),
            &out,
        )
        .await;
        let approver = second.token("appr2", "org0", "approver");
        let changes = second
            .get(&format!("/v1/orgs/org0/uploads/{id}/changes"), &approver)
            .await;
        assert_eq!(
            changes.status,
            200,
            "{backend:?}: the other instance: {}",
            changes.text()
        );
        let fields = &changes.json()["workers"][0]["fields"];
        assert_eq!(fields[0]["field"], "bank_account", "{fields:#}");
        let approved = second
            .post(&format!("/v1/orgs/org0/uploads/{id}/approve"), &approver, &json!({}))
            .await;
        assert_eq!(approved.status, 200, "{backend:?}: {}", approved.text());
        let now = std::fs::read_to_string(inputs.join("workers.csv")).unwrap();
        let last = now.lines().rfind(|l| l.starts_with("W000000,")).unwrap();
        assert!(last.contains(NEW_ACCOUNT), "{backend:?}: {last}");
        second.stop().await;
        first.stop().await;
    }
}
