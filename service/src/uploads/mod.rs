//! Bulk uploads: a file of attendance summaries, adjustments or workers (XLSX or CSV, up to
//! [`MAX_ROWS`] rows), and its verbs for every caller. An upload is admitted ([`admit`], the
//! `upload` permission and the org's limit of uploads in progress) before its file is read,
//! recorded ([`create`], audited as `upload.create`) and processed in the background
//! (processing.rs); its rows are then applied, or, for a workers upload, staged until another
//! person decides it. [`approve`] and [`reject`] decide an upload: a workers upload's staged
//! changes to the master (`workers:approve`, review.rs), or an adjustments upload's pending
//! requests (`adjustments:approve`), never by the uploader. [`error_report`] hands out the
//! rejected rows, audited.

pub mod check;
pub mod processing;
mod receiving;
pub mod report;
pub mod review;

pub use receiving::{Received, Receiving};

use std::path::{Path, PathBuf};

use payroll_connectors::kafka::{KafkaConfig, Topics};
use payroll_pipeline::Source;
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;

use crate::app::App;
use crate::audit;
use crate::caller::Caller;
use crate::db::adjustments::{self, Decision};
use crate::db::audit::Action;
use crate::db::uploads::{self, NewUpload, Upload};
use crate::domain::permissions::Permission;
use crate::domain::uploads::{Format, UploadKind, UploadMode, UploadStatus};
use crate::error::{Error, Result};
use check::{Master, shown};

/// How long a client told "too many uploads in progress" should wait.
pub const RETRY_AFTER: u64 = 30;

/// An upload admitted before its file is read: counted among the org's uploads in progress
/// from now on, so that many bodies read at once cannot fill the memory.
pub struct Admitted<'a> {
    kind: UploadKind,
    mode: UploadMode,
    key: Option<String>,
    receiving: Received<'a>,
}

/// Admits an upload of `kind` (and `mode`, `accept_valid` by default) to `org` (`upload`), its
/// idempotency `key` as the client sent it: refused when the kind cannot be uploaded in this
/// service's mode (409) or the org has `[uploads] max_in_progress` uploads in progress (429).
pub async fn admit<'a>(
    app: &'a App,
    caller: &Caller,
    org: &str,
    kind: &str,
    mode: Option<&str>,
    key: Option<&str>,
) -> Result<Admitted<'a>> {
    caller.may(org, Permission::Upload)?;
    let mut invalid = Vec::new();
    let kind = kind
        .parse::<UploadKind>()
        .map_err(|e| invalid.push(("kind".to_string(), e)))
        .ok();
    let mode = match mode.map(str::parse::<UploadMode>).transpose() {
        Ok(mode) => mode.unwrap_or(UploadMode::AcceptValid),
        Err(e) => {
            invalid.push(("mode".to_string(), e));
            UploadMode::AcceptValid
        }
    };
    let key = match caller.idempotency(key) {
        Ok(key) => key,
        Err(Error::Invalid(faults)) => {
            invalid.extend(faults);
            None
        }
        Err(e) => return Err(e),
    };
    let (Some(kind), true) = (kind, invalid.is_empty()) else {
        return Err(Error::Invalid(invalid));
    };
    if let Some(why) = refusal(app, kind) {
        return Err(Error::Conflict(why));
    }
    let _admission = app.receiving.admission().await;
    let receiving = app.receiving.begin(org);
    let limit = app.config.uploads.max_in_progress;
    let in_progress = receiving.count - 1 + uploads::in_progress(&app.db, org).await?;
    if in_progress >= limit {
        return Err(Error::TooMany {
            message: format!(
                "org {org} has {in_progress} uploads in progress, and [uploads] max_in_progress is {limit}: \
                 retry once one is done"
            ),
            retry_after: RETRY_AFTER,
        });
    }
    Ok(Admitted {
        kind,
        mode,
        key,
        receiving,
    })
}

/// Uploads are read by those who upload (`upload`) and by those who decide workers uploads
/// (`workers:approve`): an approver finds what awaits them.
pub fn may_read(caller: &Caller, org: &str) -> Result<()> {
    match caller.can(Permission::ApproveWorkers) {
        true => caller.org(org),
        false => caller.may(org, Permission::Upload),
    }
}

/// A file as the client sent it.
pub struct Sent<'a> {
    pub file_name: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub bytes: &'a [u8],
}

/// Why a file is refused for its size: more than `[uploads] max_bytes`.
pub fn too_big(app: &App) -> Error {
    Error::invalid(
        "file",
        format!(
            "larger than {} bytes, the most an upload may be: split it",
            app.config.uploads.max_bytes
        ),
    )
}

/// Records an admitted upload of `file` by the caller, audited as `upload.create`, and starts
/// processing it: the upload, and whether it is new (false: the same idempotency key made it).
pub async fn create(
    app: &App,
    caller: &Caller,
    org: &str,
    admitted: Admitted<'_>,
    file: Sent<'_>,
) -> Result<(Upload, bool)> {
    if file.bytes.len() > app.config.uploads.max_bytes {
        return Err(too_big(app));
    }
    let format = format_of(file.file_name, file.content_type, file.bytes)?;
    let file_name = file
        .file_name
        .map(|name| shown("", name.rsplit(['/', '\\']).next().unwrap_or(name)))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| format!("upload.{format}"));
    let sha256 = hex::encode(Sha256::digest(file.bytes));
    // Kept by content, before the upload is recorded: a recorded upload always has its file.
    app.at_rest
        .put(&app.store, &file_path(org, &sha256, format), file.bytes.to_vec())
        .await?;
    let admission = app.receiving.admission().await;
    let new = NewUpload {
        org_id: org,
        kind: admitted.kind,
        mode: admitted.mode,
        file_name: &file_name,
        format,
        bytes: file.bytes.len() as i64,
        sha256: &sha256,
        uploaded_by: &caller.sub,
        idempotency_key: admitted.key.as_deref(),
    };
    let (upload, created) = uploads::create(&app.db, new, caller.actor()).await?;
    // Recorded: the database counts it from now on.
    drop(admitted.receiving);
    drop(admission);
    if created {
        tokio::spawn(processing::process(app.clone(), org.to_string(), upload.id.clone()));
    }
    Ok((upload, created))
}

/// Approves upload `id`, by someone other than who uploaded it: a workers upload's staged
/// workers are applied to the master (`workers:approve`; 409 unless `awaiting_approval`), each
/// changed field audited; an adjustments upload's pending requests are each published as
/// approved (`adjustments:approve`; 409 once none is pending). How many were decided.
pub async fn approve(app: &App, caller: &Caller, org: &str, id: &str) -> Result<u64> {
    match decider(app, caller, org, id).await? {
        UploadKind::Workers => {
            let upload = uploads::get(&app.db, org, id).await?;
            review::approve(app, &caller.actor(), &upload).await
        }
        _ => decide_adjustments(app, caller, org, id, Decision::Approve, None).await,
    }
}

/// Rejects upload `id`, by someone other than who uploaded it, saying why: a workers upload's
/// staged workers are dropped; an adjustments upload's pending requests are rejected.
pub async fn reject(app: &App, caller: &Caller, org: &str, id: &str, reason: &str) -> Result<u64> {
    let kind = decider(app, caller, org, id).await?;
    let reason = crate::adjustments::rejection_reason(reason)?;
    match kind {
        UploadKind::Workers => {
            let upload = uploads::get(&app.db, org, id).await?;
            review::reject(app, &caller.actor(), &upload, reason).await
        }
        _ => decide_adjustments(app, caller, org, id, Decision::Reject, Some(reason)).await,
    }
}

/// The kind of upload `id` once the caller may decide it: a workers upload's staged master
/// changes by another person with `workers:approve`, any other's requests with
/// `adjustments:approve` (the same verbs decide both kinds).
async fn decider(app: &App, caller: &Caller, org: &str, id: &str) -> Result<UploadKind> {
    // Without either permission the answer is 403 before the upload is looked up.
    if !caller.can(Permission::ApproveWorkers) {
        caller.may(org, Permission::ApproveAdjustments)?;
    }
    caller.org(org)?;
    let upload = uploads::get(&app.db, org, id).await?;
    if upload.kind != UploadKind::Workers {
        caller.may(org, Permission::ApproveAdjustments)?;
        return Ok(upload.kind);
    }
    caller.may(org, Permission::ApproveWorkers)?;
    if upload.uploaded_by == caller.sub {
        return Err(Error::Forbidden(format!(
            "four eyes: {} uploaded {id} and cannot also decide its worker changes; another user with workers:approve must",
            caller.sub
        )));
    }
    Ok(upload.kind)
}

/// Decides every pending adjustment an adjustments upload requested, and publishes them.
async fn decide_adjustments(
    app: &App,
    caller: &Caller,
    org: &str,
    id: &str,
    decision: Decision,
    note: Option<&str>,
) -> Result<u64> {
    let upload = uploads::get(&app.db, org, id).await?;
    if upload.kind != UploadKind::Adjustments {
        return Err(Error::Conflict(format!(
            "upload {id} is of {}: only an adjustments upload's requests are approved or rejected",
            upload.kind.as_str()
        )));
    }
    if upload.uploaded_by == caller.sub {
        return Err(Error::Forbidden(format!(
            "four eyes: {} uploaded {id} and cannot also decide its adjustments; another user with adjustments:approve must",
            caller.sub
        )));
    }
    let decided = adjustments::decide_upload(&app.db, org, id, decision, &caller.sub, note, &caller.actor()).await?;
    if decided == 0 {
        return Err(Error::Conflict(format!(
            "upload {id} has no pending adjustment: each is decided already (or the upload is not applied yet)"
        )));
    }
    if let Err(e) = crate::adjustments::publish_all(app).await {
        tracing::warn!(error = %e, "adjustments not published yet; the janitor retries");
    }
    Ok(decided)
}

/// Rejections read from the database at a time while a report is written.
const PAGE: u32 = 1000;

/// Upload `id`'s rejected rows as an XLSX or CSV report (`upload`), audited as
/// `upload.errors_download`: per fault, the row, column, value and reason, then the row's
/// original cells (bank accounts and PANs masked). 409 while it is being processed.
pub async fn error_report(app: &App, caller: &Caller, org: &str, id: &str, format: Format) -> Result<Vec<u8>> {
    caller.may(org, Permission::Upload)?;
    let upload = uploads::get(&app.db, org, id).await?;
    if matches!(upload.status, UploadStatus::Queued | UploadStatus::Processing) {
        return Err(Error::Conflict(format!(
            "upload {id} is {}: its error report is ready once it is done or failed",
            upload.status
        )));
    }
    let target = format!("uploads/{id}/errors.{format}");
    audit::downloaded(app, caller, Action::UploadErrorsDownload, &target).await?;
    let (db, handle) = (app.db.clone(), Handle::current());
    tokio::task::spawn_blocking(move || {
        let mut after = 0;
        let mut next = || {
            let page = handle.block_on(uploads::rejections(&db, &upload.id, after, PAGE))?;
            after = page.last().map_or(after, |r| r.row);
            Ok((!page.is_empty()).then_some(page))
        };
        report::render(format, &upload.columns, &mut next)
    })
    .await
    .map_err(|e| Error::Internal(format!("the error report's thread: {e}")))?
}

/// XLSX or CSV, by the file's name, else its content type, else its first bytes; and the bytes
/// must be what the name says.
fn format_of(file_name: Option<&str>, content_type: Option<&str>, bytes: &[u8]) -> Result<Format> {
    let zip = bytes.starts_with(b"PK\x03\x04");
    let extension = file_name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    let format = match (extension.as_deref(), content_type) {
        (Some("xlsx"), _) => Format::Xlsx,
        (Some("csv"), _) => Format::Csv,
        (Some(other), _) => {
            return Err(Error::invalid(
                "file",
                format!("a .{other} file: expected an .xlsx or a .csv file"),
            ));
        }
        (None, Some(t)) if t == Format::Xlsx.content_type() => Format::Xlsx,
        (None, Some(t)) if t == Format::Csv.content_type() => Format::Csv,
        (None, _) if zip => Format::Xlsx,
        (None, _) => Format::Csv,
    };
    if bytes.is_empty() {
        return Err(Error::invalid("file", "the file is empty"));
    }
    match format {
        Format::Xlsx if !zip => Err(Error::invalid(
            "file",
            "not an XLSX file (an XLSX file is a ZIP archive, and this is not one): save it as .xlsx or .csv",
        )),
        Format::Csv if zip || std::str::from_utf8(bytes).is_err() => Err(Error::invalid(
            "file",
            "not CSV text: save the sheet as \"CSV UTF-8\" (or upload it as .xlsx)",
        )),
        format => Ok(format),
    }
}

/// The most rows an upload may have: split a bigger file.
pub const MAX_ROWS: u64 = 100_000;

/// Where uploaded files are kept in the output store.
const UPLOADS: &str = "uploads";

/// Where an uploaded file is kept, by its content (SHA-256): for processing, and after as the
/// record of what was uploaded, until `[uploads] keep_raw`; sealed at rest ([`crate::at_rest`]).
pub fn file_path(org: &str, sha256: &str, format: Format) -> object_store::path::Path {
    object_store::path::Path::from(format!("{UPLOADS}/org_id={org}/{sha256}.{format}"))
}

/// Where a workers upload's accepted rows wait for the reviewer's decision: in the object store,
/// so that any instance can show and apply them; sealed at rest (they carry bank accounts).
pub fn staged_path(org: &str, id: &str) -> object_store::path::Path {
    object_store::path::Path::from(format!("{UPLOADS}/org_id={org}/staged/{id}.lines"))
}

/// Where an upload's accepted rows go in this service's mode, or why they cannot.
#[derive(Debug, Clone)]
pub enum Target {
    /// The adjustments table, then the publisher.
    Adjustments,
    /// Appended to a file of the input folder, with these columns.
    Folder { path: PathBuf, columns: Vec<String> },
    /// Published to the workers topic.
    WorkersTopic { config: KafkaConfig, topic: String },
}

/// Why a kind cannot be uploaded in this service's mode (a 409 at upload time), if it cannot.
pub fn refusal(ctx: &App, kind: UploadKind) -> Option<String> {
    match (kind, &*ctx.source, &ctx.config.brokers) {
        (UploadKind::Adjustments, ..) | (_, Source::Folder(_), None) => None,
        (UploadKind::AttendanceSummary, ..) => Some(
            "attendance summaries are read from the input folder's attendance_summary file; in stream mode no topic \
             carries them: send punches and leave to the attendance and leave topics instead"
                .into(),
        ),
        (UploadKind::Workers, _, Some(_)) => None,
        (UploadKind::Workers, ..) => {
            Some("workers are published to the workers topic in stream mode: configure `brokers`".into())
        }
    }
}

pub fn target(ctx: &App, kind: UploadKind) -> Result<Target> {
    if let Some(why) = refusal(ctx, kind) {
        return Err(Error::Conflict(why));
    }
    match (kind, &*ctx.source, &ctx.config.brokers) {
        (UploadKind::Adjustments, ..) => Ok(Target::Adjustments),
        (UploadKind::Workers, _, Some(brokers)) => Ok(Target::WorkersTopic {
            config: KafkaConfig {
                brokers: brokers.clone(),
                group: ctx.config.stream.group.clone(),
                options: ctx.config.stream.options.clone().into_iter().collect(),
            },
            topic: Topics::default().workers,
        }),
        (kind, Source::Folder(dir), _) => {
            let (name, default, extra): (&str, &[&str], &[&str]) = match kind {
                // A new summary file names each row's org (the uploader's), so the fold can
                // refuse a row for another org's worker; an existing file keeps its columns.
                UploadKind::AttendanceSummary => (
                    "attendance_summary.csv",
                    &payroll_connectors::files::SUMMARY_COLUMNS,
                    &["org_id"],
                ),
                _ => ("workers.csv", &payroll_connectors::files::WORKER_COLUMNS, &[]),
            };
            let path = dir.join(name);
            let columns = match header_of(&path)? {
                Some(columns) => columns,
                None => default.iter().chain(extra).map(|c| c.to_string()).collect(),
            };
            Ok(Target::Folder { path, columns })
        }
        _ => Err(Error::Internal(format!("no target for {kind} uploads"))),
    }
}

/// The header of a CSV file, if the file exists.
fn header_of(path: &Path) -> Result<Option<Vec<String>>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut reader =
        ::csv::Reader::from_path(path).map_err(|e| Error::Unavailable(format!("{}: {e}", path.display())))?;
    let headers = reader
        .headers()
        .map_err(|e| Error::Unavailable(format!("{}: {e}", path.display())))?;
    Ok(Some(headers.iter().map(|h| h.trim().to_string()).collect()))
}

/// The input folder's master as far as an upload of `org` needs it: which worker ids are the
/// org's and each site's org. Stream mode has none to read (the stream's state holds it).
pub fn master(source: &Source, org: &str) -> Result<Option<Master>> {
    let Source::Folder(dir) = source else {
        return Ok(None);
    };
    let pairs = |name: &str, key: &str| -> Result<Vec<(String, String)>> {
        let path = dir.join(name);
        if !path.exists() {
            return Ok(Vec::new());
        }
        let unavailable = |e: ::csv::Error| Error::Unavailable(format!("{}: {e}", path.display()));
        let mut reader = ::csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(&path)
            .map_err(unavailable)?;
        let headers = reader.headers().map_err(unavailable)?.clone();
        let (Some(k), Some(o)) = (
            headers.iter().position(|h| h.trim() == key),
            headers.iter().position(|h| h.trim() == "org_id"),
        ) else {
            return Ok(Vec::new());
        };
        let mut pairs = Vec::new();
        let mut record = ::csv::StringRecord::new();
        // A line the fold would refuse is skipped here too.
        while reader.read_record(&mut record).unwrap_or(false) {
            if let (Some(k), Some(o)) = (record.get(k), record.get(o)) {
                pairs.push((k.trim().to_string(), o.trim().to_string()));
            }
        }
        Ok(pairs)
    };
    Ok(Some(Master {
        workers: pairs("workers.csv", "worker_id")?
            .into_iter()
            .map(|(worker, of)| (worker, of == org))
            .collect(),
        sites: pairs("sites.csv", "site_id")?.into_iter().collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_what_the_name_says_and_the_bytes_are() {
        assert_eq!(format_of(Some("a.CSV"), None, b"a,b").unwrap(), Format::Csv);
        assert_eq!(format_of(None, None, b"PK\x03\x04...").unwrap(), Format::Xlsx);
        assert!(format_of(Some("a.xls"), None, b"\xd0\xcf").is_err());
        assert!(format_of(Some("a.xlsx"), None, b"a,b").is_err());
        assert!(format_of(Some("a.csv"), None, b"\xff\xfe").is_err());
        assert!(format_of(Some("a.csv"), None, b"").is_err());
    }
}
