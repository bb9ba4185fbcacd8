//! Processing an upload, in the background: its file read row by row, each row checked as the
//! engine checks each input, its accepted rows applied (or staged for review), its rejected
//! rows kept for the error report.
//!
//! ```text
//! process (a blocking thread):
//!   read a row ─▶ check (check.rs) ─▶ accepted: staged line in <data>/uploads/<id>.staged
//!                                  └▶ rejected: cells (masked) and faults ─▶ upload_rejections
//!   end of file ─▶ all_or_nothing with a rejection: nothing applied, `failed`
//!               ├▶ workers: the staged lines wait in the object store ([`super::staged_path`],
//!               │  sealed at rest), `awaiting_approval`, for another person's approval
//!               │  (review.rs) on any instance, which applies them as below, or rejection
//!               └▶ apply the staged lines at once: adjustments `pending` in the database (then
//!                  published as a single request's are), summary rows appended to the input
//!                  folder's attendance_summary.csv, workers to workers.csv or the workers topic
//! ```
//!
//! Memory holds one row, the digests of the rows' keys (duplicates) and a batch of rejections
//! while reading; the staged lines are on disk until they are applied in one step, so an upload
//! is applied whole or not at all.

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use payroll_connectors::files::sheet;
use payroll_connectors::kafka::{self, KafkaConfig};
use tokio::runtime::Handle;

use super::check::{self, Checker, shown};
use super::{MAX_ROWS, Target, file_path, master, staged_path, target};
use crate::app::App;
use crate::db::Db;
use crate::db::adjustments::{self, Requested};
use crate::db::uploads::{self, Counts, Rejection, Upload};
use crate::domain::uploads::{UploadKind, UploadMode, UploadStatus};
use crate::error::{Error, Result};

/// Sites and their orgs from the configured sites file (stream mode's workers).
fn configured_sites(ctx: &App) -> Result<Option<HashMap<String, String>>> {
    match &ctx.config.sites {
        Some(path) => Ok(Some(
            payroll_connectors::files::read_sites(path)?
                .into_iter()
                .map(|s| (s.site_id.into(), s.org_id.into()))
                .collect(),
        )),
        None => Ok(None),
    }
}

/// Processes a queued upload to its end, in the background: every failure is recorded on the
/// upload, none is lost in a task's return value.
pub async fn process(ctx: App, org: String, id: String) {
    match uploads::start(&ctx.db, &org, &id).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::error!(upload = id, error = %e, "upload not started");
            return;
        }
    }
    let upload = match uploads::get(&ctx.db, &org, &id).await {
        Ok(upload) => upload,
        Err(e) => {
            tracing::error!(upload = id, error = %e, "upload not read");
            return;
        }
    };
    let kind = upload.kind;
    if let Err(e) = run(&ctx, upload).await {
        tracing::error!(upload = id, error = %e, "upload failed");
        let message = match e.status().is_server_error() {
            true => "the service failed while processing it; it is logged: upload the file again".to_string(),
            false => e.to_string(),
        };
        let counts = uploads::get(&ctx.db, &org, &id)
            .await
            .map(|u| Counts {
                rows: u.rows,
                rejected: u.rejected,
                ..Counts::default()
            })
            .unwrap_or_default();
        if let Err(e) = uploads::finish(&ctx.db, &org, &id, UploadStatus::Failed, counts, Some(&message)).await {
            tracing::error!(upload = id, error = %e, "upload failure not recorded");
        }
    }
    if kind == UploadKind::Adjustments
        && let Err(e) = crate::adjustments::publish_all(&ctx).await
    {
        tracing::warn!(error = %e, "uploaded adjustments not published yet; the janitor retries");
    }
}

async fn run(ctx: &App, upload: Upload) -> Result<()> {
    let bytes = ctx
        .at_rest
        .get(&ctx.store, &file_path(&upload.org_id, &upload.sha256, upload.format))
        .await?;
    let target = target(ctx, upload.kind)?;
    let staging = ctx.config.data.join("uploads");
    std::fs::create_dir_all(&staging).map_err(|e| Error::Unavailable(format!("{}: {e}", staging.display())))?;
    let staged = staging.join(format!("{}.staged", upload.id));
    let (source, config) = (ctx.source.clone(), ctx.config.clone());
    let (at_rest, store) = (ctx.at_rest.clone(), ctx.store.clone());
    let sites = match (&target, upload.kind) {
        (Target::WorkersTopic { .. }, UploadKind::Workers) => configured_sites(ctx)?,
        _ => None,
    };
    let (db, handle) = (ctx.db.clone(), Handle::current());
    // Stream mode has no master file: a worker the live pay knows is checked against its org
    // there (one it does not know yet is left to the fold, which refuses an org change).
    let owner: Option<check::Owner> = match (&ctx.live, upload.kind) {
        (Some(live), UploadKind::Workers) => {
            let (live, handle) = (std::sync::Arc::clone(live), handle.clone());
            Some(Box::new(move |worker: &str| {
                let found = handle.block_on(live.pay(worker)).ok().flatten()?;
                found.pay.text("org_id").map(str::to_string)
            }))
        }
        _ => None,
    };
    tokio::task::spawn_blocking(move || {
        let result = (|| {
            let master = master(&source, &upload.org_id)?;
            let columns = match &target {
                Target::Folder { columns, .. } => columns.clone(),
                // The topic's records carry the contact columns too (the folder's take those
                // its workers.csv has).
                Target::WorkersTopic { .. } => payroll_connectors::files::WORKER_COLUMNS
                    .iter()
                    .chain(&payroll_connectors::files::WORKER_CONTACT_COLUMNS)
                    .map(|c| c.to_string())
                    .collect(),
                Target::Adjustments => Vec::new(),
            };
            let checker = Checker::new(
                upload.kind,
                &upload.org_id,
                config.adjustments.max_amount,
                master,
                sites,
                columns,
                matches!(target, Target::WorkersTopic { .. }),
            );
            let checker = match owner {
                Some(owner) => checker.with_owner(owner),
                None => checker,
            };
            let keep =
                |lines: Vec<u8>| handle.block_on(at_rest.put(&store, &staged_path(&upload.org_id, &upload.id), lines));
            validate_and_apply(&db, &handle, &upload, &bytes, checker, &target, &staged, &keep)
        })();
        let _ = std::fs::remove_file(&staged);
        result.map(|_| ())
    })
    .await
    .map_err(|e| Error::Internal(format!("the upload's thread: {e}")))?
}

/// Reads, checks and applies one upload, recording its progress, rejections and end on the
/// way; returns the status it ended in. The accepted lines are staged in the local file
/// `staged`. A workers upload is not applied: its lines are given to `keep` for the reviewer,
/// and it ends `awaiting_approval`. Runs on a blocking thread; `handle` runs the database calls.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site, each argument a different thing"
)]
fn validate_and_apply(
    db: &Db,
    handle: &Handle,
    upload: &Upload,
    bytes: &[u8],
    checker: Checker,
    target: &Target,
    staged: &Path,
    keep: &dyn Fn(Vec<u8>) -> Result<()>,
) -> Result<UploadStatus> {
    let file = std::fs::File::create(staged).map_err(|e| Error::Unavailable(format!("{}: {e}", staged.display())))?;
    let mut pass = Pass {
        db,
        handle,
        upload,
        checker,
        columns: Vec::new(),
        counts: Counts::default(),
        rejections: Vec::new(),
        staged: BufWriter::new(file),
        reported: Instant::now(),
        error: None,
    };
    let read = sheet::read(upload.format.into(), bytes, &mut pass);
    if let Some(e) = pass.error.take() {
        return Err(e);
    }
    pass.flush_rejections()?;
    let mut counts = pass.counts;
    pass.staged
        .flush()
        .map_err(|e| Error::Unavailable(format!("{}: {e}", staged.display())))?;
    drop(pass);
    let failed = |counts: Counts, message: String| -> Result<UploadStatus> {
        let counts = Counts {
            accepted: 0,
            applied: 0,
            ..counts
        };
        handle.block_on(uploads::finish(
            db,
            &upload.org_id,
            &upload.id,
            UploadStatus::Failed,
            counts,
            Some(&message),
        ))?;
        Ok(UploadStatus::Failed)
    };
    if let Err(unreadable) = read {
        return failed(counts, unreadable.0);
    }
    if counts.rows == 0 {
        return failed(counts, "no rows under the header".into());
    }
    if upload.mode == UploadMode::AllOrNothing && counts.rejected > 0 {
        return failed(
            counts,
            format!(
                "{} of {} rows rejected, so nothing was applied (mode all_or_nothing): fix them (see the error report) and upload the file again",
                counts.rejected, counts.rows
            ),
        );
    }
    let lines = std::fs::read(staged).map_err(|e| Error::Unavailable(format!("{}: {e}", staged.display())))?;
    // Worker master changes (a bank account, a rate, a new worker) take a second person.
    let status = match upload.kind {
        UploadKind::Workers if counts.accepted > 0 => {
            keep(lines)?;
            UploadStatus::AwaitingApproval
        }
        UploadKind::Workers => UploadStatus::Done,
        _ => {
            counts.progress = 80;
            handle.block_on(uploads::progress(db, &upload.id, counts))?;
            counts.applied = apply(db, handle, upload, target, &lines)? as i64;
            UploadStatus::Done
        }
    };
    handle.block_on(uploads::finish(db, &upload.org_id, &upload.id, status, counts, None))?;
    Ok(status)
}

/// One pass over the rows: each checked, staged or rejected.
struct Pass<'a> {
    db: &'a Db,
    handle: &'a Handle,
    upload: &'a Upload,
    checker: Checker,
    columns: Vec<String>,
    counts: Counts,
    rejections: Vec<Rejection>,
    staged: BufWriter<std::fs::File>,
    reported: Instant,
    /// A database or disk failure met while reading: it ends the upload.
    error: Option<Error>,
}

/// Rejections written at a time.
const REJECTIONS: usize = 500;
/// How often progress is written while rows are read.
const REPORT_EVERY: Duration = Duration::from_millis(250);

impl Pass<'_> {
    fn flush_rejections(&mut self) -> Result<()> {
        if !self.rejections.is_empty() {
            self.handle
                .block_on(uploads::reject(self.db, &self.upload.id, &self.rejections))?;
            self.rejections.clear();
        }
        Ok(())
    }

    fn fail(&mut self, e: Error) -> ControlFlow<String> {
        self.error = Some(e);
        ControlFlow::Break("stopped".into())
    }
}

impl sheet::Rows for Pass<'_> {
    fn header(&mut self, columns: &[String]) -> std::result::Result<(), String> {
        let required = check::required(self.upload.kind);
        if let Some(absent) = required.iter().find(|c| !columns.iter().any(|h| h == *c)) {
            return Err(format!(
                "the header has no column `{absent}`: a {} file has the columns {}",
                self.upload.kind,
                required.join(", ")
            ));
        }
        self.columns = columns.to_vec();
        let masked: Vec<String> = columns.iter().map(|c| shown("", c)).collect();
        if let Err(e) = self
            .handle
            .block_on(uploads::set_columns(self.db, &self.upload.id, &masked))
        {
            self.error = Some(e);
            return Err("stopped".into());
        }
        Ok(())
    }

    fn row(&mut self, number: u64, cells: &[String], done: u64, of: u64) -> ControlFlow<String> {
        self.counts.rows += 1;
        if self.counts.rows as u64 > MAX_ROWS {
            return ControlFlow::Break(format!(
                "more than {MAX_ROWS} rows (row {number} is one too many): split the file and upload each part"
            ));
        }
        let checked = self.checker.check(number, &self.columns, cells);
        if let Some(e) = self.error.take() {
            return self.fail(e);
        }
        match checked {
            Ok(staged) => {
                self.counts.accepted += 1;
                if let Err(e) = writeln!(self.staged, "{}", staged.0) {
                    return self.fail(Error::Unavailable(format!("staging the upload's rows: {e}")));
                }
            }
            Err(faults) => {
                self.counts.rejected += 1;
                let cells = self
                    .columns
                    .iter()
                    .zip(cells)
                    .map(|(column, value)| shown(column, value))
                    .collect();
                self.rejections.push(Rejection {
                    row: number as i64,
                    cells,
                    faults,
                });
                if self.rejections.len() >= REJECTIONS
                    && let Err(e) = self.flush_rejections()
                {
                    return self.fail(e);
                }
            }
        }
        if self.reported.elapsed() >= REPORT_EVERY {
            self.reported = Instant::now();
            self.counts.progress = (80 * done / of.max(1)).min(79) as i64;
            if let Err(e) = self
                .handle
                .block_on(uploads::progress(self.db, &self.upload.id, self.counts))
            {
                return self.fail(e);
            }
        }
        ControlFlow::Continue(())
    }
}

/// Applies the staged rows at once; returns how many. A workers upload's, once approved.
pub fn apply(db: &Db, handle: &Handle, upload: &Upload, target: &Target, staged: &[u8]) -> Result<usize> {
    let unavailable = |e: std::io::Error| Error::Internal(format!("upload {}'s staged lines: {e}", upload.id));
    let lines = staged.lines();
    match target {
        Target::Adjustments => {
            let mut rows = lines.map(|line| {
                let line = line.map_err(unavailable)?;
                let [worker_id, period, kind, code, amount, reason]: [String; 6] =
                    serde_json::from_str(&line).map_err(|e| Error::Internal(format!("a staged adjustment: {e}")))?;
                let bad = |what: &str| Error::Internal(format!("a staged adjustment's {what}"));
                Ok(Requested {
                    period: period.parse().map_err(|_| bad("period"))?,
                    kind: serde_json::from_value(serde_json::Value::from(kind)).map_err(|_| bad("kind"))?,
                    amount: amount.parse().map_err(|_| bad("amount"))?,
                    worker_id,
                    code,
                    reason,
                })
            });
            handle.block_on(adjustments::create_many(
                db,
                &upload.org_id,
                &upload.uploaded_by,
                &upload.id,
                &mut rows,
            ))
        }
        Target::Folder { path, columns } => append(path, columns, staged),
        Target::WorkersTopic { config, topic } => {
            let mut count = 0;
            let mut batch = Vec::new();
            for line in lines {
                batch.push(line.map_err(unavailable)?.into_bytes());
                if batch.len() == 1000 {
                    count += publish(config, topic, &mut batch)?;
                }
            }
            count += publish(config, topic, &mut batch)?;
            Ok(count)
        }
    }
}

fn publish(config: &KafkaConfig, topic: &str, batch: &mut Vec<Vec<u8>>) -> Result<usize> {
    if batch.is_empty() {
        return Ok(0);
    }
    kafka::publish_events(config, topic, batch, Duration::from_secs(30))
        .map_err(|e| Error::Unavailable(format!("publishing workers to topic {topic}: {e}")))?;
    let count = batch.len();
    batch.clear();
    Ok(count)
}

/// Appends the staged CSV lines to an input file (with `columns` as its header if it is new),
/// in one write: a run reading the folder sees all of them or none.
fn append(path: &Path, columns: &[String], text: &[u8]) -> Result<usize> {
    // One writer at a time in this process, as the adjustments publisher appends.
    static APPENDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = APPENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let io = |e: std::io::Error| Error::Unavailable(format!("{}: {e}", path.display()));
    let count = text.iter().filter(|&&b| b == b'\n').count();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(io)?;
    let length = file.metadata().map_err(io)?.len();
    let mut out = Vec::with_capacity(text.len() + 256);
    if length == 0 {
        let mut header = ::csv::WriterBuilder::new().from_writer(Vec::new());
        header
            .write_record(columns)
            .map_err(|e| Error::Internal(e.to_string()))?;
        out.extend(header.into_inner().map_err(|e| Error::Internal(e.to_string()))?);
    } else {
        let mut last = [b'\n'];
        file.seek(SeekFrom::Start(length - 1)).map_err(io)?;
        file.read_exact(&mut last).map_err(io)?;
        if last[0] != b'\n' {
            out.push(b'\n');
        }
    }
    out.extend_from_slice(text);
    file.write_all(&out).map_err(io)?;
    file.sync_data().map_err(io)?;
    Ok(count)
}
