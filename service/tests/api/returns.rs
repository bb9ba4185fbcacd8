//! Statutory returns of a finalized run, on both databases: the ECR text is split back on `#~#`
//! and the ESIC sheet read with calamine; each member's line equals the run's components as the
//! ruleset's `[returns]` maps them (whole rupees, half up), the contribution totals equal the
//! run's to the rupee, and members without a UAN or IP number are listed as exceptions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::collections::BTreeMap;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use common::*;
use rust_decimal::{Decimal, RoundingStrategy};

fn whole(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
}

/// Blanks `column` of `worker` in the input folder's master (before the run: returns read the
/// run's UAN and IP numbers).
fn blank(inputs: &std::path::Path, worker: &str, column: &str) {
    set(inputs, worker, column, "");
}

/// Sets `column` of `worker` in the input folder's master to `value`.
fn set(inputs: &std::path::Path, worker: &str, column: &str, value: &str) {
    let path = inputs.join("workers.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let at = headers.iter().position(|h| h == column).unwrap();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for record in reader.records() {
        let mut fields: Vec<String> = record.unwrap().iter().map(str::to_string).collect();
        if fields[0] == worker {
            fields[at] = value.to_string();
        }
        writer.write_record(&fields).unwrap();
    }
    std::fs::write(&path, writer.into_inner().unwrap()).unwrap();
}

/// The run's results as rows of column name to text.
async fn results(h: &Harness, run: &str, token: &str) -> Vec<BTreeMap<String, String>> {
    let csv = h
        .get(&format!("/v1/orgs/org0/runs/{run}/results.csv"), token)
        .await
        .text();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            headers
                .iter()
                .zip(r.unwrap().iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn amount(row: &BTreeMap<String, String>, name: &str) -> Decimal {
    match row[name].as_str() {
        "" => Decimal::ZERO,
        v => v.parse().unwrap(),
    }
}

/// An insured org0 worker, still employed in the sample, whom the test makes leave.
const LEAVER: &str = "W000019";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecr_and_esic_match_the_run_and_list_members_without_numbers() {
    for backend in backends() {
        let h = Harness::start(backend, "").await;
        let inputs = h.dir.path().join("inputs");
        // Two org0 members lose their numbers before the run: W000000's UAN, W000004's IP number.
        blank(&inputs, "W000000", "uan");
        blank(&inputs, "W000004", "esic_no");
        // The sample's only leaver (W000012) is not insured: an insured member leaves on 20
        // October, so the ESIC return's "left service" line is checked.
        set(&inputs, LEAVER, "exited_on", "2026-10-20");
        let run = h.finalized_run().await;
        let hr = h.token("hr1", "org0", "hr_admin");
        let rows = results(&h, &run, &hr).await;
        let flag = |r: &BTreeMap<String, String>, f: &str| r[f] == "true";
        let pf_members: Vec<_> = rows.iter().filter(|r| flag(r, "pf_applicable")).collect();
        let esi_members: Vec<_> = rows.iter().filter(|r| flag(r, "esi_applicable")).collect();
        assert!(
            pf_members.iter().any(|r| r["worker_id"] == "W000000"),
            "the sample's W000000 is a PF member"
        );
        assert!(
            esi_members.iter().any(|r| r["worker_id"] == "W000004"),
            "the sample's W000004 is insured"
        );

        let reply = h.get(&format!("/v1/orgs/org0/runs/{run}/returns/ecr.txt"), &hr).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let ecr = reply.text();
        let lines: Vec<Vec<&str>> = ecr.lines().map(|l| l.split("#~#").collect()).collect();
        assert_eq!(
            lines.len(),
            pf_members.len() - 1,
            "every member but the one without a UAN:\n{ecr}"
        );
        let by_uan: BTreeMap<&str, &BTreeMap<String, String>> =
            pf_members.iter().map(|r| (r["uan"].as_str(), *r)).collect();
        let mut sums = [Decimal::ZERO; 9];
        for fields in &lines {
            assert_eq!(fields.len(), 11, "{fields:?}");
            let row = by_uan[fields[0]];
            assert_eq!(fields[1], row["name"]);
            let want = [
                whole(amount(row, "gross")),
                whole(amount(row, "pf_wage")),
                whole(amount(row, "pf_wage")),
                whole(amount(row, "pf_wage")),
                whole(amount(row, "pf_employee")),
                whole(amount(row, "eps_employer")),
                whole(amount(row, "epf_employer")),
                whole(amount(row, "lop_days")),
                Decimal::ZERO,
            ];
            for (i, want) in want.iter().enumerate() {
                let got: Decimal = fields[i + 2].parse().unwrap();
                assert_eq!(got, *want, "column {} of {}", i + 2, row["worker_id"]);
                assert_eq!(got.scale(), 0, "whole rupees and days: {fields:?}");
                sums[i] += got;
            }
        }
        // Contributions are whole rupees in the run: the file's totals plus the exception's
        // equal the run's totals exactly.
        let missing = rows.iter().find(|r| r["worker_id"] == "W000000").unwrap();
        for (i, component) in [(4, "pf_employee"), (5, "eps_employer"), (6, "epf_employer")] {
            let run_total: Decimal = rows.iter().map(|r| amount(r, component)).sum();
            assert_eq!(sums[i] + amount(missing, component), run_total, "{component}");
        }
        // Wages are rounded per member, once: within half a rupee each of the run's total.
        let wage_total: Decimal = pf_members
            .iter()
            .filter(|r| r["worker_id"] != "W000000")
            .map(|r| amount(r, "pf_wage"))
            .sum();
        assert!((sums[1] - wage_total).abs() <= Decimal::new(5, 1) * Decimal::from(lines.len()));
        assert_eq!(
            reply_header(&h, &format!("/v1/orgs/org0/runs/{run}/returns/ecr.txt"), &hr).await,
            "1"
        );

        let reply = h.get(&format!("/v1/orgs/org0/runs/{run}/returns/esic.xlsx"), &hr).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let mut book: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(reply.bytes)).unwrap();
        let range = book.worksheet_range("Sheet1").unwrap();
        let sheet: Vec<&[Data]> = range.rows().collect();
        assert_eq!(sheet[0][0], Data::String("IP Number".into()));
        assert_eq!(
            sheet.len() - 1,
            esi_members.len() - 1,
            "every insured person but W000004"
        );
        let by_ip: BTreeMap<&str, &BTreeMap<String, String>> =
            esi_members.iter().map(|r| (r["esic_no"].as_str(), *r)).collect();
        let mut wages = Decimal::ZERO;
        let mut leavers = Vec::new();
        let number = |c: &Data| match c {
            Data::Float(f) => Decimal::try_from(*f).unwrap(),
            Data::Int(i) => Decimal::from(*i),
            other => panic!("{other:?}"),
        };
        for cells in &sheet[1..] {
            let Data::String(ip) = &cells[0] else {
                panic!("IP number as text: {cells:?}")
            };
            let row = by_ip[ip.as_str()];
            let days = whole(amount(row, "present_days") + amount(row, "paid_leave_days"));
            assert_eq!(number(&cells[2]), days, "{ip}");
            assert_eq!(number(&cells[3]), whole(amount(row, "gross")), "{ip}");
            let reason = number(&cells[4]);
            let left = !row["exited_on"].is_empty() && row["exited_on"].as_str() <= "2026-10-31";
            if left {
                assert_eq!(reason, Decimal::from(2), "{ip} left service");
                // ESIC's last working day is dd/mm/yyyy.
                let (y, m, d) = (&row["exited_on"][..4], &row["exited_on"][5..7], &row["exited_on"][8..]);
                assert_eq!(
                    cells[5],
                    Data::String(format!("{d}/{m}/{y}")),
                    "{ip}'s last working day"
                );
                leavers.push(row["worker_id"].clone());
            } else if days.is_zero() {
                assert!(
                    reason == Decimal::from(1) || reason == Decimal::from(11),
                    "{ip}: {reason}"
                );
            } else {
                assert_eq!(reason, Decimal::ZERO, "{ip}");
            }
            wages += number(&cells[3]);
        }
        assert_eq!(
            leavers,
            [LEAVER],
            "the insured leaver's line, and no other, says left service"
        );
        let leaver = sheet
            .iter()
            .find(|c| {
                by_ip
                    .get(c[0].to_string().as_str())
                    .is_some_and(|r| r["worker_id"] == LEAVER)
            })
            .unwrap();
        assert_eq!(
            (number(&leaver[4]), &leaver[5]),
            (Decimal::from(2), &Data::String("20/10/2026".into())),
            "{LEAVER}: reason 2 (left service), last working day 20/10/2026"
        );
        let want: Decimal = esi_members
            .iter()
            .filter(|r| r["worker_id"] != "W000004")
            .map(|r| whole(amount(r, "gross")))
            .sum();
        assert_eq!(wages, want);

        let exceptions = h
            .get(&format!("/v1/orgs/org0/runs/{run}/returns/exceptions.csv"), &hr)
            .await
            .text();
        let listed: Vec<(String, String)> = csv::Reader::from_reader(exceptions.as_bytes())
            .records()
            .map(|r| {
                let r = r.unwrap();
                (r[0].to_string(), r[1].to_string())
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("ecr".to_string(), "W000000".to_string()),
                ("esic".to_string(), "W000004".to_string())
            ],
            "{exceptions}"
        );

        // A role without `returns:download` gets none, and each download is audited.
        let approver = h.token("appr1", "org0", "approver");
        assert_eq!(
            h.get(&format!("/v1/orgs/org0/runs/{run}/returns/ecr.txt"), &approver)
                .await
                .status,
            403
        );
        let audit = h.get("/v1/orgs/org0/audit?action=returns.download", &hr).await.json();
        assert_eq!(audit["entries"].as_array().unwrap().len(), 4, "{audit:#}");
        h.stop().await;
    }
}

/// The `X-Return-Exceptions` header of a download.
async fn reply_header(h: &Harness, path: &str, token: &str) -> String {
    let reply = reqwest::Client::new()
        .get(format!("{}{path}", h.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    reply.headers()["x-return-exceptions"].to_str().unwrap().to_string()
}
