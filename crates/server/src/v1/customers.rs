//! `/v1/customers`: the customers a tenant watches for change confirmation, registered from a valid
//! verification; another tenant's are not found.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jpki_platform::{audit, consent, customers, ledger, usage, PlatformError};
use jpki_profile::fees::{FeeCertKind, ProvisionMethod};
use jpki_profile::{CertKind, KeyRole};
use serde_json::json;
use time::OffsetDateTime;

use super::requests::{ConsentRequest, LatestInfoRequest, NewCustomer, Page, RevocationRequest, StatusCheckRequest};
use super::{base64_field, tenant, AppState};
use crate::error::ApiError;
use crate::extract::{Body, PathParam, QueryParams};
use crate::provisions::Latest;

pub(super) async fn create(State(state): AppState, headers: HeaderMap, Body(body): Body<NewCustomer>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let customer = customers::register(&state.db, &tenant.id, &body.verification_id, &body.reference, body.account_id.as_deref()).await?;
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

/// Everything the platform holds about the customer (a disclosure request), audited.
pub(super) async fn export(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    Ok(Json(customers::export(&state.db, &tenant.id, &id, OffsetDateTime::now_utc()).await?).into_response())
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

/// Records the customer's consent to the latest-4-info provision, signed by them, and forwards it to
/// the issuer; nothing is recorded if the issuer does not take it.
pub(super) async fn grant_consent(
    State(state): AppState,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    Body(body): Body<ConsentRequest>,
) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    customers::get(&state.db, &tenant.id, &id).await?;
    let cms = base64_field("cms", &body.cms)?;
    let now = OffsetDateTime::now_utc();
    let policy = tenant.revocation.unwrap_or_default();
    let progress = state
        .verifier
        .verify_cms_without_waiting_by(CertKind::Signature, policy, &cms, None, now)
        .map_err(|problem| ApiError::bad("invalid_cms", problem.to_string()))?;
    let verification = super::conclude(&state, progress).await?;
    let signer = match (&verification.failure, &verification.signer) {
        (None, Some(signer)) if verification.valid => signer,
        (failure, _) => {
            let why = failure.as_ref().map_or_else(|| "not valid".to_owned(), |f| f.code.to_string());
            return Err(ApiError::bad("invalid_consent_signature", format!("the consent's signature is not valid ({why})")));
        }
    };
    let signed = jpki_verify::signed_data::verify(&cms, None).map_err(|e| ApiError::bad("invalid_cms", e.to_string()))?;
    if signed.content != body.text.as_bytes() {
        return Err(ApiError::bad("consent_text_mismatch", "the CMS must sign the consent text (UTF-8, attached)"));
    }
    consent::check_signer(&state.db, &tenant.id, &id, &body.text, &signer.certificate_serial).await?;
    // Forwarded first (the sandbox issuer writes to the same database): a grant the issuer holds and
    // this commit lost is granted again by the tenant's retry.
    state.issuer()?.forward_consent(&signer.certificate_serial, true).await?;
    let mut tx = state.db.begin_write().await.map_err(PlatformError::from)?;
    let granted = consent::grant(&mut tx, &tenant.id, &id, &body.text, &signer.certificate_serial, &body.cms, now).await?;
    if let Some(method) = verification.revocation.as_ref().and_then(|r| r.method.provision()) {
        usage::record(&mut tx, &tenant.id, FeeCertKind::Signature, method, now).await?;
    }
    tx.commit().await?;
    Ok(Json(granted).into_response())
}

/// Withdraws the customer's consent, here and at the issuer.
pub(super) async fn withdraw_consent(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<StatusCode, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    customers::get(&state.db, &tenant.id, &id).await?;
    let held = consent::of(&state.db, &id).await?.filter(|c| c.withdrawn_at.is_none());
    let held = held.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("customer {id} has no consent in force")))?;
    // Withdrawn at the issuer first: if this commit is lost, the issuer provides nothing all the same.
    state.issuer()?.forward_consent(&held.certificate_serial, false).await?;
    let mut tx = state.db.begin_write().await.map_err(PlatformError::from)?;
    consent::withdraw(&mut tx, &tenant.id, &id, OffsetDateTime::now_utc()).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn get_consent(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    customers::get(&state.db, &tenant.id, &id).await?;
    let held = consent::of(&state.db, &id).await?;
    Ok(Json(held.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("customer {id} never consented")))?).into_response())
}

/// The customer's latest 4 information from the issuer (with their consent), the fields changed against
/// the certificate the platform holds for them, and the certificate that replaced it (linked to the
/// customer ahead of its first use); metered and audited with its purpose.
pub(super) async fn latest_info(
    State(state): AppState,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    Body(body): Body<LatestInfoRequest>,
) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let purpose = body.purpose.trim();
    if purpose.is_empty() || purpose.chars().count() > 200 || purpose.chars().any(char::is_control) {
        return Err(ApiError::bad("invalid_purpose", "purpose is 1 to 200 printable characters"));
    }
    customers::get(&state.db, &tenant.id, &id).await?;
    if consent::of(&state.db, &id).await?.is_none_or(|c| c.withdrawn_at.is_some()) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "consent_required", "the customer has no consent in force: PUT /v1/customers/{id}/consent first"));
    }
    let held = customers::newest_certificate(&state.db, &id, KeyRole::Signature).await?.map(|(cert, _)| cert);
    let (Some(held), Some(held_info)) = (held.as_ref(), held.as_ref().and_then(|c| c.four_info.as_ref())) else {
        return Err(ApiError::new(StatusCode::CONFLICT, "no_signature_certificate", "the platform holds no signature certificate of this customer"));
    };
    let now = OffsetDateTime::now_utc();
    let latest = state.issuer()?.latest_four_info(&held.serial).await?;
    let mut tx = state.db.begin_write().await.map_err(PlatformError::from)?;
    let answer = match &latest {
        Latest::Current => json!({
            "customer_id": id, "certificate_serial": held.serial, "revoked": false, "four_info": held_info, "changed": [], "successor_serial": null,
        }),
        Latest::Provided(info) => {
            if let Some(successor) = &info.current_serial {
                customers::link_ahead(&mut tx, &id, successor, KeyRole::Signature, customers::LinkSource::Latest4Info, now).await?;
            }
            usage::record(&mut tx, &tenant.id, FeeCertKind::Signature, ProvisionMethod::Latest4Info, now).await?;
            json!({
                "customer_id": id,
                "certificate_serial": held.serial,
                "revoked": true,
                "revoked_at": super::rfc3339(info.revoked_at),
                "revocation_reason": info.revocation_reason,
                "deceased": info.deceased,
                "four_info": info.four_info,
                "changed": held_info.differing_fields(&info.four_info, true),
                "successor_serial": info.current_serial,
            })
        }
    };
    let detail = json!({ "customer_id": id, "certificate_serial": held.serial, "changed": answer["changed"], "released": ["4_info"] });
    let result = if matches!(latest, Latest::Current) { "current" } else { "provided" };
    let entry =
        audit::Entry { tenant_id: Some(&tenant.id), action: "customer.latest_info", purpose: Some(purpose), result, detail: &detail, at: now.unix_timestamp() };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(Json(answer).into_response())
}

/// Checks the customer's newest certificate of each kind now, with the tenant's purpose: each check is
/// recorded as a verification, metered by its method and audited with the purpose.
pub(super) async fn status_check(
    State(state): AppState,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    Body(body): Body<StatusCheckRequest>,
) -> Result<Response, ApiError> {
    use jpki_platform::recorder::{CheckKind, CheckRecord, CheckedCertificate};
    let tenant = tenant(&state, &headers).await?;
    let policy = RevocationRequest::policy(body.revocation, tenant.revocation).map_err(|e| ApiError::bad("invalid_revocation", e))?;
    let certificates = jpki_platform::liveness::certificates_to_check(&state.db, &tenant.id, &id).await?;
    let now = OffsetDateTime::now_utc();
    let mut checks = Vec::new();
    for (role, der) in certificates {
        let progress = state.verifier.verify_certificate_without_waiting(role.end_entity(), policy, &der, now);
        let result = super::conclude(&state, progress).await?;
        let verification_id = jpki_store::new_id("verification");
        let answer = json!({ "verification_id": verification_id, "kind": role, "valid": result.valid, "failure": result.failure, "revocation": result.revocation, "verified_at": super::rfc3339(result.verified_at) });
        let signer = result.signer.as_ref();
        let failure_code = result.failure.as_ref().map(|f| f.code.as_str());
        let record = CheckRecord {
            id: verification_id.clone(),
            tenant_id: tenant.id.clone(),
            kind: CheckKind::Status,
            valid: result.valid,
            failure_code,
            certificate_serial: signer.map(|s| s.certificate_serial.clone()),
            certificate_kind: Some(FeeCertKind::from(role)),
            revocation_method: result.revocation.as_ref().map(|r| r.method.as_str()),
            at: now,
            result: answer.to_string(),
            certificate: signer.filter(|_| result.valid).map(CheckedCertificate::of),
            metered: result.revocation.as_ref().and_then(|r| r.method.provision()).map(|m| (FeeCertKind::from(role), m)),
            audit_action: "customer.status_check",
            purpose: Some(body.purpose.as_str().to_owned()),
            outcome: if result.valid { "valid".to_owned() } else { format!("invalid:{}", failure_code.unwrap_or("")) },
            audit_detail: json!({ "customer_id": id, "verification_id": verification_id, "certificate_serial": signer.map(|s| &s.certificate_serial) }),
        };
        state.recorder.record(record).await?;
        let mut answer = answer;
        answer["certificate_serial"] = json!(signer.map(|s| &s.certificate_serial));
        checks.push(answer);
    }
    Ok(Json(json!({ "customer_id": id, "purpose": body.purpose, "checks": checks })).into_response())
}

/// `?format=`: `json` (the default) or `csv`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportQuery {
    format: Option<String>,
}

/// All of the tenant's customers' watched certificates against the CRL generations in force, as JSON
/// or CSV; metered and audited.
pub(super) async fn status_report(State(state): AppState, headers: HeaderMap, QueryParams(query): QueryParams<ReportQuery>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::bad("invalid_format", format!("format is json or csv, not {other:?}"))),
    };
    let now = OffsetDateTime::now_utc();
    let lines = jpki_platform::liveness::report(&state.db, &tenant.id, now).await?;
    if csv {
        return Ok(([(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")], jpki_platform::liveness::report_csv(&lines)).into_response());
    }
    Ok(Json(json!({ "generated_at": super::rfc3339(now), "certificates": lines })).into_response())
}
