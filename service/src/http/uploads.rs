//! Bulk uploads over HTTP (`crate::uploads` says what each verb means): a file of attendance
//! summaries, adjustments or workers is accepted (202) and processed in the background; its
//! status, counts and progress are read back, and its error report downloaded as XLSX or CSV.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::App;
use super::extractor::{ApiPath, ApiQuery, QueryFaults, idempotency_key};
use crate::caller::Caller;
use crate::db::uploads::{self, Filter, Upload};
use crate::domain::uploads::{Format, UploadKind, UploadMode, UploadStatus};
use crate::error::{Error, Result};
use crate::uploads as operations;
use crate::uploads::review::WorkerChange;

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/uploads", post(create).get(list))
        .route("/v1/orgs/{org}/uploads/{id}", get(read))
        .route("/v1/orgs/{org}/uploads/{id}/errors.xlsx", get(errors_xlsx))
        .route("/v1/orgs/{org}/uploads/{id}/errors.csv", get(errors_csv))
        .route("/v1/orgs/{org}/uploads/{id}/changes", get(changes))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateQuery {
    /// What the file's rows are.
    #[param(value_type = UploadKind)]
    pub kind: String,
    /// `accept_valid` (the default) or `all_or_nothing`.
    #[param(value_type = Option<UploadMode>)]
    pub mode: Option<String>,
}

/// The form: the file in the field `file`, `.xlsx` or `.csv` (UTF-8), with a header row.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the multipart form for the OpenAPI document")]
pub struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadLinks {
    #[serde(rename = "self")]
    pub this: String,
    pub errors_xlsx: String,
    pub errors_csv: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadBody {
    pub id: String,
    pub kind: UploadKind,
    pub mode: UploadMode,
    pub status: UploadStatus,
    pub file_name: String,
    pub format: Format,
    pub bytes: i64,
    /// Data rows read so far (all of them once done).
    pub rows: i64,
    /// Rows that passed every check (applied unless the upload failed).
    pub accepted: i64,
    pub rejected: i64,
    /// Accepted rows applied: adjustments requested (pending approval), summary or worker rows
    /// written to the org's input.
    pub applied: i64,
    /// Percent: reading and checking rows up to 80, applying them to 100.
    pub progress: i64,
    /// Why a failed upload failed.
    pub message: Option<String>,
    pub uploaded_by: String,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub links: UploadLinks,
}

impl From<Upload> for UploadBody {
    fn from(u: Upload) -> Self {
        let this = format!("/v1/orgs/{}/uploads/{}", u.org_id, u.id);
        UploadBody {
            links: UploadLinks {
                errors_xlsx: format!("{this}/errors.xlsx"),
                errors_csv: format!("{this}/errors.csv"),
                this,
            },
            id: u.id,
            kind: u.kind,
            mode: u.mode,
            status: u.status,
            file_name: u.file_name,
            format: u.format,
            bytes: u.bytes,
            rows: u.rows,
            accepted: u.accepted,
            rejected: u.rejected,
            applied: u.applied,
            progress: u.progress,
            message: u.message,
            uploaded_by: u.uploaded_by,
            created_at: u.created_at,
            finished_at: u.finished_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadPage {
    pub uploads: Vec<UploadBody>,
    pub next_page_token: Option<String>,
}

/// Multipart framing and headers a form adds around the file.
const FORM_OVERHEAD: usize = 64 << 10;

/// Upload a file of attendance summaries, adjustments or workers: checked and applied in the
/// background (poll the upload; its `links` name the error reports). Adjustments wait for a
/// second person's approval, as one requested through the API does. An `Idempotency-Key` with
/// the same file returns the upload the first request made.
#[utoipa::path(post, path = "/v1/orgs/{org}/uploads", tag = "uploads",
    params(("org" = String, Path), CreateQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "Unique per intended upload")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 202, description = "Queued; `Location` names the upload", body = UploadBody),
        (status = 200, description = "A retry: the upload already made", body = UploadBody),
        (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 409, description = "This kind cannot be uploaded in the service's mode", body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody),
        (status = 429, description = "The org has `[uploads] max_in_progress` uploads in progress already; `Retry-After` says when to try again", body = super::error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait")))),
    security(("bearer" = [])))]
pub(super) async fn create(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
    ApiQuery(query): ApiQuery<CreateQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let key = idempotency_key(&headers);
    let admitted = operations::admit(&ctx, &user, &org, &query.kind, query.mode.as_deref(), key).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let boundary = boundary(&content_type).ok_or_else(|| {
        Error::invalid(
            "body",
            "expected multipart/form-data with the file in the field `file` (curl -F file=@sheet.xlsx)",
        )
    })?;
    let form = axum::body::to_bytes(body, ctx.config.uploads.max_bytes + FORM_OVERHEAD)
        .await
        .map_err(|_| operations::too_big(&ctx))?;
    let part = file_part(&form, &boundary)?;
    let sent = operations::Sent {
        file_name: part.file_name.as_deref(),
        content_type: part.content_type.as_deref(),
        bytes: &form[part.range.clone()],
    };
    let (upload, created) = operations::create(&ctx, &user, &org, admitted, sent).await?;
    let location = format!("/v1/orgs/{org}/uploads/{}", upload.id);
    if !created {
        return Ok((StatusCode::OK, Json(UploadBody::from(upload))).into_response());
    }
    let mut response = (StatusCode::ACCEPTED, Json(UploadBody::from(upload))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// The `boundary` of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Option<String> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        (!value.is_empty() && value.len() <= 70).then(|| value.to_string())
    })
}

/// The `file` part of a form: where its bytes are, and what its headers say of them.
#[derive(Debug, PartialEq)]
struct Part {
    range: std::ops::Range<usize>,
    file_name: Option<String>,
    content_type: Option<String>,
}

/// Finds the part named `file` in a multipart body (RFC 7578): parts are separated by
/// `--boundary` lines, each has headers, a blank line and its bytes.
fn file_part(form: &[u8], boundary: &str) -> Result<Part> {
    let missing = || {
        Error::invalid(
            "file",
            "no part named `file` in the form: send the file as the field `file`",
        )
    };
    let delimiter = format!("--{boundary}");
    let next_part = format!("\r\n--{boundary}");
    let finder = memchr::memmem::Finder::new(next_part.as_bytes());
    let mut at = memchr::memmem::find(form, delimiter.as_bytes()).ok_or_else(missing)? + delimiter.len();
    loop {
        let rest = &form[at..];
        if rest.starts_with(b"--") {
            return Err(missing());
        }
        let headers_start = at + memchr::memmem::find(rest, b"\r\n").ok_or_else(missing)? + 2;
        let headers_end =
            headers_start + memchr::memmem::find(&form[headers_start..], b"\r\n\r\n").ok_or_else(missing)?;
        let body_start = headers_end + 4;
        let body_end = body_start + finder.find(&form[body_start..]).ok_or_else(missing)?;
        let headers = String::from_utf8_lossy(&form[headers_start..headers_end]);
        let mut name = None;
        let mut file_name = None;
        let mut content_type = None;
        for line in headers.split("\r\n") {
            let Some((header, value)) = line.split_once(':') else {
                continue;
            };
            if header.trim().eq_ignore_ascii_case("content-disposition") {
                for param in value.split(';').skip(1) {
                    if let Some((k, v)) = param.split_once('=') {
                        let v = v.trim().trim_matches('"').to_string();
                        match k.trim().to_ascii_lowercase().as_str() {
                            "name" => name = Some(v),
                            "filename" => file_name = Some(v),
                            _ => {}
                        }
                    }
                }
            } else if header.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_ascii_lowercase());
            }
        }
        if name.as_deref() == Some("file") {
            return Ok(Part {
                range: body_start..body_end,
                file_name,
                content_type,
            });
        }
        at = body_end + next_part.len();
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<UploadStatus>)]
    pub status: Option<String>,
    #[param(value_type = Option<UploadKind>)]
    pub kind: Option<String>,
    /// 1 to 100; 20 by default.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the page before.
    pub page_token: Option<String>,
}

/// The org's uploads, newest first (`upload`, or `workers:approve` to find those awaiting it).
#[utoipa::path(get, path = "/v1/orgs/{org}/uploads", tag = "uploads", params(("org" = String, Path), ListQuery),
    responses((status = 200, body = UploadPage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<UploadPage>> {
    operations::may_read(&user, &org)?;
    let mut faults = QueryFaults::default();
    let status = faults.parse::<UploadStatus>("status", query.status.as_deref());
    let kind = faults.parse::<UploadKind>("kind", query.kind.as_deref());
    let size = faults.page_size(query.page_size, 20, 100);
    faults.check()?;
    let filter = Filter { status, kind };
    let (found, next) = uploads::list(&ctx.db, &org, &filter, query.page_token.as_deref(), size).await?;
    Ok(Json(UploadPage {
        uploads: found.into_iter().map(UploadBody::from).collect(),
        next_page_token: next,
    }))
}

/// An upload: its status, counts and progress.
#[utoipa::path(get, path = "/v1/orgs/{org}/uploads/{id}", tag = "uploads",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = UploadBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn read(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Json<UploadBody>> {
    operations::may_read(&user, &org)?;
    Ok(Json(uploads::get(&ctx.db, &org, &id).await?.into()))
}

/// What a workers upload awaiting approval would change.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerChanges {
    pub upload_id: String,
    pub status: UploadStatus,
    /// Per worker in the file's order: new or not, and each field's value before and after.
    pub workers: Vec<WorkerChange>,
    /// Workers in the whole upload (this page shows some of them).
    pub total: usize,
    /// Pass as `page_token` for the next workers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Workers per page: 1 to 1000; 200 by default.
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the page before.
    #[param(pattern = "^[0-9]+$")]
    pub page_token: Option<String>,
}

/// A workers upload's changes to the master, for the person deciding it (`workers:approve`) or
/// the uploader's colleagues (`upload`): per worker and field the value now and after approval,
/// bank accounts, PANs, phones and emails masked, in the file's order, a page of workers at a
/// time. 409 unless it is `awaiting_approval`.
#[utoipa::path(get, path = "/v1/orgs/{org}/uploads/{id}/changes", tag = "uploads",
    params(("org" = String, Path), ("id" = String, Path), ChangesQuery),
    responses((status = 200, body = WorkerChanges), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn changes(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ChangesQuery>,
) -> Result<Json<WorkerChanges>> {
    operations::may_read(&user, &org)?;
    let mut faults = QueryFaults::default();
    let size = faults.page_size(query.page_size, 200, 1000) as usize;
    let from = match query.page_token.as_deref().map(str::parse::<usize>).transpose() {
        Ok(from) => from.unwrap_or(0),
        Err(_) => {
            faults.note("page_token", "expected the next_page_token of the page before");
            0
        }
    };
    faults.check()?;
    let upload = uploads::get(&ctx.db, &org, &id).await?;
    let workers = crate::uploads::review::changes(&ctx, &upload).await?;
    let total = workers.len();
    let next = from.saturating_add(size);
    Ok(Json(WorkerChanges {
        upload_id: id,
        status: upload.status,
        workers: workers.into_iter().skip(from).take(size).collect(),
        total,
        next_page_token: (next < total).then(|| next.to_string()),
    }))
}

/// The rejected rows as XLSX: per fault, the row, column, value and reason, then the row's
/// original cells (bank accounts and PANs masked). Empty but for its header when no row was
/// rejected.
#[utoipa::path(get, path = "/v1/orgs/{org}/uploads/{id}/errors.xlsx", tag = "uploads",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Still being processed", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn errors_xlsx(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Response> {
    errors(&ctx, &user, &org, &id, Format::Xlsx).await
}

/// The rejected rows as CSV, as [`errors_xlsx`] lays them out.
#[utoipa::path(get, path = "/v1/orgs/{org}/uploads/{id}/errors.csv", tag = "uploads",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Still being processed", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn errors_csv(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Response> {
    errors(&ctx, &user, &org, &id, Format::Csv).await
}

async fn errors(ctx: &App, user: &Caller, org: &str, id: &str, format: Format) -> Result<Response> {
    let bytes = operations::error_report(ctx, user, org, id, format).await?;
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"upload-{id}-errors.{format}\""),
            ),
        ],
        Body::from(bytes),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_file_part_among_others() {
        let form = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ\r\n\
            Content-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\n\
            a,b\r\n1,2\r\n\r\n--XyZ--\r\n";
        let part = file_part(form, "XyZ").unwrap();
        assert_eq!(&form[part.range.clone()], b"a,b\r\n1,2\r\n");
        assert_eq!(part.file_name.as_deref(), Some("a.csv"));
        assert_eq!(part.content_type.as_deref(), Some("text/csv"));
        assert!(file_part(b"--XyZ--\r\n", "XyZ").is_err());
        assert!(file_part(b"garbage", "XyZ").is_err());
        assert_eq!(
            boundary("multipart/form-data; boundary=\"XyZ\"").as_deref(),
            Some("XyZ")
        );
        assert_eq!(boundary("application/json"), None);
    }
}
