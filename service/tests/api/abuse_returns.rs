//! Paying a worker twice with a bank return, tried as an insider would, on SQLite and
//! PostgreSQL: the person who makes payouts records a "return" for a payment the bank never
//! returned and makes the next payout. A return is only recorded (`pending`); the next payout
//! pays it again only once another person with `payouts:approve` approves it. A return names
//! only payments of its payout, each once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::*;
use serde_json::json;

const DEBIT: &str = "[orgs.org0]\ndebit_account = \"000111222333\"\ndebit_ifsc = \"ICIC0000001\"\n";

/// The worker a payment reference pays (references end in `-<worker id>`).
fn worker_of(reference: &str) -> &str {
    reference.rsplit('-').next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_cannot_pay_a_worker_twice_with_a_return() {
    for backend in backends() {
        let h = Harness::start(backend, DEBIT).await;
        let run = h.finalized_run().await;
        // The insider: makes payouts and records the bank's returns (`payouts:create`), and
        // also holds `payouts:approve`.
        let maker = h.token("appr1", "org0", "approver");
        let checker = h.token("appr2", "org0", "approver");
        let first = h.payout("org0", &run, &maker, Some("payout-1")).await;
        assert_eq!(first.status, 201, "{backend:?}: {}", first.text());
        let first = first.json();
        let paid = h.neft(&first, &maker).await;
        let victim = paid[0].clone();
        let worker = worker_of(&victim[3]).to_string();
        let returns = first["links"]["returns"].as_str().unwrap().to_string();

        // The bank returned nothing; the insider says it returned the worker's payment.
        let recorded = h
            .post_csv(
                &returns,
                &maker,
                &format!("reference,reason\n{},Account closed\n", victim[3]),
            )
            .await;
        assert!(
            (200..300).contains(&recorded.status),
            "{backend:?}: {}",
            recorded.text()
        );

        // ... and makes the next payout at once: the worker is not paid again (nobody is left).
        let second = h.payout("org0", &run, &maker, Some("payout-2")).await;
        assert_eq!(
            second.status,
            409,
            "{backend:?}: a payout before the return is approved pays {worker} twice: {}",
            second.text()
        );
        // The return was only recorded, waiting for a second person.
        assert_eq!(recorded.status, 201, "{backend:?}: {}", recorded.text());
        let recorded = recorded.json();
        assert_eq!(recorded["status"], "pending", "{recorded:#}");
        assert_eq!(recorded["payments"], 1, "{recorded:#}");
        assert_eq!(recorded["references"][0]["reference"], victim[3], "{recorded:#}");
        assert_eq!(recorded["references"][0]["worker_id"], worker, "{recorded:#}");
        let rid = recorded["id"].as_str().unwrap().to_string();
        // Nor approves or rejects the return themselves: four eyes.
        for decision in ["approve", "reject"] {
            let reply = h
                .post(
                    &format!("{returns}/{rid}/{decision}"),
                    &maker,
                    &json!({"reason": "mine"}),
                )
                .await;
            assert_eq!(reply.status, 403, "{backend:?} {decision}: {}", reply.text());
            assert!(reply.text().contains("four eyes"), "{}", reply.text());
        }
        // Someone without `payouts:approve` cannot either.
        let hr = h.token("hr1", "org0", "hr_admin");
        let reply = h.post(&format!("{returns}/{rid}/approve"), &hr, &json!({})).await;
        assert_eq!(reply.status, 403, "{}", reply.text());
        let listed = h.get(&returns, &maker).await.json();
        assert_eq!(listed["returns"][0]["status"], "pending", "{listed:#}");

        // A second person approves it: the next payout pays exactly that payment, once.
        let approved = h.post(&format!("{returns}/{rid}/approve"), &checker, &json!({})).await;
        assert_eq!(approved.status, 200, "{backend:?}: {}", approved.text());
        let approved = approved.json();
        assert_eq!(
            (approved["status"].as_str(), approved["decided_by"].as_str()),
            (Some("approved"), Some("appr2")),
            "{approved:#}"
        );
        let again = h.post(&format!("{returns}/{rid}/approve"), &checker, &json!({})).await;
        assert_eq!(again.status, 409, "decided once: {}", again.text());
        let second = h.payout("org0", &run, &maker, Some("payout-2b")).await;
        assert_eq!(second.status, 201, "{backend:?}: {}", second.text());
        let second = second.json();
        let repaid = h.neft(&second, &maker).await;
        assert_eq!(repaid.len(), 1, "{repaid:?}");
        assert_eq!(
            (&repaid[0][0], &repaid[0][1], &repaid[0][2], worker_of(&repaid[0][3])),
            (&victim[0], &victim[1], &victim[2], worker.as_str()),
            "the returned payment, same account and amount"
        );
        let third = h.payout("org0", &run, &maker, Some("payout-3")).await;
        assert_eq!(third.status, 409, "paid exactly once more: {}", third.text());

        // A reference of payout 1 is no payment of payout 2: refused, naming it and its line.
        let other = second["links"]["returns"].as_str().unwrap();
        let wrong = h
            .post_csv(
                other,
                &maker,
                &format!("reference,reason\n{},Account closed\n", paid[1][3]),
            )
            .await;
        assert_eq!(wrong.status, 422, "{}", wrong.text());
        assert!(
            wrong.text().contains(&paid[1][3]) && wrong.text().contains("line 2"),
            "{}",
            wrong.text()
        );

        // Recording and approving are in the audit log, each under its person.
        let audit = h.get("/v1/orgs/org0/audit?page_size=500", &hr).await.json();
        let entries: Vec<(&str, &str)> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["target"].as_str().unwrap().ends_with(&format!("/returns/{rid}")))
            .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
            .collect();
        assert_eq!(
            entries,
            [("payout.return", "appr1"), ("payout.return_approve", "appr2")],
            "{audit:#}"
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_names_payments_of_its_payout_each_once() {
    for backend in backends() {
        let h = Harness::start(backend, DEBIT).await;
        let run = h.finalized_run().await;
        let maker = h.token("appr1", "org0", "approver");
        let admin = h.token("admin1", "org0", "org_admin");
        let first = h.payout("org0", &run, &maker, Some("payout-1")).await.json();
        let paid = h.neft(&first, &maker).await;
        let returns = first["links"]["returns"].as_str().unwrap().to_string();
        let (a, b) = (&paid[0][3], &paid[1][3]);

        // A reference of no payment of this payout refuses the whole file, naming the line.
        let reply = h
            .post_csv(
                &returns,
                &maker,
                &format!("reference,reason\n{a},Account closed\nnot-a-payment,x\n"),
            )
            .await;
        assert_eq!(reply.status, 422, "{backend:?}: {}", reply.text());
        assert!(
            reply.text().contains("line 3") && reply.text().contains("not-a-payment"),
            "{}",
            reply.text()
        );
        // Twice in one file: refused too.
        let reply = h
            .post_csv(&returns, &maker, &format!("reference,reason\n{a},x\n{a},y\n"))
            .await;
        assert_eq!(reply.status, 422, "{}", reply.text());
        assert!(reply.text().contains("line 3"), "{}", reply.text());
        // HR may not record one.
        let hr = h.token("hr1", "org0", "hr_admin");
        let reply = h.post_csv(&returns, &hr, &format!("reference,reason\n{a},x\n")).await;
        assert_eq!(reply.status, 403, "{}", reply.text());
        assert_eq!(h.get(&returns, &maker).await.json()["returns"], json!([]));

        // Recorded once: a second return naming the payment is refused, naming the first.
        let one = h
            .post_csv(&returns, &maker, &format!("reference,reason\n{a},Account closed\n"))
            .await;
        assert_eq!(one.status, 201, "{}", one.text());
        let one = one.json();
        let reply = h
            .post_csv(&returns, &maker, &format!("reference,reason\n{b},x\n{a},x\n"))
            .await;
        assert_eq!(reply.status, 422, "{}", reply.text());
        assert!(
            reply.text().contains("line 3") && reply.text().contains(a.as_str()) && reply.text().contains("return 1"),
            "{}",
            reply.text()
        );

        // Rejected by another person, with a reason: the payment is not paid again, and a
        // corrected return may name it.
        let path = format!("{returns}/{}/reject", one["id"].as_str().unwrap());
        let reply = h.post(&path, &admin, &json!({"reason": " "})).await;
        assert_eq!(reply.status, 422, "a reason is needed: {}", reply.text());
        let rejected = h
            .post(&path, &admin, &json!({"reason": "not on the bank's statement"}))
            .await;
        assert_eq!(rejected.status, 200, "{}", rejected.text());
        let rejected = rejected.json();
        assert_eq!(
            (rejected["status"].as_str(), rejected["rejection"].as_str()),
            (Some("rejected"), Some("not on the bank's statement"))
        );
        let reply = h.payout("org0", &run, &maker, Some("payout-2")).await;
        assert_eq!(
            reply.status,
            409,
            "{backend:?}: a rejected return pays nobody: {}",
            reply.text()
        );
        let two = h
            .post_csv(&returns, &maker, &format!("reference,reason\n{a},Account closed\n"))
            .await;
        assert_eq!(two.status, 201, "{}", two.text());
        assert_eq!(two.json()["seq"], 2);

        // The payout's returns, paged, first recorded first.
        let page = h.get(&format!("{returns}?page_size=1"), &admin).await.json();
        assert_eq!(page["returns"][0]["status"], "rejected", "{page:#}");
        let next = page["next_page_token"].as_str().unwrap();
        let page = h
            .get(&format!("{returns}?page_size=1&page_token={next}"), &admin)
            .await
            .json();
        assert_eq!(page["returns"][0]["status"], "pending", "{page:#}");
        assert!(page["next_page_token"].is_null(), "{page:#}");
        let bad = h.get(&format!("{returns}?page_size=0&page_token=x"), &admin).await;
        assert_eq!(bad.status, 422, "{}", bad.text());
        assert!(
            bad.text().contains("page_size") && bad.text().contains("page_token"),
            "{}",
            bad.text()
        );

        let audit = h
            .get("/v1/orgs/org0/audit?action=payout.return_reject", &hr)
            .await
            .json();
        assert_eq!(audit["entries"][0]["actor"], "admin1", "{audit:#}");
        assert_eq!(
            audit["entries"][0]["after"]["reason"], "not on the bank's statement",
            "{audit:#}"
        );
        h.stop().await;
    }
}
