//! `GET /v1/verifications/{id}`: a tenant's stored result, as it was answered.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::tenant;
use super::AppState;
use crate::error::ApiError;
use crate::extract::PathParam;
use jpki_store::sqlx;

pub(super) async fn get(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let row: Option<(String,)> =
        sqlx::query_as("SELECT result FROM verification WHERE id = $1 AND tenant_id = $2").bind(&id).bind(&tenant.id).fetch_optional(state.db.pool()).await?;
    let (result,) = row.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no verification {id}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], result).into_response())
}
