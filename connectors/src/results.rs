//! Run results to the store and back: Parquet part files per org of a run (decimal columns, as
//! any engine reads them), a manifest beside it, and a run record with the ruleset it applied.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::context::SessionContext;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use payroll_engine::days::SiteDays;
use payroll_engine::findings::Finding;
use payroll_engine::parallel::{cores, map_in_order};
use payroll_engine::run::{InputDigest, Manifest, RulesetRef, orgs, rows_of_org, totals};
use payroll_engine::summary::{Measures, SiteFigures, Summary};
use payroll_engine::{Arrear, WorkerError};
use payroll_rules::vocabulary::PayPeriod;
use payroll_rules::{CompiledVersion, Ruleset};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::dead_letter::DeadLetters;
use crate::error::{Error, Result};
use crate::layout;
use crate::store::Store;

/// What a run was: read back by `explain`, `payslips --latest` and the next run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub period: String,
    pub created_at: String,
    pub engine_version: String,
    pub ruleset: RulesetRef,
    pub orgs: Vec<String>,
    pub rows: u64,
    /// Refused rows of the run's orgs, per source: those under `dead-letter/run_id=<id>/`.
    pub dead_letters: BTreeMap<String, u64>,
    /// Refused rows a run of one org set aside: they name no org or worker of the master.
    #[serde(default)]
    pub unattributed_dead_letters: u64,
    pub totals: BTreeMap<String, String>,
    /// Workers of every org the run could not compute: in no results file and no total.
    #[serde(default)]
    pub worker_errors: Vec<WorkerError>,
    /// Workers it computed and an approver then excluded ([`leave_out`]): in no results file
    /// and no total, and no later run carries arrears for them in this period.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
}

/// Rows of an org in a chunk from which its results are encoded on every core, into a part file
/// each: a small run keeps a file per org and chunk.
const PARALLEL_ROWS: usize = 1 << 16;

/// What a run records besides its results.
pub struct RunOutput<'a> {
    pub run_id: &'a str,
    pub period: &'a str,
    pub created_at: &'a str,
    pub ruleset_text: &'a str,
    pub ruleset: RulesetRef,
    pub version: &'a CompiledVersion,
    pub inputs: Vec<InputDigest>,
    pub offsets: BTreeMap<String, i64>,
    /// The run's refused rows: each org's manifest counts its own, the run record all.
    pub dead_letters: &'a DeadLetters,
    pub unattributed_dead_letters: u64,
}

/// A run's results, written as they are computed: each chunk of workers adds its rows of each
/// org as that org's next part file, so a run is never whole in memory (a million workers'
/// results are gigabytes of Arrow). [`ResultsWriter::finish`] then writes every org's manifest
/// and, last, the run record: a run that is listed is whole.
pub struct ResultsWriter<'a> {
    store: &'a Store,
    run: RunOutput<'a>,
    orgs: BTreeMap<String, OrgResults>,
    worker_errors: Vec<WorkerError>,
    measures: Measures,
    summary: Summary,
    /// Part files of `attendance_days` written so far, per org.
    days_parts: BTreeMap<String, usize>,
}

/// An org's results so far: its part files, rows and totals.
#[derive(Default)]
struct OrgResults {
    files: Vec<String>,
    rows: u64,
    totals: BTreeMap<String, Decimal>,
}

impl<'a> ResultsWriter<'a> {
    pub fn new(store: &'a Store, run: RunOutput<'a>) -> Self {
        ResultsWriter {
            store,
            measures: Measures::of(run.version),
            run,
            orgs: BTreeMap::new(),
            worker_errors: Vec::new(),
            summary: Summary::default(),
            days_parts: BTreeMap::new(),
        }
    }

    /// Writes a chunk's computed workers (`Calculation::results`) and keeps its worker errors.
    pub async fn write(&mut self, results: &[RecordBatch], worker_errors: Vec<WorkerError>) -> Result<()> {
        for org in orgs(results) {
            let batches = rows_of_org(results, &org)?;
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            let chunk_totals = totals(self.run.version, &batches)?;
            for batch in &batches {
                self.summary.add(&self.measures, batch)?;
            }
            // A large share is encoded on every core, as a part file each.
            let files = if rows < PARALLEL_ROWS {
                vec![parquet_bytes(&batches, self.run.run_id)?]
            } else {
                let share = batches.len().div_ceil(cores());
                map_in_order(batches.chunks(share), |part| parquet_bytes(part, self.run.run_id))
                    .into_iter()
                    .collect::<Result<Vec<_>>>()?
            };
            let written = self.orgs.entry(org.clone()).or_default();
            for bytes in files {
                let part = layout::results_part(&org, self.run.period, self.run.run_id, written.files.len());
                self.store.put(&part, bytes).await?;
                written.files.push(part.filename().unwrap_or_default().to_string());
            }
            written.rows += rows as u64;
            add(&mut written.totals, chunk_totals)?;
        }
        self.worker_errors.extend(worker_errors);
        Ok(())
    }

    /// Writes a chunk's days of the `attendance_days` fact table, encoded already (`(org, Parquet)`
    /// per org and share of the chunk: see [`DaysFile`]), each as its org's next part file.
    pub async fn write_days(&mut self, parts: Vec<(String, Vec<u8>)>) -> Result<()> {
        for (org, bytes) in parts {
            let part = self.days_parts.entry(org.clone()).or_default();
            let path = layout::attendance_days_part(&org, self.run.period, self.run.run_id, *part);
            *part += 1;
            self.store.put(&path, bytes).await?;
        }
        Ok(())
    }

    /// Writes the arrears the run carries, each org's beside its results (before
    /// [`ResultsWriter::finish`]: a run's arrears are read only once its record is written).
    pub async fn write_arrears(&self, arrears: &[Arrear]) -> Result<()> {
        let period: PayPeriod = self
            .run
            .period
            .parse()
            .map_err(|e: String| Error::input(self.run.run_id, e))?;
        let mut by_org: BTreeMap<&str, Vec<Arrear>> = BTreeMap::new();
        for arrear in arrears {
            by_org.entry(&arrear.org_id).or_default().push(arrear.clone());
        }
        for (org, arrears) in by_org {
            let batch = payroll_engine::arrears::to_batch(period, &arrears)?;
            self.store
                .put(
                    &layout::arrears_part(org, self.run.period, self.run.run_id),
                    parquet_bytes(&[batch], self.run.run_id)?,
                )
                .await?;
        }
        Ok(())
    }

    /// Writes the run's findings, each org's beside its results (before
    /// [`ResultsWriter::finish`]): `org_id, period, worker_id, check, severity, message`, with the
    /// run id first as in the results.
    pub async fn write_findings(&self, findings: &[Finding]) -> Result<()> {
        let mut by_org: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
        for finding in findings {
            by_org.entry(&finding.org_id).or_default().push(finding);
        }
        let schema = Arc::new(Schema::new(
            ["org_id", "period", "worker_id", "check", "severity", "message"]
                .map(|name| Field::new(name, DataType::Utf8, false))
                .to_vec(),
        ));
        for (org, findings) in by_org {
            let column = |value: fn(&Finding) -> &str| {
                Arc::new(StringArray::from_iter_values(findings.iter().map(|f| value(f)))) as ArrayRef
            };
            let period = Arc::new(StringArray::from(vec![self.run.period; findings.len()])) as ArrayRef;
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    column(|f| &f.org_id),
                    period,
                    column(|f| &f.worker_id),
                    column(|f| &f.check),
                    column(|f| f.severity.as_str()),
                    column(|f| &f.message),
                ],
            )?;
            self.store
                .put(
                    &layout::findings_part(org, self.run.period, self.run.run_id),
                    parquet_bytes(&[batch], self.run.run_id)?,
                )
                .await?;
        }
        Ok(())
    }

    /// Keeps worker errors found besides a chunk's (recomputing a locked period for arrears).
    pub fn note_errors(&mut self, errors: impl IntoIterator<Item = WorkerError>) {
        self.worker_errors.extend(errors);
    }

    /// Workers written so far.
    pub fn rows(&self) -> u64 {
        self.orgs.values().map(|o| o.rows).sum()
    }

    pub fn worker_errors(&self) -> &[WorkerError] {
        &self.worker_errors
    }

    /// Every org's manifest, the ruleset the run applied, then the run record.
    pub async fn finish(self) -> Result<RunRecord> {
        let run = &self.run;
        let mut all_totals = BTreeMap::new();
        for org in self.summary.orgs() {
            write_summary(self.store, &self.summary, org, run.period, run.run_id).await?;
        }
        for (org, written) in &self.orgs {
            let manifest = Manifest {
                run_id: run.run_id.to_string(),
                period: run.period.to_string(),
                org_id: org.clone(),
                created_at: run.created_at.to_string(),
                engine_version: payroll_engine::run::ENGINE_VERSION.to_string(),
                ruleset: run.ruleset.clone(),
                inputs: run.inputs.clone(),
                offsets: run.offsets.clone(),
                rows: written.rows,
                dead_letters: run.dead_letters.counts_of(org),
                totals: text(written.totals.clone()),
                files: written.files.clone(),
                // An org none of whose workers computed has no results and so no manifest: its
                // errors are in the run record.
                worker_errors: self
                    .worker_errors
                    .iter()
                    .filter(|e| e.org_id == *org)
                    .cloned()
                    .collect(),
            };
            self.store
                .put(
                    &layout::manifest(org, run.period, run.run_id),
                    serde_json::to_vec_pretty(&manifest)?,
                )
                .await?;
            add(&mut all_totals, written.totals.clone())?;
        }
        let record = RunRecord {
            run_id: run.run_id.to_string(),
            period: run.period.to_string(),
            created_at: run.created_at.to_string(),
            engine_version: payroll_engine::run::ENGINE_VERSION.to_string(),
            ruleset: run.ruleset.clone(),
            orgs: self.orgs.keys().cloned().collect(),
            rows: self.rows(),
            dead_letters: run.dead_letters.counts(),
            unattributed_dead_letters: run.unattributed_dead_letters,
            totals: text(all_totals),
            worker_errors: self.worker_errors,
            excluded: Vec::new(),
        };
        self.store
            .put(&layout::run_ruleset(run.run_id), run.ruleset_text.to_string())
            .await?;
        self.store
            .put(&layout::run_record(run.run_id), serde_json::to_vec_pretty(&record)?)
            .await?;
        Ok(record)
    }
}

/// Writes `org`'s rows of a run's summary.
async fn write_summary(store: &Store, summary: &Summary, org: &str, period: &str, run_id: &str) -> Result<()> {
    let batch = summary.batch_of(org, period)?;
    store
        .put(
            &layout::summary_part(org, period, run_id),
            parquet_bytes(&[batch], run_id)?,
        )
        .await?;
    Ok(())
}

/// Adds `more` into `totals`, component by component; a sum past an exact decimal is an error
/// naming the component, never a wrapped figure.
fn add(totals: &mut BTreeMap<String, Decimal>, more: BTreeMap<String, Decimal>) -> Result<()> {
    for (column, amount) in more {
        let total = totals.entry(column.clone()).or_default();
        *total = total
            .checked_add(amount)
            .ok_or(payroll_engine::Error::TotalOverflow { column })?;
    }
    Ok(())
}

fn text(totals: BTreeMap<String, Decimal>) -> BTreeMap<String, String> {
    totals.into_iter().map(|(k, v)| (k, v.to_string())).collect()
}

/// Parquet with the run id as the first column, so results of many runs can be read as one
/// table and told apart.
fn parquet_bytes(batches: &[RecordBatch], run_id: &str) -> Result<Vec<u8>> {
    let Some(first) = batches.first() else {
        return Ok(Vec::new());
    };
    let mut fields = vec![Arc::new(Field::new("run_id", DataType::Utf8, false))];
    fields.extend(first.schema().fields().iter().cloned());
    let schema = Arc::new(Schema::new(fields));
    let with_run_id = batches
        .iter()
        .map(|batch| {
            let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(vec![run_id; batch.num_rows()]))];
            columns.extend(batch.columns().iter().cloned());
            RecordBatch::try_new(Arc::clone(&schema), columns)
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    parquet(&with_run_id)
}

/// What an org's results of a run hold after workers were left out of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// Rows removed now (0: none of the workers was in the results).
    pub removed: u64,
    pub rows: u64,
    pub totals: BTreeMap<String, String>,
}

/// Leaves `workers` out of run `run_id`'s results of `org`: their rows go from the part files,
/// and the org's manifest and the run record count and total without them, as they do without
/// a worker the run could not compute. What an exclusion from a final run means before its
/// approval: nobody reads these results as paid afterwards (payslips, payouts, returns, the
/// arrears of later periods). Idempotent: a worker not in the results changes nothing.
pub async fn leave_out(
    store: &Store,
    run_id: &str,
    org: &str,
    workers: &std::collections::BTreeSet<String>,
) -> Result<LeftOut> {
    let mut record = read_run(store, run_id).await?;
    let ruleset = applied_ruleset(store, &record).await?;
    let version = applied_version(&ruleset, &record)?;
    let manifest_path = layout::manifest(org, &record.period, run_id);
    let mut manifest: Manifest = serde_json::from_slice(&store.get(&manifest_path).await?)?;
    let mut kept_all = Vec::new();
    for part in results_parts(store, org, &record.period, run_id).await? {
        let mut batches = Vec::new();
        for batch in ParquetRecordBatchReaderBuilder::try_new(store.get(&part).await?)?.build()? {
            batches.push(batch?);
        }
        let mut kept = Vec::with_capacity(batches.len());
        let mut changed = false;
        for batch in batches {
            let ids = batch
                .column_by_name("worker_id")
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                .ok_or_else(|| Error::input(part.as_ref(), "results without worker_id"))?;
            let keep: datafusion::arrow::array::BooleanArray = ids
                .iter()
                .map(|id| Some(!id.is_some_and(|id| workers.contains(id))))
                .collect();
            changed |= keep.true_count() < batch.num_rows();
            kept.push(datafusion::arrow::compute::filter_record_batch(&batch, &keep)?);
        }
        if changed {
            store.put(&part, parquet(&kept)?).await?;
        }
        kept_all.extend(kept);
    }
    // Rows and the record counted again from what is kept, not from what this call removed: a
    // call cut short after rewriting the parts is finished by the next.
    let kept_rows: u64 = kept_all.iter().map(|b| b.num_rows() as u64).sum();
    let errors: std::collections::BTreeSet<&str> = record.worker_errors.iter().map(|e| e.worker_id.as_str()).collect();
    let mut excluded: Vec<String> = record
        .excluded
        .iter()
        .cloned()
        .chain(workers.iter().filter(|w| !errors.contains(w.as_str())).cloned())
        .collect();
    excluded.sort();
    excluded.dedup();
    let removed = manifest.rows.saturating_sub(kept_rows);
    if kept_rows == manifest.rows && excluded == record.excluded {
        return Ok(LeftOut {
            removed: 0,
            rows: manifest.rows,
            totals: manifest.totals,
        });
    }
    // The totals of the kept rows, computed as the writer computed them (without the run id).
    let without_run_id: Vec<RecordBatch> = kept_all
        .iter()
        .map(|b| {
            let keep: Vec<usize> = (0..b.num_columns())
                .filter(|&i| b.schema().field(i).name() != "run_id")
                .collect();
            b.project(&keep)
        })
        .collect::<std::result::Result<_, _>>()?;
    let totals = text(totals(version, &without_run_id)?);
    let mut summary = Summary::default();
    let measures = Measures::of(version);
    for batch in &without_run_id {
        summary.add(&measures, batch)?;
    }
    write_summary(store, &summary, org, &record.period, run_id).await?;
    // The run record's totals are every org's: this org's old ones out, its new ones in.
    let mut all = BTreeMap::new();
    for (column, amount) in &record.totals {
        let before = manifest
            .totals
            .get(column)
            .and_then(|t| t.parse::<Decimal>().ok())
            .unwrap_or_default();
        let now = totals
            .get(column)
            .and_then(|t| t.parse::<Decimal>().ok())
            .unwrap_or_default();
        let total = amount.parse::<Decimal>().unwrap_or_default() - before + now;
        all.insert(column.clone(), total.to_string());
    }
    record.rows = record.rows.saturating_sub(removed);
    manifest.rows = kept_rows;
    manifest.totals = totals.clone();
    store.put(&manifest_path, serde_json::to_vec_pretty(&manifest)?).await?;
    record.totals = all;
    record.excluded = excluded;
    store
        .put(&layout::run_record(run_id), serde_json::to_vec_pretty(&record)?)
        .await?;
    Ok(LeftOut {
        removed,
        rows: manifest.rows,
        totals,
    })
}

/// One org's part of the `attendance_days` fact table as a Parquet file, written a batch at a
/// time (a core's share of a chunk is millions of rows: encoded as they come, never held whole).
///
/// Encoded for what 31 million rows a month cost, measured row by row (ns per row on this
/// machine, the writer's defaults 150-175): parquet-rs hashes every value it writes into a
/// dictionary, so the text columns are written plain (a worker's id repeats 28 to 31 times in
/// a row and Snappy takes the repeats: the file grows by a seventh), the instants as deltas
/// (dictionaries of near-unique values overflowed into plain anyway; deltas are smaller), the
/// small integers keep their dictionaries, and only `date` keeps statistics, per row group:
/// readers prune by the partition path and the date, not by the rest. 105-120 ns per row.
pub struct DaysFile {
    writer: ArrowWriter<Vec<u8>>,
    rows: usize,
}

impl DaysFile {
    pub fn new() -> Result<DaysFile> {
        use parquet::basic::Encoding;
        use parquet::file::properties::EnabledStatistics;
        let mut properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_write_batch_size(8192)
            .set_statistics_enabled(EnabledStatistics::None)
            .set_column_statistics_enabled("date".into(), EnabledStatistics::Chunk);
        for text in ["worker_id", "site_id", "status"] {
            properties = properties.set_column_dictionary_enabled(text.into(), false);
        }
        for instant in ["first_in", "last_out"] {
            properties = properties
                .set_column_dictionary_enabled(instant.into(), false)
                .set_column_encoding(instant.into(), Encoding::DELTA_BINARY_PACKED);
        }
        let writer = ArrowWriter::try_new(Vec::new(), payroll_engine::days::schema(), Some(properties.build()))?;
        Ok(DaysFile { writer, rows: 0 })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows();
        Ok(self.writer.write(batch)?)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn finish(self) -> Result<Vec<u8>> {
        Ok(self.writer.into_inner()?)
    }
}

/// Batches of one schema as a Parquet file (empty bytes for no batches).
pub fn parquet(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let Some(first) = batches.first() else {
        return Ok(Vec::new());
    };
    let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, first.schema(), Some(properties))?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.close()?;
    Ok(out)
}

pub async fn read_run(store: &Store, run_id: &str) -> Result<RunRecord> {
    let path = layout::run_record(run_id);
    let Some(bytes) = store.get_opt(&path).await? else {
        return Err(Error::input(
            store.url_of(&path),
            format!("no run `{run_id}` in this output"),
        ));
    };
    Ok(serde_json::from_slice(&bytes)?)
}

/// The latest run of `period` (run ids sort by time).
pub async fn latest_run(store: &Store, period: &str) -> Result<RunRecord> {
    let mut records = Vec::new();
    for meta in store.list(&object_store::path::Path::from(layout::RUNS)).await? {
        if meta.location.extension() == Some("json") {
            let record: RunRecord = serde_json::from_slice(&store.get(&meta.location).await?)?;
            if record.period == period {
                records.push(record);
            }
        }
    }
    records
        .into_iter()
        .max_by(|a, b| a.run_id.cmp(&b.run_id))
        .ok_or_else(|| {
            Error::input(
                store.url_of(&object_store::path::Path::from(layout::RUNS)),
                format!("no run for period {period}: run `payroll run --period {period}` first"),
            )
        })
}

/// The run `run_id`, or the latest run of `period` when no id is given.
pub async fn find_run(store: &Store, run_id: Option<&str>, period: &str) -> Result<RunRecord> {
    let record = match run_id {
        Some(id) => read_run(store, id).await?,
        None => latest_run(store, period).await?,
    };
    if record.period != period {
        return Err(Error::input(
            &record.run_id,
            format!("the run is for period {}, not {period}", record.period),
        ));
    }
    Ok(record)
}

/// The ruleset a run applied, from the copy saved with it, and the version it used.
/// The version of [`applied_ruleset`] the run applied.
pub fn applied_version<'a>(ruleset: &'a Ruleset, run: &RunRecord) -> Result<&'a CompiledVersion> {
    ruleset.version(&run.ruleset.version).ok_or_else(|| {
        Error::input(
            &run.run_id,
            format!("the saved ruleset has no version {}", run.ruleset.version),
        )
    })
}

pub async fn applied_ruleset(store: &Store, run: &RunRecord) -> Result<Ruleset> {
    let path = layout::run_ruleset(&run.run_id);
    let text = String::from_utf8(store.get(&path).await?.to_vec())
        .map_err(|e| Error::input(store.url_of(&path), e.to_string()))?;
    let ruleset = Ruleset::parse(&text, std::path::Path::new(&store.url_of(&path)))?;
    if ruleset.version(&run.ruleset.version).is_none() {
        return Err(Error::input(
            store.url_of(&path),
            format!("has no version {}", run.ruleset.version),
        ));
    }
    Ok(ruleset)
}

/// All result rows of a run, every org.
pub async fn read_results(store: &Store, run: &RunRecord) -> Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    for org in &run.orgs {
        batches.extend(read_org_results(store, org, &run.period, &run.run_id).await?);
    }
    Ok(batches)
}

/// The arrears a run carries for one org (none when it carries none).
pub async fn read_arrears(store: &Store, org: &str, period: &str, run_id: &str) -> Result<Vec<Arrear>> {
    let Some(bytes) = store.get_opt(&layout::arrears_part(org, period, run_id)).await? else {
        return Ok(Vec::new());
    };
    let mut arrears = Vec::new();
    for batch in ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()? {
        arrears.extend(payroll_engine::arrears::from_batch(&batch?)?);
    }
    Ok(arrears)
}

/// The part files of one org's results of a run, in order.
pub async fn results_parts(
    store: &Store,
    org: &str,
    period: &str,
    run_id: &str,
) -> Result<Vec<object_store::path::Path>> {
    let mut parts: Vec<object_store::path::Path> = store
        .list(&layout::results_dir(org, period, run_id))
        .await?
        .into_iter()
        .map(|meta| meta.location)
        .filter(|path| {
            path.filename()
                .is_some_and(|name| name.starts_with("part-") && name.ends_with(".parquet"))
        })
        .collect();
    parts.sort();
    Ok(parts)
}

/// One org's result rows of a run, every part in order.
pub async fn read_org_results(store: &Store, org: &str, period: &str, run_id: &str) -> Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    for part in results_parts(store, org, period, run_id).await? {
        for batch in ParquetRecordBatchReaderBuilder::try_new(store.get(&part).await?)?.build()? {
            batches.push(batch?);
        }
    }
    Ok(batches)
}

/// Run `run_id`'s figures of `org` per site (its `summary` table); for a run written before
/// runs wrote one, summed from its results as the run would have.
pub async fn read_summary(store: &Store, org: &str, period: &str, run_id: &str) -> Result<Vec<(String, SiteFigures)>> {
    if let Some(bytes) = store.get_opt(&layout::summary_part(org, period, run_id)).await? {
        let mut sites = Vec::new();
        for batch in ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()? {
            sites.extend(payroll_engine::summary::read(&batch?)?);
        }
        return Ok(sites);
    }
    let record = read_run(store, run_id).await?;
    let ruleset = applied_ruleset(store, &record).await?;
    let version = applied_version(&ruleset, &record)?;
    let measures = Measures::of(version);
    let mut summary = Summary::default();
    for batch in read_org_results(store, org, period, run_id).await? {
        summary.add(&measures, &batch)?;
    }
    Ok(summary
        .sites_of(org)
        .map(|(site, figures)| (site.to_string(), figures.clone()))
        .collect())
}

/// Run `run_id`'s days of `org` counted per site and date (its `attendance_days`, only the
/// three columns the count reads); empty for a run written before runs wrote them.
pub async fn read_site_days(store: &Store, org: &str, period: &str, run_id: &str) -> Result<SiteDays> {
    let mut counts = SiteDays::default();
    for part in store.list(&layout::attendance_days_dir(org, period, run_id)).await? {
        if part.location.extension() != Some("parquet") {
            continue;
        }
        let reader = ParquetRecordBatchReaderBuilder::try_new(store.get(&part.location).await?)?;
        let wanted = ["site_id", "date", "status"];
        let columns: Vec<usize> = reader
            .schema()
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| wanted.contains(&f.name().as_str()))
            .map(|(i, _)| i)
            .collect();
        let mask = parquet::arrow::ProjectionMask::roots(reader.parquet_schema(), columns);
        for batch in reader.with_projection(mask).with_batch_size(65_536).build()? {
            counts.add(&batch?)?;
        }
    }
    Ok(counts)
}

/// Registers the results of every complete run in the store as the table `results`, and the
/// newest complete run of each org and period as `latest` (what `sum(net_pay)` should read:
/// re-runs are counted once), the arrears complete runs carry as `arrears`, their findings as
/// `findings`, their days as `attendance_days` and their figures per site as `summary`. A run is complete once its run record is written, last; results
/// files of a run without one (a crash mid-write) are never read.
pub async fn register_results(ctx: &SessionContext, store: &Store) -> Result<()> {
    let complete: Vec<String> = store
        .list(&object_store::path::Path::from(layout::RUNS))
        .await?
        .into_iter()
        .filter_map(|meta| meta.location.filename()?.strip_suffix(".json").map(str::to_string))
        .collect();
    if complete.is_empty() {
        return Err(Error::input(
            store.url_of(&object_store::path::Path::from(layout::RUNS)),
            "no complete run here yet: `payroll run` writes one (the results of a run cut short, without its run record, are never read)",
        ));
    }
    register_parquet(ctx, store, layout::RESULTS, "results_files", Files::Inferred).await?;
    let complete = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("run_id", DataType::Utf8, false)])),
        vec![Arc::new(StringArray::from(complete)) as ArrayRef],
    )?;
    ctx.register_batch("complete_runs", complete)?;
    for view in [
        "CREATE VIEW results AS SELECT * FROM results_files WHERE run_id IN (SELECT run_id FROM complete_runs)",
        // Run ids are UUIDv7: the greatest is the newest.
        "CREATE VIEW latest AS SELECT r.* FROM results r JOIN \
         (SELECT org_id, period, max(run_id) AS newest FROM results GROUP BY org_id, period) l \
         ON r.org_id = l.org_id AND r.period = l.period AND r.run_id = l.newest",
    ] {
        ctx.sql(view).await?;
    }
    // Tables of complete runs beside the results, each registered once a run wrote one. The
    // fact table's org, period and run are its path's partitions (see `days::schema`): shown
    // first, as in the other tables.
    let days_columns = [
        &payroll_engine::days::PARTITIONS[..],
        &payroll_engine::days::schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>(),
    ]
    .concat()
    .iter()
    .map(|column| format!("\"{column}\""))
    .collect::<Vec<_>>()
    .join(", ");
    for (dir, table, files, columns) in [
        (layout::ARREARS, "arrears", Files::Inferred, "*"),
        (layout::FINDINGS, "findings", Files::Inferred, "*"),
        (
            layout::ATTENDANCE_DAYS,
            "attendance_days",
            Files::Partitioned {
                schema: payroll_engine::days::schema(),
                partitions: &payroll_engine::days::PARTITIONS,
            },
            days_columns.as_str(),
        ),
        (layout::SUMMARY, "summary", Files::Inferred, "*"),
    ] {
        if store
            .list(&object_store::path::Path::from(dir))
            .await?
            .iter()
            .any(|meta| meta.location.extension() == Some("parquet"))
        {
            register_parquet(ctx, store, dir, &format!("{table}_files"), files).await?;
            ctx.sql(&format!(
                "CREATE VIEW {table} AS SELECT {columns} FROM {table}_files WHERE run_id IN (SELECT run_id FROM complete_runs)"
            ))
            .await?;
        }
    }
    Ok(())
}

/// Registers a stream's live results in its state store as the table `live`.
pub async fn register_live(ctx: &SessionContext, state: &Store) -> datafusion::error::Result<()> {
    register_parquet(ctx, state, layout::LIVE, "live", Files::Inferred).await
}

/// What a table's files hold.
enum Files {
    /// Every column: the schema is read from them.
    Inferred,
    /// `schema`, the `partitions` in the path. Given, not read: a file may hold more (the fact
    /// table's files of runs written before its keys moved to the path hold them too).
    Partitioned {
        schema: SchemaRef,
        partitions: &'static [&'static str],
    },
}

async fn register_parquet(
    ctx: &SessionContext,
    store: &Store,
    dir: &str,
    table: &str,
    layout: Files,
) -> datafusion::error::Result<()> {
    ctx.register_object_store(store.root_url(), store.object_store());
    let url = ListingTableUrl::parse(format!("{}/", store.url_of(&object_store::path::Path::from(dir))))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = match layout {
        Files::Inferred => {
            ListingTableConfig::new(url)
                .with_listing_options(options)
                .infer_schema(&ctx.state())
                .await?
        }
        Files::Partitioned { schema, partitions } => ListingTableConfig::new(url)
            .with_listing_options(
                options.with_table_partition_cols(partitions.iter().map(|p| (p.to_string(), DataType::Utf8)).collect()),
            )
            .with_schema(schema),
    };
    ctx.register_table(table, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}
