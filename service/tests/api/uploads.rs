//! Bulk uploads through the API, in files mode (over a copy of the sample): an adjustments sheet
//! with good and bad rows gives the right counts and an error report naming each fault, its
//! good rows wait for a second person like single requests; all_or_nothing applies nothing
//! when a row is bad; an attendance summary reaches the next run; a workers upload (applied once
//! approved) never shows a PAN or bank account in clear; limits are refused with reasons.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const BOUNDARY: &str = "upload-test-boundary-7MA4YWxkTrZu0gW";

/// POSTs `bytes` as the form's `file`, named `name`.
async fn upload(h: &Harness, token: &str, query: &str, name: &str, bytes: &[u8], key: Option<&str>) -> Reply {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/orgs/org0/uploads?{query}", h.base))
        .bearer_auth(token)
        .header("Content-Type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    Reply {
        status: response.status().as_u16(),
        bytes: response.bytes().await.unwrap().to_vec(),
    }
}

/// Uploads and waits for the upload to settle; returns its final state.
async fn settled(h: &Harness, token: &str, query: &str, name: &str, bytes: &[u8]) -> Value {
    let reply = upload(h, token, query, name, bytes, None).await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let id = reply.json()["id"].as_str().unwrap().to_string();
    wait(h, token, &id).await
}

async fn wait(h: &Harness, token: &str, id: &str) -> Value {
    for _ in 0..600 {
        let upload = h.get(&format!("/v1/orgs/org0/uploads/{id}"), token).await.json();
        if matches!(upload["status"].as_str(), Some("awaiting_approval" | "done" | "failed")) {
            return upload;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("upload {id} did not settle within 60 s");
}

fn xlsx(rows: &[&[&str]]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            // Amounts as numbers, as a person types them into a spreadsheet.
            match cell.parse::<f64>() {
                Ok(n) if r > 0 && c == 4 => sheet.write_number(r as u32, c as u16, n).unwrap(),
                _ => sheet.write_string(r as u32, c as u16, *cell).unwrap(),
            };
        }
    }
    book.save_to_buffer().unwrap()
}

/// The error report's lines as (row, column, value, reason) and the whole records.
fn report_csv(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(&header[..4], ["row", "column", "value", "reason"], "{text}");
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// A workers upload's staged rows applied by a second person (abuse_workers.rs tries the rest).
async fn approve_workers(h: &Harness, id: &str) {
    let approver = h.token("appr1", "org0", "approver");
    let reply = h
        .post(&format!("/v1/orgs/org0/uploads/{id}/approve"), &approver, &json!({}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

fn results_row(results: &Value, worker: &str) -> Value {
    results["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["worker_id"] == worker)
        .unwrap_or_else(|| panic!("no row of {worker}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adjustments_sheet_with_bad_rows_is_reported_and_its_good_rows_wait_for_approval() {
    for backend in backends() {
        let h = Harness::start(backend, "").await;
        let hr = h.token("hr1", "org0", "hr_admin");
        let approver = h.token("appr1", "org0", "approver");
        let header: &[&str] = &["worker_id", "period", "kind", "code", "amount", "reason"];
        let sheet = xlsx(&[
            header,
            &["W000002", "2026-10", "earning", "bonus", "1500", "festival bonus"],
            &["W000004", "2026-10", "deduction", "canteen", "250.50", "canteen dues"],
            &["W000002", "2026-10", "earning", "bonus", "12.345", "three decimals"],
            &["W000002", "2026-10", "gift", "bonus", "100", "unknown kind"],
            &["W000002", "2026-13", "earning", "bonus", "100", "bad period"],
            &[
                "W000002",
                "2026-10",
                "earning",
                "bonus",
                "1500.00",
                "the first row again",
            ],
            &["W000004", "2026-10", "earning", "bonus", "100", ""],
            &["W000003", "2026-10", "earning", "bonus", "100", "org1's worker"],
        ]);
        let done = settled(&h, &hr, "kind=adjustments", "october.xlsx", &sheet).await;
        assert_eq!(done["status"], "done", "{done:#}");
        assert_eq!(
            (&done["rows"], &done["accepted"], &done["rejected"], &done["applied"]),
            (&Value::from(8), &Value::from(2), &Value::from(6), &Value::from(2)),
            "{done:#}"
        );
        assert_eq!(done["progress"], 100);
        let id = done["id"].as_str().unwrap().to_string();

        // The CSV report: one line per fault, with the row's original cells after.
        let csv_reply = h.get(&format!("/v1/orgs/org0/uploads/{id}/errors.csv"), &hr).await;
        assert_eq!(csv_reply.status, 200, "{}", csv_reply.text());
        let lines = report_csv(&csv_reply.text());
        let faults: Vec<(&str, &str, &str)> = lines
            .iter()
            .map(|l| (l[0].as_str(), l[1].as_str(), l[2].as_str()))
            .collect();
        assert_eq!(
            faults,
            [
                ("4", "amount", "12.345"),
                ("5", "kind", "gift"),
                ("6", "period", "2026-13"),
                (
                    "7",
                    "worker_id,period,kind,code,amount",
                    "W000002,2026-10,earning,bonus,1500"
                ),
                ("8", "reason", ""),
                ("9", "worker_id", "W000003"),
            ],
            "{lines:#?}"
        );
        assert!(lines[0][3].contains("more than 2 decimals"), "{lines:#?}");
        assert!(lines[1][3].contains("expected earning or deduction"), "{lines:#?}");
        assert!(lines[3][3].contains("duplicate of row 2"), "{lines:#?}");
        assert!(lines[5][3].contains("unknown worker `W000003` in org0"), "{lines:#?}");
        assert_eq!(
            lines[1][4..],
            ["W000002", "2026-10", "gift", "bonus", "100", "unknown kind"],
            "the original cells follow"
        );

        // The XLSX report says the same.
        let xlsx_reply = h.get(&format!("/v1/orgs/org0/uploads/{id}/errors.xlsx"), &hr).await;
        assert_eq!(xlsx_reply.status, 200);
        let mut book: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx_reply.bytes.clone())).unwrap();
        use calamine::Reader;
        let range = book.worksheet_range("errors").unwrap();
        let cells: Vec<Vec<String>> = range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        assert_eq!(
            cells[0][..6],
            ["row", "column", "value", "reason", "worker_id", "period"]
        );
        assert_eq!(cells.len(), 7, "{cells:#?}");
        assert_eq!(cells[1][..3], ["4", "amount", "12.345"]);
        assert_eq!(cells[6][..3], ["9", "worker_id", "W000003"]);

        // The good rows are pending adjustments requested by the uploader; the uploader cannot
        // approve them, another user can, and only then are they paid.
        let pending = h.get("/v1/orgs/org0/adjustments?status=pending", &hr).await.json();
        let pending = pending["adjustments"].as_array().unwrap();
        assert_eq!(pending.len(), 2, "{pending:#?}");
        assert!(pending.iter().all(|a| a["requested_by"] == "hr1"));
        let bonus = pending.iter().find(|a| a["worker_id"] == "W000002").unwrap();
        assert_eq!(bonus["amount"], "1500.00");
        let bonus_id = bonus["id"].as_str().unwrap().to_string();

        let before = h.trigger("org0", &hr, "2026-10", "provisional", "before").await;
        h.wait("org0", &before, &hr, "calculated").await;
        let results = h
            .get(&format!("/v1/orgs/org0/runs/{before}/results?page_size=1000"), &hr)
            .await
            .json();
        assert_eq!(results_row(&results, "W000002")["adjustment_earnings"], "0.00");

        let own = h
            .post(
                &format!("/v1/orgs/org0/adjustments/{bonus_id}/approve"),
                &hr,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(own.status, 403, "{}", own.text());
        let approved = h
            .post(
                &format!("/v1/orgs/org0/adjustments/{bonus_id}/approve"),
                &approver,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(approved.status, 200, "{}", approved.text());
        let after = h.trigger("org0", &hr, "2026-10", "provisional", "after").await;
        h.wait("org0", &after, &hr, "calculated").await;
        let results = h
            .get(&format!("/v1/orgs/org0/runs/{after}/results?page_size=1000"), &hr)
            .await
            .json();
        assert_eq!(results_row(&results, "W000002")["adjustment_earnings"], "1500.00");
        assert_eq!(
            results_row(&results, "W000004")["adjustment_deductions"],
            "0.00",
            "not approved"
        );

        // Listed, and audited: the upload and both report downloads.
        let list = h.get("/v1/orgs/org0/uploads?kind=adjustments", &hr).await.json();
        assert_eq!(list["uploads"][0]["id"], id.as_str(), "{list:#}");
        let actions: Vec<String> = h.get("/v1/orgs/org0/audit", &hr).await.json()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect();
        for action in ["upload.create", "upload.finish", "upload.errors_download"] {
            assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
        }

        // A retry with the same key and file is the same upload; another file, refused.
        let csv = b"worker_id,period,kind,code,amount,reason\nW000002,2026-10,earning,ot_bonus,10.00,r\n";
        let first = upload(&h, &hr, "kind=adjustments", "a.csv", csv, Some("k1")).await;
        assert_eq!(first.status, 202, "{}", first.text());
        let again = upload(&h, &hr, "kind=adjustments", "a.csv", csv, Some("k1")).await;
        assert_eq!(again.status, 200, "{}", again.text());
        assert_eq!(again.json()["id"], first.json()["id"]);
        let other = upload(&h, &hr, "kind=adjustments", "b.csv", b"worker_id\n", Some("k1")).await;
        assert_eq!(other.status, 422, "{}", other.text());
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploads_requests_are_approved_or_rejected_together_by_another_user() {
    for backend in backends() {
        let h = Harness::start(backend, "").await;
        let hr = h.token("hr1", "org0", "hr_admin");
        let approver = h.token("appr1", "org0", "approver");
        let csv = b"worker_id,period,kind,code,amount,reason\n\
            W000002,2026-10,earning,bonus,100.00,festival\n\
            W000004,2026-10,deduction,canteen,50.00,canteen dues\n\
            W000000,2026-10,earning,bonus,25.00,festival\n";
        let done = settled(&h, &hr, "kind=adjustments", "october.csv", csv).await;
        assert_eq!(done["accepted"], 3, "{done:#}");
        let id = done["id"].as_str().unwrap().to_string();
        let of_upload = |status: &str| format!("/v1/orgs/org0/adjustments?status={status}&upload_id={id}");
        let pending = h.get(&of_upload("pending"), &approver).await.json();
        let pending = pending["adjustments"].as_array().unwrap().clone();
        assert_eq!(pending.len(), 3, "{pending:#?}");
        assert!(pending.iter().all(|a| a["upload_id"] == id.as_str()));

        // The uploader cannot decide their own upload, even as an org admin.
        let own = h.token("hr1", "org0", "org_admin");
        let refused = h
            .post(&format!("/v1/orgs/org0/uploads/{id}/approve"), &own, &json!({}))
            .await;
        assert_eq!(refused.status, 403, "{}", refused.text());
        assert!(refused.text().contains("four eyes"), "{}", refused.text());

        // One is rejected alone; approving the upload approves the two still pending.
        let canteen = pending.iter().find(|a| a["worker_id"] == "W000004").unwrap();
        let rejected = h
            .post(
                &format!("/v1/orgs/org0/adjustments/{}/reject", canteen["id"].as_str().unwrap()),
                &approver,
                &json!({"reason": "already recovered"}),
            )
            .await;
        assert_eq!(rejected.status, 200, "{}", rejected.text());
        let approved = h
            .post(&format!("/v1/orgs/org0/uploads/{id}/approve"), &approver, &json!({}))
            .await;
        assert_eq!(approved.status, 200, "{}", approved.text());
        assert_eq!(
            approved.json(),
            json!({"upload_id": id, "status": "approved", "decided": 2})
        );
        let again = h
            .post(&format!("/v1/orgs/org0/uploads/{id}/approve"), &approver, &json!({}))
            .await;
        assert_eq!(again.status, 409, "{}", again.text());
        let approved = h.get(&of_upload("approved"), &approver).await.json();
        let approved = approved["adjustments"].as_array().unwrap();
        assert_eq!(approved.len(), 2, "{approved:#?}");
        assert!(approved.iter().all(|a| a["decided_by"] == "appr1" && a["version"] == 2));

        // Published as approved: the next run pays exactly those two.
        let run = h.trigger("org0", &hr, "2026-10", "provisional", "after").await;
        h.wait("org0", &run, &hr, "calculated").await;
        let results = h
            .get(&format!("/v1/orgs/org0/runs/{run}/results?page_size=1000"), &hr)
            .await
            .json();
        assert_eq!(results_row(&results, "W000002")["adjustment_earnings"], "100.00");
        assert_eq!(results_row(&results, "W000000")["adjustment_earnings"], "25.00");
        assert_eq!(results_row(&results, "W000004")["adjustment_deductions"], "0.00");

        // Another upload is rejected whole, with a reason.
        let second = b"worker_id,period,kind,code,amount,reason\nW000002,2026-10,earning,ot_bonus,10.00,r\n";
        let second = settled(&h, &hr, "kind=adjustments", "again.csv", second).await;
        let second = second["id"].as_str().unwrap();
        let path = format!("/v1/orgs/org0/uploads/{second}/reject");
        let no_reason = h.post(&path, &approver, &json!({"reason": " "})).await;
        assert_eq!(no_reason.status, 422, "{}", no_reason.text());
        let whole = h.post(&path, &approver, &json!({"reason": "sent twice"})).await;
        assert_eq!(whole.status, 200, "{}", whole.text());
        assert_eq!(whole.json()["decided"], 1);
        let rejected = h
            .get(&format!("/v1/orgs/org0/adjustments?upload_id={second}"), &approver)
            .await
            .json();
        assert_eq!(rejected["adjustments"][0]["status"], "rejected");
        assert_eq!(rejected["adjustments"][0]["decision_note"], "sent twice");

        let actions: Vec<String> = h.get("/v1/orgs/org0/audit", &hr).await.json()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect();
        for action in ["adjustment.approve_upload", "adjustment.reject_upload"] {
            assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
        }
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_or_nothing_applies_nothing_when_a_row_is_bad() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let csv = b"worker_id,period,kind,code,amount,reason\n\
        W000002,2026-10,earning,bonus,100.00,fine\n\
        W000004,2026-10,earning,bonus,-5,negative\n";
    let done = settled(&h, &hr, "kind=adjustments&mode=all_or_nothing", "a.csv", csv).await;
    assert_eq!(done["status"], "failed", "{done:#}");
    assert_eq!(
        (&done["accepted"], &done["rejected"]),
        (&Value::from(0), &Value::from(1))
    );
    assert!(
        done["message"].as_str().unwrap().contains("nothing was applied"),
        "{done:#}"
    );
    let all = h.get("/v1/orgs/org0/adjustments", &hr).await.json();
    assert_eq!(all["adjustments"].as_array().unwrap().len(), 0, "{all:#}");
    let report = report_csv(
        &h.get(
            &format!("/v1/orgs/org0/uploads/{}/errors.csv", done["id"].as_str().unwrap()),
            &hr,
        )
        .await
        .text(),
    );
    assert_eq!((report[0][0].as_str(), report[0][1].as_str()), ("3", "amount"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attendance_summary_reaches_the_next_run_and_workers_never_show_a_pan_in_clear() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let inputs = h.dir.path().join("inputs");

    let summary = "worker_id,period,employment_days,working_days,present_days,paid_leave_days,unpaid_leave_days,lop_days,\
        worked_minutes,ot_hours,missed_punch_days\n\
        W000002,2026-10,31,27,25.5,1,0,0.5,12240,4,0\n\
        W000003,2026-10,31,27,20,0,0,0,9600,0,0\n\
        W000004,2026-10,31,27,40,0,0,0,9600,0,0\n";
    let done = settled(&h, &hr, "kind=attendance_summary", "summary.csv", summary.as_bytes()).await;
    assert_eq!(
        (&done["status"], &done["accepted"], &done["rejected"]),
        (&Value::from("done"), &Value::from(1), &Value::from(2)),
        "{done:#}"
    );
    let report = report_csv(
        &h.get(
            &format!("/v1/orgs/org0/uploads/{}/errors.csv", done["id"].as_str().unwrap()),
            &hr,
        )
        .await
        .text(),
    );
    assert_eq!((report[0][0].as_str(), report[0][1].as_str()), ("3", "worker_id"));
    assert_eq!(
        (report[1][0].as_str(), report[1][1].as_str(), report[1][2].as_str()),
        ("4", "present_days", "40")
    );
    let run = h.trigger("org0", &hr, "2026-10", "provisional", "summary").await;
    h.wait("org0", &run, &hr, "calculated").await;
    let results = h
        .get(&format!("/v1/orgs/org0/runs/{run}/results?page_size=1000"), &hr)
        .await
        .json();
    let row = results_row(&results, "W000002");
    assert_eq!(
        (row["present_days"].as_str(), row["lop_days"].as_str()),
        (Some("25.5"), Some("0.5")),
        "{row:#}"
    );

    // Workers: a good new one is appended to workers.csv; one with a PAN that is no PAN is
    // refused, and neither its PAN nor its account shows in clear.
    let header = std::fs::read_to_string(inputs.join("workers.csv")).unwrap();
    let header = header.lines().next().unwrap();
    let good = "W900001,org0,S00,New Worker,F,MH,skilled,Fitter,daily,800.00,true,true,,,123456789012,SBIN0001234,ABCDE9999F,2026-10-01,";
    let bad = "W900002,org0,S00,Bad Pan,M,MH,skilled,Fitter,daily,800.00,true,true,,,998877665544,SBIN0001234,ABCDE12345,2026-10-01,";
    let other_org = "W900003,org1,S12,Other Org,M,TN,skilled,Fitter,daily,800.00,true,true,,,112233445566,SBIN0001234,ABCDE1111F,2026-10-01,";
    let file = format!("{header}\n{good}\n{bad}\n{other_org}\n");
    let done = settled(&h, &hr, "kind=workers", "workers.csv", file.as_bytes()).await;
    assert_eq!(
        (&done["status"], &done["accepted"], &done["rejected"]),
        (&Value::from("awaiting_approval"), &Value::from(1), &Value::from(2)),
        "{done:#}"
    );
    let id = done["id"].as_str().unwrap();
    approve_workers(&h, id).await;
    let text = h
        .get(&format!("/v1/orgs/org0/uploads/{id}/errors.csv"), &hr)
        .await
        .text();
    for secret in ["ABCDE12345", "998877665544", "112233445566", "ABCDE1111F"] {
        assert!(!text.contains(secret), "{secret} in clear: {text}");
    }
    let report = report_csv(&text);
    let pan = report.iter().find(|l| l[1] == "pan").unwrap();
    assert_eq!((pan[0].as_str(), pan[2].as_str()), ("3", "XXXXXX2345"), "{report:#?}");
    assert!(report.iter().any(|l| l[0] == "4" && l[1] == "org_id"), "{report:#?}");
    let xlsx = h.get(&format!("/v1/orgs/org0/uploads/{id}/errors.xlsx"), &hr).await;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.bytes)).unwrap();
    use calamine::Reader;
    let range = book.worksheet_range("errors").unwrap();
    for cell in range.cells() {
        let text = cell.2.to_string();
        assert!(
            !["ABCDE12345", "998877665544"].contains(&text.as_str()),
            "{text} in clear"
        );
    }
    let workers = std::fs::read_to_string(inputs.join("workers.csv")).unwrap();
    assert!(workers.lines().any(|l| l.starts_with("W900001,org0,")));
    assert!(!workers.contains("W900002") && !workers.contains("W900003"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_other_files_are_refused_with_reasons() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let hr = h.token("hr1", "org0", "hr_admin");

    let mut big = String::from("worker_id,period,kind,code,amount,reason\n");
    for i in 0..100_001 {
        big.push_str(&format!("W000002,2026-10,earning,c{i},1.00,r\n"));
    }
    let done = settled(&h, &hr, "kind=adjustments", "big.csv", big.as_bytes()).await;
    assert_eq!(done["status"], "failed", "{done:#}");
    assert!(
        done["message"].as_str().unwrap().contains("more than 100000 rows"),
        "{done:#}"
    );
    assert_eq!(done["applied"], 0);
    let all = h.get("/v1/orgs/org0/adjustments?page_size=1", &hr).await.json();
    assert_eq!(all["adjustments"].as_array().unwrap().len(), 0, "nothing applied");

    let pdf = upload(&h, &hr, "kind=adjustments", "sheet.pdf", b"%PDF-1.7", None).await;
    assert_eq!(pdf.status, 422, "{}", pdf.text());
    assert!(
        pdf.text().contains("expected an .xlsx or a .csv file"),
        "{}",
        pdf.text()
    );
    let fake = upload(&h, &hr, "kind=adjustments", "sheet.xlsx", b"a,b\n", None).await;
    assert_eq!(fake.status, 422, "{}", fake.text());
    let kind = upload(&h, &hr, "kind=payslips", "a.csv", b"a\n", None).await;
    assert_eq!(kind.status, 422, "{}", kind.text());
    assert!(
        kind.text().contains("attendance_summary, adjustments, workers"),
        "{}",
        kind.text()
    );
    let json = h
        .post("/v1/orgs/org0/uploads?kind=adjustments", &hr, &serde_json::json!({}))
        .await;
    assert_eq!(json.status, 422, "{}", json.text());
    assert!(json.text().contains("multipart/form-data"), "{}", json.text());

    // A missing column fails the file, naming the column; garbage XLSX fails, never panics.
    let done = settled(
        &h,
        &hr,
        "kind=adjustments",
        "a.csv",
        b"worker_id,period,kind,code,amount\nW000002,2026-10,earning,b,1.00\n",
    )
    .await;
    assert_eq!(done["status"], "failed");
    assert!(
        done["message"].as_str().unwrap().contains("no column `reason`"),
        "{done:#}"
    );
    let done = settled(
        &h,
        &hr,
        "kind=adjustments",
        "a.xlsx",
        b"PK\x03\x04 and then nothing a zip has",
    )
    .await;
    assert_eq!(done["status"], "failed");
    assert!(
        done["message"].as_str().unwrap().contains("not a readable XLSX file"),
        "{done:#}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_a_stopped_instance_left_are_taken_up_or_failed_by_the_next() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let csv = b"worker_id,period,kind,code,amount,reason\nW000002,2026-10,earning,bonus,100.00,r\n";
    let done = settled(&h, &hr, "kind=adjustments", "a.csv", csv).await;
    let id = done["id"].as_str().unwrap().to_string();
    let (dir, database) = h.stop().await;

    // As if the instance had stopped: one upload never started, one stopped mid-way.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&database).await.unwrap();
    sqlx::query("UPDATE uploads SET status = 'queued', updated_at = '2000-01-01T00:00:00.000Z' WHERE id = $1")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO uploads (id, org_id, kind, mode, status, file_name, format, bytes, sha256, uploaded_by, created_at, \
         updated_at) SELECT 'stuck', org_id, kind, mode, 'processing', file_name, format, bytes, sha256, uploaded_by, \
         created_at, '2000-01-01T00:00:00.000Z' FROM uploads WHERE id = $1",
    )
    .bind(&id)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let inputs = dir.path().join("inputs");
    let h = Harness::start_on(dir, database, &format!("inputs = {inputs:?}"), "").await;
    let again = wait(&h, &hr, &id).await;
    assert_eq!(
        (&again["status"], &again["applied"]),
        (&Value::from("done"), &Value::from(1)),
        "{again:#}"
    );
    let stuck = wait(&h, &hr, "stuck").await;
    assert_eq!(stuck["status"], "failed", "{stuck:#}");
    assert!(
        stuck["message"].as_str().unwrap().contains("stopped while processing"),
        "{stuck:#}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_carry_their_contact_and_a_bad_one_is_refused_masked() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let hr = h.token("hr1", "org0", "hr_admin");
    // The folder's workers.csv takes contact columns once its header has them.
    let path = h.dir.path().join("inputs").join("workers.csv");
    let master = std::fs::read_to_string(&path).unwrap();
    let mut lines = master.lines();
    let header = format!("{},phone,email,language", lines.next().unwrap());
    let rows: Vec<String> = lines.map(|l| format!("{l},,,")).collect();
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();

    let good = "W900011,org0,S00,Asha K,F,MH,skilled,Fitter,daily,800.00,true,true,,,123456789012,SBIN0001234,ABCDE9999F,2026-10-01,,+91 98123 45678,asha@example.in,hi";
    let bad_phone = "W900012,org0,S00,Ravi S,M,MH,skilled,Fitter,daily,800.00,true,true,,,123456789013,SBIN0001234,ABCDE9998F,2026-10-01,,98123 45679,,en";
    let bad_email = "W900013,org0,S00,Meena R,F,MH,skilled,Fitter,daily,800.00,true,true,,,123456789014,SBIN0001234,ABCDE9997F,2026-10-01,,,meena.example.in,hindi";
    let file = format!("{header}\n{good}\n{bad_phone}\n{bad_email}\n");
    let done = settled(&h, &hr, "kind=workers", "workers.csv", file.as_bytes()).await;
    assert_eq!(
        (&done["status"], &done["accepted"], &done["rejected"]),
        (&Value::from("awaiting_approval"), &Value::from(1), &Value::from(2)),
        "{done:#}"
    );
    let id = done["id"].as_str().unwrap();
    approve_workers(&h, id).await;
    let text = h
        .get(&format!("/v1/orgs/org0/uploads/{id}/errors.csv"), &hr)
        .await
        .text();
    for secret in ["98123 45679", "9812345679", "meena.example.in"] {
        assert!(!text.contains(secret), "{secret} in clear: {text}");
    }
    let report = report_csv(&text);
    assert!(report.iter().any(|l| l[0] == "3" && l[1] == "phone"), "{report:#?}");
    assert!(report.iter().any(|l| l[0] == "4" && l[1] == "email"), "{report:#?}");
    let master = std::fs::read_to_string(&path).unwrap();
    let row = master
        .lines()
        .find(|l| l.starts_with("W900011,"))
        .expect("the good worker is appended");
    assert!(row.ends_with("+91 98123 45678,asha@example.in,hi"), "{row}");
    h.stop().await;
}
