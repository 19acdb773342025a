//! `GET /openapi.json`: the OpenAPI 3.1 document of every JSON and binary endpoint this server has
//! (`/v1`, and the sandbox issuer's `/issuer/…`, served with `--sandbox` only).

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as served.
pub const OPENAPI: &str = include_str!("openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
