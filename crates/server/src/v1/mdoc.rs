//! `/v1/mdoc`: OpenID4VP requests for the card-substitute record and the verification of their answers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use time::OffsetDateTime;

use super::requests::{NewPresentationRequest, PresentationAnswer};
use super::{rfc3339, tenant};
use super::{AppState, PlatformState};
use crate::error::ApiError;
use crate::extract::Body;
use jpki_platform::presentations::{self, Destination, MdocService, RequestProblem};
use jpki_platform::recorder::{CheckKind, CheckRecord};
use jpki_profile::fees::{FeeCertKind, ProvisionMethod};
use jpki_verify::presentation::PresentedStatus;

fn mdoc_service(state: &PlatformState) -> Result<Arc<MdocService>, ApiError> {
    state.mdoc.clone().ok_or_else(|| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "mdoc_disabled", "this platform has no IACA roots configured for the card-substitute record")
    })
}

fn purpose_field(purpose: &str) -> Result<&str, ApiError> {
    let purpose = purpose.trim();
    if purpose.is_empty() || purpose.chars().count() > 200 || purpose.chars().any(char::is_control) {
        return Err(ApiError::bad("invalid_purpose", "purpose is 1 to 200 printable characters"));
    }
    Ok(purpose)
}

pub(super) async fn new_request(State(state): AppState, headers: HeaderMap, Body(body): Body<NewPresentationRequest>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let service = mdoc_service(&state)?;
    let purpose = purpose_field(&body.purpose)?;
    let destination = match (body.response_uri, body.origin) {
        (Some(uri), None) => Destination::ResponseUri(uri),
        (None, Some(origin)) => Destination::Origin(origin),
        _ => return Err(ApiError::bad("invalid_destination", "give exactly one of response_uri (direct post) and origin (Digital Credentials API)")),
    };
    let (request, authorization_request) = service.new_request(&body.elements, destination, &tenant).map_err(|refusal| {
        let status = if refusal == presentations::RequestRefusal::NumberLawNotAuthorized { StatusCode::FORBIDDEN } else { StatusCode::BAD_REQUEST };
        ApiError::new(status, refusal.code(), refusal.message())
    })?;
    let now = OffsetDateTime::now_utc();
    let (id, expires_at) = presentations::store(&state.db, &tenant.id, purpose, &request, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "request_id": id,
            "expires_at": rfc3339(expires_at),
            "client_id": request.client_id,
            "nonce": request.nonce,
            "authorization_request": authorization_request,
        })),
    )
        .into_response())
}

pub(super) async fn verify(State(state): AppState, headers: HeaderMap, Body(body): Body<PresentationAnswer>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let service = mdoc_service(&state)?;
    let now = OffsetDateTime::now_utc();
    let outstanding = match presentations::take(&state.db, &tenant.id, &body.request_id, now).await? {
        Ok(o) => o,
        Err(RequestProblem::Unknown) => return Err(ApiError::new(StatusCode::NOT_FOUND, "request_unknown", "no such presentation request for this tenant")),
        Err(RequestProblem::Expired) => return Err(ApiError::bad("request_expired", "the request expired; make a new one")),
        Err(RequestProblem::Answered) => {
            return Err(ApiError::new(StatusCode::CONFLICT, "request_answered", "the request was already answered (a response is accepted once)"))
        }
    };
    let request = outstanding.request.clone();
    let started = std::time::Instant::now();
    let verified = tokio::task::spawn_blocking(move || {
        let bytes = request.device_response(&serde_json::Value::Object(body.response))?;
        service.verifier.verify(&request, &bytes, now)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("verification task failed: {e}")))?;

    let id = jpki_store::new_id("verification");
    let failure_code = verified.as_ref().err().map(jpki_mdoc::MdocError::code);
    state.metrics.record("mdoc", failure_code.unwrap_or("valid"), started.elapsed().as_secs_f64());
    // The status list was read when the check got that far: that is what is metered.
    let status_read = match &verified {
        Ok(p) => p.status == PresentedStatus::Valid,
        Err(e) => matches!(e, jpki_mdoc::MdocError::Revoked(_)),
    };
    let released: Vec<String> = verified.as_ref().map(|p| p.document.elements.iter().map(|e| e.path()).collect()).unwrap_or_default();
    let verified_at = rfc3339(now);
    let (response, kept) = match &verified {
        Ok(p) => {
            let common = json!({
                "verification_id": id,
                "request_id": body.request_id,
                "valid": true,
                "doc_type": p.document.doc_type,
                "issuer": { "document_signer": p.document.signer, "iaca": p.document.iaca },
                "validity": {
                    "signed": rfc3339(p.document.validity.signed),
                    "valid_until": rfc3339(p.document.validity.valid_until),
                },
                "status": p.status,
                "verified_at": verified_at,
            });
            // Requests say intent_to_retain: false, so the stored result names the elements, not their values.
            let mut kept = common.clone();
            kept["elements_disclosed"] = json!(released);
            let mut response = common;
            response["elements"] = serde_json::Value::Object(p.document.elements_json());
            (response, kept)
        }
        Err(e) => {
            let response = json!({
                "verification_id": id,
                "request_id": body.request_id,
                "valid": false,
                "failure": { "code": e.code(), "message": e.to_string() },
                "verified_at": verified_at,
            });
            (response.clone(), response)
        }
    };
    let outcome = match failure_code {
        None => "valid".to_owned(),
        Some(code) => format!("invalid:{code}"),
    };
    let record = CheckRecord {
        id: id.clone(),
        tenant_id: tenant.id.clone(),
        kind: CheckKind::Mdoc,
        valid: verified.is_ok(),
        failure_code,
        certificate_serial: None,
        certificate_kind: Some(FeeCertKind::CardSubstituteRecord),
        revocation_method: status_read.then_some(ProvisionMethod::StatusList.as_str()),
        at: now,
        result: kept.to_string(),
        certificate: None,
        metered: status_read.then_some((FeeCertKind::CardSubstituteRecord, ProvisionMethod::StatusList)),
        audit_action: "mdoc.verify",
        purpose: Some(outstanding.purpose),
        outcome,
        audit_detail: json!({ "verification_id": id, "request_id": body.request_id, "released": released }),
    };
    state.recorder.record(record).await?;
    Ok(Json(response).into_response())
}
