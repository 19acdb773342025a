//! `/v1/admin`: tenants and their API keys, with the admin token.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jpki_platform::{audit, PlatformError};
use serde_json::json;
use time::OffsetDateTime;

use super::requests::{NewTenant, RevocationRequest, TenantChange};
use super::AppState;
use super::{admin, rfc3339};
use crate::error::ApiError;
use crate::extract::{Body, PathParam};
use jpki_platform::tenants;

pub(super) async fn create_tenant(State(state): AppState, headers: HeaderMap, Body(body): Body<NewTenant>) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad("invalid_name", "a tenant name is 1 to 100 printable characters"));
    }
    let mut tx = state.db.begin_write().await.map_err(PlatformError::from)?;
    let (tenant, key) = tenants::create_in(&mut tx, name, body.number_law_authorized).await?;
    let detail = json!({ "name": tenant.name, "number_law_authorized": tenant.number_law_authorized });
    let entry = audit::Entry {
        tenant_id: Some(&tenant.id),
        action: "tenant.create",
        purpose: None,
        result: "created",
        detail: &detail,
        at: OffsetDateTime::now_utc().unix_timestamp(),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    let body =
        json!({ "id": tenant.id, "name": tenant.name, "number_law_authorized": tenant.number_law_authorized, "key_id": key.key_id, "api_key": key.api_key });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn tenant_json(record: &tenants::TenantRecord) -> serde_json::Value {
    let time = |t: i64| OffsetDateTime::from_unix_timestamp(t).map(rfc3339).ok();
    json!({
        "id": record.tenant.id,
        "name": record.tenant.name,
        "number_law_authorized": record.tenant.number_law_authorized,
        "created_at": time(record.created_at),
        "disabled": record.tenant.disabled,
        "disabled_at": record.disabled_at.and_then(time),
        "active_keys": record.active_keys,
        "revocation": record.tenant.revocation.map(|p| json!({ "method": p.method, "max_age_seconds": p.max_age.whole_seconds() })),
        "verification_retention_days": record.verification_retention_days,
    })
}

pub(super) async fn list_tenants(State(state): AppState, headers: HeaderMap) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let tenants = tenants::list(&state.db).await?;
    Ok(Json(json!({ "tenants": tenants.iter().map(tenant_json).collect::<Vec<_>>() })).into_response())
}

/// Disables a tenant (its keys answer 403 `tenant_disabled` at once; nothing of it is deleted) or enables
/// it again; audited.
pub(super) async fn change_tenant(
    State(state): AppState,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    Body(body): Body<TenantChange>,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let nothing = || ApiError::bad("invalid_change", "give disabled, revocation or verification_retention_days");
    if body.disabled.is_none() && body.revocation.is_none() && body.verification_retention_days.is_none() {
        return Err(nothing());
    }
    if body.verification_retention_days.flatten().is_some_and(|d| d == 0 || d > tenants::MAX_RETENTION_DAYS) {
        let max = tenants::MAX_RETENTION_DAYS;
        return Err(ApiError::bad("invalid_retention", format!("verification_retention_days is 1 to {max}, or null to keep results until deleted")));
    }
    let revocation = body.revocation.map(|r| r.map(|r| RevocationRequest::policy(Some(r), None)).transpose()).transpose();
    let revocation = revocation.map_err(|e| ApiError::bad("invalid_revocation", e))?;
    let mut tx = state.db.begin_write().await.map_err(PlatformError::from)?;
    let at = OffsetDateTime::now_utc().unix_timestamp();
    let mut record = None;
    if let Some(disabled) = body.disabled {
        let changed = tenants::set_disabled_in(&mut tx, &id, disabled).await?;
        let detail = json!({ "disabled": disabled });
        let action = if disabled { "tenant.disable" } else { "tenant.enable" };
        audit::append(&mut tx, &audit::Entry { tenant_id: Some(&changed.tenant.id), action, purpose: None, result: "changed", detail: &detail, at }).await?;
        record = Some(changed);
    }
    if let Some(policy) = revocation {
        let changed = tenants::set_revocation_in(&mut tx, &id, policy).await?;
        let detail = json!({ "revocation": policy.map(|p| json!({ "method": p.method, "max_age_seconds": p.max_age.whole_seconds() })) });
        audit::append(
            &mut tx,
            &audit::Entry { tenant_id: Some(&changed.tenant.id), action: "tenant.revocation", purpose: None, result: "changed", detail: &detail, at },
        )
        .await?;
        record = Some(changed);
    }
    if let Some(days) = body.verification_retention_days {
        let changed = tenants::set_retention_in(&mut tx, &id, days).await?;
        let detail = json!({ "verification_retention_days": days });
        audit::append(
            &mut tx,
            &audit::Entry { tenant_id: Some(&changed.tenant.id), action: "tenant.retention", purpose: None, result: "changed", detail: &detail, at },
        )
        .await?;
        record = Some(changed);
    }
    let record = record.ok_or_else(nothing)?;
    tx.commit().await?;
    state.keys.clear();
    Ok(Json(tenant_json(&record)).into_response())
}

pub(super) async fn add_key(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let key = tenants::add_key(&state.db, &id).await?;
    Ok((StatusCode::CREATED, Json(key)).into_response())
}

pub(super) async fn revoke_key(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<StatusCode, ApiError> {
    admin(&state, &headers)?;
    tenants::revoke_key(&state.db, &id).await?;
    state.keys.clear();
    Ok(StatusCode::NO_CONTENT)
}
