//! Runs: trigger (idempotent), list, read, approve, reject, cancel, and watch as Server-Sent
//! Events.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use payroll_engine::lifecycle::{RunKind, RunStatus};
use payroll_rules::vocabulary::PayPeriod;
use serde::{Deserialize, Serialize};

use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::App;
use super::extractor::{ApiJson, ApiPath, ApiQuery, Offset, QueryFaults};
use crate::caller::Caller;
use crate::db::runs::{self, Filter, Progress, Run};
use crate::db::worker_errors::{self, Exclusion, RecordedError};
use crate::domain::permissions::Permission;
use crate::error::{Error, Result};
use crate::runs as operations;

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/runs", post(trigger).get(list))
        .route("/v1/orgs/{org}/runs/{id}", get(read))
        .route("/v1/orgs/{org}/runs/{id}/approve", post(approve))
        .route("/v1/orgs/{org}/runs/{id}/reject", post(reject))
        .route("/v1/orgs/{org}/runs/{id}/cancel", post(cancel))
        .route("/v1/orgs/{org}/runs/{id}/worker-errors", get(worker_errors))
        .route("/v1/orgs/{org}/runs/{id}/exclusions", post(exclude))
        .route("/v1/orgs/{org}/runs/{id}/events", get(events))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Provisional,
    Final,
}

impl From<Kind> for RunKind {
    fn from(kind: Kind) -> RunKind {
        match kind {
            Kind::Provisional => RunKind::Provisional,
            Kind::Final => RunKind::Final,
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerRun {
    /// The pay period, `YYYY-MM`.
    #[schema(example = "2026-10", pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub period: String,
    pub kind: Kind,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRun {
    /// Why the run is rejected: recorded with the transition.
    pub reason: String,
}

/// A run as the API shows it. Amounts (`totals`) are left out for callers without `pay:view`
/// or `results:anonymized`, dead-letter counts for callers without `dead_letters:view`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunBody {
    pub id: String,
    pub org_id: String,
    #[schema(example = "2026-10")]
    pub period: String,
    #[schema(example = "final")]
    pub kind: String,
    #[schema(example = "calculated")]
    pub status: String,
    pub requested_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub attempts: i64,
    /// Who moved the run to each status, and when (only on a single run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transitions: Option<Vec<TransitionBody>>,
    pub progress: Progress,
    /// The org's refused input rows and events, per source (for callers with
    /// `dead_letters:view`); each with its reason at `GET .../runs/{id}/dead-letters`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letters: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_count: Option<u64>,
    /// Refused rows of the run's input that name no org or worker of the master: set aside for
    /// the operator, shown to no org.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unattributed_dead_letters: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ruleset: Option<RulesetBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceBody>,
    /// Workers in the results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Per component: the sum over workers as a decimal string; flags: how many are true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<BTreeMap<String, String>>,
    /// Workers the run could not compute: in no result, payslip or total. Once calculated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_errors: Option<WorkerErrorsBody>,
    /// What the run's checks found, per check and severity, with how many are open (on a single
    /// run, for callers with `pay:view`; each at `GET .../runs/{id}/findings`). An open `block`
    /// finding keeps a final run from approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<super::findings::FindingCountBody>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How many workers a run could not compute and, on a single run, how many are still to be
/// excluded, the first errors and every exclusion. The lists (which name workers and may show
/// the values a table was looked up with) need `pay:view` or `results:anonymized`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerErrorsBody {
    /// Workers with at least one error.
    pub workers: u64,
    /// Of them, those not excluded: a final run is approved only when this is 0 (single run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unexcluded: Option<u64>,
    /// The first errors by worker id, each with its exclusion if any; every one is at
    /// `GET .../runs/{id}/worker-errors`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<Vec<WorkerErrorBody>>,
    /// Every worker excluded from the run: who, when and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<Vec<ExclusionBody>>,
}

/// A worker the run could not compute: the first component without a value, and what was
/// missing.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerErrorBody {
    #[schema(example = "W000123")]
    pub worker_id: String,
    #[schema(example = "minimum_wage")]
    pub component: String,
    #[schema(example = "no row of table `minimum_wage` for skill=`semi_skilled`, state=`GA`")]
    pub reason: String,
    /// Present once the worker is excluded from the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<ExclusionBody>,
}

/// A worker left out of a final run on purpose.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExclusionBody {
    pub worker_id: String,
    pub reason: String,
    pub excluded_by: String,
    pub excluded_at: String,
}

impl From<Exclusion> for ExclusionBody {
    fn from(x: Exclusion) -> ExclusionBody {
        ExclusionBody {
            worker_id: x.worker_id,
            reason: x.reason,
            excluded_by: x.excluded_by,
            excluded_at: x.excluded_at,
        }
    }
}

impl From<RecordedError> for WorkerErrorBody {
    fn from(e: RecordedError) -> WorkerErrorBody {
        WorkerErrorBody {
            worker_id: e.error.worker_id,
            component: e.error.component,
            reason: e.error.reason,
            excluded: e.exclusion.map(ExclusionBody::from),
        }
    }
}

/// Workers to leave out of a calculated final run because it could not compute them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExcludeWorkers {
    /// Workers with an error in this run.
    #[schema(min_items = 1, max_items = 1000, example = json!(["W000123"]))]
    pub worker_ids: Vec<String>,
    /// Why they are left out (say how they will be paid): recorded with who and when.
    #[schema(min_length = 1, example = "skill missing from the master; paid by an off-cycle run")]
    pub reason: String,
}

/// A page of a run's worker errors.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerErrorPage {
    pub run_id: String,
    pub worker_errors: Vec<WorkerErrorBody>,
    /// Pass as `page_token` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// Worker errors a single run's body lists; the rest are a page away.
const FIRST_ERRORS: usize = 20;

#[derive(Debug, Serialize, ToSchema)]
pub struct TransitionBody {
    pub status: String,
    pub actor: String,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RulesetBody {
    pub name: String,
    pub version: String,
    pub effective_from: String,
    pub sha256: String,
}

/// What the run read: input files by content (BLAKE3), or a stream's offsets.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceBody {
    pub inputs: Vec<InputBody>,
    pub offsets: BTreeMap<String, i64>,
}

impl SourceBody {
    pub fn of(summary: &crate::db::runs::Summary) -> SourceBody {
        SourceBody {
            inputs: summary
                .inputs
                .iter()
                .map(|i| InputBody {
                    name: i.name.clone(),
                    bytes: i.bytes,
                    blake3: i.blake3.clone(),
                })
                .collect(),
            offsets: summary.offsets.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InputBody {
    pub name: String,
    pub bytes: u64,
    pub blake3: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunPage {
    pub runs: Vec<RunBody>,
    /// Pass as `page_token` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A single run as the API shows it: with its transitions and, once calculated with worker
/// errors, how many are still to be excluded and (for callers who see pay) the first errors and
/// every exclusion.
pub async fn single(ctx: &App, run: Run, user: &Caller) -> Result<RunBody> {
    let transitions = runs::transitions(&ctx.db, &run.id).await?;
    let (org, id) = (run.org_id.clone(), run.id.clone());
    let calculated = run.summary.is_some();
    let mut body = RunBody::new(run, Some(transitions), user);
    if calculated {
        body.findings = crate::findings::counts(ctx, user, &org, &id)
            .await?
            .map(|counts| counts.into_iter().map(Into::into).collect());
    }
    if let Some(errors) = body.worker_errors.as_mut().filter(|e| e.workers > 0) {
        errors.unexcluded = Some(worker_errors::unexcluded(&ctx.db, &org, &id).await?);
        if operations::sees_worker_errors(user) {
            let (first, _) = worker_errors::page(&ctx.db, &org, &id, 0, FIRST_ERRORS).await?;
            errors.first = Some(first.into_iter().map(WorkerErrorBody::from).collect());
            let excluded = worker_errors::exclusions(&ctx.db, &org, &id).await?;
            errors.excluded = Some(excluded.into_iter().map(ExclusionBody::from).collect());
        }
    }
    Ok(body)
}

impl RunBody {
    pub fn new(run: Run, transitions: Option<Vec<runs::Transition>>, user: &Caller) -> RunBody {
        let sees_amounts = user.can(Permission::ViewPay) || user.can(Permission::ReadAnonymizedResults);
        let sees_dead_letters = user.can(Permission::ViewDeadLetters);
        let summary = run.summary;
        RunBody {
            period: run.period.to_string(),
            kind: run.kind.as_str().to_string(),
            status: run.status.as_str().to_string(),
            created_at: crate::db::timestamp(run.created_at),
            updated_at: crate::db::timestamp(run.updated_at),
            transitions: transitions.map(|ts| {
                ts.into_iter()
                    .map(|t| TransitionBody {
                        status: t.status.as_str().to_string(),
                        actor: t.actor,
                        at: t.at,
                        note: t.note,
                    })
                    .collect()
            }),
            progress: run.progress.unwrap_or_default(),
            dead_letter_count: summary
                .as_ref()
                .filter(|_| sees_dead_letters)
                .map(|s| s.dead_letters.values().sum()),
            dead_letters: summary
                .as_ref()
                .filter(|_| sees_dead_letters)
                .map(|s| s.dead_letters.clone()),
            unattributed_dead_letters: summary
                .as_ref()
                .filter(|_| sees_dead_letters)
                .map(|s| s.unattributed_dead_letters),
            ruleset: summary.as_ref().map(|s| RulesetBody {
                name: s.ruleset.name.clone(),
                version: s.ruleset.version.clone(),
                effective_from: s.ruleset.effective_from.clone(),
                sha256: s.ruleset.sha256.clone(),
            }),
            source: summary.as_ref().map(SourceBody::of),
            rows: summary.as_ref().map(|s| s.rows),
            worker_errors: summary.as_ref().map(|s| WorkerErrorsBody {
                workers: s.worker_errors,
                unexcluded: None,
                first: None,
                excluded: None,
            }),
            totals: summary.filter(|_| sees_amounts).map(|s| s.totals),
            id: run.id,
            org_id: run.org_id,
            requested_by: run.requested_by,
            attempts: run.attempts,
            error: run.error,
            findings: None,
        }
    }
}

/// Queue a provisional or final run of a period.
///
/// The same `Idempotency-Key` with the same body returns the run the first request created;
/// with another body it is refused (422).
#[utoipa::path(post, path = "/v1/orgs/{org}/runs", tag = "runs",
    params(("org" = String, Path), ("Idempotency-Key" = String, Header, description = "Unique per intended run")),
    request_body = TriggerRun,
    responses((status = 202, body = RunBody), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn trigger(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<TriggerRun>,
) -> Result<(StatusCode, Json<RunBody>)> {
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| {
            Error::BadRequest(
                "the Idempotency-Key header is required: a unique value per intended run, reused on retries".into(),
            )
        })?
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .ok_or_else(|| Error::invalid("Idempotency-Key", "expected 1 to 200 visible ASCII characters"))?;
    let period: PayPeriod = body.period.parse().map_err(|e: String| Error::invalid("period", e))?;
    let request = Sha256::digest(serde_json::to_vec(&body).map_err(|e| Error::Internal(e.to_string()))?);
    let trigger = operations::Trigger {
        period,
        kind: body.kind.into(),
        idempotency: Some((user.idempotency_key(key), hex::encode(request))),
    };
    let (run, created) = operations::trigger(&ctx.db, &user, &org, trigger).await?;
    if created {
        ctx.metrics.run_queued(run.kind);
        ctx.work.notify_one();
    }
    Ok((StatusCode::ACCEPTED, Json(single(&ctx, run, &user).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only runs of this period, `YYYY-MM`.
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub period: Option<String>,
    /// `provisional` or `final`.
    #[param(pattern = "^(provisional|final)$")]
    pub kind: Option<String>,
    /// `queued`, `calculating`, `calculated`, `finalizing`, `finalized`, `rejected`, `cancelled` or `failed`.
    #[param(pattern = "^(queued|calculating|calculated|finalizing|finalized|rejected|cancelled|failed)$")]
    pub status: Option<String>,
    /// 1 to 100; 20 by default.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the page before.
    pub page_token: Option<String>,
}

/// An org's runs, newest first.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs", tag = "runs", params(("org" = String, Path), ListQuery),
    responses((status = 200, body = RunPage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list(
    State(ctx): State<App>,
    user: Caller,
    ApiPath(org): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<RunPage>> {
    user.may(&org, Permission::ViewRuns)?;
    let mut faults = QueryFaults::default();
    let filter = Filter {
        period: faults.parse("period", query.period.as_deref()),
        kind: faults.parse("kind", query.kind.as_deref()),
        status: faults.parse("status", query.status.as_deref()),
    };
    let size = faults.page_size(query.page_size, 20, 100);
    faults.check()?;
    let (runs, next) = runs::list(&ctx.db, &org, &filter, query.page_token.as_deref(), size).await?;
    Ok(Json(RunPage {
        runs: runs.into_iter().map(|r| RunBody::new(r, None, &user)).collect(),
        next_page_token: next,
    }))
}

/// A run: status, who and when for each transition, progress, totals, dead letters, ruleset,
/// source and error.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}", tag = "runs", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = RunBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn read(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Json<RunBody>> {
    user.may(&org, Permission::ViewRuns)?;
    let run = runs::get(&ctx.db, &org, &id).await?;
    Ok(Json(single(&ctx, run, &user).await?))
}

/// Approve a calculated final run: by someone other than who triggered it, once every worker
/// it could not compute is excluded (else 409 naming how many are not). Locks the period;
/// payslips are rendered next.
#[utoipa::path(post, path = "/v1/orgs/{org}/runs/{id}/approve", tag = "runs", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = RunBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn approve(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Json<RunBody>> {
    let run = operations::approve(&ctx, &user, &org, &id).await?;
    Ok(Json(single(&ctx, run, &user).await?))
}

/// Reject a calculated final run, with the reason.
#[utoipa::path(post, path = "/v1/orgs/{org}/runs/{id}/reject", tag = "runs", params(("org" = String, Path), ("id" = String, Path)),
    request_body = RejectRun,
    responses((status = 200, body = RunBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn reject(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<RejectRun>,
) -> Result<Json<RunBody>> {
    let run = operations::reject(&ctx, &user, &org, &id, &body.reason).await?;
    Ok(Json(single(&ctx, run, &user).await?))
}

/// Cancel a run that is queued or calculating.
#[utoipa::path(post, path = "/v1/orgs/{org}/runs/{id}/cancel", tag = "runs", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = RunBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn cancel(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Json<RunBody>> {
    let run = operations::cancel(&ctx, &user, &org, &id).await?;
    Ok(Json(single(&ctx, run, &user).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ErrorPageQuery {
    /// 1 to 1000; 100 by default.
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the page before.
    #[param(pattern = "^[0-9]+$")]
    pub page_token: Option<String>,
}

/// The workers a run could not compute, by worker id: the component without a value, what was
/// missing, and the worker's exclusion if any.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/worker-errors", tag = "runs",
    params(("org" = String, Path), ("id" = String, Path), ErrorPageQuery),
    responses((status = 200, body = WorkerErrorPage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn worker_errors(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ErrorPageQuery>,
) -> Result<Json<WorkerErrorPage>> {
    user.may(&org, Permission::ViewRuns)?;
    if !operations::sees_worker_errors(&user) {
        return Err(Error::Missing(Permission::ViewPay));
    }
    let offset = Offset::of(query.page_size, query.page_token.as_deref())?;
    let run = runs::get(&ctx.db, &org, &id).await?;
    let (errors, more) = worker_errors::page(&ctx.db, &org, &run.id, offset.start, offset.size).await?;
    let next = offset.next(errors.len(), more);
    Ok(Json(WorkerErrorPage {
        run_id: run.id,
        worker_errors: errors.into_iter().map(WorkerErrorBody::from).collect(),
        next_page_token: next,
    }))
}

/// Exclude workers of a calculated final run, saying why: workers it could not compute, or
/// workers with a finding. Recorded with who and when, listed on the run; a computed worker
/// leaves the run's results at once. The excluded workers are in no result, payslip, payout or
/// total of this run.
#[utoipa::path(post, path = "/v1/orgs/{org}/runs/{id}/exclusions", tag = "runs",
    params(("org" = String, Path), ("id" = String, Path)),
    request_body = ExcludeWorkers,
    responses((status = 200, body = RunBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn exclude(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<ExcludeWorkers>,
) -> Result<Json<RunBody>> {
    let run = operations::exclude(&ctx, &user, &org, &id, &body.worker_ids, &body.reason).await?;
    Ok(Json(single(&ctx, run, &user).await?))
}

/// What an event carries: status and progress, never amounts.
#[derive(Debug, Serialize, PartialEq, ToSchema)]
pub struct RunEvent {
    pub status: String,
    pub progress: Option<Progress>,
    pub error: Option<String>,
}

/// Server-Sent Events of a run's status and progress, until it settles.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/events", tag = "runs", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "text/event-stream of `status` events, each a RunEvent", content_type = "text/event-stream"),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn events(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    user.may(&org, Permission::ViewRuns)?;
    // Subscribed before the first read, so no change after it is missed.
    let woken = ctx.db.follow(&id);
    let first = runs::get(&ctx.db, &org, &id).await?;
    let stream = futures::stream::unfold(
        (ctx, org, id, woken, Some(first), None::<RunEvent>),
        |(ctx, org, id, mut woken, mut next, last)| async move {
            loop {
                let run = match next.take() {
                    Some(run) => run,
                    None => {
                        // Woken by this process's change of the run; now and then read anyway,
                        // for a change another instance (or the CLI) made.
                        let _ = tokio::time::timeout(ANOTHER_PROCESS, woken.changed()).await;
                        runs::get(&ctx.db, &org, &id).await.ok()?
                    }
                };
                // The stream ends once the previous event was a settled state.
                if last.as_ref().is_some_and(|l| settled(&l.status)) {
                    return None;
                }
                let event = RunEvent {
                    status: run.status.as_str().to_string(),
                    progress: run.progress,
                    error: run.error,
                };
                if last.as_ref() != Some(&event) {
                    let sse = Event::default().event("status").json_data(&event).ok()?;
                    return Some((Ok(sse), (ctx, org, id, woken, None, Some(event))));
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// How often a run's events read it without being woken: the longest a change made by another
/// process sharing the database takes to show.
const ANOTHER_PROCESS: Duration = Duration::from_secs(2);

/// No more events will come without a person acting (approval starts a new stream).
fn settled(status: &str) -> bool {
    status.parse::<RunStatus>().is_ok_and(|s| !s.is_active())
}
