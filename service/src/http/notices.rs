//! A finalized run's payslip notices, and the notices of the bank and contact changes a workers
//! upload's approval made: their delivery status, filtered and paged; a retry for a dead one;
//! and the signed payslip link a notice carries, which serves one worker's payslip to whoever
//! holds it until it expires.

use axum::extract::{Extension, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use payroll_connectors::layout;
use payroll_engine::lifecycle::RunStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extractor::{ApiPath, ApiQuery, QueryFaults};
use super::{App, RequestId};
use crate::caller::Caller;
use crate::db::audit::{Action, Actor};
use crate::db::notices::{self, Filter, Notice};
use crate::db::{runs, uploads};
use crate::domain::notices::{About, Channel, NoticeKind, NoticeStatus};
use crate::domain::permissions::Permission;
use crate::error::{Error, Result};
use crate::notices::NoticeOf;
use crate::notices::link::Grant;

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/runs/{id}/notices", get(list))
        .route("/v1/orgs/{org}/runs/{id}/notices/{nid}/retry", post(retry))
        .route("/v1/orgs/{org}/uploads/{id}/notices", get(list_of_upload))
        .route("/v1/orgs/{org}/uploads/{id}/notices/{nid}/retry", post(retry_of_upload))
        .route("/v1/signed/orgs/{org}/runs/{id}/payslips/{worker}", get(signed_payslip))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoticeQuery {
    #[param(value_type = Option<NoticeStatus>)]
    pub status: Option<String>,
    /// The channel being tried now, or the one that delivered.
    #[param(value_type = Option<Channel>)]
    pub channel: Option<String>,
    /// One worker's notice.
    pub worker: Option<String>,
    /// 1 to 1000; 100 by default.
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the page before.
    pub page_token: Option<String>,
}

/// A channel given up on, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct Fallback {
    pub channel: String,
    pub reason: String,
}

/// A notice: where it is in delivery. The recipient is masked; the amount is not shown (it is
/// pay data: see the run's results).
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeBody {
    pub id: String,
    pub kind: NoticeKind,
    /// The run of a payslip notice, or of HR's digest of a nightly run's new findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The workers upload whose approval changed a contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// What a contact change changed: `bank_account`, `ifsc`, `phone`, `email`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    pub worker_id: String,
    pub status: NoticeStatus,
    /// The channel being tried, or the one that delivered.
    pub channel: Channel,
    /// The recipient on that channel, masked (`XXXXXXXX5678`, `a***@example.in`).
    pub recipient: String,
    /// The channels still to try after this one.
    pub then: Vec<Channel>,
    pub language: String,
    /// Attempts on the current channel, and on every channel.
    pub attempts: i64,
    pub total_attempts: i64,
    /// When it is tried next (pending).
    pub next_at: String,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub fallbacks: Vec<Fallback>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
}

impl From<Notice> for NoticeBody {
    fn from(n: Notice) -> NoticeBody {
        let (run_id, upload_id, changed) = match &n.about {
            About::Payslip { .. } | About::FindingsDigest { .. } => (Some(n.source.clone()), None, Vec::new()),
            About::ContactChange { fields, .. } => (None, Some(n.source.clone()), fields.clone()),
        };
        NoticeBody {
            kind: n.about.kind(),
            run_id,
            upload_id,
            changed,
            recipient: n.plan.first().map(|s| s.masked_to()).unwrap_or_default(),
            then: n.plan.iter().skip(1).map(|s| s.channel).collect(),
            fallbacks: n
                .fallbacks
                .iter()
                .map(|f| Fallback {
                    channel: f["channel"].as_str().unwrap_or_default().to_string(),
                    reason: f["reason"].as_str().unwrap_or_default().to_string(),
                })
                .collect(),
            id: n.id,
            worker_id: n.worker_id,
            status: n.status,
            channel: n.channel,
            language: n.language,
            attempts: n.attempts,
            total_attempts: n.total_attempts,
            next_at: n.next_at,
            last_error: n.last_error,
            created_at: n.created_at,
            updated_at: n.updated_at,
            sent_at: n.sent_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoticePage {
    pub notices: Vec<NoticeBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A run's payslip notices: written when it is finalized, then sent, retried, fallen back or
/// dead-lettered.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/notices", tag = "notices",
    params(("org" = String, Path), ("id" = String, Path), NoticeQuery),
    responses((status = 200, body = NoticePage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<NoticeQuery>,
) -> Result<Json<NoticePage>> {
    user.may(&org, Permission::ViewNotices)?;
    let filter = query.filter()?;
    runs::get(&ctx.db, &org, &id).await?;
    page(&ctx, &org, &id, filter, query).await
}

/// The notices of a workers upload's approval: each worker whose bank account, IFSC, phone or
/// email it changed, told on the contact they had before.
#[utoipa::path(get, path = "/v1/orgs/{org}/uploads/{id}/notices", tag = "notices",
    params(("org" = String, Path), ("id" = String, Path), NoticeQuery),
    responses((status = 200, body = NoticePage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list_of_upload(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<NoticeQuery>,
) -> Result<Json<NoticePage>> {
    user.may(&org, Permission::ViewNotices)?;
    let filter = query.filter()?;
    uploads::get(&ctx.db, &org, &id).await?;
    page(&ctx, &org, &id, filter, query).await
}

impl NoticeQuery {
    fn filter(&self) -> Result<(Filter, u32)> {
        let mut faults = QueryFaults::default();
        let status = faults.parse::<NoticeStatus>("status", self.status.as_deref());
        let channel = faults.parse::<Channel>("channel", self.channel.as_deref());
        let size = faults.page_size(self.page_size, 100, 1000);
        faults.check()?;
        let filter = Filter {
            status,
            channel,
            worker: self.worker.clone(),
        };
        Ok((filter, size))
    }
}

async fn page(
    ctx: &App,
    org: &str,
    source: &str,
    (filter, size): (Filter, u32),
    query: NoticeQuery,
) -> Result<Json<NoticePage>> {
    let (found, next) = notices::list(&ctx.db, org, source, &filter, query.page_token.as_deref(), size).await?;
    Ok(Json(NoticePage {
        notices: found.into_iter().map(NoticeBody::from).collect(),
        next_page_token: next,
    }))
}

/// Sends a dead notice again, from its last channel with fresh attempts.
#[utoipa::path(post, path = "/v1/orgs/{org}/runs/{id}/notices/{nid}/retry", tag = "notices",
    params(("org" = String, Path), ("id" = String, Path), ("nid" = String, Path)),
    responses((status = 200, body = NoticeBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn retry(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id, nid)): ApiPath<(String, String, String)>,
) -> Result<Json<NoticeBody>> {
    let notice = crate::notices::retry(&ctx.db, &user, &org, NoticeOf::Run(&id), &nid).await?;
    Ok(Json(NoticeBody::from(notice)))
}

/// Sends a dead notice of a contact change again, from its last channel with fresh attempts.
#[utoipa::path(post, path = "/v1/orgs/{org}/uploads/{id}/notices/{nid}/retry", tag = "notices",
    params(("org" = String, Path), ("id" = String, Path), ("nid" = String, Path)),
    responses((status = 200, body = NoticeBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn retry_of_upload(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id, nid)): ApiPath<(String, String, String)>,
) -> Result<Json<NoticeBody>> {
    let notice = crate::notices::retry(&ctx.db, &user, &org, NoticeOf::Upload(&id), &nid).await?;
    Ok(Json(NoticeBody::from(notice)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// Until when the link is valid, seconds since the Unix epoch.
    pub expires: u64,
    /// HMAC-SHA256 of the org, run, worker and expiry, in hex.
    pub signature: String,
}

/// A worker's payslip PDF through the link their notice carried: authenticated by the link's
/// signature, not a token; valid until it expires, for that worker's payslip of that run only.
#[utoipa::path(get, path = "/v1/signed/orgs/{org}/runs/{id}/payslips/{worker}", tag = "notices",
    params(("org" = String, Path), ("id" = String, Path), ("worker" = String, Path), LinkQuery),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub(super) async fn signed_payslip(
    State(ctx): State<App>,
    Extension(request): Extension<RequestId>,
    ApiPath((org, id, worker)): ApiPath<(String, String, String)>,
    ApiQuery(query): ApiQuery<LinkQuery>,
) -> Result<Response> {
    let grant = Grant {
        org: &org,
        run: &id,
        worker: &worker,
        expires: query.expires,
    };
    ctx.link_key.check(&grant, &query.signature, crate::auth::now_epoch())?;
    let run = runs::get(&ctx.db, &org, &id).await?;
    if run.status != RunStatus::Finalized {
        return Err(Error::NotFound(format!("payslip of worker `{worker}` in run {id}")));
    }
    let file = format!("{worker}.pdf");
    let path = layout::payslips_dir(&org, &run.period.to_string(), &id).join(file.as_str());
    let bytes = ctx
        .store
        .get_opt(&path)
        .await?
        .ok_or_else(|| Error::NotFound(format!("payslip of worker `{worker}` in run {id}")))?;
    // Audited before it is served, as every payslip download is: by the worker, through a link.
    let sub = format!("link:{worker}");
    let actor = Actor {
        sub: &sub,
        roles: &[],
        request_id: &request.0,
    };
    crate::db::audit::append(
        &ctx.db,
        &org,
        &actor,
        Action::PayslipDownload,
        &format!("runs/{id}/payslips/{file}"),
        None,
        None,
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}
