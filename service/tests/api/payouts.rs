//! Bank payouts of a finalized run, on both databases: the pain.001 XML and the NEFT CSV are
//! read back and compared with the run's results to the paisa; a worker whose IFSC is out of
//! format in the master at payout time is an exception, not paid; a bank return file for two
//! workers, once another person approves it, makes the next payout pay exactly those two, and
//! the one after nobody.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use quick_xml::events::Event;
use rust_decimal::Decimal;
use serde_json::Value;

pub const DEBIT: &str = "[orgs.org0]\nname = \"Acme Logistics & Sons Pvt Ltd\"\ndebit_account = \"000111222333\"\ndebit_ifsc = \"ICIC0000001\"\n";

/// The run's `net_payable` by worker, from its results.
async fn payable(h: &Harness, run: &str, token: &str) -> BTreeMap<String, Decimal> {
    let csv = h
        .get(&format!("/v1/orgs/org0/runs/{run}/results.csv"), token)
        .await
        .text();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (worker, net) = (at("worker_id"), at("net_payable"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[worker].to_string(), r[net].parse().unwrap())
        })
        .collect()
}

/// The master's full account numbers and IFSCs, by worker.
fn accounts(inputs: &std::path::Path) -> BTreeMap<String, (String, String)> {
    let mut reader = csv::Reader::from_path(inputs.join("workers.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (worker, bank, ifsc) = (at("worker_id"), at("bank_account"), at("ifsc"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[worker].to_string(), (r[bank].to_string(), r[ifsc].to_string()))
        })
        .collect()
}

/// Gives `worker` an IFSC out of format in the input folder's master (a 1 where the 0 goes).
fn spoil_ifsc(inputs: &std::path::Path, worker: &str) {
    let path = inputs.join("workers.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let ifsc = headers.iter().position(|h| h == "ifsc").unwrap();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for record in reader.records() {
        let mut fields: Vec<String> = record.unwrap().iter().map(str::to_string).collect();
        if fields[0] == worker {
            fields[ifsc] = "SBIN1001234".to_string();
        }
        writer.write_record(&fields).unwrap();
    }
    std::fs::write(&path, writer.into_inner().unwrap()).unwrap();
}

#[derive(Debug, Default)]
struct Pain001 {
    group_count: usize,
    group_sum: Decimal,
    blocks: usize,
    block_count: usize,
    block_sum: Decimal,
    /// (end-to-end id, amount, currency, IFSC, account)
    credits: Vec<(String, Decimal, String, String, String)>,
}

/// Reads a pain.001 back with an XML parser (not by string search).
fn parse_pain001(xml: &str) -> Pain001 {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut out = Pain001::default();
    let mut credit = None::<(String, Decimal, String, String, String)>;
    let mut currency = String::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                if name == "InstdAmt" {
                    currency = e
                        .try_get_attribute("Ccy")
                        .unwrap()
                        .map(|a| a.value.into_owned())
                        .unwrap_or_default();
                }
                if name == "CdtTrfTxInf" {
                    credit = Some(Default::default());
                }
                if name == "PmtInf" {
                    out.blocks += 1;
                }
                path.push(name);
            }
            Event::End(e) => {
                let name = path.pop().unwrap();
                assert_eq!(name, e.local_name().as_ref());
                if name == "CdtTrfTxInf" {
                    out.credits.push(credit.take().unwrap());
                }
            }
            Event::Text(t) => {
                let text = t.into_inner().into_owned();
                let joined = path.join("/");
                match joined.as_str() {
                    "Document/CstmrCdtTrfInitn/GrpHdr/NbOfTxs" => out.group_count = text.parse().unwrap(),
                    "Document/CstmrCdtTrfInitn/GrpHdr/CtrlSum" => out.group_sum = text.parse().unwrap(),
                    "Document/CstmrCdtTrfInitn/PmtInf/NbOfTxs" => out.block_count = text.parse().unwrap(),
                    "Document/CstmrCdtTrfInitn/PmtInf/CtrlSum" => out.block_sum = text.parse().unwrap(),
                    _ => {}
                }
                if let Some(c) = credit.as_mut() {
                    if joined.ends_with("CdtTrfTxInf/PmtId/EndToEndId") {
                        c.0 = text;
                    } else if joined.ends_with("CdtTrfTxInf/Amt/InstdAmt") {
                        c.1 = text.parse().unwrap();
                        c.2 = currency.clone();
                    } else if joined.ends_with("CdtTrfTxInf/CdtrAgt/FinInstnId/ClrSysMmbId/MmbId") {
                        c.3 = text;
                    } else if joined.ends_with("CdtTrfTxInf/CdtrAcct/Id/Othr/Id") {
                        c.4 = text;
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(path.is_empty(), "unclosed elements: {path:?}");
    out
}

/// NEFT rows: (beneficiary, account, IFSC, amount, narration, reference).
fn parse_neft(text: &str) -> Vec<[String; 6]> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "beneficiary_name",
            "account",
            "ifsc",
            "amount",
            "narration",
            "reference"
        ]
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            std::array::from_fn(|i| r[i].to_string())
        })
        .collect()
}

async fn post_returns(h: &Harness, path: &str, token: &str, csv: &str) -> (u16, Value) {
    let reply = reqwest::Client::new()
        .post(format!("{}{path}", h.base))
        .bearer_auth(token)
        .header("Content-Type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payouts_pay_each_worker_once_to_the_paisa() {
    for backend in backends() {
        let h = Harness::start(backend, DEBIT).await;
        let inputs = h.dir.path().join("inputs");
        let run = h.finalized_run().await;
        let hr = h.token("hr1", "org0", "hr_admin");
        let approver = h.token("appr1", "org0", "approver");
        let due = payable(&h, &run, &hr).await;
        let accounts = accounts(&inputs);
        // The master at payout time: one worker's IFSC is now out of format.
        let victim = due.iter().find(|(_, net)| **net > Decimal::ZERO).unwrap().0.clone();
        spoil_ifsc(&inputs, &victim);
        let paid_expected: BTreeMap<&String, &Decimal> = due
            .iter()
            .filter(|(w, net)| **net > Decimal::ZERO && **w != victim)
            .collect();
        let unpaid: BTreeSet<&String> = due.keys().filter(|w| !paid_expected.contains_key(w)).collect();
        let total: Decimal = paid_expected.values().copied().sum();

        // Only a finalized final run is paid, only by a role with `payouts:create`.
        let path = format!("/v1/orgs/org0/runs/{run}/payouts");
        assert_eq!(h.call("POST", &path, Some(&hr), None, None).await.status, 403);

        let first = h.call("POST", &path, Some(&approver), None, Some("payout-1")).await;
        assert_eq!(first.status, 201, "{backend:?}: {}", first.text());
        let body = first.json();
        assert_eq!(body["payments"], paid_expected.len(), "{body:#}");
        assert_eq!(body["total"], format!("{total:.2}"), "{body:#}");
        assert_eq!(body["exceptions"], unpaid.len(), "{body:#}");
        assert_eq!(body["seq"], 1);
        // A retry with the same key is the same payout, not a second one.
        let retry = h.call("POST", &path, Some(&approver), None, Some("payout-1")).await;
        assert_eq!(retry.status, 200, "{}", retry.text());
        assert_eq!(retry.json()["id"], body["id"]);

        let links = &body["links"];
        let xml = h.get(links["pain001"].as_str().unwrap(), &approver).await;
        assert_eq!(xml.status, 200, "{}", xml.text());
        let pain = parse_pain001(&xml.text());
        assert_eq!(
            (pain.group_count, pain.block_count, pain.blocks),
            (paid_expected.len(), paid_expected.len(), 1)
        );
        assert_eq!((pain.group_sum, pain.block_sum), (total, total));
        let mut credited = BTreeMap::new();
        for (reference, amount, currency, ifsc, account) in &pain.credits {
            assert!(reference.len() <= 35, "{reference}");
            let worker = reference.rsplit('-').next().unwrap().to_string();
            assert_eq!(currency, "INR");
            assert_eq!(
                (account, ifsc),
                (&accounts[&worker].0, &accounts[&worker].1),
                "{worker}: the master's"
            );
            credited.insert(worker, *amount);
        }
        let expected: BTreeMap<String, Decimal> = paid_expected.iter().map(|(w, n)| ((*w).clone(), **n)).collect();
        assert_eq!(
            credited, expected,
            "{backend:?}: every worker's net_payable, to the paisa, once"
        );
        assert!(xml.text().contains("<Nm>Acme Logistics &amp; Sons Pvt Ltd</Nm>"));

        let neft = parse_neft(&h.get(links["neft"].as_str().unwrap(), &approver).await.text());
        assert_eq!(neft.len(), paid_expected.len());
        let neft_sum: Decimal = neft.iter().map(|r| r[3].parse::<Decimal>().unwrap()).sum();
        assert_eq!(neft_sum, total);
        let references: BTreeSet<&str> = pain.credits.iter().map(|c| c.0.as_str()).collect();
        assert!(
            neft.iter()
                .all(|r| references.contains(r[5].as_str()) && r[4] == "SALARY 2026-10")
        );

        let exceptions = h.get(links["exceptions"].as_str().unwrap(), &approver).await.text();
        let mut reader = csv::Reader::from_reader(exceptions.as_bytes());
        let listed: BTreeMap<String, String> = reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                (r[0].to_string(), r[4].to_string())
            })
            .collect();
        assert_eq!(listed.keys().collect::<BTreeSet<_>>(), unpaid, "{exceptions}");
        assert_eq!(listed[&victim], "invalid_ifsc", "{exceptions}");
        for (account, _) in accounts.values() {
            assert!(
                !exceptions.contains(account.as_str()),
                "a full account in the exceptions: {exceptions}"
            );
            assert!(
                !first.text().contains(account.as_str()),
                "a full account in the response"
            );
        }

        // The bank returns two payments: the approver records the return, pending until
        // another person (the org admin) approves it; then the next payout pays exactly those
        // two, again.
        let returned: Vec<&[String; 6]> = neft.iter().take(2).collect();
        let file = format!(
            "reference,reason\n{},Account closed\n{},Invalid account\n",
            returned[0][5], returned[1][5]
        );
        let returns = links["returns"].as_str().unwrap();
        let (status, done) = post_returns(&h, returns, &approver, &file).await;
        assert_eq!(status, 201, "{done:#}");
        assert_eq!(
            (done["status"].as_str(), done["payments"].as_u64()),
            (Some("pending"), Some(2)),
            "{done:#}"
        );
        // The same file again is refused (each payment is returned once), as is a reference of
        // no payment of the payout.
        let (status, again) = post_returns(&h, returns, &approver, &file).await;
        assert_eq!(status, 422, "{again:#}");
        let (status, wrong) = post_returns(&h, returns, &approver, "reference,reason\nnot-a-ref,x\n").await;
        assert_eq!(status, 422, "{wrong:#}");
        let admin = h.token("admin1", "org0", "org_admin");
        let approve = done["links"]["approve"].as_str().unwrap();
        let approved = h.post(approve, &admin, &serde_json::json!({})).await;
        assert_eq!(approved.status, 200, "{}", approved.text());
        let payout = h.get(links["self"].as_str().unwrap(), &approver).await.json();
        assert_eq!(payout["returned"], 2, "{payout:#}");

        let second = h.call("POST", &path, Some(&approver), None, Some("payout-2")).await;
        assert_eq!(second.status, 201, "{}", second.text());
        let second = second.json();
        assert_eq!(second["seq"], 2);
        assert_eq!(second["payments"], 2, "{second:#}");
        let neft2 = parse_neft(&h.get(second["links"]["neft"].as_str().unwrap(), &approver).await.text());
        let again: BTreeSet<(&str, &str, &str)> = neft2
            .iter()
            .map(|r| (r[1].as_str(), r[2].as_str(), r[3].as_str()))
            .collect();
        let before: BTreeSet<(&str, &str, &str)> = returned
            .iter()
            .map(|r| (r[1].as_str(), r[2].as_str(), r[3].as_str()))
            .collect();
        assert_eq!(
            again, before,
            "exactly the returned payments, same accounts and amounts"
        );
        assert!(neft2.iter().all(|r| r[5].contains("-2-")), "new references: {neft2:?}");
        assert_eq!(
            second["total"],
            format!(
                "{:.2}",
                neft2.iter().map(|r| r[3].parse::<Decimal>().unwrap()).sum::<Decimal>()
            )
        );

        // The run's payouts, first made first, with what the bank returned of each.
        let listed = h.get(&path, &approver).await.json();
        let summary: Vec<(u64, u64, u64)> = listed["payouts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["seq"].as_u64().unwrap(),
                    p["payments"].as_u64().unwrap(),
                    p["returned"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(summary, [(1, paid_expected.len() as u64, 2), (2, 2, 0)], "{listed:#}");

        // Nobody is left to pay: the victim is still an exception, everyone else is paid.
        let third = h.call("POST", &path, Some(&approver), None, Some("payout-3")).await;
        assert_eq!(third.status, 409, "{}", third.text());
        assert!(third.text().contains(&victim), "{}", third.text());

        // Each payout and each file handed out is in the audit log.
        let audit = h.get("/v1/orgs/org0/audit?page_size=500", &hr).await.json();
        let actions: Vec<&str> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        for (action, count) in [
            ("payout.create", 2),
            ("payout.download", 4),
            ("payout.return", 1),
            ("payout.return_approve", 1),
        ] {
            assert_eq!(
                actions.iter().filter(|a| **a == action).count(),
                count,
                "{action}: {actions:?}"
            );
        }
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_needs_a_finalized_run_and_a_debit_account() {
    let h = Harness::start(Backend::Sqlite, "").await;
    let run = h.finalized_run().await;
    let approver = h.token("appr1", "org0", "approver");
    let reply = h.payout("org0", &run, &approver, None).await;
    assert_eq!(reply.status, 409, "{}", reply.text());
    assert!(reply.text().contains("debit_account"), "{}", reply.text());
    let hr = h.token("hr1", "org0", "hr_admin");
    let provisional = h.trigger("org0", &hr, "2026-11", "provisional", "p").await;
    let reply = h
        .call(
            "POST",
            &format!("/v1/orgs/org0/runs/{provisional}/payouts"),
            Some(&approver),
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.text());
    assert!(reply.text().contains("provisional"), "{}", reply.text());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_payouts_made_at_once_never_pay_a_worker_twice() {
    for backend in backends() {
        let h = Harness::start(backend, DEBIT).await;
        let run = h.finalized_run().await;
        let hr = h.token("hr1", "org0", "hr_admin");
        let approver = h.token("appr1", "org0", "approver");
        let payable = payable(&h, &run, &hr)
            .await
            .values()
            .filter(|n| **n > Decimal::ZERO)
            .count();
        let path = format!("/v1/orgs/org0/runs/{run}/payouts");
        let (a, b) = tokio::join!(
            h.call("POST", &path, Some(&approver), None, Some("at-once-a")),
            h.call("POST", &path, Some(&approver), None, Some("at-once-b")),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "{backend:?}: {} / {}", a.text(), b.text());
        let made = if a.status == 201 { a.json() } else { b.json() };
        assert_eq!(made["payments"], payable, "{made:#}");
        h.stop().await;
    }
}
