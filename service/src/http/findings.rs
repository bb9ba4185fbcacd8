//! A run's findings over HTTP (`crate::findings` says who may read and acknowledge them).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::App;
use super::extractor::{ApiJson, ApiPath, ApiQuery, QueryFaults};
use crate::caller::Caller;
use crate::db::findings::{Count, Filter, StoredFinding};
use crate::domain::findings::FindingStatus;
use crate::error::Result;
use crate::findings as operations;

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/runs/{id}/findings", get(list))
        .route("/v1/orgs/{org}/runs/{id}/findings/acknowledge", post(acknowledge_check))
        .route("/v1/orgs/{org}/runs/{id}/findings/{fid}/acknowledge", post(acknowledge))
}

/// A check that fired for a worker of the run.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingBody {
    /// The finding's number in the run, from 1.
    pub id: i64,
    pub worker_id: String,
    /// The check's name: one of the ruleset's `[[check]]` or a built-in one
    /// (`shared_bank_account`, `shared_pan`, `shared_uan`, `new_worker_above_p99`,
    /// `absent_since_last_period`).
    pub check: String,
    /// `block` (keeps a final run from approval while open), `warn` or `info`.
    #[schema(example = "block")]
    pub severity: String,
    /// What fired, quoting the worker's values (bank accounts and PANs masked).
    pub message: String,
    pub status: FindingStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<String>,
    /// Why it was acknowledged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<StoredFinding> for FindingBody {
    fn from(f: StoredFinding) -> FindingBody {
        FindingBody {
            id: f.seq,
            worker_id: f.worker_id,
            check: f.check,
            severity: f.severity,
            message: f.message,
            status: f.status,
            acknowledged_by: f.acknowledged_by,
            acknowledged_at: f.acknowledged_at,
            reason: f.reason,
        }
    }
}

/// How many findings of one check and severity a run has, and how many are open.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingCountBody {
    pub check: String,
    pub severity: String,
    pub count: i64,
    pub open: i64,
}

impl From<Count> for FindingCountBody {
    fn from(c: Count) -> FindingCountBody {
        FindingCountBody {
            check: c.check,
            severity: c.severity,
            count: c.total,
            open: c.open,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FindingPage {
    pub findings: Vec<FindingBody>,
    /// Pass as `page_token` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindingQuery {
    /// Only this check's findings.
    pub check: Option<String>,
    /// `block`, `warn` or `info`.
    #[param(pattern = "^(block|warn|info)$")]
    pub severity: Option<String>,
    /// `open`, `acknowledged` or `excluded`.
    #[param(pattern = "^(open|acknowledged|excluded)$")]
    pub status: Option<String>,
    pub worker_id: Option<String>,
    /// 1 to 1000; 100 by default.
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the page before.
    #[param(pattern = "^[0-9]+$")]
    pub page_token: Option<String>,
}

/// The run's findings in the order found: each check of the ruleset or built in that fired for
/// a worker, its message and whether it is open, acknowledged (by whom, why) or excluded.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/findings", tag = "runs",
    params(("org" = String, Path), ("id" = String, Path), FindingQuery),
    responses((status = 200, body = FindingPage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<FindingQuery>,
) -> Result<Json<FindingPage>> {
    let mut faults = QueryFaults::default();
    let status = faults.parse::<FindingStatus>("status", query.status.as_deref());
    let severity = faults
        .parse::<payroll_rules::Severity>("severity", query.severity.as_deref())
        .map(|s| s.as_str().to_string());
    let size = faults.page_size(query.page_size, 100, 1000);
    let after = faults.token::<i64>(query.page_token.as_deref());
    faults.check()?;
    let filter = Filter {
        check: query.check,
        severity,
        status,
        worker_id: query.worker_id,
        after,
    };
    let (found, next) = operations::list(&ctx, &user, &org, &id, &filter, size).await?;
    Ok(Json(FindingPage {
        findings: found.into_iter().map(FindingBody::from).collect(),
        next_page_token: next.map(|seq| seq.to_string()),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Acknowledge {
    /// Why the finding does not stop the run (1 to 500 characters).
    pub reason: String,
}

/// Acknowledge a finding of a calculated run, saying why (`findings:acknowledge`, audited as
/// `finding.acknowledge`): an acknowledged `block` finding no longer keeps the run from
/// approval, and the approver sees who acknowledged it and why.
#[utoipa::path(post, path = "/v1/orgs/{org}/runs/{id}/findings/{fid}/acknowledge", tag = "runs",
    params(("org" = String, Path), ("id" = String, Path), ("fid" = i64, Path)),
    request_body = Acknowledge,
    responses((status = 200, body = FindingBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Acknowledged already, or the run is not calculated", body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn acknowledge(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id, fid)): ApiPath<(String, String, i64)>,
    ApiJson(body): ApiJson<Acknowledge>,
) -> Result<Json<FindingBody>> {
    let acknowledged = operations::acknowledge(&ctx, &user, &org, &id, fid, &body.reason).await?;
    Ok(Json(acknowledged.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcknowledgeCheck {
    /// The check whose open findings are acknowledged.
    pub check: String,
    /// Only this worker's.
    pub worker_id: Option<String>,
    /// Why they do not stop the run (1 to 500 characters).
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Acknowledged {
    /// Findings acknowledged now: every open one of the check (0 when none was open).
    pub acknowledged: u64,
}

/// Acknowledge every open finding of one check at once (of one worker, if given), saying why
/// (`findings:acknowledge`, one `finding.acknowledge` audit entry with the count).
#[utoipa::path(post, path = "/v1/orgs/{org}/runs/{id}/findings/acknowledge", tag = "runs",
    params(("org" = String, Path), ("id" = String, Path)),
    request_body = AcknowledgeCheck,
    responses((status = 200, body = Acknowledged), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "The run is not calculated", body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn acknowledge_check(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<AcknowledgeCheck>,
) -> Result<Json<Acknowledged>> {
    let acknowledged = operations::acknowledge_check(
        &ctx,
        &user,
        &org,
        &id,
        &body.check,
        body.worker_id.as_deref(),
        &body.reason,
    )
    .await?;
    Ok(Json(Acknowledged { acknowledged }))
}
