//! What a client learns about a failure, decided in one place: the status, and a JSON body
//! `{"error": {"status": 403, "message": "...", "fields": {...}}}`. Internal errors are logged
//! in full and answered with a fixed sentence.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Error;

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub status: u16,
    pub message: String,
    /// For 422: each invalid field with what was expected.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Vec<String>>,
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Missing(_) | Error::OtherOrg { .. } | Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Database(_) | Error::Pipeline(_) | Error::Connectors(_) | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "internal error");
            "internal error; it is logged with this request's id".to_string()
        } else {
            self.to_string()
        };
        let retry_after = match &self {
            Error::TooMany { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Error::Invalid(invalid) = &self {
            for (field, why) in invalid {
                fields.entry(field.clone()).or_default().push(why.clone());
            }
        }
        let mut response = (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    status: status.as_u16(),
                    message,
                    fields,
                },
            }),
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
