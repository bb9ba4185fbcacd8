//! The insights of an org: each period's figures, per site and in total, are the sums of the
//! results of the run the period shows (the locking final run, else the latest calculated), to
//! the paisa, and October's agree with `expected.csv`; the change is from the period before;
//! the heatmap counts the same days as the results; and an analyst reads no figure built from
//! fewer than 5 workers, in JSON or CSV.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use std::collections::BTreeMap;

use crate::common;

use common::*;
use rust_decimal::Decimal;
use serde_json::Value;

/// Sums of a run's results rows per site: headcount, gross, net, employer cost, OT hours, LOP
/// days and present days, as the results endpoint answers them.
async fn sums_per_site(h: &Harness, run: &str, token: &str) -> BTreeMap<String, [Decimal; 7]> {
    let page = h
        .get(&format!("/v1/orgs/org0/runs/{run}/results?page_size=1000"), token)
        .await
        .json();
    let mut sums: BTreeMap<String, [Decimal; 7]> = BTreeMap::new();
    for row in page["rows"].as_array().unwrap() {
        let sum = sums.entry(row["site_id"].as_str().unwrap().to_string()).or_default();
        sum[0] += Decimal::ONE;
        for (i, column) in [
            "gross",
            "net_pay",
            "employer_cost",
            "ot_hours",
            "lop_days",
            "present_days",
        ]
        .iter()
        .enumerate()
        {
            sum[i + 1] += decimal(&row[column]);
        }
    }
    sums
}

fn decimal(value: &Value) -> Decimal {
    match value {
        Value::String(s) => s.parse().unwrap(),
        Value::Number(n) => n.to_string().parse().unwrap(),
        other => panic!("not a figure: {other}"),
    }
}

fn figures(cells: &Value) -> [Decimal; 6] {
    [
        Decimal::from(cells["headcount"].as_i64().unwrap()),
        decimal(&cells["gross"]),
        decimal(&cells["net"]),
        decimal(&cells["employer_cost"]),
        decimal(&cells["ot_hours"]),
        decimal(&cells["lop_days"]),
    ]
}

/// A site of two workers in org0, S04, beside the sample's four (8 to 15 workers each).
fn add_a_small_site(h: &Harness) {
    let inputs = h.dir.path().join("inputs");
    append(&inputs, "sites.csv", &["S04,org0,Site MH-04,MH,Asia/Kolkata,SUN"]);
    append(
        &inputs,
        "workers.csv",
        &[
            "W000901,org0,S04,Worker 901,F,MH,unskilled,Unskilled Worker,daily,783.00,false,false,100000000901,3100000901,828675067901,SBIN0001234,ABCDE0901F,2024-02-15,",
            "W000902,org0,S04,Worker 902,M,MH,unskilled,Unskilled Worker,daily,815.00,false,false,100000000902,3100000902,828675067902,SBIN0001234,ABCDE0902F,2024-02-15,",
        ],
    );
    append(
        &inputs,
        "attendance.ndjson",
        &[
            r#"{"event_id": "s04-1", "worker_id": "W000901", "ts": "2026-10-05T03:30:00Z", "direction": "in"}"#,
            r#"{"event_id": "s04-2", "worker_id": "W000901", "ts": "2026-10-05T12:30:00Z", "direction": "out"}"#,
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insights_are_the_results_summed_per_period_and_site_and_small_sites_are_withheld_from_analysts() {
    for backend in backends() {
        let h = Harness::start(backend, "").await;
        add_a_small_site(&h);
        let hr = h.token("hr1", "org0", "hr_admin");
        let analyst = h.token("an1", "org0", "analyst");
        let empty = h.get("/v1/orgs/org0/insights", &hr).await;
        assert_eq!(empty.status, 200, "{}", empty.text());
        assert_eq!(empty.json()["periods"], serde_json::json!([]));

        let october = h.finalized_run().await;
        let november = h.trigger("org0", &hr, "2026-11", "provisional", "november").await;
        h.wait("org0", &november, &hr, "calculated").await;

        let reply = h.get("/v1/orgs/org0/insights?from=2026-09&heatmap=2026-10", &hr).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let body = reply.json();
        assert_eq!(body["until"], "2026-11", "the newest period with a run");
        let periods = body["periods"].as_array().unwrap();
        assert_eq!(periods.len(), 2, "September has no run: {body:#}");
        assert_eq!(
            (
                &periods[0]["period"],
                &periods[0]["run_id"],
                &periods[0]["locked"],
                &periods[0]["run_kind"]
            ),
            (
                &Value::from("2026-10"),
                &Value::from(october.as_str()),
                &Value::from(true),
                &Value::from("final")
            )
        );
        assert_eq!(
            (&periods[1]["run_id"], &periods[1]["locked"], &periods[1]["run_kind"]),
            (
                &Value::from(november.as_str()),
                &Value::from(false),
                &Value::from("provisional")
            )
        );

        for (period, run) in periods.iter().zip([&october, &november]) {
            let sums = sums_per_site(&h, run, &hr).await;
            let sites = period["sites"].as_array().unwrap();
            assert_eq!(sites.len(), sums.len(), "{period:#}");
            let mut total = [Decimal::ZERO; 6];
            for site in sites {
                let want = &sums[site["site_id"].as_str().unwrap()];
                assert_eq!(figures(site), want[..6], "{} of {}", site["site_id"], period["period"]);
                for (t, w) in total.iter_mut().zip(&want[..6]) {
                    *t += w;
                }
            }
            assert_eq!(figures(&period["total"]), total, "{period:#}");
        }
        // Worked out apart from the engine: October's net per sample site from expected.csv.
        let site_of: BTreeMap<String, String> = csv_rows(&sample().join("workers.csv"))
            .into_iter()
            .map(|r| (r["worker_id"].clone(), r["site_id"].clone()))
            .collect();
        let mut expected_net: BTreeMap<String, Decimal> = BTreeMap::new();
        for row in csv_rows(&sample().join("expected.csv")) {
            if row["org_id"] == "org0" {
                *expected_net.entry(site_of[&row["worker_id"]].clone()).or_default() +=
                    row["net_pay"].parse::<Decimal>().unwrap();
            }
        }
        for site in periods[0]["sites"].as_array().unwrap() {
            if let Some(net) = expected_net.get(site["site_id"].as_str().unwrap()) {
                assert_eq!(decimal(&site["net"]), *net, "{site:#}");
            }
        }
        // November's change is from October.
        let change = &periods[1]["total"]["change"];
        assert_eq!(
            decimal(&change["net"]),
            decimal(&periods[1]["total"]["net"]) - decimal(&periods[0]["total"]["net"])
        );
        assert_eq!(
            change["headcount"].as_i64().unwrap(),
            periods[1]["total"]["headcount"].as_i64().unwrap() - periods[0]["total"]["headcount"].as_i64().unwrap()
        );
        assert!(periods[0]["total"].get("change").is_none(), "no run before October");

        // The heatmap's days attended per site are the results' present days.
        let heatmap = &body["heatmap"];
        assert_eq!(heatmap["period"], "2026-10");
        let sums = sums_per_site(&h, &october, &hr).await;
        for site in heatmap["sites"].as_array().unwrap() {
            let days = site["days"].as_array().unwrap();
            assert_eq!(days.len(), 31, "{site:#}");
            let attended: Decimal = days.iter().map(|d| decimal(&d["attended"])).sum();
            assert_eq!(
                attended,
                sums[site["site_id"].as_str().unwrap()][6],
                "{}",
                site["site_id"]
            );
        }
        let s04 = periods[0]["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["site_id"] == "S04")
            .unwrap();
        assert_eq!(s04["headcount"], 2, "HR sees the small site: {s04:#}");

        // An analyst: S04 (2 workers) is withheld, and with it the smallest other site (8, S01
        // before S03 by name), or the total less the others would show it.
        let reply = h
            .get(
                "/v1/orgs/org0/insights?from=2026-10&until=2026-10&heatmap=2026-10",
                &analyst,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let seen = reply.json();
        let october_seen = &seen["periods"][0];
        for site in october_seen["sites"].as_array().unwrap() {
            let id = site["site_id"].as_str().unwrap();
            let withheld = matches!(id, "S04" | "S01");
            assert_eq!(site["withheld"].is_string(), withheld, "{site:#}");
            for cell in [
                "headcount",
                "gross",
                "net",
                "employer_cost",
                "ot_hours",
                "lop_days",
                "attendance_rate",
            ] {
                assert_eq!(site[cell].is_null(), withheld, "{id} {cell}: {site:#}");
            }
        }
        assert!(
            october_seen["total"]["net"].is_string(),
            "the total of 43 workers is shown"
        );
        for site in seen["heatmap"]["sites"].as_array().unwrap() {
            for day in site["days"].as_array().unwrap() {
                assert_eq!(day["workers"].is_null(), site["site_id"] == "S04", "{day}");
            }
        }
        let hidden = h
            .get("/v1/orgs/org0/insights.csv?from=2026-10&until=2026-10", &analyst)
            .await;
        assert_eq!(hidden.status, 200, "{}", hidden.text());
        let line = hidden.text().lines().find(|l| l.contains(",S04,")).unwrap().to_string();
        assert!(line.starts_with(&format!("2026-10,{october},S04,,,,,,,,")), "{line}");
        assert!(line.contains("fewer than 5 workers"), "{line}");
        let shown = h
            .get("/v1/orgs/org0/insights.csv?from=2026-10&until=2026-10", &hr)
            .await
            .text();
        assert!(shown.starts_with(
            "period,run_id,site_id,headcount,gross,net,employer_cost,ot_hours,lop_days,attendance_rate,withheld\n"
        ));
        assert!(shown.contains(&format!("2026-10,{october},S04,2,")), "{shown}");
        let heat = h
            .get("/v1/orgs/org0/insights.csv?table=heatmap&heatmap=2026-10", &hr)
            .await
            .text();
        assert_eq!(heat.lines().count(), 1 + 5 * 31, "{heat}");

        let bad = h.get("/v1/orgs/org0/insights?from=2026-13", &hr).await;
        assert_eq!(bad.status, 422, "{}", bad.text());
        let long = h.get("/v1/orgs/org0/insights?from=2020-01&until=2026-10", &hr).await;
        assert_eq!(long.status, 422, "{}", long.text());
        assert!(long.text().contains("at most 36"), "{}", long.text());
        h.stop().await;
    }
}

fn csv_rows(path: &std::path::Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            headers
                .iter()
                .map(str::to_string)
                .zip(r.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}
