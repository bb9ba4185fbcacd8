//! The worker master as it is now, without folding a period's events: what a payout pays to.
//! Files mode reads the folder's `sites.csv` and `workers.csv`; stream mode merges the state's
//! latest checkpoints, whose ledger holds the `workers` topic as folded so far.

use payroll_connectors::checkpoints::Checkpoints;
use payroll_connectors::{DeadLetters, Store, files};
use payroll_engine::Ledger;

use crate::error::Result;
use crate::run::Source;

/// The current master of `source`. Refused rows are left out (the run's dead letters name them).
pub async fn current(source: &Source) -> Result<Ledger> {
    match source {
        Source::Folder(dir) => {
            let sites = files::read_sites(&dir.join("sites.csv"))?;
            let mut ledger = Ledger::new(sites);
            let path = dir.join("workers.csv");
            let bytes = std::fs::read(&path).map_err(|e| payroll_connectors::Error::io(path.display(), e))?;
            files::fold_workers(&path, &bytes, &mut ledger, &mut DeadLetters::default())?;
            Ok(ledger)
        }
        Source::State { url, sites } => {
            let sites = Ledger::new(files::read_sites(sites)?);
            let merged = Checkpoints::open(Store::open(url)?)?.merged(&sites).await?;
            Ok(merged.ledger)
        }
    }
}
