//! Holding the service's resources on purpose: many uploads at once (each body is held in
//! memory until read) and connections that send their request slowly (slowloris). Each is
//! bounded: `[uploads] max_in_progress` per org, `[http] header_timeout` per connection.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

const BOUNDARY: &str = "limits-test-boundary-7fQ2zR";

fn head() -> Vec<u8> {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"adjustments.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n"
    )
    .into_bytes()
}

/// The rest of the form: a header row only (the upload is accepted, then has no rows to apply).
fn tail() -> Vec<u8> {
    format!("worker_id,period,kind,code,amount,reason\r\n\r\n--{BOUNDARY}--\r\n").into_bytes()
}

struct Answer {
    status: u16,
    retry_after: Option<String>,
    text: String,
}

/// Starts an upload whose body arrives as the test sends it: the form's head now, the rest
/// whenever the test sends it on the returned sender (or never).
fn upload(h: &Harness, org: &str, token: &str) -> (mpsc::Sender<Vec<u8>>, tokio::task::JoinHandle<Answer>) {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(4);
    tx.try_send(head()).unwrap();
    let body = futures::stream::unfold(rx, |mut rx| async move {
        let chunk = rx.recv().await?;
        Some((Ok::<_, std::io::Error>(bytes::Bytes::from(chunk)), rx))
    });
    let request = reqwest::Client::new()
        .post(format!("{}/v1/orgs/{org}/uploads?kind=adjustments", h.base))
        .bearer_auth(token)
        .header("Content-Type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(reqwest::Body::wrap_stream(body));
    let answer = tokio::spawn(async move {
        let reply = request.send().await.expect("the service answers");
        Answer {
            status: reply.status().as_u16(),
            retry_after: reply
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string()),
            text: reply.text().await.unwrap_or_default(),
        }
    });
    (tx, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_gets_no_more_uploads_in_progress_than_its_limit() {
    for backend in backends() {
        uploads_in_progress(backend).await;
    }
}

async fn uploads_in_progress(backend: Backend) {
    // A request timeout shorter than the bodies take: uploads are not cut by it.
    let h = Harness::start(
        backend,
        "[uploads]\nmax_in_progress = 2\n[http]\nrequest_timeout = \"1s\"\n",
    )
    .await;
    let hr0 = h.token("hr1", "org0", "hr_admin");
    let hr1 = h.token("hr9", "org1", "hr_admin");
    for (org, token) in [("org0", &hr0), ("org1", &hr1)] {
        let listed = h.get(&format!("/v1/orgs/{org}/uploads"), token).await;
        assert_eq!(listed.status, 200, "{backend:?}: {}", listed.text());
    }
    // Five uploads at once, each sending only the head of its body and then stalling.
    let started: Vec<_> = (0..5).map(|_| upload(&h, "org0", &hr0)).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while started.iter().filter(|(_, answer)| answer.is_finished()).count() < 3 {
        assert!(
            Instant::now() < deadline,
            "{backend:?}: five stalled uploads for org0, and fewer than 3 answered within 10 s: \
             the service receives every upload at once, with max_in_progress = 2"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (refused, held): (Vec<_>, Vec<_>) = started.into_iter().partition(|(_, answer)| answer.is_finished());
    assert_eq!(held.len(), 2, "{backend:?}: exactly the limit is received");
    for (_, answer) in refused {
        let answer = answer.await.unwrap();
        assert_eq!(answer.status, 429, "{backend:?}: {}", answer.text);
        assert_eq!(answer.retry_after.as_deref(), Some("30"), "{backend:?}: Retry-After");
        assert!(
            answer.text.contains("max_in_progress is 2"),
            "{backend:?}: the message names the limit: {}",
            answer.text
        );
    }

    // Another org is not held up by org0's uploads.
    let (other, answer) = upload(&h, "org1", &hr1);
    other.send(tail()).await.unwrap();
    drop(other);
    let answer = answer.await.unwrap();
    assert_eq!(answer.status, 202, "{backend:?}: org1's upload: {}", answer.text);

    // The held uploads finish after the request timeout, and are accepted.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (body, answer) in held {
        let _ = body.send(tail()).await; // refused early, the body is no longer read
        drop(body);
        let answer = answer.await.unwrap();
        assert_eq!(answer.status, 202, "{backend:?}: a held upload: {}", answer.text);
    }

    // A body that never arrives gives its place back: the client goes away.
    let (body, answer) = upload(&h, "org1", &hr1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    answer.abort();
    drop(body);
    // The service lets go of the body once it sees the connection close.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = h.call("GET", "/metrics", None, None, None).await.text();
        if metrics.lines().any(|l| l == "payroll_uploads_receiving 0") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{backend:?}: a body whose client went away is still being received after 10 s: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Until org1's uploads are done, they count; then two at once are received again.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = h.get("/v1/orgs/org1/uploads", &hr1).await.json();
        let settled = page["uploads"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| matches!(u["status"].as_str(), Some("done" | "failed")));
        if settled {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{backend:?}: org1's upload did not settle: {page:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again: Vec<_> = (0..2).map(|_| upload(&h, "org1", &hr1)).collect();
    for (body, answer) in again {
        let _ = body.send(tail()).await; // refused early, the body is no longer read
        drop(body);
        let answer = answer.await.unwrap();
        assert_eq!(answer.status, 202, "{backend:?}: after a failed read: {}", answer.text);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_its_request_slowly_is_disconnected() {
    let timeout = Duration::from_secs(1);
    let h = Harness::start(Backend::Sqlite, "[http]\nheader_timeout = \"1s\"\n").await;
    let addr = h.service.addr;
    // Half a request line, then nothing.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HT").await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(timeout * 3, async {
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                // hyper may answer 408 before it closes.
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "a connection that sent half a request line was still open after {:?} (header_timeout = {timeout:?})",
        started.elapsed()
    );
    // A client that sends its request in time is answered.
    let mut prompt = tokio::net::TcpStream::connect(addr).await.unwrap();
    prompt
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    prompt.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    h.stop().await;
}
