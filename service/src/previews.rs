//! What-if previews (`previews:run`): a period's pay under another ruleset (TOML text) or other
//! rates, from a calculated run's period inputs, before anything changes. Asking is audited as
//! `preview.create`; the preview is calculated in the background (`queued`, `calculating`,
//! `done` or `failed`) and never touches a run, a lock or a payslip. Its summary (totals per
//! component, workers who gain, lose or change findings) is for whoever may ask one; its
//! per-worker figures and results are pay (`pay:view`, each download audited).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::Array;
use datafusion::arrow::util::display::array_value_to_string;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use payroll_connectors::layout;
use payroll_connectors::results::{applied_ruleset, parquet, read_org_results, read_run};
use payroll_engine::findings::Previous;
use payroll_engine::lifecycle::RunKind;
use payroll_engine::spreadsheet::neutralise;
use payroll_pipeline::preview::{self, PreviewRequest, Summary, WorkerNets};
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;
use rust_decimal::Decimal;
use serde_json::json;

use crate::app::App;
use crate::audit;
use crate::caller::Caller;
use crate::db::audit::{Action, Audited};
use crate::db::previews::{self, NewPreview, StoredPreview};
use crate::db::runs::{self, Filter, Run};
use crate::domain::permissions::Permission;
use crate::domain::previews::PreviewStatus;
use crate::error::{Error, Result};

/// The most workers one preview re-rates.
pub const MAX_RATES: usize = 100_000;

/// A preview asked for.
pub struct Ask {
    pub period: String,
    /// A ruleset's TOML text; the org's own ruleset when `None`.
    pub ruleset: Option<String>,
    /// (worker, new rate) pairs as sent.
    pub rates: Vec<(String, String)>,
    /// The run whose inputs it reads; the period's latest calculated run (a final one first)
    /// when `None`.
    pub base_run: Option<String>,
}

/// Asks for a preview of `org` (`previews:run`), audited as `preview.create`, and starts it.
/// A ruleset that does not validate is refused with every fault and its line; so is a rate
/// that is not an amount.
pub async fn create(app: &App, caller: &Caller, org: &str, ask: Ask) -> Result<StoredPreview> {
    caller.may(org, Permission::RunPreviews)?;
    let mut invalid = Vec::new();
    let period = ask
        .period
        .parse::<PayPeriod>()
        .map_err(|e| invalid.push(("period".to_string(), e)))
        .ok();
    let rates = rates(&ask.rates, &mut invalid);
    let ruleset = match &ask.ruleset {
        Some(text) => match Ruleset::parse(text, Path::new("preview.toml")) {
            Ok(ruleset) => Some(Arc::new(ruleset)),
            Err(payroll_rules::Error::Invalid(faults)) => {
                invalid.extend(
                    faults
                        .into_iter()
                        .map(|d| (format!("ruleset line {}", d.location.line), d.to_string())),
                );
                None
            }
            Err(e) => {
                invalid.push(("ruleset".to_string(), e.to_string()));
                None
            }
        },
        None => Some(app.rulesets.of(org)),
    };
    let (Some(period), Some(ruleset), true) = (period, ruleset, invalid.is_empty()) else {
        return Err(Error::Invalid(invalid));
    };
    let version = ruleset
        .version_on(period.first_day())
        .map_err(|e| Error::invalid("ruleset", e.to_string()))?;
    let base = base_run(app, org, period, ask.base_run.as_deref()).await?;
    let id = uuid::Uuid::now_v7().to_string();
    let audit = Audited::new(caller.actor(), Action::PreviewCreate, format!("previews/{id}")).after(Some(json!({
        "period": period.to_string(), "base_run": base.id, "ruleset": ruleset.name,
        "version": version.version, "own_ruleset": ask.ruleset.is_none(), "rates": rates.len(),
    })));
    let new = NewPreview {
        id: &id,
        org_id: org,
        period: &period.to_string(),
        base_run: &base.id,
        requested_by: &caller.sub,
        ruleset_name: &ruleset.name,
        ruleset_version: &version.version,
        rates: rates.len() as i64,
    };
    let stored = previews::create(&app.db, new, &audit).await?;
    tokio::spawn(calculate(app.clone(), base, id, ruleset, rates));
    Ok(stored)
}

/// Each (worker, rate) checked: a worker id, and an amount of at most two decimals.
fn rates(given: &[(String, String)], invalid: &mut Vec<(String, String)>) -> BTreeMap<String, Decimal> {
    if given.len() > MAX_RATES {
        invalid.push(("rates".to_string(), format!("at most {MAX_RATES} workers a preview")));
        return BTreeMap::new();
    }
    let mut rates = BTreeMap::new();
    for (i, (worker, rate)) in given.iter().enumerate() {
        let worker = worker.trim();
        match rate.trim().parse::<Decimal>() {
            _ if worker.is_empty() => {
                invalid.push((format!("rates[{i}].worker_id"), "expected a worker id".to_string()))
            }
            Ok(r) if !r.is_sign_negative() && r.scale() <= 2 && r < Decimal::from(100_000_000) => {
                if rates.insert(worker.to_string(), r).is_some() {
                    invalid.push((format!("rates[{i}].worker_id"), format!("{worker} is named twice")));
                }
            }
            _ => invalid.push((
                format!("rates[{i}].rate"),
                format!("`{rate}`: expected an amount like 850.00 (at most two decimals, not negative)"),
            )),
        }
    }
    rates
}

/// The run a preview reads: the one asked for, if it is the org's, of the period and
/// calculated; else the period's latest calculated run, a final one first.
async fn base_run(app: &App, org: &str, period: PayPeriod, asked: Option<&str>) -> Result<Run> {
    if let Some(id) = asked {
        let run = runs::get(&app.db, org, id).await?;
        if run.period != period || run.summary.is_none() {
            return Err(Error::Conflict(format!(
                "run {id} is not a calculated run of {period}: a preview reads a calculated run's inputs"
            )));
        }
        return Ok(run);
    }
    let filter = Filter {
        period: Some(period),
        ..Filter::default()
    };
    let (found, _) = runs::list(&app.db, org, &filter, None, 100).await?;
    let calculated: Vec<Run> = found.into_iter().filter(|r| r.summary.is_some()).collect();
    calculated
        .iter()
        .find(|r| r.kind == RunKind::Final)
        .or(calculated.first())
        .cloned()
        .ok_or_else(|| {
            Error::Conflict(format!(
                "org {org} has no calculated run of {period}: a preview reads a calculated run's inputs; trigger one first"
            ))
        })
}

/// Calculates a preview in the background, recording where it is; never fails silently.
async fn calculate(app: App, base: Run, id: String, ruleset: Arc<Ruleset>, rates: BTreeMap<String, Decimal>) {
    let outcome = async {
        previews::set(&app.db, &id, PreviewStatus::Calculating, None, None).await?;
        let summary = compute(&app, &base, &id, ruleset, rates).await?;
        let summary = serde_json::to_string(&summary).map_err(|e| Error::Internal(e.to_string()))?;
        previews::set(&app.db, &id, PreviewStatus::Done, Some(&summary), None).await
    }
    .await;
    if let Err(e) = outcome {
        tracing::warn!(preview = %id, error = %e, "preview failed");
        if let Err(e) = previews::set(&app.db, &id, PreviewStatus::Failed, None, Some(&e.to_string())).await {
            tracing::error!(preview = %id, error = %e, "recording the preview's failure failed");
        }
    }
}

async fn compute(
    app: &App,
    base: &Run,
    id: &str,
    ruleset: Arc<Ruleset>,
    rates: BTreeMap<String, Decimal>,
) -> Result<Summary> {
    let (org, period) = (base.org_id.clone(), base.period);
    let record = read_run(&app.store, &base.id).await?;
    let applied = applied_ruleset(&app.store, &record).await?;
    let base_net = applied
        .version(&record.ruleset.version)
        .and_then(|v| v.payslip.as_ref().map(|p| p.net.clone()))
        .ok_or_else(|| Error::Conflict(format!("the ruleset run {} applied names no net pay", base.id)))?;
    let results = read_org_results(&app.store, &org, &period.to_string(), &base.id).await?;
    let base_findings = crate::db::findings::pairs(&app.db, &org, &base.id, None).await?;
    let version = ruleset
        .version_on(period.first_day())
        .map_err(|e| Error::invalid("ruleset", e.to_string()))?;
    let net = version
        .payslip
        .as_ref()
        .map_or(base_net.as_str(), |p| p.net.as_str())
        .to_string();
    let previous = match runs::locked_runs(&app.db, &org)
        .await?
        .into_iter()
        .filter(|l| l.period < period)
        .max_by_key(|l| l.period)
    {
        Some(last) => {
            let then = read_org_results(&app.store, &org, &last.period.to_string(), &last.run_id).await?;
            Previous::of(version, &then, Some(&net)).map_err(payroll_pipeline::Error::from)?
        }
        None => Previous::none(),
    };
    let (store, id) = (app.store.clone(), id.to_string());
    app.compute
        .run(async move {
            let request = PreviewRequest {
                base: &results,
                period,
                ruleset: &ruleset,
                rates: &rates,
                base_net: &base_net,
                previous: &previous,
                base_findings: &base_findings,
            };
            let preview = preview::preview(request).await?;
            let dir = (org.as_str(), period.to_string(), id.as_str());
            store
                .put(
                    &layout::preview_file(dir.0, &dir.1, dir.2, "results.parquet"),
                    parquet(&preview.results)?,
                )
                .await?;
            store
                .put(
                    &layout::preview_file(dir.0, &dir.1, dir.2, "workers.parquet"),
                    parquet(&[preview::workers_batch(&preview.workers)?])?,
                )
                .await?;
            Ok::<_, Error>(preview.summary)
        })
        .await?
}

/// A preview of `org` (`previews:run`, or `pay:view`).
pub async fn get(app: &App, caller: &Caller, org: &str, id: &str) -> Result<StoredPreview> {
    caller.org(org)?;
    if !caller.can(Permission::RunPreviews) && !caller.can(Permission::ViewPay) {
        return Err(Error::Missing(Permission::RunPreviews));
    }
    previews::get(&app.db, org, id).await
}

/// A done preview's results as Parquet (`pay:view`), audited as `preview.download`.
pub async fn results_parquet(app: &App, caller: &Caller, org: &str, id: &str) -> Result<bytes::Bytes> {
    results(app, caller, org, id, "results.parquet").await
}

/// A done preview's results as CSV (`pay:view`), audited as `preview.download`; text cells a
/// spreadsheet would run as formulas are neutralised.
pub async fn results_csv(app: &App, caller: &Caller, org: &str, id: &str) -> Result<Vec<u8>> {
    let bytes = results(app, caller, org, id, "results.csv").await?;
    let error = |e: &dyn std::fmt::Display| Error::Internal(format!("preview {id}'s results: {e}"));
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| error(&e))?
        .build()
        .map_err(|e| error(&e))?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header = false;
    for batch in reader {
        let batch = batch.map_err(|e| error(&e))?;
        if !header {
            out.write_record(
                batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| neutralise(f.name().as_str()).into_owned()),
            )
            .map_err(|e| error(&e))?;
            header = true;
        }
        for row in 0..batch.num_rows() {
            let cells = batch.columns().iter().map(|c| match c.is_valid(row) {
                true => neutralise(array_value_to_string(c, row).unwrap_or_default()).into_owned(),
                false => String::new(),
            });
            out.write_record(cells).map_err(|e| error(&e))?;
        }
    }
    out.into_inner().map_err(|e| error(&e))
}

/// A done preview's results file, the download audited as `name`.
async fn results(app: &App, caller: &Caller, org: &str, id: &str, name: &str) -> Result<bytes::Bytes> {
    caller.may(org, Permission::ViewPay)?;
    let preview = done(app, org, id).await?;
    audit::downloaded(app, caller, Action::PreviewDownload, &format!("previews/{id}/{name}")).await?;
    Ok(app
        .store
        .get(&layout::preview_file(org, &preview.period, id, "results.parquet"))
        .await?)
}

/// A page of a done preview's workers (`pay:view`): base and preview net pay, the biggest
/// change first.
pub async fn workers(
    app: &App,
    caller: &Caller,
    org: &str,
    id: &str,
    from: usize,
    size: usize,
) -> Result<(Vec<WorkerNets>, usize)> {
    caller.may(org, Permission::ViewPay)?;
    let preview = done(app, org, id).await?;
    let bytes = app
        .store
        .get(&layout::preview_file(org, &preview.period, id, "workers.parquet"))
        .await?;
    let all = preview::workers_of(bytes)?;
    let total = all.len();
    Ok((all.into_iter().skip(from).take(size).collect(), total))
}

async fn done(app: &App, org: &str, id: &str) -> Result<StoredPreview> {
    let preview = previews::get(&app.db, org, id).await?;
    if preview.status != PreviewStatus::Done {
        return Err(Error::Conflict(format!(
            "preview {id} is {}: its figures are ready once it is done",
            preview.status
        )));
    }
    Ok(preview)
}
