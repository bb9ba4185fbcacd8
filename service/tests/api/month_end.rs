//! A month end over HTTP with two people, on SQLite and on PostgreSQL: a provisional run that
//! reproduces the reference month to the paisa, a final run the maker cannot approve, approval
//! by a second person, payslips and register, and a locked period that refuses every new run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::collections::HashMap;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use common::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_end_over_http_with_two_people() {
    for backend in backends() {
        month_end(backend).await;
    }
}

async fn month_end(backend: Backend) {
    let h = Harness::start(backend, "").await;
    let hr = h.token("hr1", "org0", "hr_admin");
    let approver = h.token("appr1", "org0", "approver");

    let provisional = h
        .trigger("org0", &hr, "2026-10", "provisional", "oct-provisional")
        .await;
    let run = h.wait("org0", &provisional, &hr, "calculated").await;
    assert_eq!(run["transitions"].as_array().unwrap().len(), 3, "{run:#}");
    assert_eq!(run["transitions"][0]["actor"], "hr1");
    assert_eq!(run["progress"]["workers_total"], run["rows"]);
    assert_eq!(run["progress"]["stage"], "calculated");
    let rows = results(&h, &provisional, &hr).await;
    let mismatches = differences(&rows, "org0", None);
    assert!(mismatches.is_empty(), "{backend:?}: {}", mismatches.join("\n"));

    let final_run = h.trigger("org0", &hr, "2026-10", "final", "oct-final").await;
    h.wait("org0", &final_run, &hr, "calculated").await;
    // The maker holds the approver role too, and is still refused.
    let maker_as_approver = h.token("hr1", "org0", "approver");
    let refused = h
        .post(
            &format!("/v1/orgs/org0/runs/{final_run}/approve"),
            &maker_as_approver,
            &json!({}),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("four eyes")
    );

    h.acknowledge_blocks("org0", &final_run).await;
    let approved = h
        .post(
            &format!("/v1/orgs/org0/runs/{final_run}/approve"),
            &approver,
            &json!({}),
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.text());
    let run = h.wait("org0", &final_run, &hr, "finalized").await;
    let who: Vec<(&str, &str)> = run["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["status"].as_str().unwrap(), t["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(who[0], ("queued", "hr1"));
    assert!(who.contains(&("finalizing", "appr1")), "{who:?}");
    assert_eq!(who.last().unwrap().0, "finalized");
    assert_eq!(run["progress"]["stage"], "payslips written", "{run:#}");
    assert_eq!(run["progress"]["workers_done"], run["rows"]);

    let period = h.get("/v1/orgs/org0/periods/2026-10", &hr).await.json();
    assert_eq!(period["status"], "locked");
    assert_eq!(period["locked_by"], final_run.as_str());

    // Payslips and the register match the results.
    let final_rows = results(&h, &final_run, &hr).await;
    assert!(
        final_rows == rows,
        "the final run computes what the provisional one did"
    );
    let w0 = &final_rows["W000000"];
    let pdf = h
        .get(
            &format!("/v1/orgs/org0/runs/{final_run}/payslips/W000000.pdf"),
            &approver,
        )
        .await;
    assert_eq!(pdf.status, 200);
    let net: Decimal = w0["net_pay"].as_str().unwrap().parse().unwrap();
    let text = pdf_text(&pdf.bytes);
    assert!(
        text.contains(&payroll_payslips::format_inr(net)),
        "net pay {net} not in:\n{text}"
    );
    let xlsx = h
        .get(&format!("/v1/orgs/org0/runs/{final_run}/payslips/W000000.xlsx"), &hr)
        .await;
    assert_eq!((xlsx.status, &xlsx.bytes[..2]), (200, &b"PK"[..]));
    let register = h
        .get(&format!("/v1/orgs/org0/runs/{final_run}/register.xlsx"), &hr)
        .await;
    assert_eq!(register.status, 200, "{}", register.text());
    // Each worker's row of the register, cell by cell, is `expected.csv`'s.
    let register = register_rows(&register.bytes);
    let register_columns = register_columns();
    let columns: Vec<&str> = register_columns.iter().filter_map(|(_, c)| c.as_deref()).collect();
    let mismatches = differences(&register, "org0", Some(&columns));
    assert!(mismatches.is_empty(), "{backend:?} register: {}", mismatches.join("\n"));

    // The lock holds: no second final, no run of any kind for the period.
    for (kind, key) in [("final", "oct-final-2"), ("provisional", "oct-late")] {
        let reply = h
            .call(
                "POST",
                "/v1/orgs/org0/runs",
                Some(&hr),
                Some(&json!({"period": "2026-10", "kind": kind})),
                Some(key),
            )
            .await;
        assert_eq!(reply.status, 409, "{}", reply.text());
        assert_eq!(
            reply.json()["error"]["message"],
            format!("period 2026-10 locked by run {final_run}")
        );
    }
    assert!(
        results(&h, &final_run, &hr).await == final_rows,
        "a locked run's results never change"
    );
    h.stop().await;
}

/// Every result row of a run, by worker id, read page by page (without the run id column, so
/// two runs' rows compare).
async fn results(h: &Harness, run: &str, token: &str) -> HashMap<String, Value> {
    let mut rows = HashMap::new();
    let mut path = format!("/v1/orgs/org0/runs/{run}/results?page_size=7");
    loop {
        let page = h.get(&path, token).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        for row in page["rows"].as_array().unwrap() {
            let mut row = row.clone();
            assert_eq!(row.as_object_mut().unwrap().remove("run_id").unwrap(), run);
            rows.insert(row["worker_id"].as_str().unwrap().to_string(), row);
        }
        match page["next_page_token"].as_str() {
            Some(token) => path = format!("/v1/orgs/org0/runs/{run}/results?page_size=7&page_token={token}"),
            None => return rows,
        }
    }
}

/// The register's headings after the key columns (worker, name, org, site), in order, with the
/// `expected.csv` column each holds (`tests/data/register_columns.csv`, shared with the
/// service's month-end test). The ruleset's labels repeat (EPF and ESI are both a deduction and
/// an employer contribution), so the place tells which is which. The sample month carries no
/// arrears: its "Arrears net" is zero and its "Net payable" the net pay.
fn register_columns() -> Vec<(String, Option<String>)> {
    let mut reader = csv::Reader::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cli/tests/data/register_columns.csv"
    ))
    .unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), Some(r[1].to_string()).filter(|c| !c.is_empty()))
        })
        .collect()
}

/// The register sheet's worker rows, by worker id, as `expected.csv` column to amount (a
/// decimal string). Checks the headings against [`register_columns`], and that each row's
/// arrears net is zero and its net payable its net pay.
fn register_rows(xlsx: &[u8]) -> HashMap<String, Value> {
    let mut workbook: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(xlsx.to_vec())).unwrap();
    let sheet = workbook.worksheet_range("Register").unwrap();
    let mut rows = sheet.rows();
    let register = register_columns();
    let headings: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
    let want: Vec<&str> = ["Worker ID", "Name", "Org", "Site"]
        .into_iter()
        .chain(register.iter().map(|(label, _)| label.as_str()))
        .collect();
    assert_eq!(headings, want, "the register's headings");
    // A spreadsheet number is an f64: back to paise.
    let amount = |c: &Data| match c {
        Data::Float(f) => Decimal::try_from(*f).unwrap().round_dp(2),
        other => panic!("an amount: {other:?}"),
    };
    let mut by_worker = HashMap::new();
    for cells in rows.take_while(|r| r[0] != Data::String("Total".into())) {
        let amounts: Vec<Decimal> = cells[4..].iter().map(amount).collect();
        let net = amounts[register
            .iter()
            .position(|(_, c)| c.as_deref() == Some("net_pay"))
            .unwrap()];
        let id = cells[0].to_string();
        assert_eq!(
            amounts[amounts.len() - 2..],
            [Decimal::ZERO, net],
            "{id}: arrears net, net payable"
        );
        let row: serde_json::Map<String, Value> = register
            .iter()
            .zip(&amounts)
            .filter_map(|((_, column), a)| column.as_ref().map(|c| (c.clone(), Value::String(a.to_string()))))
            .collect();
        assert!(by_worker.insert(id.clone(), Value::Object(row)).is_none(), "{id} twice");
    }
    by_worker
}

/// Every column of `expected.csv` (or only `columns`) for `org`'s workers against `rows` (a
/// row of the API, or of the register): decimals by value.
fn differences(rows: &HashMap<String, Value>, org: &str, columns: Option<&[&str]>) -> Vec<String> {
    let mut reader = csv::Reader::from_path(sample().join("expected.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let mut differences = Vec::new();
    let mut expected = 0;
    for record in reader.records() {
        let record = record.unwrap();
        if &record[1] != org {
            continue;
        }
        expected += 1;
        let Some(row) = rows.get(&record[0]) else {
            differences.push(format!("{}: no result row", &record[0]));
            continue;
        };
        for (column, want) in headers.iter().zip(record.iter()) {
            if columns.is_some_and(|only| !only.contains(&column)) {
                continue;
            }
            let got = match &row[column] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let same = match (got.parse::<Decimal>(), want.parse::<Decimal>()) {
                (Ok(g), Ok(w)) => g == w,
                _ => got == want,
            };
            if !same {
                differences.push(format!("{} {column}: got {got}, expected {want}", &record[0]));
            }
        }
    }
    if rows.len() != expected {
        differences.push(format!("{} result rows for {expected} expected", rows.len()));
    }
    differences
}
