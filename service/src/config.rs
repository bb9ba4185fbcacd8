//! `payroll serve`'s configuration: a TOML file, every key overridable by a `PAYROLL_`
//! environment variable (nested keys joined by a double underscore:
//! `PAYROLL_AUTH__HS256_SECRET`, `PAYROLL_ORGS__ORG0__NAME`), and the embedded defaults.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::domain::permissions::Permissions;

/// The keys a `PAYROLL_` variable may set: others (`PAYROLL_LOG`, ...) belong to the CLI.
const KEYS: [&str; 19] = [
    "listen",
    "http",
    "data",
    "database",
    "out",
    "rules",
    "inputs",
    "brokers",
    "sites",
    "state",
    "stream",
    "auth",
    "orgs",
    "roles",
    "workers",
    "adjustments",
    "uploads",
    "notices",
    "audit",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Where the API listens.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The HTTP server's timeouts.
    #[serde(default)]
    pub http: HttpSettings,
    /// The SQLite database and the local object store, unless set below.
    #[serde(default = "default_data")]
    pub data: PathBuf,
    /// `postgres://...` for PostgreSQL instead of the SQLite file under `data`.
    pub database: Option<Secret>,
    /// Results and payslips: a directory or an object store URL; `<data>/store` by default.
    pub out: Option<String>,
    /// The ruleset every org uses unless its own section names another.
    pub rules: Option<PathBuf>,
    /// Files mode: one folder in the input format, all orgs.
    pub inputs: Option<PathBuf>,
    /// Stream mode: Kafka brokers (the service consumes the topics itself), the sites file and
    /// the stream's state store (`<data>/state` by default). `state` and `sites` without
    /// `brokers`: runs read the checkpoints another `payroll stream` process writes.
    pub brokers: Option<String>,
    pub sites: Option<PathBuf>,
    pub state: Option<String>,
    #[serde(default)]
    pub stream: StreamSettings,
    #[serde(default)]
    pub adjustments: AdjustmentSettings,
    #[serde(default)]
    pub uploads: UploadSettings,
    #[serde(default)]
    pub audit: AuditSettings,
    /// Payslip notices after a final run is finalized: channels, vendors, retries, links.
    #[serde(default)]
    pub notices: crate::notices::NoticeSettings,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub orgs: BTreeMap<String, OrgConfig>,
    /// Role name to the permissions it grants, replacing a default role's or adding a role.
    #[serde(default)]
    pub roles: BTreeMap<String, Permissions>,
    /// Runs this instance executes at once; 0 for an instance that only serves the API.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// The file this was read from, if any: a service given one is an operator's, never the
    /// embedded demo (no ready tokens).
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

/// Limits on adjustments requested through the API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentSettings {
    /// The largest amount one adjustment may carry, a decimal string (`"200000.00"`).
    #[serde(default = "default_max_amount")]
    pub max_amount: rust_decimal::Decimal,
}

impl Default for AdjustmentSettings {
    fn default() -> Self {
        AdjustmentSettings {
            max_amount: default_max_amount(),
        }
    }
}

/// The audit log's anchors (`crate::anchors`): its chain heads, signed, in the object store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Signs the anchors (HMAC-SHA256), a strong secret shared by every instance and by
    /// `payroll audit verify --config`; generated under `data` when unset.
    pub anchor_key: Option<Secret>,
    /// How often each org's chain head is anchored (`5m`).
    #[serde(default = "default_anchor_every", with = "duration")]
    pub anchor_every: Duration,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            anchor_key: None,
            anchor_every: default_anchor_every(),
        }
    }
}

fn default_anchor_every() -> Duration {
    Duration::from_secs(300)
}

/// Limits on bulk uploads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadSettings {
    /// The largest file accepted, in bytes (32 MiB by default: 100,000 rows of workers as CSV
    /// take about 20 MB).
    #[serde(default = "default_max_upload_bytes")]
    pub max_bytes: usize,
    /// How long an uploaded file itself is kept (`90d`): it carries bank accounts and PANs. The
    /// uploads janitor deletes older ones; the upload's record and rejected rows stay.
    #[serde(default = "default_keep_raw", with = "duration")]
    pub keep_raw: Duration,
    /// Uploads one org may have in progress (being received, queued or processing); one more
    /// is answered 429. Each upload being received is held in memory, up to `max_bytes`.
    #[serde(default = "default_max_in_progress")]
    pub max_in_progress: usize,
}

impl Default for UploadSettings {
    fn default() -> Self {
        UploadSettings {
            max_bytes: default_max_upload_bytes(),
            keep_raw: default_keep_raw(),
            max_in_progress: default_max_in_progress(),
        }
    }
}

fn default_max_in_progress() -> usize {
    4
}

/// Timeouts of the HTTP server: a client that is slow on purpose holds a connection (and, for
/// a request, a task) only this long.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// From a connection's opening (or its previous response) to a request's last header line.
    #[serde(default = "default_header_timeout", with = "duration")]
    pub header_timeout: Duration,
    /// From a request's headers to its response's; not for uploads (their body may take long to
    /// arrive) nor for server-sent events (their response streams for as long as the run does).
    #[serde(default = "default_request_timeout", with = "duration")]
    pub request_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            header_timeout: default_header_timeout(),
            request_timeout: default_request_timeout(),
        }
    }
}

fn default_header_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(60)
}

fn default_keep_raw() -> Duration {
    Duration::from_secs(90 * 24 * 3600)
}

fn default_max_upload_bytes() -> usize {
    32 << 20
}

fn default_max_amount() -> rust_decimal::Decimal {
    rust_decimal::Decimal::new(20_000_000, 2)
}

/// How the service consumes the topics, with `brokers`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSettings {
    /// The consumer group: instances with the same group and state split the partitions.
    #[serde(default = "default_group")]
    pub group: String,
    /// How often live pay is recalculated for the workers whose events arrived (`10s`).
    #[serde(default = "default_live_every", with = "duration")]
    pub live_every: Duration,
    #[serde(default = "default_checkpoint_every", with = "duration")]
    pub checkpoint_every: Duration,
    /// The open period live pay is kept for: the current month by default.
    pub period: Option<String>,
    /// librdkafka properties (security, timeouts), set over the engine's own.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            group: default_group(),
            live_every: default_live_every(),
            checkpoint_every: default_checkpoint_every(),
            period: None,
            options: BTreeMap::new(),
        }
    }
}

fn default_group() -> String {
    "payroll".to_string()
}

fn default_live_every() -> Duration {
    Duration::from_secs(10)
}

fn default_checkpoint_every() -> Duration {
    Duration::from_secs(5)
}

/// Durations as people write them: `10s`, `500ms`, `1m`.
mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text)
            .map_err(|e| serde::de::Error::custom(format!("`{text}`: {e}; expected a duration like 10s or 500ms")))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Signs and checks tokens (HS256), a strong secret ([`Secret::strong`]). Generated at
    /// start when neither key is set.
    pub hs256_secret: Option<Secret>,
    /// Checks tokens signed by an identity provider (RS256), a PEM file.
    pub rs256_public_key: Option<PathBuf>,
    /// The company's OpenID Connect provider: the console signs in through it, and the API
    /// checks its tokens by the keys it publishes.
    pub oidc: Option<OidcConfig>,
    /// The `iss` and `aud` every HS256 or RS256 token must carry, and `payroll token` writes,
    /// when set. The provider's tokens are held to `[auth.oidc]`'s issuer and audience.
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// The longest a token of any kind may live (`exp` less `iat`): `12h` by default.
    #[serde(default = "default_max_token_lifetime", with = "duration")]
    pub max_token_lifetime: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            hs256_secret: None,
            rs256_public_key: None,
            oidc: None,
            issuer: None,
            audience: None,
            max_token_lifetime: default_max_token_lifetime(),
        }
    }
}

impl AuthConfig {
    /// What a token must say to be accepted, beyond its signature.
    pub fn token_policy(&self) -> crate::auth::TokenPolicy {
        crate::auth::TokenPolicy {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            max_lifetime: self.max_token_lifetime,
        }
    }
}

fn default_max_token_lifetime() -> Duration {
    crate::auth::DEFAULT_MAX_TOKEN_LIFETIME
}

/// An OpenID Connect provider the console signs in with (authorization code flow with PKCE,
/// as a public client: no secret) and whose tokens the API accepts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer URL; its `/.well-known/openid-configuration` names the keys.
    pub issuer: String,
    /// The console's client id at the provider.
    pub client_id: String,
    /// The `aud` the API requires of a token: the client id (ID tokens) by default.
    pub audience: Option<String>,
    /// The scopes the console asks for.
    #[serde(default = "default_scopes")]
    pub scopes: String,
    /// The claim that names the user's org.
    #[serde(default = "default_org_claim")]
    pub org_claim: String,
    /// The claim that lists the user's roles (an array, or one space-separated string).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
}

fn default_scopes() -> String {
    "openid profile".to_string()
}

fn default_org_claim() -> String {
    "org".to_string()
}

fn default_roles_claim() -> String {
    "roles".to_string()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    /// Printed on payslips and the register instead of the id.
    pub name: Option<String>,
    /// The payslip language of the org's workers whose master gives none (else English).
    pub language: Option<payroll_payslips::Language>,
    /// `bilingual`: English beneath each label of a payslip not in English (auditors and banks
    /// read English); `single` (the default): the worker's language alone.
    #[serde(default)]
    pub payslip_layout: payroll_payslips::Layout,
    /// This org's ruleset instead of the default.
    pub rules: Option<PathBuf>,
    /// A nightly provisional run of the open period.
    pub schedule: Option<ScheduleConfig>,
    /// The account salaries are paid from, for payout files: its number (never logged), the
    /// branch's IFSC, the bank's BIC if it wants one, and the account holder's name (`name`, or
    /// the org id, when not given).
    pub debit_account: Option<Secret>,
    pub debit_ifsc: Option<String>,
    pub debit_bic: Option<String>,
    pub debit_name: Option<String>,
    /// HR's own contacts (emails, or phones as +91XXXXXXXXXX): told when a nightly run finds
    /// new `block` findings, through the notices outbox, on the channels configured for it.
    #[serde(default)]
    pub hr_contacts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    pub cron: String,
    pub timezone: String,
}

/// A value that never prints: database URLs carry passwords, secrets sign tokens.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// This secret as the key `key` signs or seals with, refused when weak (under 256 bits, a
    /// pattern or a documented placeholder) by the rule the checkpoint key is held to too
    /// ([`payroll_connectors::secret::weakness`]); the refusal names `key`.
    pub fn strong(&self, key: &str) -> Result<&str, String> {
        match payroll_connectors::secret::weakness(&self.0) {
            Some(why) => Err(format!("{key}: {why}")),
            None => Ok(&self.0),
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"<secret>\"")
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_data() -> PathBuf {
    PathBuf::from("./payroll-data")
}

fn default_workers() -> usize {
    1
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
}

impl ServeConfig {
    /// The output store: `out`, else `<data>/store`.
    pub fn out(&self) -> String {
        self.out
            .clone()
            .unwrap_or_else(|| self.data.join("store").display().to_string())
    }

    /// The file (if any), then the environment over it.
    pub fn load(file: Option<&Path>) -> Result<ServeConfig, ConfigError> {
        let (mut table, origin) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                (table, path.display().to_string())
            }
            None => (toml::Table::new(), "configuration".to_string()),
        };
        overlay_env(&mut table, std::env::vars())?;
        let mut config = ServeConfig::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Invalid {
            path: origin,
            message: e.to_string(),
        })?;
        // Relative paths in a file are relative to the file, as a ruleset's table files are.
        if let Some(dir) = file.and_then(Path::parent) {
            config.resolve_relative_to(dir);
        }
        config.file = file.map(Path::to_path_buf);
        Ok(config)
    }

    fn resolve_relative_to(&mut self, dir: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        for path in [
            &mut self.rules,
            &mut self.inputs,
            &mut self.sites,
            &mut self.auth.rs256_public_key,
        ]
        .into_iter()
        .flatten()
        {
            resolve(path);
        }
        for org in self.orgs.values_mut() {
            if let Some(rules) = &mut org.rules {
                resolve(rules);
            }
        }
    }

    /// The org's display name: its configured name, or its id.
    pub fn org_name<'a>(&'a self, org: &'a str) -> &'a str {
        self.orgs.get(org).and_then(|o| o.name.as_deref()).unwrap_or(org)
    }
}

/// Sets `PAYROLL_A__B=value` as `a.b = value` in `table`. The value is read as TOML when it
/// parses as a TOML value (`8`, `true`, `{ cron = "..." }`), as a string otherwise.
#[allow(clippy::expect_used, reason = "split yields at least one part")]
fn overlay_env(table: &mut toml::Table, vars: impl Iterator<Item = (String, String)>) -> Result<(), ConfigError> {
    for (name, value) in vars {
        let Some(key) = name.strip_prefix("PAYROLL_") else {
            continue;
        };
        let path: Vec<String> = key.split("__").map(str::to_lowercase).collect();
        if !KEYS.contains(&path[0].as_str()) {
            continue;
        }
        let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or(toml::Value::String(value));
        let (last, parents) = path.split_last().expect("split yields at least one part");
        let mut at = &mut *table;
        for part in parents {
            let entry = at
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            at = entry.as_table_mut().ok_or_else(|| ConfigError::Env {
                name: name.clone(),
                message: format!("`{part}` is not a section"),
            })?;
        }
        at.insert(last.clone(), parsed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(file: &str, env: &[(&str, &str)]) -> Result<ServeConfig, ConfigError> {
        let mut table: toml::Table = toml::from_str(file).unwrap();
        overlay_env(&mut table, env.iter().map(|(k, v)| (k.to_string(), v.to_string())))?;
        ServeConfig::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Invalid {
            path: "test".into(),
            message: e.to_string(),
        })
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let c = config("", &[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data, PathBuf::from("./payroll-data"));
        assert!(c.database.is_none() && c.brokers.is_none());
        // With no [auth] section, and with one that does not say: tokens live 12 hours at most.
        for c in [c, config("[auth]\nissuer = \"https://idp.example\"", &[]).unwrap()] {
            assert_eq!(c.auth.max_token_lifetime, Duration::from_secs(12 * 3600));
        }
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let file = r#"
            listen = "127.0.0.1:9000"
            [orgs.org0]
            name = "Acme"
            schedule = { cron = "0 2 * * *", timezone = "Asia/Kolkata" }
        "#;
        let c = config(
            file,
            &[
                ("PAYROLL_LISTEN", "0.0.0.0:8080"),
                ("PAYROLL_AUTH__HS256_SECRET", "s3cret"),
                ("PAYROLL_ORGS__ORG0__NAME", "Acme Logistics Pvt Ltd"),
                ("PAYROLL_LOG", "debug"),
                ("HOME", "/root"),
            ],
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(c.auth.hs256_secret.unwrap().reveal(), "s3cret");
        assert_eq!(c.orgs["org0"].name.as_deref(), Some("Acme Logistics Pvt Ltd"));
        assert_eq!(c.orgs["org0"].schedule.as_ref().unwrap().timezone, "Asia/Kolkata");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = config("listn = \"x\"", &[]).unwrap_err().to_string();
        assert!(err.contains("unknown field `listn`"), "{err}");
    }

    #[test]
    fn secrets_never_print() {
        let c = config("database = \"postgres://u:pw@h/db\"", &[]).unwrap();
        assert!(!format!("{c:?}").contains("pw"));
    }
}
