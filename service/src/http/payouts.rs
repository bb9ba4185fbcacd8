//! Bank payouts of a finalized final run (`payouts:create` to make one or record a bank return
//! file, `payouts:view` to read one and download its files, `payouts:approve` to approve or
//! reject a return someone else recorded: only an approved return is paid again). A payout
//! pays every worker of the run not paid yet, `net_payable` to the paisa, to the account and
//! IFSC in the worker master at payout time; the workers it cannot pay are its exceptions. Its files (ISO 20022 pain.001, bulk
//! NEFT CSV, exceptions CSV) are written under the run's payouts prefix in the object store and
//! streamed to the caller: the bank files carry full account numbers, so each download is
//! audited and nothing here logs their content.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use payroll_connectors::layout;
use payroll_engine::lifecycle::{RunKind, RunStatus};
use payroll_pipeline::payout::{self, Debtor, Header};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::extractor::{ApiJson, ApiPath, ApiQuery, QueryFaults};
use super::{App, audit};
use crate::caller::Caller;
use crate::db::audit::{Action, Audited};
use crate::db::payouts::{self, NewPayment, NewPayout, Payout, ReturnDecision, ReturnRow};
use crate::db::runs::{self, Run};
use crate::domain::permissions::Permission;
use crate::error::{Error, Result};

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

/// The files of a payout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum File {
    Pain001,
    Neft,
    Exceptions,
}

impl File {
    fn name(self) -> &'static str {
        match self {
            File::Pain001 => "pain.001.xml",
            File::Neft => "neft.csv",
            File::Exceptions => "exceptions.csv",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            File::Pain001 => "application/xml",
            File::Neft | File::Exceptions => "text/csv",
        }
    }
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

/// The run, if it is a final run that is finalized: only a paid, locked period is paid out or
/// filed.
pub(super) async fn finalized_final(ctx: &App, org: &str, id: &str, what: &str) -> Result<Run> {
    let run = runs::get(&ctx.db, org, id).await?;
    if run.kind != RunKind::Final {
        return Err(Error::Conflict(format!(
            "run {id} is a provisional run: {what} are made from a final run once it is finalized"
        )));
    }
    if run.status != RunStatus::Finalized {
        return Err(Error::Conflict(format!(
            "run {id} is {}: {what} are made once the final run is approved and finalized",
            run.status
        )));
    }
    Ok(run)
}

/// The org's debit account from the config, or why there is none.
fn debtor(ctx: &App, org: &str) -> Result<Debtor> {
    let config = ctx.config.orgs.get(org);
    let missing = |key: &str| {
        Error::Conflict(format!(
            "org {org} has no `{key}` in its config section [orgs.{org}]: set debit_account and debit_ifsc (the account salaries are paid from) to make payouts"
        ))
    };
    let account = config
        .and_then(|c| c.debit_account.as_ref())
        .map(|s| s.reveal().to_string())
        .ok_or_else(|| missing("debit_account"))?;
    let ifsc = config
        .and_then(|c| c.debit_ifsc.clone())
        .ok_or_else(|| missing("debit_ifsc"))?;
    Ok(Debtor {
        name: config
            .and_then(|c| c.debit_name.clone().or_else(|| c.name.clone()))
            .unwrap_or_else(|| org.to_string()),
        account,
        ifsc,
        bic: config.and_then(|c| c.debit_bic.clone()),
    })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => match value.to_str().ok().filter(|k| !k.is_empty() && k.len() <= 200) {
            Some(key) => Ok(Some(key.to_string())),
            None => Err(Error::invalid(
                "Idempotency-Key",
                "expected 1 to 200 visible ASCII characters",
            )),
        },
    }
}

/// How many exceptions a refusal names before "and N more".
const NAMED: usize = 5;

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
    user.may(&org, Permission::CreatePayouts)?;
    let key = idempotency_key(&headers)?.map(|key| user.idempotency_key(&key));
    let run = finalized_final(&ctx, &org, &id, "payouts").await?;
    if let Some(key) = &key
        && let Some(existing) = payouts::by_key(&ctx.db, &org, &id, key).await?
    {
        let returned = payouts::returned_count(&ctx.db, &org, &existing.id).await?;
        return Ok((StatusCode::OK, Json(body(existing, returned))).into_response());
    }
    let debtor = debtor(&ctx, &org)?;
    let period = run.period.to_string();
    let dues = payout::dues(&ctx.store, &org, &period, &id).await?;
    let (seq, paid) = payouts::paid(&ctx.db, &org, &id).await?;
    let unpaid: Vec<_> = dues.into_iter().filter(|d| !paid.contains(&d.worker_id)).collect();
    if unpaid.is_empty() {
        return Err(Error::Conflict(format!(
            "every worker of run {id} is paid ({} payment(s) outstanding): a later payout pays only the payments of a bank return another person approved",
            paid.len()
        )));
    }
    // The master as it is now: a correction made since the run (a new account) is what the
    // bank pays to.
    let master = payroll_pipeline::master::current(&ctx.source).await?;
    let seq_u32 = u32::try_from(seq).map_err(|_| Error::Internal(format!("payout number {seq}")))?;
    let (payments, exceptions) = payout::plan(unpaid, |w| master.worker(w), &org, &id, seq_u32);
    drop(master);
    if payments.is_empty() {
        let named: Vec<String> = exceptions
            .iter()
            .take(NAMED)
            .map(|e| {
                let reasons: Vec<String> = e.reasons.iter().map(|r| r.describe()).collect();
                format!("{}: {}", e.worker_id, reasons.join("; "))
            })
            .collect();
        let more = exceptions.len().saturating_sub(NAMED);
        return Err(Error::Conflict(format!(
            "nobody to pay in run {id}: the {} worker(s) not paid yet are all exceptions ({}{})",
            exceptions.len(),
            named.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        )));
    }
    let payout_id = uuid::Uuid::now_v7();
    let pid = payout_id.to_string();
    let message_id = payout_id.simple().to_string();
    let total = payout::total(&payments);
    let created_at = Utc::now();
    let org_name = org.clone();
    // Rendering 100,000 payments takes a moment of CPU: off the async threads.
    let (payments, exceptions_count, files) = tokio::task::spawn_blocking(move || -> Result<_> {
        let header = Header {
            message_id: &message_id,
            created_at,
            period: run.period,
            org: &org_name,
            debtor: &debtor,
        };
        let files = [
            (File::Pain001, payout::pain001(&header, &payments)),
            (File::Neft, payout::neft_csv(&header, &payments)?),
            (File::Exceptions, payout::exceptions_csv(&exceptions)?),
        ];
        Ok((payments, exceptions.len(), files))
    })
    .await
    .map_err(|e| Error::Internal(format!("the payout's thread: {e}")))??;
    // Files first: a recorded payout always has its files. A payout that then fails to record
    // (another made at once) leaves files no record names; they are removed.
    let paths: Vec<_> = files
        .iter()
        .map(|(file, _)| layout::payout_file(&org, &period, &id, &pid, file.name()))
        .collect();
    for ((_, bytes), path) in files.into_iter().zip(&paths) {
        ctx.at_rest.put(&ctx.store, path, bytes).await?;
    }
    let new_payments: Vec<NewPayment> = payments
        .iter()
        .map(|p| NewPayment {
            worker_id: &p.worker_id,
            reference: &p.reference,
            amount: p.amount,
        })
        .collect();
    let audit =
        Audited::new(user.actor(), Action::PayoutCreate, format!("runs/{id}/payouts/{pid}")).after(Some(json!({
            "seq": seq, "payments": new_payments.len(), "total": format!("{total:.2}"), "exceptions": exceptions_count,
        })));
    let recorded = payouts::record(
        &ctx.db,
        NewPayout {
            org_id: &org,
            run_id: &id,
            id: &pid,
            seq,
            total,
            exceptions: exceptions_count as i64,
            created_by: &user.sub,
            idempotency_key: key.as_deref(),
        },
        &new_payments,
        &audit,
    )
    .await;
    let recorded = match recorded {
        Ok(recorded) => recorded,
        Err(e) => {
            for path in &paths {
                let _ = ctx.store.delete(path).await;
            }
            // A retry racing its first attempt: the first one's payout is the answer.
            if let Some(key) = &key
                && let Ok(Some(existing)) = payouts::by_key(&ctx.db, &org, &id, key).await
            {
                return Ok((StatusCode::OK, Json(body(existing, 0))).into_response());
            }
            return Err(e);
        }
    };
    let body = body(recorded, 0);
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
    user.may(org, Permission::ViewPayouts)?;
    payouts::get(&ctx.db, org, id, pid).await?;
    let run = runs::get(&ctx.db, org, id).await?;
    let target = format!("runs/{id}/payouts/{pid}/{}", file.name());
    audit::downloaded(ctx, user, Action::PayoutDownload, &target).await?;
    let path = layout::payout_file(org, &run.period.to_string(), id, pid, file.name());
    let bytes = ctx.at_rest.get(&ctx.store, &path).await?;
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
    user.may(&org, Permission::CreatePayouts)?;
    payouts::get(&ctx.db, &org, &id, &pid).await?;
    let bytes = axum::body::to_bytes(body_bytes, MAX_RETURN_FILE)
        .await
        .map_err(|_| Error::invalid("body", format!("larger than {MAX_RETURN_FILE} bytes")))?;
    let rows = parse_returns(&bytes)?;
    let rid = uuid::Uuid::now_v7().to_string();
    let recorded = payouts::record_return(
        &ctx.db,
        payouts::NewReturn {
            org_id: &org,
            run_id: &id,
            payout_id: &pid,
            id: &rid,
            recorded_by: &user.sub,
        },
        &rows,
        &user.actor(),
    )
    .await?;
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
    // Whoever decides returns reads them; so does whoever reads payouts.
    user.org(&org)?;
    if !user.can(Permission::ApprovePayouts) && !user.can(Permission::ViewPayouts) {
        return Err(Error::Missing(Permission::ViewPayouts));
    }
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
    user.may(&org, Permission::ApprovePayouts)?;
    decide_return(&ctx, &user, (&org, &id, &pid, &rid), ReturnDecision::Approve, None).await
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
    user.may(&org, Permission::ApprovePayouts)?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::invalid(
            "reason",
            "say why the return is rejected, in 1 to 500 characters",
        ));
    }
    decide_return(
        &ctx,
        &user,
        (&org, &id, &pid, &rid),
        ReturnDecision::Reject,
        Some(reason),
    )
    .await
}

async fn decide_return(
    ctx: &App,
    user: &Caller,
    (org, id, pid, rid): (&str, &str, &str, &str),
    decision: ReturnDecision,
    reason: Option<&str>,
) -> Result<Json<ReturnBody>> {
    payouts::get(&ctx.db, org, id, pid).await?;
    let decided = payouts::decide_return(&ctx.db, org, pid, rid, decision, &user.sub, reason, &user.actor()).await?;
    Ok(Json(decided.into()))
}

/// The (line, reference, reason) rows of a return file.
fn parse_returns(bytes: &[u8]) -> Result<Vec<ReturnRow>> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::invalid("body", "not UTF-8 CSV text"))?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| Error::invalid("body", format!("unreadable CSV: {e}")))?
        .clone();
    let column = |name: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let (Some(reference), reason) = (column("reference"), column("reason")) else {
        return Err(Error::invalid(
            "body",
            "expected a header row with the columns `reference` and `reason`",
        ));
    };
    let mut rows = Vec::new();
    let mut faults = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        match record {
            Err(e) => faults.push((format!("line {line}"), format!("unreadable: {e}"))),
            Ok(record) => {
                let value = record.get(reference).unwrap_or_default().trim();
                if value.is_empty() {
                    faults.push((format!("line {line}"), "no reference".to_string()));
                    continue;
                }
                let why = reason.and_then(|r| record.get(r)).unwrap_or_default().trim();
                rows.push(ReturnRow {
                    line,
                    reference: value.to_string(),
                    reason: why.to_string(),
                });
            }
        }
    }
    if !faults.is_empty() {
        return Err(Error::Invalid(faults));
    }
    if rows.is_empty() {
        return Err(Error::invalid("body", "no returned payments in the file"));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_return_file_needs_a_reference_per_line() {
        let rows = parse_returns(b"Reference,Reason\nabc-1-W1,Account closed\n abc-1-W2 ,\n").unwrap();
        let rows: Vec<(usize, &str, &str)> = rows
            .iter()
            .map(|r| (r.line, r.reference.as_str(), r.reason.as_str()))
            .collect();
        assert_eq!(rows, [(2, "abc-1-W1", "Account closed"), (3, "abc-1-W2", "")]);
        assert!(parse_returns(b"ref,why\nx,y\n").is_err());
        assert!(parse_returns(b"reference,reason\n,closed\n").is_err());
        assert!(parse_returns(b"reference,reason\n").is_err());
    }
}
