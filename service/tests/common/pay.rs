//! Pay as amounts per worker and component, to compare runs and arrears exactly.

use std::collections::BTreeMap;

use datafusion::arrow::array::RecordBatch;
use payroll_connectors::Store;
use payroll_connectors::results::{applied_ruleset, read_run};
use payroll_engine::Arrear;
use payroll_engine::arrears::{self, Paid};
use rust_decimal::Decimal;

/// (worker, component) to amount.
pub type Amounts = BTreeMap<(String, String), Decimal>;

/// Every arrears component of every worker of `results` (rows of `run`'s period), as the ruleset
/// version `run` applied names them.
pub async fn amounts(store: &Store, run: &str, results: &[RecordBatch]) -> Amounts {
    let record = read_run(store, run).await.unwrap();
    let ruleset = applied_ruleset(store, &record).await.unwrap();
    let version = ruleset.version(&record.ruleset.version).unwrap();
    // Differences against nothing paid are the amounts themselves.
    arrears::differences(version, record.period.parse().unwrap(), results, &Paid::default())
        .unwrap()
        .into_iter()
        .map(|a| ((a.worker_id, a.component), a.recomputed))
        .collect()
}

/// `now - before`, key by key, leaving out equal ones.
pub fn differences(now: &Amounts, before: &Amounts) -> Amounts {
    now.keys()
        .chain(before.keys())
        .filter_map(|key| {
            let difference = now.get(key).copied().unwrap_or_default() - before.get(key).copied().unwrap_or_default();
            (!difference.is_zero()).then(|| (key.clone(), difference))
        })
        .collect()
}

/// Arrears summed per worker and component.
pub fn by_component(arrears: &[Arrear]) -> Amounts {
    let mut sums = Amounts::new();
    for a in arrears {
        *sums.entry((a.worker_id.clone(), a.component.clone())).or_default() += a.arrear;
    }
    sums
}
