//! `GET /v1/verifications/{id}`: a tenant's stored result, as it was answered; `DELETE` removes it.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jpki_platform::verifications;

use super::tenant;
use super::AppState;
use crate::error::ApiError;
use crate::extract::PathParam;

pub(super) async fn get(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let result = verifications::get(&state.db, &tenant.id, &id).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], result).into_response())
}

pub(super) async fn delete(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<StatusCode, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    verifications::delete(&state.db, &tenant.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
