//! `GET /v1/usage`: a tenant's metered checks by month, certificate kind and method, in JSON or CSV.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::tenant;
use super::AppState;
use crate::error::ApiError;
use crate::extract::QueryParams;
use jpki_platform::usage;
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct UsageQuery {
    format: Option<String>,
}

pub(super) async fn get(State(state): AppState, headers: HeaderMap, QueryParams(q): QueryParams<UsageQuery>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let lines = usage::of_tenant(&state.db, &tenant.id).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(json!({ "tenant_id": tenant.id, "usage": lines })).into_response()),
        Some("csv") => Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], usage::csv(&lines)).into_response()),
        Some(other) => Err(ApiError::bad("invalid_format", format!("format {other:?}: use json or csv"))),
    }
}
