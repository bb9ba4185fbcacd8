//! Extractors: [`Caller`] (a handler that takes it cannot run without a verified, unexpired
//! token), and [`ApiJson`], [`ApiQuery`] and [`ApiPath`]: a body, query string or path that does
//! not parse is the API's JSON 422, not axum's plain-text rejection.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::{App, RequestId};
use crate::caller::Caller;
use crate::error::TokenError;
use crate::error::{Error, Result};

/// Every `/v1` handler's caller: the bearer token verified, its roles read from the org's
/// table.
impl<S> FromRequestParts<S> for Caller
where
    App: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let ctx = App::from_ref(state);
        // Taken out of the request, so nothing later can log it.
        let header = parts.headers.remove(AUTHORIZATION).ok_or(TokenError::Missing)?;
        let header = header
            .to_str()
            .map_err(|_| TokenError::Malformed("the Authorization header is not text".into()))?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| TokenError::Malformed("expected `Authorization: Bearer <token>`".into()))?;
        let claims = ctx.keys.check(token.trim()).await?;
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map_or_else(String::new, |id| id.0.clone());
        // What the roles grant is the org's table now, not when the token was minted.
        let permissions = ctx
            .role_tables
            .grants(&ctx.db, &claims.org, &claims.roles, &ctx.roles)
            .await?;
        Ok(Caller {
            request_id,
            permissions,
            sub: claims.sub,
            org: claims.org,
            roles: claims.roles,
        })
    }
}

/// A JSON body; one that does not parse is a 422 naming the field and what was expected.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| Error::BadRequest(format!("reading the body: {e}")))?;
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(deserializer)
            .map(ApiJson)
            .map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." { "body".to_string() } else { path };
                Error::invalid(&field, e.into_inner().to_string())
            })
    }
}

/// A list's `page_size`: `default` when absent, else 1 to `max`; the fault names the parameter.
fn page_size(given: Option<u32>, default: u32, max: u32) -> std::result::Result<u32, (String, String)> {
    let size = given.unwrap_or(default);
    match (1..=max).contains(&size) {
        true => Ok(size),
        false => Err(("page_size".to_string(), format!("{size}: expected 1 to {max}"))),
    }
}

/// A list's query faults, gathered so that every bad parameter is named at once (one 422).
#[derive(Debug, Default)]
pub struct QueryFaults(Vec<(String, String)>);

impl QueryFaults {
    /// `value` parsed, or `None` with the fault noted under `name`.
    pub fn parse<T>(&mut self, name: &str, value: Option<&str>) -> Option<T>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        match value?.parse() {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                self.note(name, e.to_string());
                None
            }
        }
    }

    /// A `page_token` this API gave: a number.
    pub fn token<T: std::str::FromStr>(&mut self, value: Option<&str>) -> Option<T> {
        match value?.parse() {
            Ok(token) => Some(token),
            Err(_) => {
                self.note("page_token", "not a token this API gave");
                None
            }
        }
    }

    /// The `page_size`: `default` when absent, else 1 to `max`.
    pub fn page_size(&mut self, given: Option<u32>, default: u32, max: u32) -> u32 {
        page_size(given, default, max).unwrap_or_else(|fault| {
            self.0.push(fault);
            0
        })
    }

    pub fn note(&mut self, name: &str, why: impl Into<String>) {
        self.0.push((name.to_string(), why.into()));
    }

    /// 422 naming every fault noted, if any was.
    pub fn check(self) -> Result<()> {
        match self.0.is_empty() {
            true => Ok(()),
            false => Err(Error::Invalid(self.0)),
        }
    }
}

/// A page of a list read by position (a run's results, arrears, worker errors, dead letters):
/// 100 items by default, at most 1000; its token is where the page before ended.
#[derive(Debug, Clone, Copy)]
pub struct Offset {
    pub start: usize,
    pub size: usize,
}

impl Offset {
    pub fn of(given_size: Option<u32>, token: Option<&str>) -> Result<Offset> {
        let mut faults = QueryFaults::default();
        let size = faults.page_size(given_size, 100, 1000) as usize;
        let start = faults.token(token).unwrap_or(0);
        faults.check()?;
        Ok(Offset { start, size })
    }

    /// The token of the next page, after a page of `shown` items, when `more` follow.
    pub fn next(&self, shown: usize, more: bool) -> Option<String> {
        more.then(|| (self.start + shown).to_string())
    }
}

/// A query string; one that does not parse is a 422 saying which parameter and why.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        Query::try_from_uri(&parts.uri)
            .map(|Query(query)| ApiQuery(query))
            .map_err(|rejection| Error::invalid("query", rejection.body_text()))
    }
}

/// Path parameters; ones that do not decode (invalid percent-encoding) are a 422.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        Path::from_request_parts(parts, state)
            .await
            .map(|Path(path)| ApiPath(path))
            .map_err(|rejection| Error::invalid("path", rejection.body_text()))
    }
}

/// The request's `Idempotency-Key` as the client sent it; a value that is not text is given
/// as empty, which the operation refuses as it refuses an empty key.
pub fn idempotency_key(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get("idempotency-key")
        .map(|value| value.to_str().unwrap_or_default())
}
