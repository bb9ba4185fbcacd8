//! The service's one error type. Each variant knows its HTTP status (`http::error` maps them in
//! one place); the database layer, the run worker and the handlers all return it.

use crate::domain::permissions::Permission;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401: no token, or one that does not verify.
    #[error("{0}")]
    Unauthorized(#[from] TokenError),
    /// 403: the token's roles do not grant the permission.
    #[error("forbidden: this needs the `{}` permission, which the token's roles do not grant", permission_name(.0))]
    Missing(Permission),
    /// 403: the path names another org than the token's.
    #[error("forbidden: the token is for org `{token}`, not `{path}`")]
    OtherOrg { token: String, path: String },
    /// 403: a rule of the domain (four eyes, a worker's own pay only).
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    /// 400: the request is missing something it must have.
    #[error("{0}")]
    BadRequest(String),
    /// 422: fields that do not validate, each with what was expected.
    #[error("invalid request: {}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(String, String)>),
    /// 409: the request conflicts with the state of a run or a period.
    #[error("{0}")]
    Conflict(String),
    /// 429: a limit on work in progress is reached; worth retrying after `retry_after` seconds.
    #[error("{message}")]
    TooMany { message: String, retry_after: u64 },
    /// 503: a dependency (database, object store) is not answering.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 500: logged in full, answered with a fixed sentence.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Pipeline(#[from] payroll_pipeline::Error),
    #[error(transparent)]
    Connectors(#[from] payroll_connectors::Error),
    #[error("internal: {0}")]
    Internal(String),
}

fn permission_name(p: &Permission) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{p:?}"))
}

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Error {
        Error::Invalid(vec![(field.to_string(), message.into())])
    }
}

impl From<payroll_engine::lifecycle::Refused> for Error {
    fn from(refused: payroll_engine::lifecycle::Refused) -> Self {
        use payroll_engine::lifecycle::Refused;
        match refused {
            Refused::SameApprover(_) => Error::Forbidden(refused.to_string()),
            Refused::NotAllowed { .. } | Refused::NotFinal | Refused::WorkerErrors { .. } => {
                Error::Conflict(refused.to_string())
            }
        }
    }
}

/// Why a token was not accepted: said in the 401 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet (its `nbf` is in the future)")]
    NotYetValid,
    #[error("token issuer (`iss`) is not the one this service accepts")]
    Issuer,
    #[error("token audience (`aud`) is not this service")]
    Audience,
    #[error("token lifetime {lifetime} is longer than the {max} this service accepts ([auth] max_token_lifetime)")]
    TooLong { lifetime: String, max: String },
}
