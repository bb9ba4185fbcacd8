//! `payroll audit verify` on a service database: says the chain is intact, or exits 1 naming
//! the first entry edited behind the service's back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

mod common;

use common::payroll;
use payroll_service::db::Db;
use payroll_service::db::audit::{self, Action, Actor};

#[tokio::test]
async fn verify_names_the_first_edited_entry() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("payroll.db").display());
    let db = Db::connect(&url).await.unwrap();
    let roles = vec!["hr_admin".to_string()];
    let actor = Actor {
        sub: "hr1",
        roles: &roles,
        request_id: "req-1",
    };
    for org in ["org0", "org1"] {
        for target in ["runs/r1", "runs/r2", "schedule"] {
            audit::append(&db, org, &actor, Action::RunTrigger, target, None, None)
                .await
                .unwrap();
        }
    }
    let verify = || payroll(&["audit", "verify", "--database", &url]);
    let intact = verify();
    assert!(intact.status.success());
    let said = String::from_utf8_lossy(&intact.stdout);
    assert!(said.contains("intact: 6 entries of 2 org(s)"), "{said}");

    sqlx::query("UPDATE audit_log SET target = 'runs/r9' WHERE org_id = 'org1' AND seq = 2")
        .execute(db.pool())
        .await
        .unwrap();
    let broken = verify();
    assert_eq!(broken.status.code(), Some(1));
    let said = String::from_utf8_lossy(&broken.stderr);
    assert!(said.contains("org org1, entry 2") && said.contains("edited"), "{said}");
}
