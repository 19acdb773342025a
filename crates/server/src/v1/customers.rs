//! `/v1/customers`: the customers a tenant watches for change confirmation, registered from a valid
//! verification; another tenant's are not found.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jpki_platform::{customers, ledger};
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

/// A ledger's fields for one customer (`/v1/customers/{id}/ledger-match`); any may be left out.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LedgerFields {
    name: Option<String>,
    address: Option<String>,
    /// YYYY-MM-DD.
    birth_date: Option<String>,
    sex: Option<String>,
}

pub(super) async fn ledger_match(
    State(state): AppState,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    Body(body): Body<LedgerFields>,
) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let entry = ledger::entry(body.name.as_deref(), body.address.as_deref(), body.birth_date.as_deref(), body.sex.as_deref())
        .map_err(|e| ApiError::bad("invalid_ledger_entry", e))?;
    Ok(Json(ledger::match_customer(&state.db, &tenant.id, &id, &entry, time::OffsetDateTime::now_utc()).await?).into_response())
}

/// A ledger as CSV (`text/csv`, UTF-8): a report naming each bad row; the good ones matched.
pub(super) async fn ledger_match_csv(State(state): AppState, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let csv_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("text/csv"));
    if !csv_type {
        return Err(ApiError::bad("invalid_csv", "the body must be text/csv"));
    }
    let text = std::str::from_utf8(&body).map_err(|e| ApiError::bad("invalid_csv", format!("the CSV is not UTF-8: {e}")))?;
    Ok(Json(ledger::match_csv(&state.db, &tenant.id, text, time::OffsetDateTime::now_utc()).await?).into_response())
}
