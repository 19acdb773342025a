//! `/v1/customers`: the customers a tenant watches for change confirmation, registered from a valid
//! verification; another tenant's are not found.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jpki_platform::customers;
use serde_json::json;

use super::requests::{NewCustomer, Page};
use super::{tenant, AppState};
use crate::error::ApiError;
use crate::extract::{Body, PathParam, QueryParams};

pub(super) async fn create(State(state): AppState, headers: HeaderMap, Body(body): Body<NewCustomer>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let customer = customers::register(&state.db, &tenant.id, &body.verification_id, &body.reference).await?;
    Ok((StatusCode::CREATED, Json(customer)).into_response())
}

pub(super) async fn list(State(state): AppState, headers: HeaderMap, QueryParams(page): QueryParams<Page>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let limit = page.limit(customers::MAX_PAGE)?;
    let found = customers::list(&state.db, &tenant.id, page.after.as_deref(), limit).await?;
    let next = (found.len() as i64 == limit).then(|| found.last().map(|c| c.id.clone())).flatten();
    Ok(Json(json!({ "customers": found, "next_cursor": next })).into_response())
}

pub(super) async fn get(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    Ok(Json(customers::get(&state.db, &tenant.id, &id).await?).into_response())
}

pub(super) async fn delete(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<StatusCode, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    customers::delete(&state.db, &tenant.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
