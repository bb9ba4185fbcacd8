//! `payroll upload`: a bulk upload through the service's API, as HR's tools make it. Sends the
//! file, shows the upload's progress while it is checked and applied, prints its counts and
//! writes the error report when rows were rejected. Exits 0 when every row was applied, 2 when
//! some were rejected (the rest applied), 1 when nothing was applied.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use crate::ui;

#[derive(clap::Args)]
#[command(after_help = "Example:\n  \
    payroll upload --server http://127.0.0.1:8080 --token $TOKEN --org org0 --kind adjustments october.xlsx\n\n\
    An adjustments sheet has the columns worker_id, period, kind, code, amount, reason; an \
    attendance summary and a workers file have the columns of attendance_summary.csv and \
    workers.csv. Exit status: 0 every row applied, 2 some rows rejected (the others applied, \
    the report written), 1 nothing applied.")]
pub struct UploadArgs {
    /// The service's base URL
    #[arg(long, env = "PAYROLL_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// A bearer token with the `upload` permission (`payroll token`, or the service's printed one)
    #[arg(long, env = "PAYROLL_TOKEN", hide_env_values = true)]
    token: String,
    /// The org the rows are for (the token's org)
    #[arg(long)]
    org: String,
    /// attendance_summary, adjustments or workers
    #[arg(long)]
    kind: String,
    /// accept_valid (apply the good rows) or all_or_nothing (one bad row and nothing is applied)
    #[arg(long, default_value = "accept_valid")]
    mode: String,
    /// Where the error report goes when rows are rejected: .xlsx or .csv (default: beside the
    /// file, named <file>.errors.xlsx)
    #[arg(long)]
    errors: Option<PathBuf>,
    /// An Idempotency-Key: the same key and file never make a second upload
    #[arg(long)]
    key: Option<String>,
    /// The XLSX or CSV file
    file: PathBuf,
}

pub async fn upload(args: UploadArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let client = Client::new(&args.server, &args.token);
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "upload".into());
    let created = client
        .upload(&args.org, &args.kind, &args.mode, &name, bytes, args.key.as_deref())
        .await?;
    let id = created["id"].as_str().context("the upload's id")?.to_string();
    eprintln!("upload {id}: {name} queued");
    let bar = Bar::new();
    let done = client.wait(&args.org, &id, |u| bar.show(u)).await?;
    bar.0.finish_and_clear();
    let count = |k: &str| done[k].as_i64().unwrap_or(0);
    let status = done["status"].as_str().unwrap_or_default();
    println!(
        "{}",
        ui::table(&[
            ("Upload".into(), id.clone()),
            ("Status".into(), status.to_string()),
            ("Rows".into(), count("rows").to_string()),
            ("Accepted".into(), count("accepted").to_string()),
            ("Rejected".into(), count("rejected").to_string()),
            ("Applied".into(), count("applied").to_string()),
        ])
    );
    if let Some(message) = done["message"].as_str() {
        println!("{message}");
    }
    if count("rejected") > 0 {
        let out = args.errors.clone().unwrap_or_else(|| beside(&args.file));
        let format = match out.extension().and_then(|e| e.to_str()) {
            Some("csv") => "csv",
            _ => "xlsx",
        };
        let report = client
            .bytes(&format!("/v1/orgs/{}/uploads/{id}/errors.{format}", args.org))
            .await?;
        std::fs::write(&out, report).with_context(|| format!("writing {}", out.display()))?;
        println!(
            "{} rows rejected: the error report (row, column, value, reason) is {}",
            count("rejected"),
            out.display()
        );
    }
    if args.kind == "adjustments" && count("applied") > 0 {
        println!("the adjustments are pending: another user with adjustments:approve approves them");
    }
    Ok(match (status, count("rejected")) {
        ("done", 0) => ExitCode::SUCCESS,
        ("done", _) => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    })
}

/// `<dir>/<file name>.errors.xlsx`.
fn beside(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.with_file_name(format!("{name}.errors.xlsx"))
}

/// The upload's progress on stderr, on a terminal only.
struct Bar(ProgressBar);

impl Bar {
    #[allow(clippy::expect_used, reason = "the template is a literal known to parse")]
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(Some(100), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{msg:32} [{bar:30}] {pos:>3}% {elapsed}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Bar(bar)
    }

    fn show(&self, upload: &Value) {
        let count = |k: &str| upload[k].as_i64().unwrap_or(0);
        self.0.set_position(u64::try_from(count("progress")).unwrap_or(0));
        self.0.set_message(format!(
            "{}: {} rows, {} rejected",
            upload["status"].as_str().unwrap_or_default(),
            count("rows"),
            count("rejected")
        ));
    }
}

/// The service's upload endpoints, over reqwest (no multipart feature: the form is written
/// here, one part).
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    pub fn new(server: &str, token: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: server.trim_end_matches('/').to_string(),
            token: token.to_string(),
        }
    }

    /// POSTs the file; the created (or, for a retried key, existing) upload.
    pub async fn upload(
        &self,
        org: &str,
        kind: &str,
        mode: &str,
        name: &str,
        bytes: Vec<u8>,
        key: Option<&str>,
    ) -> Result<Value> {
        let boundary = format!("payroll-upload-{}", uuid::Uuid::now_v7().simple());
        let safe_name: String = name.chars().filter(|c| !matches!(c, '"' | '\r' | '\n')).collect();
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{safe_name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut request = self
            .http
            .post(format!("{}/v1/orgs/{org}/uploads", self.base))
            .query(&[("kind", kind), ("mode", mode)])
            .bearer_auth(&self.token)
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .body(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("sending the file to {}", self.base))?;
        json(response).await
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        json(self.send_get(path).await?).await
    }

    /// POSTs a JSON body (deciding an upload's adjustments); the answer.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .with_context(|| format!("calling {}", self.base))?;
        json(response).await
    }

    pub async fn bytes(&self, path: &str) -> Result<Vec<u8>> {
        let response = self.send_get(path).await?;
        if !response.status().is_success() {
            return json(response).await.map(|_| Vec::new());
        }
        Ok(response.bytes().await?.to_vec())
    }

    async fn send_get(&self, path: &str) -> Result<reqwest::Response> {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("calling {}", self.base))
    }

    /// Polls the upload until it is done or failed, telling `progress` each state read.
    pub async fn wait(&self, org: &str, id: &str, progress: impl Fn(&Value)) -> Result<Value> {
        let mut pause = Duration::from_millis(20);
        loop {
            let upload = self.get(&format!("/v1/orgs/{org}/uploads/{id}")).await?;
            progress(&upload);
            if matches!(upload["status"].as_str(), Some("done" | "failed")) {
                return Ok(upload);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}

/// A success's JSON body, or the service's error said as it says it.
async fn json(response: reqwest::Response) -> Result<Value> {
    let status = response.status();
    let bytes = response.bytes().await?;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let error = &body["error"];
    let mut message = error["message"]
        .as_str()
        .map_or_else(|| String::from_utf8_lossy(&bytes).into_owned(), str::to_string);
    if let Some(fields) = error["fields"].as_object() {
        for (field, why) in fields {
            message.push_str(&format!(
                "\n  {field}: {}",
                why.as_array().map_or(String::new(), |w| {
                    w.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; ")
                })
            ));
        }
    }
    bail!("the service answered {status}: {message}")
}
