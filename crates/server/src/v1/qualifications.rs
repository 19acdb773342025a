//! `/v1/customers/{id}/qualifications`, `/v1/qualifications/{id}` and `/v1/qualifications/check`:
//! qualification confirmation; another tenant's customers and qualifications are not found.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jpki_platform::qualifications::{self, QualificationInput};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use super::{tenant, AppState};
use crate::error::ApiError;
use crate::extract::{Body, PathParam};

pub(super) async fn create(
    State(state): AppState,
    headers: HeaderMap,
    PathParam(customer_id): PathParam<String>,
    Body(body): Body<QualificationInput>,
) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let created = qualifications::create(&state.db, &tenant.id, &customer_id, &body, OffsetDateTime::now_utc()).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

pub(super) async fn list(State(state): AppState, headers: HeaderMap, PathParam(customer_id): PathParam<String>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    Ok(Json(json!({ "qualifications": qualifications::of_customer(&state.db, &tenant.id, &customer_id).await? })).into_response())
}

pub(super) async fn get(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    Ok(Json(qualifications::get(&state.db, &tenant.id, &id).await?).into_response())
}

pub(super) async fn update(
    State(state): AppState,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    Body(body): Body<QualificationInput>,
) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    Ok(Json(qualifications::update(&state.db, &tenant.id, &id, &body, OffsetDateTime::now_utc()).await?).into_response())
}

pub(super) async fn delete(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<StatusCode, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    qualifications::delete(&state.db, &tenant.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckRequest {
    /// A fresh verification of the tenant: a login (`/v1/auth/verify`) or a signature.
    verification_id: String,
    #[serde(rename = "type")]
    kind: String,
}

pub(super) async fn check(State(state): AppState, headers: HeaderMap, Body(body): Body<CheckRequest>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    Ok(Json(qualifications::check(&state.db, &tenant.id, &body.verification_id, &body.kind, OffsetDateTime::now_utc()).await?).into_response())
}
