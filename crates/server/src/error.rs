//! The one error answer of every HTTP surface: `{"error": {"code", "message"}}` with a stable code. A
//! client's mistake is a 4xx; a failure of the server or its database is a 503 (retry) or 500, logged.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use jpki_issuer::IssuerError;
use jpki_platform::PlatformError;
use jpki_store::sqlx;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    pub fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": { "code": self.code, "message": self.message } }))).into_response()
    }
}

impl From<PlatformError> for ApiError {
    fn from(e: PlatformError) -> ApiError {
        match e {
            PlatformError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            PlatformError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            PlatformError::Invalid { code, message } => ApiError::bad(code, message),
            other => {
                tracing::error!("platform: {other}");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the service could not complete the request; retry")
            }
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        PlatformError::from(e).into()
    }
}

impl From<IssuerError> for ApiError {
    fn from(e: IssuerError) -> Self {
        let (status, code) = match &e {
            IssuerError::UnknownOperator => (StatusCode::UNAUTHORIZED, "unauthorized"),
            IssuerError::NoConsent { .. } => (StatusCode::FORBIDDEN, "no_consent"),
            IssuerError::UnknownCertificate(_) => (StatusCode::NOT_FOUND, "unknown_certificate"),
            IssuerError::NotRevoked(_) => (StatusCode::CONFLICT, "not_revoked"),
            _ => {
                tracing::error!(error = %e, "issuer request failed");
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error");
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// The answer to a request for no endpoint.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint (see /openapi.json)")
}

/// The answer to an endpoint asked with a method it does not take.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not take that method (see /openapi.json)")
}
