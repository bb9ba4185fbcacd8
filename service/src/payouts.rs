//! A payout's verbs, for every caller: making a payout of a finalized final run
//! (`payouts:create`), handing out its files (`payouts:view`, each download audited), and
//! recording a bank return (`payouts:create`) that another person decides
//! (`payouts:approve`): only an approved return is paid again. Each verb checks the caller's
//! org and permission, applies its guard (four eyes for a return) and audits in the
//! transaction of its change.
//!
//! A payout pays every worker of the run not paid yet, `net_payable` to the paisa, to the
//! account and IFSC in the worker master at payout time; the workers it cannot pay are its
//! exceptions. Its files (ISO 20022 pain.001, bulk NEFT CSV, exceptions CSV) are written under
//! the run's payouts prefix in the object store: the bank files carry full account numbers, so
//! nothing here logs their content.

use chrono::Utc;
use payroll_connectors::layout;
use payroll_engine::lifecycle::{RunKind, RunStatus};
use payroll_pipeline::payout::{self, Debtor, Header};
use serde_json::json;

use crate::app::App;
use crate::audit;
use crate::caller::Caller;
use crate::db::audit::{Action, Audited};
use crate::db::payouts::{self, NewPayment, NewPayout, Payout, Return, ReturnDecision, ReturnRow};
use crate::db::runs::{self, Run};
use crate::domain::permissions::Permission;
use crate::error::{Error, Result};

/// The files of a payout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum File {
    Pain001,
    Neft,
    Exceptions,
}

impl File {
    pub fn name(self) -> &'static str {
        match self {
            File::Pain001 => "pain.001.xml",
            File::Neft => "neft.csv",
            File::Exceptions => "exceptions.csv",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            File::Pain001 => "application/xml",
            File::Neft | File::Exceptions => "text/csv",
        }
    }
}

/// A payout as a verb answers it: with the payments approved returns have marked returned, and
/// whether this call made it (false: the same idempotency key made it before).
#[derive(Debug)]
pub struct Made {
    pub payout: Payout,
    pub returned: i64,
    pub created: bool,
}

/// How many exceptions a refusal names before "and N more".
const NAMED: usize = 5;

/// The run, if it is a final run that is finalized: only a paid, locked period is paid out or
/// filed (`what` says which, in the refusal).
pub async fn finalized_final(app: &App, org: &str, id: &str, what: &str) -> Result<Run> {
    let run = runs::get(&app.db, org, id).await?;
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

/// Makes a payout of finalized final run `id` (`payouts:create`), audited as `payout.create`:
/// a bulk payment of every worker's `net_payable` not paid yet (the first payout pays all; a
/// later one the payments of approved bank returns and earlier exceptions since fixed in the
/// master), to the account and IFSC the worker master has now. Workers with nothing to pay or
/// bank details out of format are its exceptions, never paid. `key` is the client's
/// idempotency key as sent: a retry answers the payout the first call made.
pub async fn create(app: &App, caller: &Caller, org: &str, id: &str, key: Option<&str>) -> Result<Made> {
    caller.may(org, Permission::CreatePayouts)?;
    let key = caller.idempotency(key)?;
    let run = finalized_final(app, org, id, "payouts").await?;
    if let Some(key) = &key
        && let Some(existing) = payouts::by_key(&app.db, org, id, key).await?
    {
        let returned = payouts::returned_count(&app.db, org, &existing.id).await?;
        return Ok(Made {
            payout: existing,
            returned,
            created: false,
        });
    }
    let debtor = debtor(app, org)?;
    let period = run.period.to_string();
    let dues = payout::dues(&app.store, org, &period, id).await?;
    let (seq, paid) = payouts::paid(&app.db, org, id).await?;
    let unpaid: Vec<_> = dues.into_iter().filter(|d| !paid.contains(&d.worker_id)).collect();
    if unpaid.is_empty() {
        return Err(Error::Conflict(format!(
            "every worker of run {id} is paid ({} payment(s) outstanding): a later payout pays only the payments of a bank return another person approved",
            paid.len()
        )));
    }
    // The master as it is now: a correction made since the run (a new account) is what the
    // bank pays to.
    let master = payroll_pipeline::master::current(&app.source).await?;
    let seq_u32 = u32::try_from(seq).map_err(|_| Error::Internal(format!("payout number {seq}")))?;
    let (payments, exceptions) = payout::plan(unpaid, |w| master.worker(w), org, id, seq_u32);
    drop(master);
    if payments.is_empty() {
        return Err(nobody_to_pay(id, &exceptions));
    }
    let payout_id = uuid::Uuid::now_v7();
    let pid = payout_id.to_string();
    let message_id = payout_id.simple().to_string();
    let total = payout::total(&payments);
    let created_at = Utc::now();
    let org_name = org.to_string();
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
        .map(|(file, _)| layout::payout_file(org, &period, id, &pid, file.name()))
        .collect();
    for ((_, bytes), path) in files.into_iter().zip(&paths) {
        app.at_rest.put(&app.store, path, bytes).await?;
    }
    let new_payments: Vec<NewPayment> = payments
        .iter()
        .map(|p| NewPayment {
            worker_id: &p.worker_id,
            reference: &p.reference,
            amount: p.amount,
        })
        .collect();
    let audit = Audited::new(caller.actor(), Action::PayoutCreate, format!("runs/{id}/payouts/{pid}")).after(Some(
        json!({"seq": seq, "payments": new_payments.len(), "total": format!("{total:.2}"), "exceptions": exceptions_count}),
    ));
    let new = NewPayout {
        org_id: org,
        run_id: id,
        id: &pid,
        seq,
        total,
        exceptions: exceptions_count as i64,
        created_by: &caller.sub,
        idempotency_key: key.as_deref(),
    };
    match payouts::record(&app.db, new, &new_payments, &audit).await {
        Ok(payout) => Ok(Made {
            payout,
            returned: 0,
            created: true,
        }),
        Err(e) => {
            for path in &paths {
                let _ = app.store.delete(path).await;
            }
            // A retry racing its first attempt: the first one's payout is the answer.
            if let Some(key) = &key
                && let Ok(Some(existing)) = payouts::by_key(&app.db, org, id, key).await
            {
                return Ok(Made {
                    payout: existing,
                    returned: 0,
                    created: false,
                });
            }
            Err(e)
        }
    }
}

/// A payout's file (`payouts:view`), audited as `payout.download` before it is handed out.
pub async fn download(app: &App, caller: &Caller, org: &str, id: &str, pid: &str, file: File) -> Result<bytes::Bytes> {
    caller.may(org, Permission::ViewPayouts)?;
    payouts::get(&app.db, org, id, pid).await?;
    let run = runs::get(&app.db, org, id).await?;
    let target = format!("runs/{id}/payouts/{pid}/{}", file.name());
    audit::downloaded(app, caller, Action::PayoutDownload, &target).await?;
    let path = layout::payout_file(org, &run.period.to_string(), id, pid, file.name());
    app.at_rest.get(&app.store, &path).await
}

/// Bank returns are read by whoever decides them (`payouts:approve`) and whoever reads payouts
/// (`payouts:view`).
pub fn may_read_returns(caller: &Caller, org: &str) -> Result<()> {
    caller.org(org)?;
    if !caller.can(Permission::ApprovePayouts) && !caller.can(Permission::ViewPayouts) {
        return Err(Error::Missing(Permission::ViewPayouts));
    }
    Ok(())
}

/// Records a bank return of payout `pid` (`payouts:create`), audited as
/// `payout.return`, `pending` until another person decides it: the file's rows as
/// [`parse_return_file`] reads them. A reference that is not one of the payout's payments,
/// named twice, or in another return of the payout that was not rejected, refuses the whole
/// file (422, naming its lines).
pub async fn record_return(app: &App, caller: &Caller, org: &str, id: &str, pid: &str, file: &[u8]) -> Result<Return> {
    caller.may(org, Permission::CreatePayouts)?;
    payouts::get(&app.db, org, id, pid).await?;
    let rows = parse_return_file(file)?;
    let rid = uuid::Uuid::now_v7().to_string();
    let new = payouts::NewReturn {
        org_id: org,
        run_id: id,
        payout_id: pid,
        id: &rid,
        recorded_by: &caller.sub,
    };
    payouts::record_return(&app.db, new, &rows, &caller.actor()).await
}

/// Approves a pending bank return (`payouts:approve`), by someone other than who recorded it,
/// audited as `payout.return_approve`: its payments are marked returned, and the run's next
/// payout pays them again.
pub async fn approve_return(app: &App, caller: &Caller, org: &str, id: &str, pid: &str, rid: &str) -> Result<Return> {
    caller.may(org, Permission::ApprovePayouts)?;
    decide_return(app, caller, (org, id, pid, rid), ReturnDecision::Approve, None).await
}

/// Rejects a pending bank return (`payouts:approve`), by someone other than who recorded it,
/// saying why (1 to 500 characters), audited as `payout.return_reject`: its payments stay
/// paid, and a corrected return may name them again.
pub async fn reject_return(
    app: &App,
    caller: &Caller,
    (org, id, pid, rid): (&str, &str, &str, &str),
    reason: &str,
) -> Result<Return> {
    caller.may(org, Permission::ApprovePayouts)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::invalid(
            "reason",
            "say why the return is rejected, in 1 to 500 characters",
        ));
    }
    decide_return(app, caller, (org, id, pid, rid), ReturnDecision::Reject, Some(reason)).await
}

async fn decide_return(
    app: &App,
    caller: &Caller,
    (org, id, pid, rid): (&str, &str, &str, &str),
    decision: ReturnDecision,
    reason: Option<&str>,
) -> Result<Return> {
    payouts::get(&app.db, org, id, pid).await?;
    let current = payouts::get_return(&app.db, org, pid, rid).await?;
    if current.recorded_by == caller.sub {
        let verb = match decision {
            ReturnDecision::Approve => "approve",
            ReturnDecision::Reject => "reject",
        };
        return Err(Error::Forbidden(format!(
            "four eyes: {} recorded return {} of payout {pid} and cannot also {verb} it; another user with payouts:approve must",
            caller.sub, current.seq
        )));
    }
    payouts::decide_return(&app.db, org, pid, rid, decision, reason, &caller.actor()).await
}

/// The org's debit account from the config, or why there is none.
fn debtor(app: &App, org: &str) -> Result<Debtor> {
    let config = app.config.orgs.get(org);
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

/// Why a payout has nobody to pay: every worker not paid yet is an exception, the first few
/// named with their reasons.
fn nobody_to_pay(id: &str, exceptions: &[payout::Exception]) -> Error {
    let named: Vec<String> = exceptions
        .iter()
        .take(NAMED)
        .map(|e| {
            let reasons: Vec<String> = e.reasons.iter().map(|r| r.describe()).collect();
            format!("{}: {}", e.worker_id, reasons.join("; "))
        })
        .collect();
    let more = match exceptions.len().saturating_sub(NAMED) {
        0 => String::new(),
        more => format!("; and {more} more"),
    };
    Error::Conflict(format!(
        "nobody to pay in run {id}: the {} worker(s) not paid yet are all exceptions ({}{more})",
        exceptions.len(),
        named.join("; "),
    ))
}

/// The (line, reference, reason) rows of a bank return file: CSV (UTF-8) with a header row and
/// the columns `reference` (the payment's end-to-end id) and `reason`.
pub fn parse_return_file(bytes: &[u8]) -> Result<Vec<ReturnRow>> {
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
        let rows = parse_return_file(b"Reference,Reason\nabc-1-W1,Account closed\n abc-1-W2 ,\n").unwrap();
        let rows: Vec<(usize, &str, &str)> = rows
            .iter()
            .map(|r| (r.line, r.reference.as_str(), r.reason.as_str()))
            .collect();
        assert_eq!(rows, [(2, "abc-1-W1", "Account closed"), (3, "abc-1-W2", "")]);
        assert!(parse_return_file(b"ref,why\nx,y\n").is_err());
        assert!(parse_return_file(b"reference,reason\n,closed\n").is_err());
        assert!(parse_return_file(b"reference,reason\n").is_err());
    }
}
