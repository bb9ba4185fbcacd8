//! Files at rest, on both databases: someone who can read the output store (a backup, a shared
//! disk, another account on the host) finds no bank account in a raw upload or a payout file
//! when `PAYROLL_CHECKPOINT_KEY` is set, while the authorised caller still downloads the bank
//! file in clear and uploads are still processed; on a local store those files are 0600, key
//! or not; and uploaded files older than `[uploads] keep_raw` are deleted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::Value;

const KEY_VAR: &str = "PAYROLL_CHECKPOINT_KEY";
/// A strong key (64 hex digits, many distinct ones), this binary's only.
const KEY: &str = "3f9a1c7e5b2d48e0a6c4f1b3d5e7092a8c6e4f2b1d3a5c7e9f0b2d4a6c8e1f35";
const DEBIT: &str = "[orgs.org0]\nname = \"Acme\"\ndebit_account = \"000111222333\"\ndebit_ifsc = \"ICIC0000001\"\n";
/// The account of the worker the workers upload adds: in no other file.
const NEW_ACCOUNT: &str = "987650001234";

/// The key is process-wide and the service reads it at start: this binary's tests take turns,
/// so each service starts with the key its test set. Other test binaries are other processes.
static ENV: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn set_key(key: Option<&str>) {
    // SAFETY: the tests of this binary that read the environment hold `ENV`; no other thread
    // reads it while one is set.
    unsafe {
        match key {
            Some(key) => std::env::set_var(KEY_VAR, key),
            None => std::env::remove_var(KEY_VAR),
        }
    }
}

/// The sample master's bank accounts, which the payout files and the upload carry.
fn accounts(inputs: &Path) -> Vec<String> {
    let mut reader = csv::Reader::from_path(inputs.join("workers.csv")).unwrap();
    let at = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "bank_account")
        .unwrap();
    reader.records().map(|r| r.unwrap()[at].to_string()).collect()
}

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// A finalized run paid once, and a workers upload adding one worker; answers the payout.
async fn payout_and_upload(h: &Harness) -> Value {
    let run = h.finalized_run().await;
    let approver = h.token("appr1", "org0", "approver");
    let made = h.payout("org0", &run, &approver, Some("p1")).await;
    assert_eq!(made.status, 201, "{}", made.text());

    let inputs = h.dir.path().join("inputs");
    let master = std::fs::read_to_string(inputs.join("workers.csv")).unwrap();
    let header = master.lines().next().unwrap();
    let row = format!(
        "W900001,org0,S00,New Worker,F,MH,skilled,Fitter,daily,800.00,true,true,,,{NEW_ACCOUNT},SBIN0001234,ABCDE9999F,2026-10-01,"
    );
    let hr = h.token("hr1", "org0", "hr_admin");
    let file = format!("{header}\n{row}\n");
    // The upload is still read, from its sealed file: its row is accepted (and waits for a
    // second person's approval).
    let upload = h.upload("org0", "workers", "workers.csv", file.as_bytes(), &hr).await;
    assert_eq!(
        (&upload["status"], &upload["accepted"]),
        (&Value::from("awaiting_approval"), &Value::from(1)),
        "{upload:#}"
    );
    made.json()
}

fn store(h: &Harness) -> PathBuf {
    h.dir.path().join("data/store")
}

/// The kept files (payouts and uploads) under the store, each 0600.
fn kept_files_are_private(h: &Harness) -> Vec<PathBuf> {
    let kept: Vec<PathBuf> = ["payouts", "uploads"]
        .iter()
        .flat_map(|d| files(&store(h).join(d)))
        .collect();
    let names: Vec<String> = kept
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for name in ["pain.001.xml", "neft.csv", "exceptions.csv"] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }
    assert!(
        names.iter().any(|n| n.ends_with(".csv") && n.len() > 60),
        "no upload in {names:?}"
    );
    for path in &kept {
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
    }
    kept
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_key_no_bank_account_is_in_clear_in_the_store() {
    let _env = ENV.lock().await;
    set_key(Some(KEY));
    for backend in backends() {
        let h = Harness::start(backend, DEBIT).await;
        let payout = payout_and_upload(&h).await;
        let mut secrets = accounts(&h.dir.path().join("inputs"));
        secrets.push(NEW_ACCOUNT.to_string());

        for path in kept_files_are_private(&h) {
            let bytes = std::fs::read(&path).unwrap();
            for secret in &secrets {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{backend:?}: account {secret} in clear in {}",
                    path.display()
                );
            }
            assert!(
                bytes.starts_with(b"PAYSEAL1"),
                "{backend:?}: {} is not sealed",
                path.display()
            );
        }

        // The authorised caller still gets the bank file in clear.
        let approver = h.token("appr1", "org0", "approver");
        let neft = h.get(payout["links"]["neft"].as_str().unwrap(), &approver).await;
        assert_eq!(neft.status, 200, "{}", neft.text());
        let text = neft.text();
        assert!(
            secrets.iter().filter(|s| text.contains(s.as_str())).count() > 1,
            "{backend:?}: no account in the downloaded neft.csv: {text}"
        );
        h.stop().await;
    }
    set_key(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_the_files_are_private_and_old_uploads_expire() {
    let _env = ENV.lock().await;
    set_key(None);
    for backend in backends() {
        let config = format!("{DEBIT}[uploads]\nkeep_raw = \"1s\"\n");
        let h = Harness::start(backend, &config).await;
        payout_and_upload(&h).await;
        let kept = kept_files_are_private(&h);
        // In clear without a key: the check above looked at the right files.
        let neft = kept.iter().find(|p| p.ends_with("neft.csv")).unwrap();
        assert!(!std::fs::read(neft).unwrap().starts_with(b"PAYSEAL1"));

        // Past `keep_raw`, the uploads janitor (at start, then hourly) deletes the uploaded file,
        // never a payout file.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (dir, database) = h.stop().await;
        let inputs = format!("inputs = {:?}", dir.path().join("inputs"));
        let h = Harness::start_on(dir, database, &inputs, &config).await;
        let mut left = files(&store(&h).join("uploads"));
        for _ in 0..100 {
            if left.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            left = files(&store(&h).join("uploads"));
        }
        assert!(
            left.is_empty(),
            "{backend:?}: uploads past keep_raw still kept: {left:?}"
        );
        assert!(
            files(&store(&h).join("payouts"))
                .iter()
                .any(|p| p.ends_with("neft.csv"))
        );
        // The workers upload nobody decided is rejected with its staged rows: nothing to approve.
        let hr = h.token("hr1", "org0", "hr_admin");
        let listed = h.get("/v1/orgs/org0/uploads?kind=workers", &hr).await.json();
        let upload = &listed["uploads"][0];
        assert_eq!(upload["status"], "rejected", "{backend:?}: {listed:#}");
        assert!(upload["message"].as_str().unwrap().contains("keep_raw"), "{listed:#}");
        h.stop().await;
    }
}
