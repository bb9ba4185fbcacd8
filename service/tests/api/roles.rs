//! Roles in the database: `org_admin` reads and changes what a role may do; a permission taken
//! from a role is refused on the very next request of a token already issued; every change is
//! audited; and no change may leave the org without a role that can manage roles.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_removed_is_refused_on_the_next_request_and_the_org_keeps_an_admin() {
    for backend in backends() {
        let h = Harness::start(backend, "").await;
        let admin = h.token("admin1", "org0", "org_admin");
        let approver = h.token("appr1", "org0", "approver");
        let pay = "/v1/orgs/org0/workers/W000000/pay?period=2026-10";
        h.finalized_run().await;
        assert_eq!(h.get(pay, &approver).await.status, 200);

        // The config's roles seed the org's table.
        let roles = h.get("/v1/orgs/org0/roles", &admin).await.json();
        let names: Vec<&str> = roles
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["role"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["analyst", "approver", "hr_admin", "ops_viewer", "org_admin", "worker"]
        );
        let before = h.get("/v1/orgs/org0/roles/approver", &admin).await.json();
        assert!(before["permissions"].as_array().unwrap().contains(&json!("pay:view")));

        // pay:view taken from approvers: the same token is refused on its next request.
        let without_pay = json!({"permissions": ["runs:view", "runs:approve", "adjustments:approve"]});
        let put = h
            .call(
                "PUT",
                "/v1/orgs/org0/roles/approver",
                Some(&admin),
                Some(&without_pay),
                None,
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.text());
        let refused = h.get(pay, &approver).await;
        assert_eq!(refused.status, 403);
        assert!(refused.text().contains("pay:view"), "{}", refused.text());
        // Another org's roles are its own.
        let other = h.token("admin2", "org1", "org_admin");
        let theirs = h.get("/v1/orgs/org1/roles/approver", &other).await.json();
        assert!(
            theirs["permissions"].as_array().unwrap().contains(&json!("pay:view")),
            "{theirs}"
        );

        // Audited, before and after.
        let hr = h.token("hr1", "org0", "hr_admin");
        let audit = h.get("/v1/orgs/org0/audit?action=roles.change", &hr).await.json();
        let entry = &audit["entries"][0];
        assert_eq!(
            (entry["actor"].as_str(), entry["target"].as_str()),
            (Some("admin1"), Some("roles/approver"))
        );
        assert!(
            entry["before"]["permissions"]
                .as_array()
                .unwrap()
                .contains(&json!("pay:view"))
        );
        assert!(
            !entry["after"]["permissions"]
                .as_array()
                .unwrap()
                .contains(&json!("pay:view"))
        );

        // Bad names and unknown permissions are named.
        let unknown = h
            .call(
                "PUT",
                "/v1/orgs/org0/roles/approver",
                Some(&admin),
                Some(&json!({"permissions": ["pay:everything"]})),
                None,
            )
            .await;
        assert_eq!(unknown.status, 422);
        assert!(unknown.text().contains("pay:everything"), "{}", unknown.text());
        let bad = h
            .call(
                "PUT",
                "/v1/orgs/org0/roles/Bad%20Name",
                Some(&admin),
                Some(&json!({"permissions": []})),
                None,
            )
            .await;
        assert_eq!(bad.status, 422);

        // The last role that manages roles keeps it; once another has it, it can let go.
        let nothing = json!({"permissions": []});
        let locked_out = h
            .call(
                "PUT",
                "/v1/orgs/org0/roles/org_admin",
                Some(&admin),
                Some(&nothing),
                None,
            )
            .await;
        assert_eq!(locked_out.status, 409);
        assert!(locked_out.text().contains("roles:manage"), "{}", locked_out.text());
        let security = json!({"permissions": ["roles:manage", "audit:view"]});
        assert_eq!(
            h.call(
                "PUT",
                "/v1/orgs/org0/roles/security_admin",
                Some(&admin),
                Some(&security),
                None
            )
            .await
            .status,
            200
        );
        assert_eq!(
            h.call(
                "PUT",
                "/v1/orgs/org0/roles/org_admin",
                Some(&admin),
                Some(&nothing),
                None
            )
            .await
            .status,
            200
        );
        assert_eq!(
            h.get("/v1/orgs/org0/roles", &admin).await.status,
            403,
            "org_admin no longer manages roles"
        );
        let security_admin = h.token("sec1", "org0", "security_admin");
        assert_eq!(
            h.get("/v1/orgs/org0/roles/org_admin", &security_admin).await.json()["permissions"],
            json!([])
        );
        h.stop().await;
    }
}
