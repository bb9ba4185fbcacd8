//! The demo tokens the embedded default prints at start and the console offers on loopback:
//! one per role, for the org of the inputs' first worker.

use std::path::Path;
use std::time::Duration;

use payroll_pipeline::Source;

use crate::app::App;
use crate::auth;

/// How long the tokens printed at start are valid.
const PRINTED_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);

/// Tokens printed at start, for one org of the inputs.
pub struct DemoTokens {
    pub org: String,
    /// The worker the `worker` role's token is for.
    pub worker: String,
    /// Role, token.
    pub tokens: Vec<(String, String)>,
}

/// A token per role for the org of the inputs' first worker (the worker's for that worker).
pub fn demo_tokens(ctx: &App) -> Option<DemoTokens> {
    let Source::Folder(dir) = &*ctx.source else {
        return None;
    };
    let (org, worker) = first_org_and_worker(&dir.join("workers.csv"))?;
    let tokens = ctx
        .roles
        .names()
        .filter_map(|role| {
            let sub = if role == "worker" {
                worker.clone()
            } else {
                format!("demo-{role}")
            };
            let claims = auth::claims(&sub, &org, &[role.to_string()], PRINTED_TOKEN_TTL);
            Some((role.to_string(), ctx.keys.mint(&claims)?))
        })
        .collect();
    Some(DemoTokens { org, worker, tokens })
}

fn first_org_and_worker(workers_csv: &Path) -> Option<(String, String)> {
    let mut reader = csv::Reader::from_path(workers_csv).ok()?;
    let headers = reader.headers().ok()?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (worker, org) = (column("worker_id")?, column("org_id")?);
    let row = reader.records().next()?.ok()?;
    Some((row.get(org)?.to_string(), row.get(worker)?.to_string()))
}
