//! `payroll audit verify` on a service database: says the chain is intact, or exits 1 naming
//! the first entry edited behind the service's back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use crate::common;

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

/// Anchors find what the chain alone cannot: a chain cut short (its last entries deleted) and
/// one rewritten whole with every hash computed again. Both still verify as chains.
#[tokio::test]
async fn verify_with_anchors_names_a_chain_cut_short_or_rewritten() {
    use payroll_service::anchors;
    use payroll_service::db::audit::Filter;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("payroll.db").display());
    let config_file = dir.path().join("payroll.toml");
    std::fs::write(
        &config_file,
        format!(
            "data = {:?}\nout = {:?}\n[audit]\nanchor_key = \"{}\"\n",
            dir.path().join("data"),
            dir.path().join("store"),
            "5f".repeat(8) + &"0123456789abcdef".repeat(3)
        ),
    )
    .unwrap();
    let config = payroll_service::ServeConfig::load(Some(&config_file)).unwrap();
    let db = Db::connect(&url).await.unwrap();
    let roles = vec!["hr_admin".to_string()];
    let actor = Actor {
        sub: "hr1",
        roles: &roles,
        request_id: "req-1",
    };
    for org in ["org0", "org1"] {
        for target in ["runs/r1", "runs/r2", "payouts/p1"] {
            audit::append(&db, org, &actor, Action::RunTrigger, target, None, None)
                .await
                .unwrap();
        }
    }
    let store = payroll_connectors::Store::open(&config.out()).unwrap();
    let key = payroll_service::secrets::anchor_key(&config).unwrap();
    let anchored = anchors::publish(&db, &store, &key, chrono::Utc::now()).await.unwrap();
    assert_eq!(anchored, 2, "each org's head");
    let config_arg = config_file.display().to_string();
    let verify = |org: &str| {
        payroll(&[
            "audit",
            "verify",
            "--database",
            &url,
            "--org",
            org,
            "--config",
            &config_arg,
        ])
    };
    let holds = verify("org0");
    assert!(holds.status.success(), "{}", String::from_utf8_lossy(&holds.stderr));
    assert!(String::from_utf8_lossy(&holds.stdout).contains("every chain holds"));

    // org0's last entry deleted: still a chain, but shorter than its anchor.
    sqlx::query("DELETE FROM audit_log WHERE org_id = 'org0' AND seq = 3")
        .execute(db.pool())
        .await
        .unwrap();
    let cut = verify("org0");
    assert_eq!(cut.status.code(), Some(1));
    let said = String::from_utf8_lossy(&cut.stdout);
    assert!(said.contains("intact: 2 entries"), "the chain alone holds: {said}");
    let said = String::from_utf8_lossy(&cut.stderr);
    assert!(said.contains("org org0") && said.contains("cut short"), "{said}");

    // org1's second entry edited and every hash after it computed again.
    let (mut entries, _) = audit::list(&db, "org1", &Filter::default(), 100).await.unwrap();
    entries[1].target = "payouts/p9".into();
    for i in 1..entries.len() {
        entries[i].prev_hash = entries[i - 1].hash.clone();
        entries[i].hash = entries[i].computed_hash();
        sqlx::query("UPDATE audit_log SET target = $1, prev_hash = $2, hash = $3 WHERE org_id = 'org1' AND seq = $4")
            .bind(&entries[i].target)
            .bind(&entries[i].prev_hash)
            .bind(&entries[i].hash)
            .bind(entries[i].seq)
            .execute(db.pool())
            .await
            .unwrap();
    }
    let rewritten = verify("org1");
    assert_eq!(rewritten.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&rewritten.stdout).contains("intact: 3 entries"));
    let said = String::from_utf8_lossy(&rewritten.stderr);
    assert!(said.contains("org org1") && said.contains("rewritten"), "{said}");
}
