//! CSV injection: text a user controls (a worker's name in the master, a refused input line, a
//! cell of an uploaded sheet) reaches the CSV and XLSX files HR opens in a spreadsheet. A cell
//! starting with `=`, `+`, `-`, `@`, a tab or a carriage return is read there as a formula, so
//! every such text cell goes out with a leading `'`; a number (`-731.25`) stays a number.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::*;
use serde_json::Value;

const LINK: &str = r#"=HYPERLINK("http://x","y")"#;

/// A cell a spreadsheet would read as a formula: text (not a number) starting with one of
/// OWASP's characters.
fn formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<rust_decimal::Decimal>().is_err()
}

fn csv_cells(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn assert_no_formula(what: &str, rows: &[Vec<String>]) {
    for row in rows {
        for cell in row {
            assert!(!formula(cell), "{what} carries a formula `{cell}` in {row:?}");
        }
    }
}

async fn upload(h: &Harness, token: &str, name: &str, bytes: &[u8]) -> Value {
    h.upload("org0", "adjustments", name, bytes, token).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_that_would_start_a_formula_is_neutralised_in_every_spreadsheet_file() {
    for backend in backends() {
        formulas(backend).await;
    }
}

async fn formulas(backend: Backend) {
    let h = Harness::start(backend, "").await;
    let inputs = h.dir.path().join("inputs");
    let hr = h.token("hr1", "org0", "hr_admin");

    // W000000 (org0) is renamed to a link; an approved recovery puts its net pay below zero
    // (2826.00 - 3557.25); a refused worker line of org0 starts with `@SUM(1)`.
    let workers = std::fs::read_to_string(inputs.join("workers.csv")).unwrap();
    let quoted = format!("\"{}\"", LINK.replace('"', "\"\""));
    let renamed = workers.replacen("W000000,org0,S00,Worker 0,", &format!("W000000,org0,S00,{quoted},"), 1);
    assert_ne!(renamed, workers, "the sample's W000000 moved");
    let refused = "@SUM(1),org0,S00,Bad Worker,M,MH,unskilled,Helper,weekly,97.88,true,true,1,2,441782430999,SBIN0001234,ABCDE9999F,2026-01-01,";
    std::fs::write(inputs.join("workers.csv"), format!("{renamed}{refused}\n")).unwrap();
    let recovery = r#"{"adjustment_id": "ADJ-formula", "worker_id": "W000000", "period": "2026-10", "kind": "deduction", "code": "advance_recovery", "amount": "3557.25", "reason": "recovery", "requested_by": "maker1", "event_id": "formula-1", "status": "approved", "version": 1, "approved_by": "checker1"}"#;
    let mut adjustments = std::fs::read_to_string(inputs.join("adjustments.ndjson")).unwrap();
    adjustments.push_str(recovery);
    adjustments.push('\n');
    std::fs::write(inputs.join("adjustments.ndjson"), adjustments).unwrap();

    let run = h.trigger("org0", &hr, "2026-10", "provisional", "formulas").await;
    h.wait("org0", &run, &hr, "calculated").await;

    // results.csv: the name is text, the negative net pay a number.
    let reply = h.get(&format!("/v1/orgs/org0/runs/{run}/results.csv"), &hr).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rows = csv_cells(&reply.text());
    let column = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    let (worker, name, net) = (column("worker_id"), column("name"), column("net_pay"));
    let row = rows.iter().find(|r| r[worker] == "W000000").unwrap();
    assert_eq!(row[name], format!("'{LINK}"), "{row:?}");
    assert_eq!(row[net], "-731.25", "{row:?}");
    assert_no_formula("results.csv", &rows);

    // dead-letters.csv: the refused line as written, behind a `'`.
    let reply = h.get(&format!("/v1/orgs/org0/runs/{run}/dead-letters.csv"), &hr).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rows = csv_cells(&reply.text());
    let letter = rows.iter().find(|r| r[0] == "workers.csv").unwrap();
    assert!(letter[5].starts_with("'@SUM(1),org0,"), "{letter:?}");
    assert_no_formula("dead-letters.csv", &rows);

    // An upload's error report, CSV and XLSX: the refused cells behind a `'`, the amount as is.
    let sheet = "worker_id,period,kind,code,amount,reason\nW000002,2026-10,+cmd,bonus,-731.25,@SUM(1)\n";
    let done = upload(&h, &hr, "formulas.csv", sheet.as_bytes()).await;
    assert_eq!(
        (&done["status"], &done["rejected"]),
        (&Value::from("done"), &Value::from(1)),
        "{done:#}"
    );
    let id = done["id"].as_str().unwrap();
    let reply = h.get(&format!("/v1/orgs/org0/uploads/{id}/errors.csv"), &hr).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rows = csv_cells(&reply.text());
    let kind = rows.iter().find(|r| r[1] == "kind").unwrap();
    assert_eq!(kind[2], "'+cmd", "{rows:?}");
    assert_eq!(
        kind[4..],
        ["W000002", "2026-10", "'+cmd", "bonus", "-731.25", "'@SUM(1)"]
    );
    assert_no_formula("errors.csv", &rows);

    let reply = h.get(&format!("/v1/orgs/org0/uploads/{id}/errors.xlsx"), &hr).await;
    assert_eq!(reply.status, 200);
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(reply.bytes)).unwrap();
    use calamine::Reader;
    let range = book.worksheet_range("errors").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    let kind = rows.iter().find(|r| r[1] == "kind").unwrap();
    assert_eq!(kind[2], "'+cmd", "{rows:?}");
    assert_eq!(
        kind[4..],
        ["W000002", "2026-10", "'+cmd", "bonus", "-731.25", "'@SUM(1)"]
    );
    assert_no_formula("errors.xlsx", &rows);
    h.stop().await;
}
