//! Adjustments under maker-checker: one user requests (`adjustments:request`), another approves
//! or rejects (`adjustments:approve`, never their own request). Each transition is published as
//! the next version of the adjustment event to the org's input, and audited. The requests of an
//! adjustments upload are decided together (`POST .../uploads/{id}/approve|reject`): thousands
//! of them are not approved one by one.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use payroll_engine::event::{Status, wire_name};
use payroll_rules::vocabulary::PayPeriod;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::App;
use super::extractor::{ApiJson, ApiPath, ApiQuery, QueryFaults, idempotency_key};
use crate::adjustments::{self as operations, Fields};
use crate::caller::Caller;
use crate::db::adjustments::{self, Adjustment, Filter};
use crate::error::{Error, Result};

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/adjustments", post(request).get(list))
        .route("/v1/orgs/{org}/adjustments/{id}", get(read))
        .route("/v1/orgs/{org}/adjustments/{id}/approve", post(approve))
        .route("/v1/orgs/{org}/adjustments/{id}/reject", post(reject))
        .route("/v1/orgs/{org}/uploads/{id}/approve", post(approve_upload))
        .route("/v1/orgs/{org}/uploads/{id}/reject", post(reject_upload))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestAdjustment {
    pub worker_id: String,
    /// `YYYY-MM`
    #[schema(example = "2026-10")]
    pub period: String,
    /// `earning` or `deduction`
    #[schema(example = "earning")]
    pub kind: String,
    /// What it is for, e.g. `bonus`, `advance_recovery`: letters, digits and `_`.
    #[schema(example = "bonus")]
    pub code: String,
    /// A positive decimal string with at most 2 decimals, at most the configured cap.
    #[schema(example = "1500.00")]
    pub amount: String,
    pub reason: String,
}

impl RequestAdjustment {
    fn fields(&self) -> Fields<'_> {
        Fields {
            worker_id: &self.worker_id,
            period: &self.period,
            kind: &self.kind,
            code: &self.code,
            amount: &self.amount,
            reason: &self.reason,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectAdjustment {
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdjustmentBody {
    pub id: String,
    pub worker_id: String,
    pub period: String,
    pub kind: String,
    pub code: String,
    /// A decimal string.
    pub amount: String,
    pub reason: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// The adjustment event's version: 1 when requested, 2 once decided.
    pub version: i64,
    pub requested_by: String,
    pub requested_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    /// The checker's reason for a rejection.
    pub decision_note: Option<String>,
    /// The upload that requested it: its pending requests are decided together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
}

impl From<Adjustment> for AdjustmentBody {
    fn from(a: Adjustment) -> Self {
        AdjustmentBody {
            period: a.period.to_string(),
            kind: wire_name(&a.kind),
            amount: a.amount.to_string(),
            status: wire_name(&a.status),
            id: a.id,
            worker_id: a.worker_id,
            code: a.code,
            reason: a.reason,
            version: a.version,
            requested_by: a.requested_by,
            requested_at: a.requested_at,
            decided_by: a.decided_by,
            decided_at: a.decided_at,
            decision_note: a.decision_note,
            upload_id: a.upload_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdjustmentPage {
    pub adjustments: Vec<AdjustmentBody>,
    pub next_page_token: Option<String>,
}

/// Request an adjustment: `pending` until another user approves it. One for a paid (locked)
/// period is paid as arrears by the next run of an open period. An `Idempotency-Key` makes
/// retries safe: the same key and body return the adjustment the first request made.
#[utoipa::path(post, path = "/v1/orgs/{org}/adjustments", tag = "adjustments",
    params(("org" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Unique per intended adjustment")),
    request_body = RequestAdjustment,
    responses((status = 201, body = AdjustmentBody), (status = 200, description = "A retry: the adjustment already requested", body = AdjustmentBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn request(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RequestAdjustment>,
) -> Result<(StatusCode, Json<AdjustmentBody>)> {
    let key = idempotency_key(&headers);
    let hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&body).map_err(|e| Error::Internal(e.to_string()))?,
    ));
    let (adjustment, created) = operations::request(&ctx, &user, &org, body.fields(), key, hash).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(adjustment.into())))
}

/// What deciding an upload's requests did.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadDecision {
    pub upload_id: String,
    /// `approved` or `rejected`.
    pub status: String,
    /// Requests decided now: every one still pending.
    pub decided: u64,
}

/// Approve every pending adjustment an upload requested, when someone other than the uploader
/// decides: each is published as approved, and the next run of its period pays it. 409 once
/// none is pending. For a workers upload (`workers:approve`): its staged workers are applied to
/// the master, each changed field audited; 409 unless it is `awaiting_approval`.
#[utoipa::path(post, path = "/v1/orgs/{org}/uploads/{id}/approve", tag = "adjustments",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = UploadDecision), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn approve_upload(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Json<UploadDecision>> {
    let decided = crate::uploads::approve(&ctx, &user, &org, &id).await?;
    Ok(Json(UploadDecision {
        upload_id: id,
        status: "approved".into(),
        decided,
    }))
}

/// Reject every pending adjustment an upload requested, saying why. For a workers upload
/// (`workers:approve`): its staged workers are dropped.
#[utoipa::path(post, path = "/v1/orgs/{org}/uploads/{id}/reject", tag = "adjustments",
    params(("org" = String, Path), ("id" = String, Path)),
    request_body = RejectAdjustment,
    responses((status = 200, body = UploadDecision), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn reject_upload(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<RejectAdjustment>,
) -> Result<Json<UploadDecision>> {
    let decided = crate::uploads::reject(&ctx, &user, &org, &id, &body.reason).await?;
    Ok(Json(UploadDecision {
        upload_id: id,
        status: "rejected".into(),
        decided,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdjustmentQuery {
    /// `pending`, `approved` or `rejected`.
    #[param(pattern = "^(pending|approved|rejected)$")]
    pub status: Option<String>,
    pub worker_id: Option<String>,
    /// `YYYY-MM`
    pub period: Option<String>,
    /// Only the requests of this upload.
    pub upload_id: Option<String>,
    /// 1 to 100; 20 by default.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the page before.
    pub page_token: Option<String>,
}

/// An org's adjustments, newest first: the checker's inbox with `status=pending`.
#[utoipa::path(get, path = "/v1/orgs/{org}/adjustments", tag = "adjustments", params(("org" = String, Path), AdjustmentQuery),
    responses((status = 200, body = AdjustmentPage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
    ApiQuery(query): ApiQuery<AdjustmentQuery>,
) -> Result<Json<AdjustmentPage>> {
    operations::may_read(&user, &org)?;
    let mut faults = QueryFaults::default();
    let status = match query.status.as_deref() {
        None => None,
        Some("pending") => Some(Status::Pending),
        Some("approved") => Some(Status::Approved),
        Some("rejected") => Some(Status::Rejected),
        Some(other) => {
            faults.note("status", format!("`{other}`: expected pending, approved or rejected"));
            None
        }
    };
    let period = faults.parse::<PayPeriod>("period", query.period.as_deref());
    let size = faults.page_size(query.page_size, 20, 100);
    faults.check()?;
    let filter = Filter {
        status,
        worker_id: query.worker_id,
        period,
        upload_id: query.upload_id,
    };
    let (found, next) = adjustments::list(&ctx.db, &org, &filter, query.page_token.as_deref(), size).await?;
    Ok(Json(AdjustmentPage {
        adjustments: found.into_iter().map(AdjustmentBody::from).collect(),
        next_page_token: next,
    }))
}

#[utoipa::path(get, path = "/v1/orgs/{org}/adjustments/{id}", tag = "adjustments",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = AdjustmentBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn read(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Json<AdjustmentBody>> {
    operations::may_read(&user, &org)?;
    Ok(Json(adjustments::get(&ctx.db, &org, &id).await?.into()))
}

/// Approve a pending adjustment someone else requested: its approved version is published and
/// the next run of its period pays it.
#[utoipa::path(post, path = "/v1/orgs/{org}/adjustments/{id}/approve", tag = "adjustments",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = AdjustmentBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn approve(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Json<AdjustmentBody>> {
    Ok(Json(operations::approve(&ctx, &user, &org, &id).await?.into()))
}

/// Reject a pending adjustment someone else requested, saying why.
#[utoipa::path(post, path = "/v1/orgs/{org}/adjustments/{id}/reject", tag = "adjustments",
    params(("org" = String, Path), ("id" = String, Path)),
    request_body = RejectAdjustment,
    responses((status = 200, body = AdjustmentBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn reject(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<RejectAdjustment>,
) -> Result<Json<AdjustmentBody>> {
    Ok(Json(
        operations::reject(&ctx, &user, &org, &id, &body.reason).await?.into(),
    ))
}
