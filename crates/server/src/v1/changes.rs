//! `/v1/changes` (the change feed, read by cursor) and `/v1/webhooks` (where it is pushed); see
//! [`jpki_platform::changes`] for the delivery and its signature.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jpki_platform::changes;
use serde_json::json;

use super::requests::{NewWebhook, Page};
use super::{tenant, AppState};
use crate::error::ApiError;
use crate::extract::{Body, PathParam, QueryParams};

/// The longest webhook URL taken.
const MAX_URL: usize = 2048;

pub(super) async fn feed(State(state): AppState, headers: HeaderMap, QueryParams(page): QueryParams<Page>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let limit = page.limit(changes::MAX_PAGE)?;
    let after = match page.after.as_deref() {
        None => 0,
        Some(cursor) => {
            cursor.parse::<i64>().ok().filter(|c| *c >= 0).ok_or_else(|| ApiError::bad("invalid_cursor", "after must be a cursor this feed gave"))?
        }
    };
    let events = changes::feed(&state.db, &tenant.id, after, limit).await?;
    let next = events.last().map_or_else(|| after.to_string(), |e| e.cursor.clone());
    Ok(Json(json!({ "events": events, "next_cursor": next })).into_response())
}

pub(super) async fn get(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    Ok(Json(changes::get(&state.db, &tenant.id, &id).await?).into_response())
}

pub(super) async fn deliveries(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    Ok(Json(json!({ "deliveries": changes::deliveries(&state.db, &tenant.id, &id).await? })).into_response())
}

pub(super) async fn redeliver(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let queued = changes::redeliver(&state.db, &tenant.id, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "queued": queued }))).into_response())
}

/// An endpoint URL a webhook may have: HTTPS (HTTP too in the sandbox), with a host and no credentials.
fn endpoint(url: &str, allow_http: bool) -> Result<(), ApiError> {
    let bad = |why: &str| Err(ApiError::bad("invalid_url", format!("url {why}")));
    if url.len() > MAX_URL {
        return bad(&format!("is longer than {MAX_URL} bytes"));
    }
    let rest = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => rest,
        (None, Some(rest)) if allow_http => rest,
        (None, Some(_)) => return bad("must be https:// (http:// is taken only by the sandbox)"),
        _ => return bad("must be an https:// URL"),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("must name a host, without credentials or spaces");
    }
    Ok(())
}

pub(super) async fn add_webhook(State(state): AppState, headers: HeaderMap, Body(body): Body<NewWebhook>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    endpoint(&body.url, state.sandbox)?;
    Ok((StatusCode::CREATED, Json(changes::add_webhook(&state.db, &tenant.id, &body.url).await?)).into_response())
}

pub(super) async fn webhooks(State(state): AppState, headers: HeaderMap) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    Ok(Json(json!({ "webhooks": changes::webhooks(&state.db, &tenant.id).await? })).into_response())
}

pub(super) async fn delete_webhook(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<StatusCode, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    changes::delete_webhook(&state.db, &tenant.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
