//! `payroll serve` and `payroll token`: the service, configured by a file and `PAYROLL_`
//! variables (`payroll_service::ServeConfig`), and tokens signed with its secret.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use payroll_service::ServeConfig;

#[derive(clap::Args)]
#[command(
    after_help = "With no config this is the embedded default: it listens on 127.0.0.1:8080, \
    keeps an SQLite database and the object store under ./payroll-data, generates a demo month \
    (or reads --inputs) and generates a signing secret; for the demo month it prints a token per \
    role.\n\n\
    Every config key can be set as a PAYROLL_ variable, nested keys joined by a double \
    underscore: PAYROLL_LISTEN=0.0.0.0:8080, PAYROLL_DATABASE=postgres://..., \
    PAYROLL_AUTH__HS256_SECRET=..."
)]
pub struct ServeArgs {
    /// A TOML config file (keys: listen, data, database, out, rules, inputs, state, sites,
    /// [auth], [orgs.<id>], [roles])
    #[arg(long)]
    config: Option<PathBuf>,
    /// Files mode: an input folder, all orgs (overrides the config's `inputs`)
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// Where to listen (overrides the config's `listen`)
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// The data directory (overrides the config's `data`)
    #[arg(long)]
    data: Option<PathBuf>,
}

pub async fn serve(args: ServeArgs) -> Result<ExitCode> {
    let mut config = ServeConfig::load(args.config.as_deref())?;
    if let Some(inputs) = args.inputs {
        config.inputs = Some(inputs);
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(data) = args.data {
        config.data = data;
    }
    payroll_service::serve(config).await?;
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct TokenArgs {
    /// The user id; for the `worker` role, the worker id
    #[arg(long)]
    sub: String,
    /// The org the token is for
    #[arg(long)]
    org: String,
    /// A role (repeat for several): hr_admin, approver, ops_viewer, analyst, worker, or one
    /// the config's [roles] defines
    #[arg(long = "role", required = true)]
    roles: Vec<String>,
    /// How long the token is valid
    #[arg(long, default_value = "1h")]
    ttl: humantime::Duration,
    /// The service's config file (the secret comes from it, PAYROLL_AUTH__HS256_SECRET or
    /// the secret the embedded default generated under its data directory)
    #[arg(long)]
    config: Option<PathBuf>,
}

pub fn token(args: TokenArgs) -> Result<ExitCode> {
    let config = ServeConfig::load(args.config.as_deref())?;
    let roles = payroll_service::domain::permissions::Roles::with_overrides(&config.roles);
    if let Some(unknown) = args.roles.iter().find(|r| !roles.names().any(|n| n == *r)) {
        bail!(
            "--role {unknown}: not a role; expected one of {}",
            roles.names().collect::<Vec<_>>().join(", ")
        );
    }
    let max = config.auth.max_token_lifetime;
    if Duration::from(args.ttl) > max {
        bail!(
            "--ttl {}: the service refuses tokens living longer than {} ([auth] max_token_lifetime)",
            args.ttl,
            humantime::format_duration(max)
        );
    }
    let keys = payroll_service::secrets::signing_keys(&config)?;
    let claims = payroll_service::auth::claims(&args.sub, &args.org, &args.roles, Duration::from(args.ttl));
    let Some(token) = keys.mint(&claims) else {
        bail!("the service checks RS256 tokens from an identity provider: mint them there, not here");
    };
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
