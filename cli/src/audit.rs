//! `payroll audit verify`: walks the service's audit log and checks every org's hash chain.

use std::process::ExitCode;

use anyhow::Result;
use payroll_service::db::Db;
use payroll_service::db::audit::{self, Verified};

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Check that no audit entry was edited or deleted: every entry's hash must match its
    /// contents and the entry before it. Exits 1 naming the first entry that does not
    #[command(after_help = "Example:\n  payroll audit verify --database sqlite://payroll-data/payroll.db")]
    Verify {
        /// The service's `database` URL (sqlite://... or postgres://...)
        #[arg(long, env = "PAYROLL_DATABASE")]
        database: String,
        /// Only this org's entries
        #[arg(long)]
        org: Option<String>,
    },
}

pub async fn audit(command: AuditCommand) -> Result<ExitCode> {
    match command {
        AuditCommand::Verify { database, org } => {
            let db = Db::connect(&database).await?;
            match audit::verify(&db, org.as_deref()).await? {
                Verified::Intact { entries, orgs } => {
                    println!("audit log intact: {entries} entries of {orgs} org(s), every hash matches");
                    Ok(ExitCode::SUCCESS)
                }
                Verified::Broken { org, seq, reason } => {
                    eprintln!("audit log broken at org {org}, entry {seq}: {reason}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
