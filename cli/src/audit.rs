//! `payroll audit verify`: walks the service's audit log and checks every org's hash chain, and
//! with the service's config, each chain against its signed anchors in the object store.

use std::process::ExitCode;

use anyhow::{Result, bail};
use payroll_connectors::Store;
use payroll_service::ServeConfig;
use payroll_service::anchors;
use payroll_service::db::Db;
use payroll_service::db::audit::{self, Verified};

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Check that no audit entry was edited or deleted: every entry's hash must match its
    /// contents and the entry before it, and (with --config) each chain must still hold the
    /// entries its signed anchors name, so a chain cut short or rewritten whole is found too.
    /// Exits 1 naming the first fault
    #[command(
        after_help = "Example:\n  payroll audit verify --database sqlite://payroll-data/payroll.db --config payroll.toml"
    )]
    Verify {
        /// The service's `database` URL (sqlite://... or postgres://...)
        #[arg(long, env = "PAYROLL_DATABASE")]
        database: String,
        /// Only this org's entries
        #[arg(long)]
        org: Option<String>,
        /// The service's config file: its object store holds the anchors, and its
        /// `[audit] anchor_key` (or the key generated under its data directory) signed them
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
}

pub async fn audit(command: AuditCommand) -> Result<ExitCode> {
    match command {
        AuditCommand::Verify { database, org, config } => {
            let db = Db::connect(&database).await?;
            match audit::verify(&db, org.as_deref()).await? {
                Verified::Intact { entries, orgs } => {
                    println!("audit log intact: {entries} entries of {orgs} org(s), every hash matches")
                }
                Verified::Broken { org, seq, reason } => {
                    eprintln!("audit log broken at org {org}, entry {seq}: {reason}");
                    return Ok(ExitCode::FAILURE);
                }
            }
            let Some(config) = config else {
                println!("anchors not checked: give --config, the service's config file, to check them too");
                return Ok(ExitCode::SUCCESS);
            };
            let config = ServeConfig::load(Some(&config))?;
            if config.audit.anchor_key.is_none() && !config.data.join("audit-anchor-key").exists() {
                bail!(
                    "no anchor key: neither [audit] anchor_key nor {} exists",
                    config.data.join("audit-anchor-key").display()
                );
            }
            let key = payroll_service::secrets::anchor_key(&config)?;
            let store = Store::open(&config.out())?;
            match anchors::verify(&db, &store, &key, org.as_deref()).await? {
                None => {
                    println!("every chain holds the entries its anchors name");
                    Ok(ExitCode::SUCCESS)
                }
                Some((org, why)) => {
                    eprintln!("audit log of org {org} does not hold its anchors: {why}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
