//! `/v1/oidc/clients`: a tenant's OpenID Connect clients (registration metadata as RFC 7591 names it).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jpki_platform::oidc::clients::{self, ClientMetadata};
use serde_json::json;

use super::{tenant, AppState};
use crate::error::ApiError;
use crate::extract::{Body, PathParam};

pub(super) async fn register(State(state): AppState, headers: HeaderMap, Body(body): Body<ClientMetadata>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    Ok((StatusCode::CREATED, Json(clients::register(&state.db, &tenant.id, body.check(state.sandbox)?).await?)).into_response())
}

pub(super) async fn list(State(state): AppState, headers: HeaderMap) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    Ok(Json(json!({ "clients": clients::list(&state.db, &tenant.id).await? })).into_response())
}

pub(super) async fn get(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    match clients::find(&state.db, &id).await? {
        Some(client) if client.tenant_id == tenant.id => Ok(Json(client).into_response()),
        _ => Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no client {id}"))),
    }
}

pub(super) async fn delete(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<StatusCode, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    clients::delete(&state.db, &tenant.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
