//! `payroll bench serve`: the service under load, on this machine. A generated month (an org
//! of about `--org-workers` workers) goes through the API as HR does it: a final run from
//! trigger to finalized (payslips included), each stage timed; then `--clients` concurrent
//! clients read pay-to-date for `--seconds`, and latency percentiles, throughput and errors
//! are printed. The load generator and the service share the machine's cores.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::body::Bytes;
use axum::http::header::{AUTHORIZATION, HeaderValue};
use axum::http::{Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use payroll_rules::vocabulary::PayPeriod;
use payroll_service::ServeConfig;
use payroll_service::auth::{Keys, claims};
use serde_json::Value;

/// org0's share of a generated month's workers (synth's site headcount weights: 45 of 100).
const ORG0_SHARE: f64 = 0.45;
/// A random key: the service refuses a weak one (`payroll_connectors::secret`).
const SECRET: &str = "4bca1dba740cbba693fd3978e7b44875b2b7da002eb48ebbaaef8c915e6609e1";

#[allow(clippy::expect_used, reason = "HS256 keys made from a secret always sign")]
pub async fn serve(org_workers: usize, clients: usize, seconds: u64, period: PayPeriod) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let inputs = dir.path().join("inputs");
    let generated = (org_workers as f64 / ORG0_SHARE).ceil() as usize;
    let started = Instant::now();
    super::generate(generated, period, &inputs)?;
    println!(
        "generated {generated} workers (org0 about {org_workers}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let config = format!(
        "listen = \"127.0.0.1:0\"\ndata = {data:?}\ninputs = {inputs:?}\n[auth]\nhs256_secret = {SECRET:?}\n",
        data = dir.path().join("data"),
    );
    let config: ServeConfig = toml::from_str(&config)?;
    let service = payroll_service::start(config).await?;
    let base = format!("http://{}", service.addr);
    let keys = Keys::hs256(SECRET.as_bytes());
    let token = |sub: &str, role: &str| {
        keys.mint(&claims(sub, "org0", &[role.to_string()], Duration::from_secs(3600)))
            .expect("HS256 keys sign")
    };
    let (hr, approver) = (token("hr1", "hr_admin"), token("appr1", "approver"));
    let client = reqwest::Client::new();
    let api = Api {
        client: &client,
        base: &base,
    };

    // A final run from trigger to finalized.
    let t0 = Instant::now();
    let run = api
        .send(
            reqwest::Method::POST,
            "/v1/orgs/org0/runs",
            &hr,
            Some(serde_json::json!({"period": period.to_string(), "kind": "final"})),
        )
        .await?;
    let id = run["id"].as_str().context("the run's id")?.to_string();
    let calculated = api.wait(&id, &hr, "calculated").await?;
    let t_calculated = t0.elapsed();
    // The generated month pays some workers below the minimum wage: the approver acknowledges
    // those findings, a check at a time, as the gate asks.
    let mut blocks = 0;
    for count in calculated["findings"].as_array().into_iter().flatten() {
        if count["severity"] == "block" && count["open"].as_i64().unwrap_or(0) > 0 {
            let check = count["check"].as_str().context("a finding's check")?;
            api.send(
                reqwest::Method::POST,
                &format!("/v1/orgs/org0/runs/{id}/findings/acknowledge"),
                &approver,
                Some(serde_json::json!({"check": check, "reason": "benchmark: reviewed"})),
            )
            .await?;
            blocks += count["open"].as_i64().unwrap_or(0);
        }
    }
    let t_acknowledged = t0.elapsed();
    api.send(
        reqwest::Method::POST,
        &format!("/v1/orgs/org0/runs/{id}/approve"),
        &approver,
        Some(serde_json::json!({})),
    )
    .await?;
    let t_approved = t0.elapsed();
    let finalized = api.wait(&id, &hr, "finalized").await?;
    let t_finalized = t0.elapsed();
    let rows = calculated["rows"].as_u64().unwrap_or(0);
    println!(
        "final run of org0 through the API, {rows} workers, {} cores:",
        payroll_engine::parallel::cores()
    );
    for (from, to) in stages(&finalized) {
        println!("  {from:<12} -> {to:<12} {}", to_seconds(&finalized, from, to));
    }
    println!(
        "  trigger to calculated {:.2} s, {blocks} block findings acknowledged at {:.2} s, approval answered at {:.2} s, trigger to finalized {:.2} s ({:.0} payslips/s incl. PDF + XLSX)",
        t_calculated.as_secs_f64(),
        t_acknowledged.as_secs_f64(),
        t_approved.as_secs_f64(),
        t_finalized.as_secs_f64(),
        rows as f64 / (t_finalized - t_approved).as_secs_f64().max(1e-9),
    );

    // Pay-to-date under concurrent load. The clients share the service's two cores, so they
    // are hyper's own client on kept-alive connections with the URIs parsed beforehand: with
    // reqwest (a URL parsed per request, its redirect and retry layers) the clients took a
    // fifth of this phase's CPU, which the service's answers waited for.
    let worker_ids = worker_ids(&inputs.join("workers.csv"), "org0")?;
    if worker_ids.is_empty() {
        bail!("no worker of org0 in the generated month");
    }
    let uris = worker_ids
        .iter()
        .map(|worker| format!("{base}/v1/orgs/org0/workers/{worker}/pay?period={period}").parse())
        .collect::<Result<Vec<Uri>, _>>()?;
    let uris = Arc::new(uris);
    let bearer = HeaderValue::from_str(&format!("Bearer {hr}"))?;
    // Without delay, as the service answers and as reqwest sent.
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let pooled = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
    let cpu_before = crate::ui::cpu_seconds();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (client, bearer, uris) = (pooled.clone(), bearer.clone(), Arc::clone(&uris));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                let mut i = c;
                while Instant::now() < deadline {
                    let mut request = Request::new(Empty::new());
                    *request.uri_mut() = uris[i % uris.len()].clone();
                    request.headers_mut().insert(AUTHORIZATION, bearer.clone());
                    i += clients;
                    let sent = Instant::now();
                    let ok = match client.request(request).await {
                        Ok(r) => r.status().is_success() && r.into_body().collect().await.is_ok(),
                        Err(_) => false,
                    };
                    latencies.push(sent.elapsed());
                    errors += u64::from(!ok);
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await?;
        latencies.extend(l);
        errors += e;
    }
    // The machine's speed drifts between runs; the CPU a request costs (clients, service and
    // the kernel's loopback between them) is what a change to either moves.
    let cpu = crate::ui::cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64() * 1e3;
    println!(
        "GET /pay, {clients} concurrent clients for {seconds} s: {} requests, {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {errors} errors",
        latencies.len(),
        latencies.len() as f64 / seconds as f64,
        pct(0.50),
        pct(0.99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );
    if let Some(cpu) = cpu {
        let cores = payroll_engine::parallel::cores();
        println!(
            "  process CPU over the phase {cpu:.1} s, {:.0} % of {cores} cores: {:.0} µs a request (clients and service)",
            cpu / (seconds as f64 * cores as f64) * 100.0,
            cpu / latencies.len().max(1) as f64 * 1e6,
        );
    }
    service.shutdown().await;
    Ok(())
}

struct Api<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
}

impl Api<'_> {
    async fn send(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> Result<Value> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("Idempotency-Key", uuid::Uuid::now_v7().to_string());
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(&body)?);
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            bail!("{path}: {status}: {}", String::from_utf8_lossy(&bytes));
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    async fn wait(&self, id: &str, token: &str, status: &str) -> Result<Value> {
        loop {
            let run = self
                .send(reqwest::Method::GET, &format!("/v1/orgs/org0/runs/{id}"), token, None)
                .await?;
            match run["status"].as_str() {
                Some(s) if s == status => return Ok(run),
                Some("failed" | "rejected" | "cancelled") => bail!("run {id}: {run:#}"),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// A service in this process over a generated month whose org0 has about `org_workers` workers
/// (files mode, embedded SQLite), with tokens of org0.
struct Generated {
    service: payroll_service::Service,
    keys: Keys,
    client: reqwest::Client,
    base: String,
    _dir: tempfile::TempDir,
}

impl Generated {
    async fn start(org_workers: usize, period: PayPeriod) -> Result<Generated> {
        let dir = tempfile::tempdir()?;
        let inputs = dir.path().join("inputs");
        let generated = (org_workers as f64 / ORG0_SHARE).ceil() as usize;
        super::generate(generated, period, &inputs)?;
        let config = format!(
            "listen = \"127.0.0.1:0\"\ndata = {data:?}\ninputs = {inputs:?}\n[auth]\nhs256_secret = {SECRET:?}\n",
            data = dir.path().join("data"),
        );
        let service = payroll_service::start(toml::from_str(&config)?).await?;
        Ok(Generated {
            base: format!("http://{}", service.addr),
            service,
            keys: Keys::hs256(SECRET.as_bytes()),
            client: reqwest::Client::new(),
            _dir: dir,
        })
    }

    #[allow(clippy::expect_used, reason = "HS256 keys made from a secret always sign")]
    fn token(&self, sub: &str, role: &str) -> String {
        self.keys
            .mint(&claims(sub, "org0", &[role.to_string()], Duration::from_secs(3600)))
            .expect("HS256 keys sign")
    }

    fn api(&self) -> Api<'_> {
        Api {
            client: &self.client,
            base: &self.base,
        }
    }
}

/// `payroll bench preview`: a what-if preview of a calculated run of an org of about
/// `org_workers` workers, through the API: the reference ruleset with the PF wage ceiling
/// raised from 15,000 to 25,000, timed from the POST to `done` (the base run's results read,
/// every worker computed under the previewed rules, the figures written).
pub async fn preview(org_workers: usize, period: PayPeriod) -> Result<()> {
    let month = Generated::start(org_workers, period).await?;
    let token = |sub: &str, role: &str| month.token(sub, role);
    let api = month.api();
    let hr = token("hr1", "hr_admin");
    let run = api
        .send(
            reqwest::Method::POST,
            "/v1/orgs/org0/runs",
            &hr,
            Some(serde_json::json!({"period": period.to_string(), "kind": "provisional"})),
        )
        .await?;
    let id = run["id"].as_str().context("the run's id")?.to_string();
    let calculated = api.wait(&id, &hr, "calculated").await?;
    let raised = payroll_rules::EXAMPLE_RULESET.replace("least(basic, 15000.00)", "least(basic, 25000.00)");
    let t0 = Instant::now();
    let asked = api
        .send(
            reqwest::Method::POST,
            "/v1/orgs/org0/previews",
            &hr,
            Some(serde_json::json!({"period": period.to_string(), "ruleset": raised, "base_run": id})),
        )
        .await?;
    let preview = asked["id"].as_str().context("the preview's id")?.to_string();
    let done = loop {
        let now = api
            .send(
                reqwest::Method::GET,
                &format!("/v1/orgs/org0/previews/{preview}"),
                &hr,
                None,
            )
            .await?;
        match now["status"].as_str() {
            Some("done") => break now,
            Some("failed") => bail!("preview {preview}: {now:#}"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let took = t0.elapsed();
    let summary = &done["summary"];
    println!(
        "preview of org0's {} workers (PF ceiling 15,000 -> 25,000), {} cores: POST to done {:.2} s; {} gain, {} lose, {} same, {} change findings",
        calculated["rows"].as_u64().unwrap_or(0),
        payroll_engine::parallel::cores(),
        took.as_secs_f64(),
        summary["gain"],
        summary["lose"],
        summary["same"],
        summary["findings_changed"],
    );
    month.service.shutdown().await;
    Ok(())
}

/// `payroll bench insights`: provisional runs of an org of about `org_workers` workers for
/// `periods` periods to `period` (the generated month; the periods before it have the same
/// workers, none of their punches), then `GET /v1/orgs/org0/insights` over all of them, the
/// heatmap of the newest included: the first answer and the median of 5 after it, for an HR
/// admin and for an analyst (whose small cells are withheld).
pub async fn insights(org_workers: usize, period: PayPeriod, periods: u32) -> Result<()> {
    let month = Generated::start(org_workers, period).await?;
    let token = |sub: &str, role: &str| month.token(sub, role);
    let api = month.api();
    let (hr, analyst) = (token("hr1", "hr_admin"), token("an1", "analyst"));
    let from = (1..periods).fold(period, |p, _| p.previous());
    let started = Instant::now();
    let mut p = from;
    let mut rows: u64;
    loop {
        let run = api
            .send(
                reqwest::Method::POST,
                "/v1/orgs/org0/runs",
                &hr,
                Some(serde_json::json!({"period": p.to_string(), "kind": "provisional"})),
            )
            .await?;
        let id = run["id"].as_str().context("the run's id")?.to_string();
        rows = api.wait(&id, &hr, "calculated").await?["rows"].as_u64().unwrap_or(0);
        if p == period {
            break;
        }
        p = p.next();
    }
    println!(
        "{periods} runs of org0 ({rows} workers in {period}) calculated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let path = format!("/v1/orgs/org0/insights?from={from}&until={period}");
    for (who, token) in [("hr_admin", &hr), ("analyst", &analyst)] {
        let mut times = Vec::new();
        let mut answer = Value::Null;
        for _ in 0..6 {
            let t0 = Instant::now();
            answer = api.send(reqwest::Method::GET, &path, token, None).await?;
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        let first = times.remove(0);
        times.sort_by(f64::total_cmp);
        let shown = answer["periods"].as_array().map_or(0, Vec::len);
        let sites = answer["heatmap"]["sites"].as_array().map_or(0, Vec::len);
        println!(
            "GET insights, {shown} periods and a heatmap of {sites} sites, as {who}, {} cores: first {first:.1} ms, median of 5 after it {:.1} ms",
            payroll_engine::parallel::cores(),
            times[times.len() / 2],
        );
        if shown != periods as usize {
            bail!("{shown} periods in the answer, {periods} asked: {answer:#}");
        }
    }
    month.service.shutdown().await;
    Ok(())
}

/// Consecutive transitions of a run, as (from, to) statuses.
fn stages(run: &Value) -> Vec<(&str, &str)> {
    let statuses: Vec<&str> = run["transitions"]
        .as_array()
        .map(|ts| ts.iter().filter_map(|t| t["status"].as_str()).collect())
        .unwrap_or_default();
    statuses.windows(2).map(|w| (w[0], w[1])).collect()
}

/// The time between two transitions of a run, from their recorded times.
fn to_seconds(run: &Value, from: &str, to: &str) -> String {
    let at = |status: &str| {
        run["transitions"]
            .as_array()?
            .iter()
            .find(|t| t["status"] == status)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t["at"].as_str()?).ok())
    };
    match (at(from), at(to)) {
        (Some(a), Some(b)) => format!("{:.2} s", (b - a).num_milliseconds() as f64 / 1e3),
        _ => "?".to_string(),
    }
}

fn worker_ids(workers_csv: &Path, org: &str) -> Result<Vec<String>> {
    let mut reader = csv::Reader::from_path(workers_csv)?;
    let mut ids = Vec::new();
    for record in reader.records() {
        let record = record?;
        if record.get(1) == Some(org) {
            ids.push(record.get(0).unwrap_or_default().to_string());
        }
    }
    Ok(ids)
}
