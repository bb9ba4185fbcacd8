//! Payslip notices with real peers on loopback: a real SMTP server (aiosmtpd, a script of this
//! test's own) and two vendor HTTP servers of the test's own: an SMS vendor that is down for the
//! whole batch, and a WhatsApp vendor that fails (500), throttles (429 with Retry-After) and
//! times out at random, dedupes by idempotency key and records what it delivered. Nothing is
//! sent before a final run is finalized; the service is stopped mid-batch and started again;
//! every worker with a contact gets exactly one notice, on a channel that works. Counted where
//! the peers receive them, repeats included: no Message-ID twice at the SMTP server, and no
//! webhook request beyond one per failure injected and one per notice.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::*;
use payroll_service::domain::notices::{Channel, NoticeKind};
use payroll_service::notices::idempotency_key;
use payroll_service::notices::link::{Grant, LinkKey};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

const LINK_SECRET: &str = "a payslip link secret of the test, 32+ chars";
/// The phone number the WhatsApp vendor refuses (400): its worker has no email, and SMS is
/// down, so their notice is dead-lettered.
const REFUSED: &str = "+919800000005";
/// Attempts per channel, and notices per claim, as configured.
const MAX_ATTEMPTS: usize = 8;
const BATCH: usize = 16;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// 503 to everything.
    Down,
    /// 500, 429 or a timeout at random, else delivered.
    Flaky,
}

/// A vendor's HTTP API: POST /send with an `Idempotency-Key`.
struct Vendor {
    mode: Mode,
    rng: Mutex<StdRng>,
    /// Idempotency key to the body delivered under it.
    delivered: Mutex<BTreeMap<String, Value>>,
    calls: AtomicUsize,
    /// Requests whose key was delivered already: accepted, not delivered again.
    deduped: AtomicUsize,
    /// Every request received, repeats included, with what the vendor made of it.
    requests: Mutex<Vec<Request>>,
    /// Which service instance is calling: 0 before the stop, 1 after the restart.
    life: AtomicUsize,
}

/// One request to a vendor.
#[derive(Debug, Clone)]
struct Request {
    key: String,
    life: usize,
    answer: Answer,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    /// A failure the test injects (down, 500, 429, a timeout, a refused number): the service
    /// may try again.
    Injected(&'static str),
    /// Accepted (2xx in time): the service has no reason to send it again.
    Accepted,
    /// Refused for the service's own fault (no idempotency key): no retry is owed.
    Faulty,
}

impl Vendor {
    fn answer(&self, key: &str, life: usize, answer: Answer) {
        self.requests.lock().unwrap().push(Request {
            key: key.to_string(),
            life,
            answer,
        });
    }
}

async fn send(State(vendor): State<Arc<Vendor>>, headers: HeaderMap, body: String) -> axum::response::Response {
    vendor.calls.fetch_add(1, Ordering::SeqCst);
    let life = vendor.life.load(Ordering::SeqCst);
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        vendor.answer("", life, Answer::Faulty);
        return (StatusCode::BAD_REQUEST, "no Idempotency-Key").into_response();
    };
    let body: Value = serde_json::from_str(&body).unwrap();
    if vendor.mode == Mode::Down {
        vendor.answer(&key, life, Answer::Injected("down"));
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    if body["to"] == REFUSED {
        vendor.answer(&key, life, Answer::Injected("refused"));
        return (StatusCode::BAD_REQUEST, "not a WhatsApp number").into_response();
    }
    let roll: f64 = vendor.rng.lock().unwrap().random();
    let deliver = |vendor: &Vendor| {
        let mut delivered = vendor.delivered.lock().unwrap();
        if delivered.contains_key(&key) {
            vendor.deduped.fetch_add(1, Ordering::SeqCst);
        } else {
            delivered.insert(key.clone(), body.clone());
        }
    };
    if roll < 0.1 {
        vendor.answer(&key, life, Answer::Injected("500"));
        (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response()
    } else if roll < 0.2 {
        vendor.answer(&key, life, Answer::Injected("429"));
        (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "slow down").into_response()
    } else if roll < 0.3 {
        // Slower than the client waits; half the time delivered all the same.
        vendor.answer(&key, life, Answer::Injected("timeout"));
        if roll < 0.25 {
            deliver(&vendor);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        (StatusCode::OK, "late").into_response()
    } else {
        vendor.answer(&key, life, Answer::Accepted);
        deliver(&vendor);
        (StatusCode::ACCEPTED, "queued").into_response()
    }
}

/// Bounds a vendor's requests, every one it received (its dedupe by key hides repeats): one
/// more attempt per failure the test injected, and one acceptance per notice in each life of
/// the service. A notice accepted before the stop may be accepted once more after the restart:
/// the stop aborts a batch before the outbox records it, and the next instance sends it again
/// under the same key; at most one batch is cut. No notice is tried more than `max_attempts`
/// times, plus once for an attempt the stop cut off. Returns a summary for the log.
fn bounded_requests(name: &str, vendor: &Vendor, max_attempts: usize, batch: usize) -> String {
    let requests = vendor.requests.lock().unwrap().clone();
    let injected = requests
        .iter()
        .filter(|r| matches!(r.answer, Answer::Injected(_)))
        .count();
    let mut accepted: BTreeMap<&str, [usize; 2]> = BTreeMap::new();
    let mut tried: BTreeMap<&str, [usize; 2]> = BTreeMap::new();
    for r in &requests {
        tried.entry(&r.key).or_default()[r.life] += 1;
        if r.answer == Answer::Accepted {
            accepted.entry(&r.key).or_default()[r.life] += 1;
        }
    }
    let twice: Vec<_> = accepted
        .iter()
        .filter(|(_, lives)| lives.iter().any(|&n| n > 1))
        .collect();
    assert!(
        twice.is_empty(),
        "{name}: accepted, then sent again by the same instance: {twice:?}"
    );
    let across_the_stop = accepted.values().filter(|lives| lives.iter().all(|&n| n == 1)).count();
    assert!(
        across_the_stop <= batch,
        "{name}: {across_the_stop} notices accepted before the stop and again after it, more than a batch ({batch})"
    );
    assert!(
        requests.len() <= injected + accepted.len() + across_the_stop,
        "{name}: {} requests, more than {injected} injected failures + {} notices + {across_the_stop} cut by the stop: {requests:#?}",
        requests.len(),
        accepted.len()
    );
    let too_often: Vec<_> = tried
        .iter()
        .filter(|(_, lives)| lives[0] + lives[1] > max_attempts + usize::from(lives[0] > 0 && lives[1] > 0))
        .collect();
    assert!(
        too_often.is_empty(),
        "{name}: tried more than {max_attempts} times: {too_often:?}"
    );
    format!(
        "{name}: {} requests = {injected} injected failures + {} accepted for {} notices ({across_the_stop} again after the stop)",
        requests.len(),
        requests.len() - injected,
        accepted.len()
    )
}

async fn vendor(mode: Mode, seed: u64) -> (Arc<Vendor>, String) {
    let vendor = Arc::new(Vendor {
        mode,
        rng: Mutex::new(StdRng::seed_from_u64(seed)),
        delivered: Mutex::default(),
        calls: AtomicUsize::new(0),
        deduped: AtomicUsize::new(0),
        requests: Mutex::default(),
        life: AtomicUsize::new(0),
    });
    let app = axum::Router::new()
        .route("/send", axum::routing::post(send))
        .with_state(Arc::clone(&vendor));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (vendor, url)
}

/// aiosmtpd on loopback, writing each message it accepts to `dir` by its Message-ID (a second
/// message with the same id is not stored again) and the Message-ID of every message it
/// accepts, repeats included, to `dir/received`.
struct Smtp {
    child: std::process::Child,
    port: u16,
    dir: PathBuf,
}

const SMTP_SCRIPT: &str = r#"
import email, os, sys, threading
from email import policy
from aiosmtpd.controller import Controller

port, out = int(sys.argv[1]), sys.argv[2]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        mid = message.get("Message-ID", "").strip("<>").replace("/", "_")
        with open(os.path.join(out, "received"), "a") as f:
            f.write(mid + "\n")
        path = os.path.join(out, mid + ".txt")
        if not os.path.exists(path):
            text = "To: %s\nSubject: %s\n\n%s" % (message["To"], message["Subject"], message.get_content())
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                f.write(text)
            os.rename(path + ".tmp", path)
        return "250 OK"

controller = Controller(Handler(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
threading.Event().wait()
"#;

impl Smtp {
    fn start(dir: &Path) -> Smtp {
        use std::io::BufRead;
        let port = StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let out = dir.join("mail");
        std::fs::create_dir_all(&out).unwrap();
        let script = dir.join("smtp.py");
        std::fs::write(&script, SMTP_SCRIPT).unwrap();
        let mut child = std::process::Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(&out)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (scripts/test installs it)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "aiosmtpd did not start: python3 -m pip install aiosmtpd"
        );
        Smtp { child, port, dir: out }
    }

    /// Each stored message: recipient to text.
    fn messages(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "txt") {
                let text = std::fs::read_to_string(&path).unwrap();
                let to = text.lines().next().unwrap().trim_start_matches("To: ").to_string();
                found.push((to, text));
            }
        }
        found
    }

    /// The Message-ID of every message the server accepted, in order, repeats included.
    fn received(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("received"))
            .map_or_else(|_| Vec::new(), |t| t.lines().map(str::to_string).collect())
    }

    fn duplicates(&self) -> usize {
        let received = self.received();
        received.len() - received.iter().collect::<BTreeSet<_>>().len()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Gives org0's workers contacts in the harness's input folder: by position, a phone and an
/// email (Hindi), a phone only, an email only (Tamil: no template, so English), or nothing.
/// Returns worker id to (phone, email).
fn give_contacts(inputs: &Path) -> BTreeMap<String, (Option<String>, Option<String>)> {
    let path = inputs.join("workers.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let mut headers = reader.headers().unwrap().clone();
    let mut rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    headers.push_field("phone");
    headers.push_field("email");
    headers.push_field("language");
    let mut contacts = BTreeMap::new();
    let mut k = 0;
    for row in &mut rows {
        let (id, org) = (row[0].to_string(), row[1].to_string());
        let (phone, email, language) = if org != "org0" {
            (None, None, "")
        } else {
            k += 1;
            let phone = Some(format!("+9198000000{:02}", k));
            let email = Some(format!("w{k}@example.in"));
            match k % 4 {
                0 => (phone, email, "hi"),
                1 => (phone, None, ""),
                2 => (None, email, "ta"),
                _ => (None, None, "en"),
            }
        };
        row.push_field(phone.as_deref().unwrap_or(""));
        row.push_field(email.as_deref().unwrap_or(""));
        row.push_field(language);
        if phone.is_some() || email.is_some() {
            contacts.insert(id, (phone, email));
        }
    }
    let mut writer = csv::Writer::from_path(&path).unwrap();
    writer.write_record(&headers).unwrap();
    for row in rows {
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
    contacts
}

fn config(sms: &str, whatsapp: &str, smtp_port: u16) -> String {
    format!(
        r#"
[notices]
link_secret = {LINK_SECRET:?}
channels = ["sms", "whatsapp", "email"]
max_attempts = {MAX_ATTEMPTS}
backoff = "50ms"
max_backoff = "200ms"
lease = "2s"
batch = {BATCH}
concurrency = 8
poll = "100ms"

[notices.sms]
url = {sms:?}
auth_header = "Authorization"
auth_value = "Bearer sms-key"
body = '{{"to": {{to}}, "text": {{text}}, "worker": {{worker_id}}}}'
timeout = "1s"

[notices.whatsapp]
url = {whatsapp:?}
body = '{{"to": {{to}}, "text": {{text}}, "worker": {{worker_id}}}}'
timeout = "1s"
rate_per_second = 15
burst = 1

[notices.email]
smtp_url = "smtp://127.0.0.1:{smtp_port}"
from = "Payroll <payroll@example.com>"
timeout = "5s"
"#
    )
}

/// Every notice of a run, following pages.
async fn all_notices(h: &Harness, run: &str, token: &str, query: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let mut token_param = String::new();
    loop {
        let reply = h
            .get(
                &format!("/v1/orgs/org0/runs/{run}/notices?page_size=7{query}{token_param}"),
                token,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let page = reply.json();
        found.extend(page["notices"].as_array().unwrap().iter().cloned());
        match page["next_page_token"].as_str() {
            Some(next) => token_param = format!("&page_token={next}"),
            None => return found,
        }
    }
}

/// The link in a notice's text.
fn link_in(text: &str) -> String {
    let start = text.find("http://").expect("a link in the notice");
    text[start..].split_whitespace().next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_worker_gets_one_notice_after_finalization_only_across_a_restart() {
    for backend in backends() {
        exactly_once(backend).await;
    }
}

async fn exactly_once(backend: Backend) {
    let (sms, sms_url) = vendor(Mode::Down, 1).await;
    let (whatsapp, whatsapp_url) = vendor(Mode::Flaky, 20261128).await;
    let scratch = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(scratch.path());
    let extra = config(&sms_url, &whatsapp_url, smtp.port);
    let h = Harness::start(backend, &extra).await;
    let contacts = give_contacts(&h.dir.path().join("inputs"));
    let hr = h.token("hr1", "org0", "hr_admin");

    // Nothing before finalization: a provisional run, then a final one calculated but not
    // approved.
    let provisional = h.trigger("org0", &hr, "2026-10", "provisional", "p").await;
    h.wait("org0", &provisional, &hr, "calculated").await;
    let run = h.trigger("org0", &hr, "2026-10", "final", "f").await;
    h.wait("org0", &run, &hr, "calculated").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in [&provisional, &run] {
        assert!(
            all_notices(&h, id, &hr, "").await.is_empty(),
            "notices before finalization"
        );
    }
    assert_eq!(
        sms.calls.load(Ordering::SeqCst) + whatsapp.calls.load(Ordering::SeqCst),
        0
    );
    assert!(smtp.messages().is_empty());

    // The workers the run pays, with a contact: each is owed one notice.
    let rows = h
        .get(&format!("/v1/orgs/org0/runs/{run}/results?page_size=1000"), &hr)
        .await
        .json();
    let paid: BTreeSet<String> = rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["worker_id"].as_str().unwrap().to_string())
        .collect();
    let owed: BTreeMap<String, (Option<String>, Option<String>)> =
        contacts.into_iter().filter(|(id, _)| paid.contains(id)).collect();
    assert!(owed.len() > 10, "{owed:?}");
    let refused_worker = owed
        .iter()
        .find(|(_, (phone, _))| phone.as_deref() == Some(REFUSED))
        .map(|(id, _)| id.clone())
        .expect("the refused number's worker is paid");

    let approver = h.token("appr1", "org0", "approver");
    h.acknowledge_blocks("org0", &run).await;
    let approved = h
        .post(
            &format!("/v1/orgs/org0/runs/{run}/approve"),
            &approver,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.text());
    h.wait("org0", &run, &hr, "finalized").await;

    // Stopped mid-batch: some WhatsApp notices delivered, not all.
    let phones = owed.values().filter(|(p, _)| p.is_some()).count();
    let mut waited = 0;
    while whatsapp.delivered.lock().unwrap().len() < 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
        assert!(waited < 3000, "no WhatsApp delivery within 60 s");
    }
    let (dir, database) = h.stop().await;
    let at_stop = whatsapp.delivered.lock().unwrap().len();
    assert!(
        at_stop < phones - 1,
        "the batch was done before the stop ({at_stop} of {phones})"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    // What the vendors get from here on is the next instance's (any request of the stopped one
    // has arrived by the end of the pause).
    sms.life.store(1, Ordering::SeqCst);
    whatsapp.life.store(1, Ordering::SeqCst);
    let inputs = dir.path().join("inputs");
    let h = Harness::start_on(dir, database, &format!("inputs = {inputs:?}"), &extra).await;
    let hr = h.token("hr1", "org0", "hr_admin");

    // Drained: every notice sent but the refused worker's, dead.
    let mut notices = Vec::new();
    for _ in 0..600 {
        notices = all_notices(&h, &run, &hr, "").await;
        if notices.iter().all(|n| n["status"] == "sent" || n["status"] == "dead") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let by_worker: BTreeMap<String, &Value> = notices
        .iter()
        .map(|n| (n["worker_id"].as_str().unwrap().to_string(), n))
        .collect();
    assert_eq!(by_worker.len(), notices.len(), "one notice per worker");
    assert_eq!(
        by_worker.keys().cloned().collect::<BTreeSet<_>>(),
        owed.keys().cloned().collect::<BTreeSet<_>>(),
        "a notice for every paid worker with a contact, and no other"
    );
    for (worker, notice) in &by_worker {
        let want = if *worker == refused_worker { "dead" } else { "sent" };
        assert_eq!(notice["status"], want, "{notice:#}");
        // SMS was down for the whole batch: every phone notice fell back from it.
        let (phone, _) = &owed[worker];
        if phone.is_some() {
            assert_eq!(notice["fallbacks"][0]["channel"], "sms", "{notice:#}");
            assert!(
                notice["fallbacks"][0]["reason"].as_str().unwrap().contains("503"),
                "{notice:#}"
            );
        }
        let recipient = notice["recipient"].as_str().unwrap();
        assert!(
            recipient.contains("XXXX") || recipient.contains("***@"),
            "masked: {notice:#}"
        );
    }
    assert!(sms.calls.load(Ordering::SeqCst) > 0 && sms.delivered.lock().unwrap().is_empty());

    // Exactly one delivery per worker, on the channel its notice says, across the restart.
    let mut delivered: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let whatsapp_sent = whatsapp.delivered.lock().unwrap().clone();
    for body in whatsapp_sent.values() {
        delivered
            .entry(body["worker"].as_str().unwrap().to_string())
            .or_default()
            .push("whatsapp");
    }
    let mail = smtp.messages();
    let email_of: BTreeMap<String, String> = owed
        .iter()
        .filter_map(|(id, (_, email))| Some((email.clone()?, id.clone())))
        .collect();
    for (to, _) in &mail {
        let worker = email_of
            .iter()
            .find(|(email, _)| to.contains(email.as_str()))
            .map(|(_, id)| id.clone())
            .unwrap_or_else(|| panic!("mail to a stranger: {to}"));
        delivered.entry(worker).or_default().push("email");
    }
    for (worker, notice) in &by_worker {
        let got = delivered.get(worker).cloned().unwrap_or_default();
        if *worker == refused_worker {
            assert!(got.is_empty(), "{worker}: {got:?}");
        } else {
            assert_eq!(got, vec![notice["channel"].as_str().unwrap()], "{worker}: {notice:#}");
        }
    }
    // The fakes' dedupe hides repeats: count what the peers received. The SMTP server: each
    // message once, under its notice's key as Message-ID. Email notices are all sent in the
    // first batches, well before the stop (phone notices reach email only after WhatsApp gives
    // up), so a repeated Message-ID is a message sent again after it was accepted.
    let received = smtp.received();
    assert_eq!(
        smtp.duplicates(),
        0,
        "the SMTP server received a Message-ID more than once: {received:#?}"
    );
    assert_eq!(received.len(), mail.len(), "{received:#?}");
    for (to, text) in &mail {
        let worker = email_of
            .iter()
            .find(|(email, _)| to.contains(email.as_str()))
            .unwrap()
            .1;
        let id = format!(
            "{}@payroll",
            idempotency_key(NoticeKind::Payslip, &run, worker, Channel::Email)
        );
        assert!(received.contains(&id), "{worker}'s mail is not under {id}: {text}");
    }
    // The webhooks: every request explained by a failure injected or a notice accepted.
    let sms_requests = bounded_requests("SMS", &sms, MAX_ATTEMPTS, BATCH);
    let whatsapp_requests = bounded_requests("WhatsApp", &whatsapp, MAX_ATTEMPTS, BATCH);
    eprintln!(
        "{backend:?}: {} notices; WhatsApp: {} calls, {} delivered ({at_stop} before the stop), {} deduped; \
         SMS: {} calls; email: {} messages, {} duplicates dropped by Message-ID; {sms_requests}; {whatsapp_requests}",
        notices.len(),
        whatsapp.calls.load(Ordering::SeqCst),
        whatsapp_sent.len(),
        whatsapp.deduped.load(Ordering::SeqCst),
        sms.calls.load(Ordering::SeqCst),
        mail.len(),
        smtp.duplicates()
    );

    // In the worker's language: Hindi for hi, Tamil for ta.
    for (id, (phone, email)) in &owed {
        if let (Some(_), Some(email)) = (phone, email)
            && let Some((_, text)) = mail.iter().find(|(to, _)| to.contains(email.as_str()))
        {
            assert!(text.contains("नमस्ते"), "{id}: {text}");
        }
    }
    let tamil = mail
        .iter()
        .find(|(to, _)| {
            owed.iter()
                .any(|(_, (p, e))| p.is_none() && e.as_deref().is_some_and(|e| to.contains(e)))
        })
        .expect("an email-only worker's mail");
    assert!(
        tamil.1.contains("வணக்கம் ") && tamil.1.contains("செலுத்த வேண்டிய தொகை: ரூ. "),
        "{}",
        tamil.1
    );

    // The link: serves that worker's payslip without a token; refused when tampered with,
    // expired, or pointed at another worker.
    // One sent after the restart: a link names the instance that signed it (no public_url here).
    let (key, body) = whatsapp_sent
        .iter()
        .find(|(_, body)| body["text"].as_str().unwrap().contains(&h.base))
        .expect("a notice sent after the restart");
    assert!(key.starts_with("payslip-"));
    let worker = body["worker"].as_str().unwrap();
    let link = link_in(body["text"].as_str().unwrap());
    let path = link
        .split_once(&h.base)
        .map(|(_, p)| p.to_string())
        .expect("the link is this service's");
    let pdf = h.call("GET", &path, None, None, None).await;
    assert_eq!(pdf.status, 200, "{}", pdf.text());
    assert!(pdf.bytes.starts_with(b"%PDF"));
    assert!(pdf_text(&pdf.bytes).contains(worker));
    let other = by_worker.keys().find(|w| w.as_str() != worker).unwrap();
    let tampered = [
        path.replace(&format!("/payslips/{worker}?"), &format!("/payslips/{other}?")),
        path.replace("expires=", "expires=9"),
        path.replace("signature=", "signature=00"),
    ];
    for bad in tampered {
        let reply = h.call("GET", &bad, None, None, None).await;
        assert_eq!(reply.status, 403, "{bad}: {}", reply.text());
    }
    let key = LinkKey::new(LINK_SECRET.as_bytes());
    let expired = Grant {
        org: "org0",
        run: &run,
        worker,
        expires: 1_000,
    };
    let reply = h
        .call("GET", &expired.path(&key.sign(&expired)), None, None, None)
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert!(reply.text().contains("expired"), "{}", reply.text());
    let downloads = h.get("/v1/orgs/org0/audit?action=payslip.download", &hr).await.json();
    assert!(
        downloads["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == format!("link:{worker}")),
        "{downloads:#}"
    );

    // Filters, and a dead notice retried (audited), refused while it is not dead.
    let email_notices = all_notices(&h, &run, &hr, "&channel=email").await;
    assert!(!email_notices.is_empty() && email_notices.iter().all(|n| n["channel"] == "email"));
    let one = all_notices(&h, &run, &hr, &format!("&worker={refused_worker}")).await;
    assert_eq!(one.len(), 1);
    let dead = all_notices(&h, &run, &hr, "&status=dead").await;
    assert_eq!(dead.len(), 1, "{dead:#?}");
    assert!(
        dead[0]["last_error"].as_str().unwrap().contains("HTTP 400"),
        "{:#}",
        dead[0]
    );
    let bad = h
        .get(&format!("/v1/orgs/org0/runs/{run}/notices?status=lost"), &hr)
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text());
    let retry = format!(
        "/v1/orgs/org0/runs/{run}/notices/{}/retry",
        dead[0]["id"].as_str().unwrap()
    );
    let ops = h.token("ops1", "org0", "ops_viewer");
    assert_eq!(h.post(&retry, &ops, &serde_json::json!({})).await.status, 403);
    let retried = h.post(&retry, &hr, &serde_json::json!({})).await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    assert_eq!(retried.json()["status"], "pending");
    let again = h.post(&retry, &hr, &serde_json::json!({})).await;
    assert_eq!(again.status, 409, "{}", again.text());
    let audit = h.get("/v1/orgs/org0/audit?action=notice.retry", &hr).await.json();
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1, "{audit:#}");

    let metrics = h.call("GET", "/metrics", None, None, None).await.text();
    assert!(
        metrics.contains("payroll_notices_sent_total{channel=\"whatsapp\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("payroll_notices_outbox{"), "{metrics}");
    h.stop().await;
}

/// Queues a run of org0's October as the nightly scheduler does, and waits until it is
/// calculated.
async fn nightly(h: &Harness, slot: &str) -> String {
    let app = &h.service.ctx;
    let new = payroll_service::db::runs::NewRun {
        org_id: "org0",
        period: "2026-10".parse().unwrap(),
        kind: payroll_engine::lifecycle::RunKind::Provisional,
        requested_by: payroll_service::schedule::SCHEDULER,
        idempotency: Some((slot, slot.to_string())),
    };
    let (run, _) = payroll_service::db::runs::create(&app.db, new).await.unwrap();
    app.work.notify_one();
    h.wait("org0", &run.id, &h.token("hr1", "org0", "hr_admin"), "calculated")
        .await;
    run.id
}

/// The texts the SMS vendor delivered to `to`.
fn delivered_to(vendor: &Vendor, to: &str) -> Vec<String> {
    vendor
        .delivered
        .lock()
        .unwrap()
        .values()
        .filter(|body| body["to"] == to)
        .map(|body| body["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_hears_of_a_nightly_runs_new_block_findings_once() {
    for backend in backends() {
        hears_once(backend).await;
    }
}

async fn hears_once(backend: Backend) {
    const HR: &str = "+919811112222";
    let (sms, sms_url) = vendor(Mode::Flaky, 11).await;
    let extra = format!(
        r#"
[notices]
link_secret = {LINK_SECRET:?}
channels = ["sms"]
backoff = "50ms"
max_backoff = "200ms"
poll = "100ms"

[notices.sms]
url = {sms_url:?}
body = '{{"to": {{to}}, "text": {{text}}, "worker": {{worker_id}}}}'
timeout = "1s"

[orgs.org0]
hr_contacts = ["{HR}", "not a contact"]
"#
    );
    let h = Harness::start(backend, &extra).await;
    let first = nightly(&h, "schedule:first").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while delivered_to(&sms, HR).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "{backend:?}: no digest reached HR within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let texts = delivered_to(&sms, HR);
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("rate_below_minimum_wage: 6"), "{}", texts[0]);
    assert!(texts[0].contains(&format!("/#/runs/{first}")), "{}", texts[0]);
    assert!(!texts[0].contains("W0000"), "the digest names no worker: {}", texts[0]);

    // A person's run, then a nightly run with nothing new: HR is not told again.
    let hr = h.token("hr1", "org0", "hr_admin");
    let asked = h.trigger("org0", &hr, "2026-10", "provisional", "by-hand").await;
    h.wait("org0", &asked, &hr, "calculated").await;
    nightly(&h, "schedule:second").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(delivered_to(&sms, HR).len(), 1, "told twice of the same findings");
    let notices = all_notices(&h, &first, &hr, "").await;
    assert_eq!(notices.len(), 1, "{notices:#?}");
    assert_eq!(notices[0]["kind"], "findings_digest");
    assert_eq!(notices[0]["recipient"], "XXXXXXXX2222");
    h.stop().await;
}
