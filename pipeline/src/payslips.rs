//! A run's payslips as a batch: every worker's PDF and XLSX and each org's register, rendered
//! on all cores and written through the object store with bounded concurrency, with a
//! manifest of every file (size, SHA-256) and of every failure.
//!
//! Rendering is deterministic (the run's date, not the clock's, is printed and recorded), so a
//! batch run again after a crash renders the same bytes: a file already in the store with the
//! same hash is kept, a missing or different one is written. A payslip that fails is recorded
//! and the others go on.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Int64Type};
use datafusion::arrow::util::display::array_value_to_string;
use futures::StreamExt;
use object_store::path::Path;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use payroll_connectors::results::{RunRecord, applied_ruleset, read_arrears, results_parts};
use payroll_connectors::{Progress, Store, Unit, layout};
use payroll_engine::arrears::{ARREARS_NET, NET_PAYABLE};
use payroll_engine::money::decimal;
use payroll_engine::parallel::cores;
use payroll_engine::run::{orgs, rows_of_org};
use payroll_rules::vocabulary::PayPeriod;
use payroll_rules::{Category, CompiledVersion, PayslipDef};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use payroll_payslips::{
    Item, Language, Layout, Line, Payslip, PeriodArrears, Register, RegisterColumn, RegisterRow, RegisterWriter,
    Renderer, WorkerBlock,
};

/// Writes (and reads of files a resumed batch may keep) in flight at once to a remote object
/// store: enough to hide its latency, few enough not to swamp it. A local directory takes a
/// chunk's files on one thread: it creates the files of a directory one at a time under the
/// directory's lock, so a second writer would only spin on it, taking a core from rendering.
const CONCURRENT_WRITES: usize = 32;

/// Payslips rendered at a time: a chunk renders on every core while the one before is written
/// and the next built, and memory holds two chunks' documents.
const CHUNK: usize = 256;

/// Which documents to render per worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    pub pdf: bool,
    pub xlsx: bool,
}

impl std::str::FromStr for Formats {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut formats = Formats {
            pdf: false,
            xlsx: false,
        };
        for f in s.split(',').map(str::trim) {
            match f {
                "pdf" => formats.pdf = true,
                "xlsx" => formats.xlsx = true,
                other => return Err(format!("unknown format `{other}`: expected pdf, xlsx or pdf,xlsx")),
            }
        }
        Ok(formats)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    /// BLAKE3, as the inputs' digests: SHA-256 of 100k workers' files was 8 % of a
    /// finalization's CPU (with SHA extensions), BLAKE3 a fraction of it.
    pub blake3: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub worker_id: String,
    pub file: String,
    pub error: String,
}

/// `manifest.json` beside an org's payslips.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchManifest {
    pub run_id: String,
    pub period: String,
    pub org_id: String,
    pub generated_on: String,
    pub files: Vec<FileEntry>,
    pub failures: Vec<Failure>,
}

#[derive(Debug, Default)]
pub struct BatchReport {
    pub manifests: Vec<BatchManifest>,
    /// Files written now, and files found already written with the right content.
    pub written: u64,
    pub kept: u64,
    pub bytes: u64,
    pub payslips: u64,
}

impl BatchReport {
    pub fn failures(&self) -> impl Iterator<Item = &Failure> {
        self.manifests.iter().flat_map(|m| &m.failures)
    }

    fn absorb(&mut self, other: BatchReport) {
        self.manifests.extend(other.manifests);
        self.written += other.written;
        self.kept += other.kept;
        self.bytes += other.bytes;
        self.payslips += other.payslips;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("worker {worker}: `{column}` = {value} (scale {scale}) does not fit an exact decimal (28 digits)")]
    AmountOutOfRange {
        worker: String,
        column: String,
        value: i128,
        scale: i8,
    },
    #[error("ruleset version {0} has no [payslip] section naming its gross, deductions and net components")]
    NoPayslipTotals(String),
    #[error(transparent)]
    Render(#[from] payroll_payslips::Error),
    #[error(transparent)]
    Store(#[from] payroll_connectors::Error),
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("rendering stopped: {0}")]
    Stopped(String),
}

/// How an org's payslips are presented; an org the caller does not know prints its id, in
/// each worker's language or English.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayslipOrg {
    /// Printed on payslips and the register instead of the id.
    pub name: Option<String>,
    /// The language of the org's workers whose master gives none (or one payslips are not
    /// printed in).
    pub language: Option<Language>,
    /// English beneath each label of a payslip not in English, or not.
    pub layout: Layout,
}

/// Org id to how its payslips are presented.
pub type PayslipOrgs = BTreeMap<String, PayslipOrg>;

/// A run and what the ruleset says about presenting its results.
pub struct Batch<'a> {
    pub store: &'a Store,
    pub run: &'a RunRecord,
    pub version: &'a CompiledVersion,
    pub formats: Formats,
    pub orgs: &'a PayslipOrgs,
}

impl Batch<'_> {
    /// Every org's payslips and register from results in memory (a run just computed).
    pub async fn write(&self, results: &[RecordBatch], progress: &dyn Progress) -> Result<BatchReport, BatchError> {
        check_amounts(results)?;
        self.start(
            results.iter().map(RecordBatch::num_rows).sum::<usize>() as u64,
            progress,
        );
        let mut report = BatchReport::default();
        for org in orgs(results) {
            report.absorb(self.write_org(&org, rows_of_org(results, &org)?, progress).await?);
        }
        Ok(report)
    }

    fn start(&self, workers: u64, progress: &dyn Progress) {
        let per_worker = u64::from(self.formats.pdf) + u64::from(self.formats.xlsx);
        progress.start("writing payslips", workers * per_worker, Unit::Files);
    }

    /// Starts one org's payslips and register.
    async fn org(&self, org: &str) -> Result<OrgPayslips<'_>, BatchError> {
        let totals = self
            .version
            .payslip
            .as_ref()
            .ok_or_else(|| BatchError::NoPayslipTotals(self.version.version.clone()))?;
        let generated_on = self.generated_on();
        let dir = layout::payslips_dir(org, &self.run.period, &self.run.run_id);
        Ok(OrgPayslips {
            batch: self,
            org: org.to_string(),
            totals,
            generated_on,
            renderer: Arc::new(Renderer::new()?),
            writer: Writer::new(self.store, dir).await?,
            rendering: Rendering::default(),
            register: RegisterWriter::new(&self.register(generated_on)).map_err(|e| e.to_string()),
            arrears: self.arrears(org).await?,
            register_columns: self.register_columns(),
            payslips: 0,
        })
    }

    /// One org's payslips from `rows`, a batch at a time, then its register and manifest.
    async fn write_org(
        &self,
        org: &str,
        rows: impl IntoIterator<Item = RecordBatch>,
        progress: &dyn Progress,
    ) -> Result<BatchReport, BatchError> {
        let mut out = self.org(org).await?;
        for batch in rows {
            out.add(&batch, progress).await?;
        }
        out.finish(progress).await
    }

    /// The arrears the run carries for an org's workers, a block per original period; labels
    /// are the worker's to choose, at [`Batch::payslip`].
    async fn arrears(&self, org: &str) -> Result<HashMap<String, Vec<Carried>>, BatchError> {
        let carried = read_arrears(self.store, org, &self.run.period, &self.run.run_id).await?;
        let net = self.version.payslip.as_ref().map(|p| p.net.as_str());
        let shown = |name: &str| {
            self.version
                .component(name)
                .is_none_or(|c| c.category != Category::Total)
        };
        let mut by_worker: HashMap<String, BTreeMap<PayPeriod, Carried>> = HashMap::new();
        for arrear in carried {
            let block = by_worker
                .entry(arrear.worker_id.clone())
                .or_default()
                .entry(arrear.original_period)
                .or_insert_with(|| Carried {
                    period: arrear.original_period,
                    lines: Vec::new(),
                    net: Decimal::ZERO,
                });
            if Some(arrear.component.as_str()) == net {
                block.net = arrear.arrear;
            } else if shown(&arrear.component) {
                block.lines.push((arrear.component, arrear.arrear));
            }
        }
        Ok(by_worker
            .into_iter()
            .map(|(worker, periods)| (worker, periods.into_values().collect()))
            .collect())
    }

    /// The run's own date: payslips of a run are the same documents whenever they are rendered.
    fn generated_on(&self) -> NaiveDate {
        chrono::DateTime::parse_from_rfc3339(&self.run.created_at)
            .map_or_else(|_| chrono::Utc::now().date_naive(), |t| t.date_naive())
    }

    fn payslip(
        &self,
        batch: &RecordBatch,
        row: usize,
        totals: &PayslipDef,
        generated_on: NaiveDate,
        arrears: &HashMap<String, Vec<Carried>>,
    ) -> Payslip {
        let text = |name: &str| text(batch, row, name);
        let amount = |name: &str| amount(batch, row, name);
        let org = self.orgs.get(&text("org_id"));
        let language = Language::choose(
            Some(text("language")).as_deref().filter(|l| !l.is_empty()),
            org.and_then(|o| o.language),
        );
        let code = language.code();
        let words = language.catalogue();
        let layout = org.map(|o| o.layout).unwrap_or_default();
        // English beneath each label: the components' own labels and the English frame.
        let bilingual = layout == Layout::Bilingual && language != Language::En;
        let english = |own: &str| bilingual.then(|| own.to_string());
        // A component the version no longer has (an arrear of an older one) shows its name.
        let line = |name: &str, amount: Decimal| match self.version.component(name) {
            Some(c) => Line {
                label: self.version.label_in(c, code).to_string(),
                amount,
                english: english(&c.label),
            },
            None => Line::new(name, amount),
        };
        let lines = |category: Category| -> Vec<Line> {
            self.version
                .components
                .iter()
                .filter(|c| c.category == category)
                .map(|c| line(&c.name, amount(&c.name)))
                .collect()
        };
        let en = Language::En.catalogue();
        let item = |label: &str, own: &str, name: &str| Item {
            label: label.into(),
            value: text(name),
            english: english(own),
        };
        let arrears = arrears
            .get(&text("worker_id"))
            .map(|periods| {
                periods
                    .iter()
                    .map(|carried| PeriodArrears {
                        period_label: period_label(language, &carried.period.to_string()),
                        english_period_label: bilingual
                            .then(|| period_label(Language::En, &carried.period.to_string())),
                        lines: carried.lines.iter().map(|(name, arrear)| line(name, *arrear)).collect(),
                        net: carried.net,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Payslip {
            language,
            layout,
            org_name: {
                let id = text("org_id");
                org.and_then(|o| o.name.clone()).unwrap_or(id)
            },
            period: self.run.period.clone(),
            period_label: period_label(language, &self.run.period),
            run_id: self.run.run_id.clone(),
            generated_on,
            worker: WorkerBlock {
                worker_id: text("worker_id"),
                name: text("name"),
                designation: text("designation"),
                site: text("site_name"),
                uan: text("uan"),
                esic_no: text("esic_no"),
                bank_account: text("bank_account_masked"),
                pan: text("pan_masked"),
            },
            attendance: vec![
                item(&words.working_days, &en.working_days, "working_days"),
                item(&words.days_present, &en.days_present, "present_days"),
                item(&words.paid_leave, &en.paid_leave, "paid_leave_days"),
                item(&words.lop_days, &en.lop_days, "lop_days"),
                item(&words.overtime_hours, &en.overtime_hours, "ot_hours"),
                item(&words.missed_punches, &en.missed_punches, "missed_punch_days"),
            ],
            earnings: lines(Category::Earning),
            deductions: lines(Category::Deduction),
            employer_contributions: lines(Category::EmployerContribution),
            gross: amount(&totals.gross),
            total_deductions: amount(&totals.deductions),
            net_pay: amount(&totals.net),
            arrears,
            net_payable: amount(NET_PAYABLE),
        }
    }

    /// The register's amount columns: the ruleset's components, then what the run pays beside
    /// them (arrears net and net payable).
    fn register_columns(&self) -> Vec<RegisterColumn> {
        self.version
            .components
            .iter()
            .filter(|c| !matches!(c.category, Category::Flag | Category::Intermediate))
            .map(|c| RegisterColumn {
                name: c.name.clone(),
                label: c.label.clone(),
            })
            .chain([
                RegisterColumn {
                    name: ARREARS_NET.into(),
                    label: "Arrears net".into(),
                },
                RegisterColumn {
                    name: NET_PAYABLE.into(),
                    label: "Net payable".into(),
                },
            ])
            .collect()
    }

    fn register(&self, generated_on: NaiveDate) -> Register {
        Register {
            period_label: period_label(Language::En, &self.run.period),
            run_id: self.run.run_id.clone(),
            generated_on,
            columns: self.register_columns(),
            rows: Vec::new(),
        }
    }

    fn register_row(batch: &RecordBatch, row: usize, columns: &[RegisterColumn]) -> RegisterRow {
        RegisterRow {
            worker_id: text(batch, row, "worker_id"),
            name: text(batch, row, "name"),
            org_id: text(batch, row, "org_id"),
            site: text(batch, row, "site_name"),
            amounts: columns.iter().map(|c| amount(batch, row, &c.name)).collect(),
        }
    }
}

/// One org's payslips and register as they are written: memory holds three chunks at a time,
/// one's payslips being built, one rendering and one's documents being written.
struct OrgPayslips<'b> {
    batch: &'b Batch<'b>,
    org: String,
    totals: &'b PayslipDef,
    generated_on: NaiveDate,
    renderer: Arc<Renderer>,
    writer: Writer<'b>,
    /// The chunk rendering on every core, while this thread writes the one before and builds
    /// (and reads) the next.
    rendering: Rendering,
    /// The register so far, or why it failed (recorded in the manifest; payslips go on).
    register: Result<RegisterWriter, String>,
    /// Worker to the arrears the run carries for them.
    arrears: HashMap<String, Vec<Carried>>,
    register_columns: Vec<RegisterColumn>,
    payslips: u64,
}

impl OrgPayslips<'_> {
    async fn add(&mut self, rows: &RecordBatch, progress: &dyn Progress) -> Result<(), BatchError> {
        check_amounts(std::slice::from_ref(rows))?;
        let batch = self.batch;
        add_rows(
            &mut self.register,
            (0..rows.num_rows()).map(|row| Batch::register_row(rows, row, &self.register_columns)),
        );
        // This thread builds a chunk's payslips, and reads the next rows at the end of a batch,
        // while the chunk before renders on every core, rather than between renders with the
        // cores waiting for it.
        let (totals, generated_on, arrears) = (self.totals, self.generated_on, &self.arrears);
        let mut from = 0;
        while from < rows.num_rows() {
            let chunk: Vec<Payslip> = (from..(from + CHUNK).min(rows.num_rows()))
                .map(|row| batch.payslip(rows, row, totals, generated_on, arrears))
                .collect();
            from += chunk.len();
            self.payslips += chunk.len() as u64;
            let rendered = std::mem::take(&mut self.rendering).documents().await?;
            self.rendering = render_all(&self.renderer, chunk, batch.formats);
            self.writer.write_all(rendered, progress).await;
        }
        Ok(())
    }

    async fn finish(mut self, progress: &dyn Progress) -> Result<BatchReport, BatchError> {
        let rendered = self.rendering.documents().await?;
        self.writer.write_all(rendered, progress).await;
        let register = self.register.and_then(|r| r.finish().map_err(|e| e.to_string()));
        self.writer
            .write_all(
                vec![Rendered::new("register.xlsx".into(), String::new(), register)],
                &payroll_connectors::Quiet,
            )
            .await;
        self.writer.files.sort_by(|a, b| a.name.cmp(&b.name));
        self.writer.failures.sort_by(|a, b| a.file.cmp(&b.file));
        let manifest = BatchManifest {
            run_id: self.batch.run.run_id.clone(),
            period: self.batch.run.period.clone(),
            org_id: self.org,
            generated_on: self.generated_on.to_string(),
            files: self.writer.files,
            failures: self.writer.failures,
        };
        self.batch
            .store
            .put(
                &self.writer.dir.clone().join("manifest.json"),
                serde_json::to_vec_pretty(&manifest)?,
            )
            .await?;
        Ok(BatchReport {
            written: self.writer.written,
            kept: self.writer.kept,
            bytes: manifest.files.iter().map(|f| f.bytes).sum::<u64>(),
            payslips: self.payslips,
            manifests: vec![manifest],
        })
    }
}

/// A chunk of payslips rendering on every core, a thread each; the default is no chunk.
#[derive(Default)]
struct Rendering(Vec<tokio::task::JoinHandle<Vec<Numbered>>>);

/// A worker's documents, by the index of their payslip in the chunk.
type Numbered = (usize, Vec<Rendered>);

impl Rendering {
    /// The chunk's documents in its payslips' order, once every thread has finished.
    async fn documents(self) -> Result<Vec<Rendered>, BatchError> {
        let mut rendered = Vec::new();
        for thread in self.0 {
            match thread.await {
                Ok(documents) => rendered.extend(documents),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => return Err(BatchError::Stopped(e.to_string())),
            }
        }
        rendered.sort_unstable_by_key(|(index, _)| *index);
        Ok(rendered.into_iter().flat_map(|(_, documents)| documents).collect())
    }
}

/// Adds rows to the register being written; the first failure becomes the register's, recorded
/// in the manifest like a payslip's, and the payslips go on.
fn add_rows(register: &mut Result<RegisterWriter, String>, rows: impl Iterator<Item = RegisterRow>) {
    if let Ok(writer) = register {
        for row in rows {
            if let Err(e) = writer.add(&row) {
                *register = Err(e.to_string());
                return;
            }
        }
    }
}

/// A rendered file: its name, the worker it belongs to, its bytes and their hash or why it
/// failed.
struct Rendered {
    name: String,
    worker_id: String,
    document: Result<(Vec<u8>, String), String>,
}

impl Rendered {
    /// Hashes the bytes where they were rendered, on the rendering cores.
    fn new(name: String, worker_id: String, bytes: Result<Vec<u8>, String>) -> Rendered {
        let document = bytes.map(|b| {
            let blake3 = blake3::hash(&b).to_hex().to_string();
            (b, blake3)
        });
        Rendered {
            name,
            worker_id,
            document,
        }
    }
}

/// Renders payslips on every core, each thread taking the next payslip as it finishes one: a
/// payslip's cost depends on its language, and halves split in advance left one core idle
/// while the other finished its half.
///
/// The threads are tokio's blocking pool's, kept from one chunk to the next: threads started
/// per chunk were each placed by the kernel on the core of the thread that started them, both
/// on one, and the other core stayed idle until it took one over (10-20 ms of a 40 ms chunk,
/// `perf sched`).
fn render_all(renderer: &Arc<Renderer>, payslips: Vec<Payslip>, formats: Formats) -> Rendering {
    let payslips = Arc::new(payslips);
    let next = Arc::new(AtomicUsize::new(0));
    let threads = (0..cores().min(payslips.len()))
        .map(|_| {
            let (renderer, payslips, next) = (Arc::clone(renderer), Arc::clone(&payslips), Arc::clone(&next));
            tokio::task::spawn_blocking(move || {
                let mut rendered = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = payslips.get(index) else {
                        return rendered;
                    };
                    rendered.push((index, documents(&renderer, p, formats)));
                }
            })
        })
        .collect();
    Rendering(threads)
}

/// A worker's documents.
fn documents(renderer: &Renderer, p: &Payslip, formats: Formats) -> Vec<Rendered> {
    let id = &p.worker.worker_id;
    let mut documents = Vec::with_capacity(2);
    if formats.pdf {
        let pdf = renderer.render_pdf(p).map_err(|e| e.to_string());
        documents.push(Rendered::new(format!("{id}.pdf"), id.clone(), pdf));
    }
    if formats.xlsx {
        let xlsx = renderer.render_xlsx(p).map_err(|e| e.to_string());
        documents.push(Rendered::new(format!("{id}.xlsx"), id.clone(), xlsx));
    }
    documents
}

/// Writes one org's files, keeping those already present with the right content.
struct Writer<'a> {
    store: &'a Store,
    dir: Path,
    /// Sizes of the files already in the folder (a resumed batch).
    existing: HashMap<String, u64>,
    files: Vec<FileEntry>,
    failures: Vec<Failure>,
    written: u64,
    kept: u64,
}

enum Checked {
    /// Already in the store with the same bytes (a resumed batch).
    Kept(FileEntry),
    Failed(Failure),
    /// To be written: its entry, its worker and its bytes.
    Fresh(FileEntry, String, bytes::Bytes),
}

impl<'a> Writer<'a> {
    async fn new(store: &'a Store, dir: Path) -> Result<Writer<'a>, BatchError> {
        let existing = store
            .list(&dir)
            .await?
            .into_iter()
            .filter_map(|meta| Some((meta.location.filename()?.to_string(), meta.size)))
            .collect();
        Ok(Writer {
            store,
            dir,
            existing,
            files: Vec::new(),
            failures: Vec::new(),
            written: 0,
            kept: 0,
        })
    }

    /// Writes a chunk's documents in one batch, after keeping those a resumed batch already
    /// wrote with the same bytes.
    async fn write_all(&mut self, rendered: Vec<Rendered>, progress: &dyn Progress) {
        let checked: Vec<Checked> = futures::stream::iter(rendered)
            .map(|rendered| self.check(rendered))
            .buffered(CONCURRENT_WRITES)
            .collect()
            .await;
        let mut fresh = Vec::with_capacity(checked.len());
        for checked in checked {
            match checked {
                Checked::Kept(entry) => {
                    self.kept += 1;
                    self.files.push(entry);
                    progress.advance(1);
                }
                Checked::Failed(failure) => {
                    self.failures.push(failure);
                    progress.advance(1);
                }
                Checked::Fresh(entry, worker_id, bytes) => fresh.push((entry, worker_id, bytes)),
            }
        }
        let documents = fresh
            .iter()
            .map(|(entry, _, bytes)| (self.dir.clone().join(entry.name.as_str()), bytes.clone()))
            .collect();
        let outcomes = self.store.create_documents(documents, CONCURRENT_WRITES).await;
        for ((entry, worker_id, _), outcome) in fresh.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => {
                    self.written += 1;
                    self.files.push(entry);
                }
                Err(e) => self.failures.push(Failure {
                    worker_id,
                    file: entry.name,
                    error: e.to_string(),
                }),
            }
            progress.advance(1);
        }
    }

    /// What to do with a rendered document: record its failure, keep the file a resumed batch
    /// wrote with the same bytes, or write it.
    async fn check(&self, rendered: Rendered) -> Checked {
        let Rendered {
            name,
            worker_id,
            document,
        } = rendered;
        let (bytes, blake3) = match document {
            Ok(d) => d,
            Err(error) => {
                return Checked::Failed(Failure {
                    worker_id,
                    file: name,
                    error,
                });
            }
        };
        let entry = FileEntry {
            name,
            bytes: bytes.len() as u64,
            blake3,
        };
        if self.existing.get(&entry.name) == Some(&entry.bytes) {
            let path = self.dir.clone().join(entry.name.as_str());
            let same = self.store.get(&path).await.is_ok_and(|old| *old == *bytes);
            if same {
                return Checked::Kept(entry);
            }
        }
        Checked::Fresh(entry, worker_id, bytes.into())
    }
}

/// "October 2026" in the payslip's language.
fn period_label(language: Language, period: &str) -> String {
    period.parse::<PayPeriod>().map_or_else(
        |_| period.to_string(),
        |p| {
            let first = p.first_day();
            language.catalogue().month_year(first.year(), first.month())
        },
    )
}

/// The arrears carried for one earlier period, by component name: labelled in each worker's
/// language when their payslip is made.
#[derive(Debug, Clone)]
struct Carried {
    period: PayPeriod,
    lines: Vec<(String, Decimal)>,
    net: Decimal,
}

fn text(batch: &RecordBatch, row: usize, name: &str) -> String {
    batch
        .column_by_name(name)
        .map_or_else(String::new, |c| array_value_to_string(c, row).unwrap_or_default())
}

/// Every decimal cell of the results fits a `Decimal`: checked once before a batch, so a
/// payslip never panics on one that does not.
fn check_amounts(results: &[RecordBatch]) -> Result<(), BatchError> {
    for batch in results {
        let schema = batch.schema();
        for (index, field) in schema.fields().iter().enumerate() {
            let DataType::Decimal128(_, scale) = *field.data_type() else {
                continue;
            };
            let values = batch.column(index).as_primitive::<Decimal128Type>();
            let bad = values.iter().enumerate().find_map(|(row, v)| {
                let v = v?;
                decimal(v, scale).is_none().then_some((row, v))
            });
            if let Some((row, value)) = bad {
                return Err(BatchError::AmountOutOfRange {
                    worker: text(batch, row, "worker_id"),
                    column: field.name().clone(),
                    value,
                    scale,
                });
            }
        }
    }
    Ok(())
}

/// An amount column's value as a decimal, whatever its scale.
#[allow(clippy::expect_used, reason = "check_amounts ran before any payslip of the batch")]
fn amount(batch: &RecordBatch, row: usize, name: &str) -> Decimal {
    let Some(column) = batch.column_by_name(name) else {
        return Decimal::ZERO;
    };
    if column.is_null(row) {
        return Decimal::ZERO;
    }
    match column.data_type() {
        DataType::Decimal128(_, scale) => decimal(column.as_primitive::<Decimal128Type>().value(row), *scale)
            .expect("check_amounts ran before any payslip of the batch"),
        DataType::Int64 => Decimal::from(column.as_primitive::<Int64Type>().value(row)),
        _ => Decimal::ZERO,
    }
}

/// Renders and writes a written run's payslips and registers, with the ruleset the run applied
/// (the copy saved beside its record, not whatever file is current). Results are read a part
/// and a row group at a time: a million workers' results are never in memory at once.
#[allow(clippy::expect_used, reason = "applied_ruleset checks the version")]
pub async fn render(
    store: &Store,
    record: &RunRecord,
    formats: Formats,
    orgs: &PayslipOrgs,
    progress: &dyn Progress,
) -> crate::Result<BatchReport> {
    let ruleset = applied_ruleset(store, record).await?;
    let version = ruleset
        .version(&record.ruleset.version)
        .expect("applied_ruleset checks the version");
    let batch = Batch {
        store,
        run: record,
        version,
        formats,
        orgs,
    };
    batch.start(record.rows, progress);
    let mut report = BatchReport::default();
    for org in &record.orgs {
        let mut out = batch.org(org).await?;
        for part in results_parts(store, org, &record.period, &record.run_id).await? {
            let bytes = store.get(&part).await?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
                .and_then(|builder| builder.build())
                .map_err(payroll_connectors::Error::from)?;
            for rows in reader {
                out.add(&rows.map_err(BatchError::from)?, progress).await?;
            }
        }
        report.absorb(out.finish(progress).await?);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Decimal128Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn an_amount_past_an_exact_decimal_stops_the_batch_naming_worker_and_column() {
        let schema = Schema::new(vec![
            Field::new("worker_id", DataType::Utf8, false),
            Field::new("net_pay", DataType::Decimal128(38, 2), true),
        ]);
        let batch = |net: i128| {
            let net = Decimal128Array::from(vec![Some(1_000), Some(net)])
                .with_precision_and_scale(38, 2)
                .unwrap();
            RecordBatch::try_new(
                Arc::new(schema.clone()),
                vec![Arc::new(StringArray::from(vec!["W1", "W2"])), Arc::new(net)],
            )
            .unwrap()
        };
        assert!(check_amounts(&[batch(2_000)]).is_ok());
        let err = check_amounts(&[batch(i128::MAX)]).unwrap_err().to_string();
        assert!(err.starts_with("worker W2: `net_pay`"), "{err}");
    }
}
