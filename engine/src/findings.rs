//! A run's findings: what its checks say about each worker, for an approver to look at before
//! anyone is paid. The ruleset's checks ([`payroll_rules::Check`]) read one worker's row and
//! their value last period; the checks here, built in, read the whole run, because no row sees
//! two workers paid into one bank account.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, UInt32Array, new_null_array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionContext;
use payroll_rules::vocabulary::PayPeriod;
use payroll_rules::{BuiltIn, CompiledVersion, Severity};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::master::Worker;
use crate::parallel::map_in_order;

/// One finding: a check that fired for a worker, with its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub org_id: String,
    pub worker_id: String,
    pub check: String,
    pub severity: Severity,
    pub message: String,
}

/// The org's last finalized period as the checks read it: each worker's value of every
/// component a check names as `prev_<component>`, and net pay for the built-in checks.
pub struct Previous {
    /// The `prev_` columns, one row per worker of that run.
    columns: Vec<(Field, ArrayRef)>,
    rows: HashMap<String, u32>,
    /// Each worker's net pay then.
    pub nets: BTreeMap<String, Decimal>,
}

impl Previous {
    /// No finalized period before this one: every `prev_` value is NULL.
    pub fn none() -> Previous {
        Previous {
            columns: Vec::new(),
            rows: HashMap::new(),
            nets: BTreeMap::new(),
        }
    }

    /// From the results of the org's last finalized run; `net` names its net pay component.
    pub fn of(version: &CompiledVersion, results: &[RecordBatch], net: Option<&str>) -> Result<Previous> {
        let mut previous = Previous::none();
        let wanted = version.prev_columns();
        let mut columns: Vec<Vec<ArrayRef>> = vec![Vec::new(); wanted.len()];
        let mut row = 0u32;
        for batch in results {
            let Some(ids) = batch.column_by_name("worker_id").and_then(|c| c.as_string_opt::<i32>()) else {
                continue;
            };
            for (i, id) in ids.iter().enumerate() {
                if let Some(id) = id {
                    previous.rows.insert(id.to_string(), row + i as u32);
                }
            }
            row += batch.num_rows() as u32;
            for ((_, component, data_type), out) in wanted.iter().zip(&mut columns) {
                // A component the earlier ruleset did not have (or had of another type) is NULL.
                let column = batch
                    .column_by_name(component)
                    .filter(|c| c.data_type() == data_type)
                    .map_or_else(|| new_null_array(data_type, batch.num_rows()), Arc::clone);
                out.push(column);
            }
            if let Some(net) = net {
                previous.nets.extend(nets(batch, net));
            }
        }
        for ((name, _, data_type), parts) in wanted.into_iter().zip(columns) {
            let parts: Vec<&dyn Array> = parts.iter().map(AsRef::as_ref).collect();
            let column = match parts.is_empty() {
                true => new_null_array(&data_type, 0),
                false => datafusion::arrow::compute::concat(&parts)?,
            };
            previous.columns.push((Field::new(name, data_type, true), column));
        }
        Ok(previous)
    }

    /// `results` with the `prev_` columns the checks read, aligned by worker id (NULL for a
    /// worker not in the earlier run).
    fn beside(&self, version: &CompiledVersion, results: &RecordBatch) -> Result<RecordBatch> {
        let ids = worker_ids(results)?;
        let index: UInt32Array = ids
            .iter()
            .map(|id| id.and_then(|id| self.rows.get(id).copied()))
            .collect();
        let mut fields: Vec<Arc<Field>> = results.schema().fields().iter().cloned().collect();
        let mut columns: Vec<ArrayRef> = results.columns().to_vec();
        for (name, _, data_type) in version.prev_columns() {
            let column = match self.columns.iter().find(|(f, _)| *f.name() == name) {
                Some((_, values)) => take(values.as_ref(), &index, None)?,
                None => new_null_array(&data_type, results.num_rows()),
            };
            fields.push(Arc::new(Field::new(name, data_type, true)));
            columns.push(column);
        }
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
    }
}

/// Each worker's `net` component in a batch of results (none if the batch has no such amount).
pub fn nets<'a>(results: &'a RecordBatch, net: &str) -> impl Iterator<Item = (String, Decimal)> + 'a {
    let ids = results
        .column_by_name("worker_id")
        .and_then(|c| c.as_string_opt::<i32>());
    let values = results.column_by_name(net);
    (0..results.num_rows()).filter_map(move |row| {
        let (ids, values) = (ids?, values?);
        let id = ids.is_valid(row).then(|| ids.value(row))?;
        Some((id.to_string(), decimal(values, row)?))
    })
}

/// The findings of the ruleset's checks over one batch of a run's results.
pub async fn of_rows(
    ctx: &SessionContext,
    version: &CompiledVersion,
    results: &RecordBatch,
    previous: &Previous,
) -> Result<Vec<Finding>> {
    if version.checks.is_empty() || results.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let batch = previous.beside(version, results)?;
    let evaluated = version.check_columns(ctx.read_batch(batch)?)?.collect().await?;
    let mut findings = Vec::new();
    for batch in &evaluated {
        let ids = worker_ids(batch)?;
        let orgs = text_column(batch, "org_id")?;
        for check in &version.checks {
            let Some(fired) = batch.column_by_name(&check.name).and_then(|c| c.as_boolean_opt()) else {
                continue;
            };
            for row in (0..batch.num_rows()).filter(|&r| fired.is_valid(r) && fired.value(r)) {
                let message = check.message.render(|column| shown(batch, column, row));
                findings.push(Finding {
                    org_id: orgs.value(row).to_string(),
                    worker_id: ids.value(row).to_string(),
                    check: check.name.clone(),
                    severity: check.severity,
                    message,
                });
            }
        }
    }
    Ok(findings)
}

/// A value as a message quotes it: amounts to the paisa, `none` for NULL.
fn shown(batch: &RecordBatch, column: &str, row: usize) -> String {
    match batch.column_by_name(column) {
        Some(c) if c.is_valid(row) => array_value_to_string(c, row).unwrap_or_default(),
        _ => "none".to_string(),
    }
}

fn worker_ids(batch: &RecordBatch) -> Result<&StringArray> {
    text_column(batch, "worker_id")
}

fn text_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| DataFusionError::Execution(format!("results without a text column `{name}`")).into())
}

/// A decimal cell as a `Decimal`; `None` for NULL, another type, or a value no `Decimal` holds.
fn decimal(array: &ArrayRef, row: usize) -> Option<Decimal> {
    match array.data_type() {
        DataType::Decimal128(_, scale) if array.is_valid(row) => crate::money::decimal(
            array
                .as_primitive::<datafusion::arrow::datatypes::Decimal128Type>()
                .value(row),
            *scale,
        ),
        _ => None,
    }
}

/// What the built-in checks read of one worker of the run: their master record, and their net
/// pay in it (`None`: a worker error left them out of the results).
pub struct Paid<'a> {
    pub worker: &'a Worker,
    pub net: Option<Decimal>,
}

/// How many other workers a finding names before "and N more".
const NAMED: usize = 5;

/// The built-in checks, over the whole run of one org (`run`: its workers) (see [`BuiltIn`]): a bank account (account
/// and IFSC), PAN or UAN of two or more workers; a worker new this period paid above the run's
/// 99th percentile of its established workers' net pay; a worker paid in the last finalized
/// period and absent now.
pub fn across(org: &str, run: &[Paid<'_>], period: PayPeriod, previous: &Previous) -> Vec<Finding> {
    // The three shared-identifier checks each group a million workers: on cores of their own.
    let shared_checks: [&(dyn Fn() -> Vec<Finding> + Sync); 3] = [
        &|| {
            shared(
                BuiltIn::SharedBankAccount,
                run,
                |w| Some((identifier(w.bank_account.reveal())?, identifier(&w.ifsc)?)),
                |w| format!("bank account {} (IFSC {})", w.bank_account.masked(), w.ifsc),
            )
        },
        &|| {
            shared(
                BuiltIn::SharedPan,
                run,
                |w| identifier(w.pan.reveal()),
                |w| format!("PAN {}", w.pan.masked()),
            )
        },
        &|| {
            shared(
                BuiltIn::SharedUan,
                run,
                |w| identifier(&w.uan),
                |w| format!("UAN {}", w.uan),
            )
        },
    ];
    let mut findings = map_in_order(shared_checks, |check| check()).concat();

    // New: joined this period and not paid in the last finalized one; compared with the org's
    // established workers, the yardstick a newcomer's own pay is not part of.
    let new = |paid: &Paid| {
        paid.worker.joined_on >= period.first_day() && !previous.nets.contains_key(paid.worker.worker_id.as_str())
    };
    let mut nets: Vec<Decimal> = run.iter().filter(|p| !new(p)).filter_map(|p| p.net).collect();
    nets.sort_unstable();
    if let Some(p99) = nearest_rank(&nets, 99) {
        for paid in run {
            if let (true, Some(net)) = (new(paid), paid.net)
                && net > p99
            {
                findings.push(Finding {
                    org_id: paid.worker.org_id.to_string(),
                    worker_id: paid.worker.worker_id.to_string(),
                    check: BuiltIn::NewAboveP99.name().to_string(),
                    severity: BuiltIn::NewAboveP99.severity(),
                    message: format!("new this period and paid {net:.2}, above the org's 99th percentile of {p99:.2}"),
                });
            }
        }
    }

    // Only when there was a last period: a set of a million workers' ids is not free.
    let present: std::collections::HashSet<&str> = if previous.nets.is_empty() {
        Default::default()
    } else {
        run.iter().map(|p| p.worker.worker_id.as_str()).collect()
    };
    for (worker, net) in &previous.nets {
        if *net > Decimal::ZERO && !present.contains(worker.as_str()) {
            findings.push(Finding {
                org_id: org.to_string(),
                worker_id: worker.clone(),
                check: BuiltIn::AbsentSinceLastPeriod.name().to_string(),
                severity: BuiltIn::AbsentSinceLastPeriod.severity(),
                message: format!("paid {net:.2} in the last finalized period, and not in this run"),
            });
        }
    }
    findings
}

/// A finding for each worker whose `key` (an identifier: bank account, PAN, UAN) other workers
/// of the run have too, naming them, group by group in the keys' order.
fn shared<'w, K: Hash + Ord + Clone>(
    check: BuiltIn,
    run: &[Paid<'w>],
    key: impl Fn(&'w Worker) -> Option<K>,
    shown: impl Fn(&Worker) -> String,
) -> Vec<Finding> {
    shared_hashed(check, run, key, shown, &foldhash::fast::RandomState::default())
}

/// [`shared`], with keys hashed by `hasher`.
fn shared_hashed<'w, K: Hash + Ord + Clone>(
    check: BuiltIn,
    run: &[Paid<'w>],
    key: impl Fn(&'w Worker) -> Option<K>,
    shown: impl Fn(&Worker) -> String,
    hasher: &impl BuildHasher,
) -> Vec<Finding> {
    // The workers sorted by their key's hash, and each run of one hash told apart by key; then
    // the groups of two or more in their keys' order. A B-tree of a million workers' keys
    // spent seconds in cache misses, and a hash table of them, with a vector per key, most of
    // a second.
    let mut hashed: Vec<(u64, usize)> = run
        .iter()
        .enumerate()
        .filter_map(|(at, paid)| Some((hasher.hash_one(key(paid.worker)?), at)))
        .collect();
    hashed.sort_unstable();
    let mut groups: Vec<(K, Vec<&Worker>)> = Vec::new();
    for same_hash in hashed.chunk_by(|a, b| a.0 == b.0).filter(|same| same.len() > 1) {
        // In the run's order (the sort above kept it within a hash), and nearly always of one
        // key.
        let mut keyed: Vec<(K, &Worker)> = same_hash
            .iter()
            .filter_map(|&(_, at)| Some((key(run[at].worker)?, run[at].worker)))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        for group in keyed.chunk_by(|a, b| a.0 == b.0).filter(|group| group.len() > 1) {
            groups.push((group[0].0.clone(), group.iter().map(|(_, worker)| *worker).collect()));
        }
    }
    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut findings = Vec::new();
    for (_, workers) in &groups {
        for worker in workers {
            let others: Vec<&str> = workers
                .iter()
                .filter(|w| w.worker_id != worker.worker_id)
                .map(|w| w.worker_id.as_str())
                .collect();
            let more = match others.len().saturating_sub(NAMED) {
                0 => String::new(),
                more => format!(" and {more} more"),
            };
            findings.push(Finding {
                org_id: worker.org_id.to_string(),
                worker_id: worker.worker_id.to_string(),
                check: check.name().to_string(),
                severity: check.severity(),
                message: format!(
                    "{} is also {}'s{more}",
                    shown(worker),
                    others[..others.len().min(NAMED)].join(", ")
                ),
            });
        }
    }
    findings
}

/// An identifier as the checks compare it: trimmed, in capitals (`abcde1234f` is `ABCDE1234F`);
/// borrowed when it is written so already, as masters mostly write them. `None` when blank.
fn identifier(text: &str) -> Option<Cow<'_, str>> {
    let text = text.trim();
    if text.is_empty() {
        None
    } else if text.bytes().any(|b| b.is_ascii_lowercase()) {
        Some(Cow::Owned(text.to_ascii_uppercase()))
    } else {
        Some(Cow::Borrowed(text))
    }
}

/// The `p`th percentile of sorted `values`, nearest rank: the smallest value at least `p` % of
/// the values are at or below.
fn nearest_rank(sorted: &[Decimal], p: usize) -> Option<Decimal> {
    let rank = (sorted.len() * p).div_ceil(100);
    sorted.get(rank.checked_sub(1)?).copied()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use datafusion::arrow::array::Decimal128Array;
    use payroll_rules::Ruleset;

    use super::*;

    const OCTOBER: PayPeriod = PayPeriod { year: 2026, month: 10 };

    fn worker(id: &str, account: &str, pan: &str, uan: &str, joined_on: &str) -> Worker {
        Worker::decode_json(
            format!(
                r#"{{"worker_id": "{id}", "org_id": "org0", "site_id": "S1", "name": "Asha", "gender": "F",
                "state": "KA", "skill": "skilled", "pay_basis": "daily", "rate": "650.00", "pf_applicable": true,
                "esi_applicable": false, "bank_account": "{account}", "ifsc": "SBIN0001234", "pan": "{pan}",
                "uan": "{uan}", "joined_on": "{joined_on}"}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    fn rupees(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn of(findings: &[Finding], check: &str) -> Vec<(String, String)> {
        findings
            .iter()
            .filter(|f| f.check == check)
            .map(|f| (f.worker_id.clone(), f.message.clone()))
            .collect()
    }

    #[test]
    fn workers_sharing_an_account_pan_or_uan_are_each_named_without_the_account() {
        let a = worker("W1", "494833411340", "ABCDE1234F", "100000000001", "2025-01-01");
        let b = worker("W2", " 494833411340", "ABCDE9999F", "100000000001", "2025-01-01");
        let c = worker("W3", "111122223333", "ABCDE1234F", "100000000003", "2025-01-01");
        let run: Vec<Paid> = [&a, &b, &c]
            .into_iter()
            .map(|worker| Paid {
                worker,
                net: Some(rupees("1000.00")),
            })
            .collect();
        let findings = across("org0", &run, OCTOBER, &Previous::none());
        let accounts = of(&findings, "shared_bank_account");
        assert_eq!(accounts.len(), 2, "{findings:#?}");
        assert_eq!(accounts[0].0, "W1");
        assert!(accounts[0].1.ends_with("is also W2's"), "{}", accounts[0].1);
        assert!(!accounts[0].1.contains("494833411340"), "{}", accounts[0].1);
        let pans: Vec<String> = of(&findings, "shared_pan").into_iter().map(|f| f.0).collect();
        assert_eq!(pans, ["W1", "W3"]);
        assert!(!findings.iter().any(|f| f.message.contains("ABCDE1234F")));
        assert_eq!(of(&findings, "shared_uan").len(), 2);
        assert!(
            findings
                .iter()
                .all(|f| f.severity == Severity::Block && f.org_id == "org0")
        );
    }

    /// A hash every key shares.
    #[derive(Default)]
    struct Collides;

    impl std::hash::Hasher for Collides {
        fn finish(&self) -> u64 {
            0
        }

        fn write(&mut self, _: &[u8]) {}
    }

    #[test]
    fn keys_sharing_a_hash_are_told_apart() {
        let workers: Vec<Worker> = (0..40)
            .map(|i| {
                let uan = format!("1000000000{:02}", (i * 7) % 13);
                worker(&format!("W{i:02}"), &format!("9000000{i:05}"), "", &uan, "2025-01-01")
            })
            .collect();
        let run: Vec<Paid> = workers.iter().map(|worker| Paid { worker, net: None }).collect();
        fn shared_uans(run: &[Paid], hasher: &impl BuildHasher) -> Vec<(String, String)> {
            let findings = shared_hashed(
                BuiltIn::SharedUan,
                run,
                |w| identifier(&w.uan),
                |w| format!("UAN {}", w.uan),
                hasher,
            );
            of(&findings, "shared_uan")
        }
        let hashed = shared_uans(&run, &foldhash::fast::RandomState::default());
        let collided = shared_uans(&run, &std::hash::BuildHasherDefault::<Collides>::default());
        assert_eq!(hashed, collided);
        // Thirteen keys, three or four workers each, the groups in the keys' order.
        assert_eq!(hashed.len(), 40);
        assert_eq!(
            hashed[0],
            (
                "W00".to_string(),
                "UAN 100000000000 is also W13, W26, W39's".to_string()
            )
        );
        assert_eq!(hashed[4].0, "W02");
    }

    #[test]
    fn a_new_worker_above_the_99th_percentile_and_a_worker_gone_since_last_period() {
        let workers: Vec<Worker> = (0..100)
            .map(|i| worker(&format!("W{i:03}"), &format!("9000000{i:05}"), "", "", "2025-01-01"))
            .collect();
        let newcomer = worker("N1", "800000000001", "", "", "2026-10-10");
        let mut run: Vec<Paid> = workers
            .iter()
            .map(|worker| Paid {
                worker,
                net: Some(rupees("10000.00")),
            })
            .collect();
        run.push(Paid {
            worker: &newcomer,
            net: Some(rupees("10000.01")),
        });
        let mut previous = Previous::none();
        previous.nets.insert("GONE".to_string(), rupees("9000.00"));
        previous.nets.insert("UNPAID".to_string(), Decimal::ZERO);
        let findings = across("org0", &run, OCTOBER, &previous);
        assert_eq!(
            of(&findings, "new_worker_above_p99"),
            [(
                "N1".to_string(),
                "new this period and paid 10000.01, above the org's 99th percentile of 10000.00".to_string()
            )]
        );
        let gone = of(&findings, "absent_since_last_period");
        assert_eq!(gone.len(), 1, "{findings:#?}");
        assert_eq!(gone[0].0, "GONE");
        // Paid as much as the percentile is not above it.
        run.last_mut().unwrap().net = Some(rupees("10000.00"));
        assert!(of(&across("org0", &run, OCTOBER, &previous), "new_worker_above_p99").is_empty());
    }

    #[test]
    fn nearest_rank_takes_the_value_at_or_above_the_share() {
        let values: Vec<Decimal> = (1..=200).map(Decimal::from).collect();
        assert_eq!(nearest_rank(&values, 99), Some(Decimal::from(198)));
        assert_eq!(nearest_rank(&values[..1], 99), Some(Decimal::ONE));
        assert_eq!(nearest_rank(&[], 99), None);
    }

    #[tokio::test]
    async fn a_check_reads_the_row_and_last_periods_value_and_quotes_them() {
        let text = r#"
name = "t"
version = "1"
effective_from = "2026-01-01"

[[component]]
name = "net_pay"
category = "total"
expr = "rate * present_days"

[[check]]
name = "moved"
severity = "warn"
when = "net_pay > prev_net_pay * 1.5"
message = "net pay {net_pay} against {prev_net_pay}"
"#;
        let ruleset = Ruleset::parse(text, Path::new("t.toml")).unwrap();
        let version = &ruleset.versions[0];
        let net_type = version.component("net_pay").unwrap().data_type.clone();
        let this = results(&net_type, &[("W1", 300_000), ("W2", 100_000), ("W3", 500_000)]);
        let last = results(&net_type, &[("W1", 100_000), ("W2", 100_000)]);
        let previous = Previous::of(version, &[last], Some("net_pay")).unwrap();
        let ctx = SessionContext::new();
        let findings = of_rows(&ctx, version, &this, &previous).await.unwrap();
        // W1: 3000 > 1500 fires; W2: 1000 does not; W3 was not paid last period (NULL).
        assert_eq!(
            findings,
            [Finding {
                org_id: "org0".into(),
                worker_id: "W1".into(),
                check: "moved".into(),
                severity: Severity::Warn,
                message: format!(
                    "net pay {} against {}",
                    shown_net(&net_type, 300_000),
                    shown_net(&net_type, 100_000)
                ),
            }]
        );
        assert_eq!(previous.nets.get("W2"), Some(&rupees("1000.00")));
    }

    /// Net pay in paise as a message quotes a value of `net_type`.
    fn shown_net(net_type: &DataType, paise: i128) -> String {
        let DataType::Decimal128(_, scale) = *net_type else {
            panic!("net pay is {net_type}")
        };
        Decimal::from_i128_with_scale(paise * 10i128.pow(u32::from(scale as u8) - 2), u32::from(scale as u8))
            .to_string()
    }

    /// Results of org0's `(worker, net pay in paise)`, net pay of `net_type`.
    fn results(net_type: &DataType, rows: &[(&str, i128)]) -> RecordBatch {
        let DataType::Decimal128(precision, scale) = *net_type else {
            panic!("net pay is {net_type}")
        };
        let ids = StringArray::from(rows.iter().map(|(w, _)| *w).collect::<Vec<_>>());
        let orgs = StringArray::from(vec!["org0"; rows.len()]);
        let nets = Decimal128Array::from(
            rows.iter()
                .map(|(_, paise)| paise * 10i128.pow(u32::from(scale as u8) - 2))
                .collect::<Vec<_>>(),
        )
        .with_precision_and_scale(precision, scale)
        .unwrap();
        let schema = Schema::new(vec![
            Field::new("worker_id", DataType::Utf8, false),
            Field::new("org_id", DataType::Utf8, false),
            Field::new("net_pay", net_type.clone(), false),
        ]);
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(ids), Arc::new(orgs), Arc::new(nets)]).unwrap()
    }
}
