//! Bank payouts of a finalized final run over HTTP (`crate::payouts` says what each verb
//! means): `payouts:create` to make one or record a bank return file, `payouts:view` to read one
//! and download its files, `payouts:approve` to approve or reject a return someone else
//! recorded. The bank files carry full account numbers: they are streamed with `no-store`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::App;
use super::extractor::{ApiJson, ApiPath, ApiQuery, QueryFaults, idempotency_key};
use crate::caller::Caller;
use crate::db::payouts::{self, Payout};
use crate::db::runs;
use crate::domain::permissions::Permission;
use crate::error::{Error, Result};
use crate::payouts::{self as operations, File};

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/orgs/{org}/runs/{id}/payouts", post(create).get(list))
        .route("/v1/orgs/{org}/runs/{id}/payouts/{pid}", get(read))
        .route("/v1/orgs/{org}/runs/{id}/payouts/{pid}/pain.001.xml", get(pain001))
        .route("/v1/orgs/{org}/runs/{id}/payouts/{pid}/neft.csv", get(neft))
        .route("/v1/orgs/{org}/runs/{id}/payouts/{pid}/exceptions.csv", get(exceptions))
        .route(
            "/v1/orgs/{org}/runs/{id}/payouts/{pid}/returns",
            post(returns).get(list_returns),
        )
        .route(
            "/v1/orgs/{org}/runs/{id}/payouts/{pid}/returns/{rid}/approve",
            post(approve_return),
        )
        .route(
            "/v1/orgs/{org}/runs/{id}/payouts/{pid}/returns/{rid}/reject",
            post(reject_return),
        )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutLinks {
    #[serde(rename = "self")]
    pub this: String,
    /// ISO 20022 pain.001.001.09 credit transfer initiation.
    pub pain001: String,
    /// Bulk NEFT upload: beneficiary name, account, IFSC, amount, narration, reference.
    pub neft: String,
    /// Workers not paid, with the reason (accounts masked).
    pub exceptions: String,
    /// POST a bank return file here (recorded pending a second person); GET the payout's returns.
    pub returns: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutBody {
    pub id: String,
    pub run_id: String,
    /// 1 for the run's first payout; a later one pays only workers not paid yet.
    pub seq: i64,
    /// Workers paid by this payout's files.
    pub payments: i64,
    /// The files' control sum: the sum of the payments' `net_payable`, to the paisa.
    pub total: String,
    /// Workers of the run this payout could not pay (see `exceptions.csv`).
    pub exceptions: i64,
    /// Payments an approved bank return has marked returned (paid again by a later payout).
    pub returned: i64,
    pub created_by: String,
    pub created_at: String,
    pub links: PayoutLinks,
}

fn body(p: Payout, returned: i64) -> PayoutBody {
    let this = format!("/v1/orgs/{}/runs/{}/payouts/{}", p.org_id, p.run_id, p.id);
    PayoutBody {
        links: PayoutLinks {
            pain001: format!("{this}/{}", File::Pain001.name()),
            neft: format!("{this}/{}", File::Neft.name()),
            exceptions: format!("{this}/{}", File::Exceptions.name()),
            returns: format!("{this}/returns"),
            this,
        },
        id: p.id,
        run_id: p.run_id,
        seq: p.seq,
        payments: p.payments,
        total: format!("{:.2}", p.total),
        exceptions: p.exceptions,
        returned,
        created_by: p.created_by,
        created_at: p.created_at,
    }
}

/// Make a payout of a finalized final run: a bulk payment of every worker's `net_payable` not
/// paid yet (the first payout pays all; a later one the payments of approved bank returns and
/// earlier exceptions since fixed in the master), to the account and IFSC the worker master
/// has now. Workers with nothing to pay or bank details out of format are its exceptions,
/// never paid.
/// An `Idempotency-Key` returns the payout the first request made.
#[utoipa::path(post, path = "/v1/orgs/{org}/runs/{id}/payouts", tag = "payouts",
    params(("org" = String, Path), ("id" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Unique per intended payout")),
    responses((status = 201, description = "Made; `Location` names the payout, `links` its files", body = PayoutBody),
        (status = 200, description = "A retry: the payout already made", body = PayoutBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Not a finalized final run, no debit account configured, or nobody left to pay", body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn create(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let made = operations::create(&ctx, &user, &org, &id, idempotency_key(&headers)).await?;
    let body = body(made.payout, made.returned);
    if !made.created {
        return Ok((StatusCode::OK, Json(body)).into_response());
    }
    let location = body.links.this.clone();
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1 to 100; 20 by default.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the page before.
    #[param(pattern = "^[0-9]+$")]
    pub page_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutPage {
    pub payouts: Vec<PayoutBody>,
    pub next_page_token: Option<String>,
}

/// The run's payouts, first made first: each with its counts, total, payments returned and
/// file links.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/payouts", tag = "payouts",
    params(("org" = String, Path), ("id" = String, Path), ListQuery),
    responses((status = 200, body = PayoutPage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<PayoutPage>> {
    user.may(&org, Permission::ViewPayouts)?;
    let mut faults = QueryFaults::default();
    let size = faults.page_size(query.page_size, 20, 100);
    let after = faults.token::<i64>(query.page_token.as_deref());
    faults.check()?;
    runs::get(&ctx.db, &org, &id).await?;
    let (found, next) = payouts::list(&ctx.db, &org, &id, after, size).await?;
    let mut bodies = Vec::with_capacity(found.len());
    for payout in found {
        let returned = payouts::returned_count(&ctx.db, &org, &payout.id).await?;
        bodies.push(body(payout, returned));
    }
    Ok(Json(PayoutPage {
        payouts: bodies,
        next_page_token: next.map(|seq| seq.to_string()),
    }))
}

/// A payout: its counts, total and file links.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/payouts/{pid}", tag = "payouts",
    params(("org" = String, Path), ("id" = String, Path), ("pid" = String, Path)),
    responses((status = 200, body = PayoutBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn read(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id, pid)): ApiPath<(String, String, String)>,
) -> Result<Json<PayoutBody>> {
    user.may(&org, Permission::ViewPayouts)?;
    let payout = payouts::get(&ctx.db, &org, &id, &pid).await?;
    let returned = payouts::returned_count(&ctx.db, &org, &pid).await?;
    Ok(Json(body(payout, returned)))
}

async fn download(ctx: &App, user: &Caller, org: &str, id: &str, pid: &str, file: File) -> Result<Response> {
    let bytes = operations::download(ctx, user, org, id, pid, file).await?;
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"payout-{pid}-{}\"", file.name()),
            ),
            // Bank files carry full account numbers: no cache keeps a copy.
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from(bytes),
    )
        .into_response())
}

/// The payout's ISO 20022 `pain.001.001.09` credit transfer initiation (full account numbers).
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/payouts/{pid}/pain.001.xml", tag = "payouts",
    params(("org" = String, Path), ("id" = String, Path), ("pid" = String, Path)),
    responses((status = 200, content_type = "application/xml", body = String),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn pain001(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id, pid)): ApiPath<(String, String, String)>,
) -> Result<Response> {
    download(&ctx, &user, &org, &id, &pid, File::Pain001).await
}

/// The payout as a bulk NEFT CSV (full account numbers).
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/payouts/{pid}/neft.csv", tag = "payouts",
    params(("org" = String, Path), ("id" = String, Path), ("pid" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn neft(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id, pid)): ApiPath<(String, String, String)>,
) -> Result<Response> {
    download(&ctx, &user, &org, &id, &pid, File::Neft).await
}

/// The workers the payout did not pay, with the reasons (accounts masked).
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/payouts/{pid}/exceptions.csv", tag = "payouts",
    params(("org" = String, Path), ("id" = String, Path), ("pid" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn exceptions(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id, pid)): ApiPath<(String, String, String)>,
) -> Result<Response> {
    download(&ctx, &user, &org, &id, &pid, File::Exceptions).await
}

/// A payment a bank return names.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnedPaymentBody {
    /// The payment's end-to-end id, as the payout's files carry it.
    pub reference: String,
    pub worker_id: String,
    /// The payment's amount, to the paisa.
    pub amount: String,
    /// The bank's reason, as the file says it.
    pub reason: String,
    /// The file's line that named it.
    pub line: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnLinks {
    /// POST here (`payouts:approve`, not the one who recorded it) to approve.
    pub approve: String,
    /// POST `{"reason"}` here to reject.
    pub reject: String,
}

/// A bank return of a payout.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnBody {
    pub id: String,
    pub run_id: String,
    pub payout_id: String,
    /// 1 for the payout's first return, then 2, 3, ...
    pub seq: i64,
    /// `pending` until another user approves or rejects it; only an `approved` return makes
    /// the run's next payout pay its payments again.
    pub status: String,
    /// How many payments it names.
    pub payments: i64,
    /// Their sum, to the paisa.
    pub total: String,
    pub references: Vec<ReturnedPaymentBody>,
    pub recorded_by: String,
    pub recorded_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    /// Why it was rejected.
    pub rejection: Option<String>,
    pub links: ReturnLinks,
}

impl From<payouts::Return> for ReturnBody {
    fn from(r: payouts::Return) -> ReturnBody {
        let this = format!(
            "/v1/orgs/{}/runs/{}/payouts/{}/returns/{}",
            r.org_id, r.run_id, r.payout_id, r.id
        );
        ReturnBody {
            links: ReturnLinks {
                approve: format!("{this}/approve"),
                reject: format!("{this}/reject"),
            },
            id: r.id,
            run_id: r.run_id,
            payout_id: r.payout_id,
            seq: r.seq,
            status: r.status,
            payments: r.payments,
            total: format!("{:.2}", r.total),
            references: r
                .items
                .into_iter()
                .map(|i| ReturnedPaymentBody {
                    reference: i.reference,
                    worker_id: i.worker_id,
                    amount: i.amount,
                    reason: i.reason,
                    line: i.line,
                })
                .collect(),
            recorded_by: r.recorded_by,
            recorded_at: r.recorded_at,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
            rejection: r.rejection,
        }
    }
}

/// The largest return file taken: a line per returned payment.
const MAX_RETURN_FILE: usize = 8 << 20;

/// Record a bank return file for the payout: CSV (UTF-8) with a header row and the columns
/// `reference` (the payment's end-to-end id) and `reason`. The return is `pending`: nothing is
/// paid again until another user with `payouts:approve` approves it (one person could
/// otherwise pay a worker twice). A reference that is not one of this payout's payments, named
/// twice, or already in another return of the payout that was not rejected, refuses the whole
/// file (422, naming its lines).
#[utoipa::path(post, path = "/v1/orgs/{org}/runs/{id}/payouts/{pid}/returns", tag = "payouts",
    params(("org" = String, Path), ("id" = String, Path), ("pid" = String, Path)),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, description = "Recorded, pending a second person", body = ReturnBody),
        (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Another return of the payout was recorded at the same time", body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn returns(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id, pid)): ApiPath<(String, String, String)>,
    body_bytes: Body,
) -> Result<Response> {
    let bytes = axum::body::to_bytes(body_bytes, MAX_RETURN_FILE)
        .await
        .map_err(|_| Error::invalid("body", format!("larger than {MAX_RETURN_FILE} bytes")))?;
    let recorded = operations::record_return(&ctx, &user, &org, &id, &pid, &bytes).await?;
    Ok((StatusCode::CREATED, Json(ReturnBody::from(recorded))).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnPage {
    pub returns: Vec<ReturnBody>,
    pub next_page_token: Option<String>,
}

/// The payout's bank returns, first recorded first: pending, approved and rejected, each with
/// the payments it names.
#[utoipa::path(get, path = "/v1/orgs/{org}/runs/{id}/payouts/{pid}/returns", tag = "payouts",
    params(("org" = String, Path), ("id" = String, Path), ("pid" = String, Path), ListQuery),
    responses((status = 200, body = ReturnPage), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list_returns(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id, pid)): ApiPath<(String, String, String)>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ReturnPage>> {
    operations::may_read_returns(&user, &org)?;
    let mut faults = QueryFaults::default();
    let size = faults.page_size(query.page_size, 20, 100);
    let after = faults.token::<i64>(query.page_token.as_deref());
    faults.check()?;
    payouts::get(&ctx.db, &org, &id, &pid).await?;
    let (found, next) = payouts::list_returns(&ctx.db, &org, &pid, after, size).await?;
    Ok(Json(ReturnPage {
        returns: found.into_iter().map(ReturnBody::from).collect(),
        next_page_token: next.map(|seq| seq.to_string()),
    }))
}

/// Approve a pending bank return someone else recorded: its payments are marked returned, and
/// the run's next payout pays them again.
#[utoipa::path(post, path = "/v1/orgs/{org}/runs/{id}/payouts/{pid}/returns/{rid}/approve", tag = "payouts",
    params(("org" = String, Path), ("id" = String, Path), ("pid" = String, Path), ("rid" = String, Path)),
    responses((status = 200, body = ReturnBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, description = "No payouts:approve, or the caller recorded it (four eyes)", body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Approved or rejected already", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn approve_return(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id, pid, rid)): ApiPath<(String, String, String, String)>,
) -> Result<Json<ReturnBody>> {
    let decided = operations::approve_return(&ctx, &user, &org, &id, &pid, &rid).await?;
    Ok(Json(decided.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectReturn {
    /// Why the return is rejected (1 to 500 characters).
    pub reason: String,
}

/// Reject a pending bank return someone else recorded, saying why: its payments stay paid, and
/// a corrected return may name them again.
#[utoipa::path(post, path = "/v1/orgs/{org}/runs/{id}/payouts/{pid}/returns/{rid}/reject", tag = "payouts",
    params(("org" = String, Path), ("id" = String, Path), ("pid" = String, Path), ("rid" = String, Path)),
    request_body = RejectReturn,
    responses((status = 200, body = ReturnBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, description = "No payouts:approve, or the caller recorded it (four eyes)", body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Approved or rejected already", body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn reject_return(
    State(ctx): State<App>,
    user: Caller,
    ApiPath((org, id, pid, rid)): ApiPath<(String, String, String, String)>,
    ApiJson(body): ApiJson<RejectReturn>,
) -> Result<Json<ReturnBody>> {
    let decided = operations::reject_return(&ctx, &user, (&org, &id, &pid, &rid), &body.reason).await?;
    Ok(Json(decided.into()))
}
