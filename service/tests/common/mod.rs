//! A real service on a free loopback port, over SQLite in a temporary directory or a fresh
//! PostgreSQL database, and an HTTP client that speaks to it.

#![allow(dead_code)] // each test binary uses part of this

pub mod pay;
pub mod readable;

use std::path::{Path, PathBuf};
use std::time::Duration;

use payroll_connectors::Quiet;
use payroll_connectors::kafka::{KafkaConfig, Topics, publish_folder};
use payroll_service::auth::{Keys, claims};
use payroll_service::{ServeConfig, Service};
use serde_json::Value;

pub const SECRET: &str = "test-secret-of-at-least-thirty-two-characters";

/// A figure a test measured (a latency, say) whose bound it keeps generous: printed, and
/// appended to `target/tmp/figures.txt`, which `scripts/test` shows at its end (the test
/// harness keeps a passing test's output to itself).
pub fn figure(line: std::fmt::Arguments) {
    use std::io::Write;
    let line = format!("figure: {line}");
    println!("{line}");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("figures.txt");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    writeln!(file, "{line}").unwrap();
}

/// The reference month (the same files as `../shared/reference/sample`).
pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/data/sample")
}

/// The sample month published to the topics of the broker at `address`: the producer (to send
/// more), how many messages went out, and the service's `brokers` and `sites` lines that read
/// them (stream mode).
pub async fn sample_on_broker(address: &str) -> (KafkaConfig, u64, String) {
    let producer = KafkaConfig {
        brokers: address.to_string(),
        group: "producer".into(),
        options: Vec::new(),
    };
    let published = publish_folder(&producer, &Topics::default(), &sample(), 8, &Quiet)
        .await
        .unwrap()
        .values()
        .sum();
    let source = format!("brokers = {address:?}\nsites = {:?}", sample().join("sites.csv"));
    (producer, published, source)
}

/// Appends `lines` to `file` of an input folder, as a feed or a person adds to it.
pub fn append(inputs: &Path, file: &str, lines: &[&str]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(inputs.join(file))
        .unwrap();
    for line in lines {
        writeln!(f, "{line}").unwrap();
    }
}

/// Files mode over the sample month.
pub fn files() -> String {
    format!("inputs = {:?}", sample())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite and PostgreSQL, both always: `PAYROLL_TEST_DATABASE_URL` names the PostgreSQL server
/// (scripts/test starts one and sets it). Without it the tests fail rather than pass by skipping
/// half of what they check.
pub fn backends() -> Vec<Backend> {
    assert!(
        std::env::var_os("PAYROLL_TEST_DATABASE_URL").is_some(),
        "PAYROLL_TEST_DATABASE_URL is not set: run scripts/test, which starts PostgreSQL on loopback and sets it"
    );
    vec![Backend::Sqlite, Backend::Postgres]
}

/// A fresh database on the test server: each test its own.
async fn postgres_database() -> String {
    use sqlx::Connection;
    let admin = std::env::var("PAYROLL_TEST_DATABASE_URL").expect("checked by backends()");
    sqlx::any::install_default_drivers();
    let name = format!("payroll_test_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::AnyConnection::connect(&admin)
        .await
        .expect("connecting to PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("creating a test database");
    let (base, _) = admin.rsplit_once('/').expect("a database URL ends with /<database>");
    format!("{base}/{name}")
}

async fn database(backend: Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("payroll.db").display()),
        Backend::Postgres => postgres_database().await,
    }
}

pub struct Harness {
    pub service: Service,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub database: String,
    client: reqwest::Client,
    keys: Keys,
}

pub struct Reply {
    pub status: u16,
    pub bytes: Vec<u8>,
}

impl Reply {
    /// Sends `request` and reads the whole answer.
    async fn of(request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the service answers");
        Reply {
            status: response.status().as_u16(),
            bytes: response.bytes().await.unwrap().to_vec(),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

impl Harness {
    /// A service over a copy of the sample month's files (`<dir>/inputs`: the service appends
    /// adjustments there), with `extra` TOML appended to its config.
    pub async fn start(backend: Backend, extra: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let inputs = dir.path().join("inputs");
        std::fs::create_dir(&inputs).unwrap();
        for entry in std::fs::read_dir(sample()).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, inputs.join(path.file_name().unwrap())).unwrap();
        }
        let database = database(backend, dir.path()).await;
        Harness::start_on(dir, database, &format!("inputs = {inputs:?}"), extra).await
    }

    /// A service reading `source` (top-level keys: `inputs`, or `brokers` and `sites`).
    pub async fn start_with(backend: Backend, source: &str, extra: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let database = database(backend, dir.path()).await;
        Harness::start_on(dir, database, source, extra).await
    }

    /// Another service over the same directory and database (a restart, or a second instance).
    pub async fn start_on(dir: tempfile::TempDir, database: String, source: &str, extra: &str) -> Harness {
        let text = format!(
            "listen = \"127.0.0.1:0\"\ndata = {data:?}\ndatabase = {database:?}\n{source}\n{extra}\n[auth]\nhs256_secret = {SECRET:?}\n",
            data = dir.path().join("data"),
        );
        let config: ServeConfig = toml::from_str(&text).expect("a valid test config");
        let service = payroll_service::start(config).await.expect("the service starts");
        Harness {
            base: format!("http://{}", service.addr),
            service,
            dir,
            database,
            client: reqwest::Client::new(),
            keys: Keys::hs256(SECRET.as_bytes()),
        }
    }

    /// Stops the service, keeping its directory and database for the next start.
    pub async fn stop(self) -> (tempfile::TempDir, String) {
        self.service.shutdown().await;
        (self.dir, self.database)
    }

    pub fn token(&self, sub: &str, org: &str, role: &str) -> String {
        self.keys
            .mint(&claims(sub, org, &[role.to_string()], Duration::from_secs(600)))
            .unwrap()
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(body).unwrap());
        }
        Reply::of(request).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), None, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.call("POST", path, Some(token), Some(body), None).await
    }

    /// Triggers a run and returns its id.
    pub async fn trigger(&self, org: &str, token: &str, period: &str, kind: &str, key: &str) -> String {
        let body = serde_json::json!({"period": period, "kind": kind});
        let reply = self
            .call(
                "POST",
                &format!("/v1/orgs/{org}/runs"),
                Some(token),
                Some(&body),
                Some(key),
            )
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        reply.json()["id"].as_str().unwrap().to_string()
    }

    /// Makes a payout of `org`'s `run` as `token` (with an `Idempotency-Key` if given).
    pub async fn payout(&self, org: &str, run: &str, token: &str, key: Option<&str>) -> Reply {
        self.call(
            "POST",
            &format!("/v1/orgs/{org}/runs/{run}/payouts"),
            Some(token),
            None,
            key,
        )
        .await
    }

    /// The NEFT rows of a payout (a payout's JSON): (account, IFSC, amount, reference) each.
    pub async fn neft(&self, payout: &Value, token: &str) -> Vec<[String; 4]> {
        let text = self.get(payout["links"]["neft"].as_str().unwrap(), token).await.text();
        csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(|r| {
                let r = r.unwrap();
                [r[1].to_string(), r[2].to_string(), r[3].to_string(), r[5].to_string()]
            })
            .collect()
    }

    /// POSTs `csv` as a `text/csv` body (a bank's return file) to `path`.
    pub async fn post_csv(&self, path: &str, token: &str, csv: &str) -> Reply {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("Content-Type", "text/csv")
            .body(csv.to_string());
        Reply::of(request).await
    }

    /// Posts `bytes` as the file `name` (multipart, field `file`) of an upload of `kind` to
    /// `org`: the service's answer.
    pub async fn post_upload(&self, org: &str, kind: &str, name: &str, bytes: &[u8], token: &str) -> Reply {
        const BOUNDARY: &str = "payroll-test-upload-boundary-5Qm2";
        let mut body = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        let request = self
            .client
            .post(format!("{}/v1/orgs/{org}/uploads?kind={kind}", self.base))
            .bearer_auth(token)
            .header("Content-Type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(body);
        Reply::of(request).await
    }

    /// Uploads `bytes` ([`Harness::post_upload`]), expects 202, and waits until the upload is
    /// no longer queued or processing; returns it then.
    pub async fn upload(&self, org: &str, kind: &str, name: &str, bytes: &[u8], token: &str) -> Value {
        let reply = self.post_upload(org, kind, name, bytes, token).await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        let reply = reply.json();
        let id = reply["id"].as_str().unwrap().to_string();
        for _ in 0..600 {
            let upload = self.get(&format!("/v1/orgs/{org}/uploads/{id}"), token).await.json();
            if !matches!(upload["status"].as_str(), Some("queued" | "processing")) {
                return upload;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("upload {id} did not settle within 60 s");
    }

    /// The runs of `org` the scheduler queued.
    pub async fn scheduled_runs(&self, org: &str) -> Vec<Value> {
        let token = self.token("ops1", org, "ops_viewer");
        let list = self
            .get(&format!("/v1/orgs/{org}/runs?page_size=100"), &token)
            .await
            .json();
        list["runs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["requested_by"] == "system:scheduler")
            .cloned()
            .collect()
    }

    /// Acknowledges every open `block` finding of `org`'s calculated `run` as appr1, a check
    /// at a time: the sample month pays nine workers below the minimum wage, and a final run
    /// with an open block finding is not approved.
    pub async fn acknowledge_blocks(&self, org: &str, run: &str) {
        let token = self.token("appr1", org, "approver");
        let path = format!("/v1/orgs/{org}/runs/{run}/findings?severity=block&status=open&page_size=1000");
        let open = self.get(&path, &token).await;
        assert_eq!(open.status, 200, "{}", open.text());
        let mut checks: Vec<String> = open.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["check"].as_str().unwrap().to_string())
            .collect();
        checks.dedup();
        for check in checks {
            let body = serde_json::json!({"check": check, "reason": "reviewed: the rates are being revised"});
            let path = format!("/v1/orgs/{org}/runs/{run}/findings/acknowledge");
            let reply = self.post(&path, &token, &body).await;
            assert_eq!(reply.status, 200, "{}", reply.text());
        }
    }

    /// A final run of org0's October, triggered by hr1, its block findings acknowledged,
    /// approved by appr1 and finalized.
    pub async fn finalized_run(&self) -> String {
        let hr = self.token("hr1", "org0", "hr_admin");
        let run = self.trigger("org0", &hr, "2026-10", "final", "final").await;
        self.wait("org0", &run, &hr, "calculated").await;
        self.acknowledge_blocks("org0", &run).await;
        let approver = self.token("appr1", "org0", "approver");
        let path = format!("/v1/orgs/org0/runs/{run}/approve");
        let approved = self.post(&path, &approver, &serde_json::json!({})).await;
        assert_eq!(approved.status, 200, "{}", approved.text());
        self.wait("org0", &run, &hr, "finalized").await;
        run
    }

    /// Polls a run until its status is one of `want`; fails on another settled status.
    pub async fn wait(&self, org: &str, id: &str, token: &str, want: &str) -> Value {
        for _ in 0..1200 {
            let run = self.get(&format!("/v1/orgs/{org}/runs/{id}"), token).await.json();
            let status = run["status"].as_str().unwrap().to_string();
            if status == want {
                return run;
            }
            assert!(
                !matches!(status.as_str(), "failed" | "rejected" | "cancelled"),
                "run {id} is {status}, waiting for {want}: {run:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("run {id} did not become {want} within 120 s");
    }
}

/// A PDF's text as `pdftotext -layout` lays it out.
pub fn pdf_text(pdf: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut child = std::process::Command::new("pdftotext")
        .args(["-layout", "-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("pdftotext (poppler-utils; scripts/test installs it)");
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let mut text = String::new();
    child.stdout.take().unwrap().read_to_string(&mut text).unwrap();
    assert!(child.wait().unwrap().success());
    text
}
