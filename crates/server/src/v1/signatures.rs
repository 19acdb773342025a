//! `POST /v1/signatures/verify`: a CMS SignedData checked for a tenant, recorded before it is answered.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use time::OffsetDateTime;

use super::requests::{RevocationRequest, VerifyRequest};
use super::AppState;
use super::{base64_field, tenant};
use crate::error::ApiError;
use crate::extract::Body;
use jpki_platform::customers;
use jpki_platform::recorder::{CheckKind, CheckRecord, CheckedCertificate};
use jpki_profile::fees::FeeCertKind;
use serde::Serialize;

/// The answer to a signature check: the verification, under the id it is stored as.
#[derive(Serialize)]
struct SignatureAnswer<'a> {
    verification_id: &'a str,
    #[serde(flatten)]
    verification: &'a jpki_verify::Verification,
    /// Asked with `identify_user`: the tenant's customer the signer is, or `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<Option<customers::User>>,
}

pub(super) async fn verify(State(state): AppState, headers: HeaderMap, Body(body): Body<VerifyRequest>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let cms = base64_field("cms", &body.cms)?;
    let content = body.content.as_deref().map(|c| base64_field("content", c)).transpose()?;
    if body.purpose.as_ref().is_some_and(|p| p.chars().count() > 200) {
        return Err(ApiError::bad("invalid_purpose", "purpose is at most 200 characters"));
    }
    let policy = RevocationRequest::policy(body.revocation, tenant.revocation).map_err(|e| ApiError::bad("invalid_revocation", e))?;
    let now = OffsetDateTime::now_utc();
    let started = std::time::Instant::now();
    let progress = state
        .verifier
        .verify_cms_without_waiting_by(body.certificate_kind.end_entity(), policy, &cms, content.as_deref(), now)
        .map_err(|problem| ApiError::bad("invalid_cms", problem.to_string()))?;
    let result = super::conclude(&state, progress).await?;

    let id = jpki_store::new_id("verification");
    let failure_code = result.failure.as_ref().map(|f| f.code.as_str());
    state.metrics.record("signature", failure_code.unwrap_or("valid"), started.elapsed().as_secs_f64());
    let signer = result.signer.as_ref();
    let user = match (body.identify_user, signer.filter(|_| result.valid)) {
        (false, _) => None,
        (true, None) => Some(None),
        (true, Some(signer)) => Some(identify_user(&state, &tenant.id, signer, now).await?),
    };
    let outcome = if result.valid { "valid".to_owned() } else { format!("invalid:{}", failure_code.unwrap_or("")) };
    let response = serde_json::to_string(&SignatureAnswer { verification_id: &id, verification: &result, user })
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("the answer does not serialize: {e}")))?;

    let metered = match (signer, &result.revocation) {
        (Some(signer), Some(revocation)) => {
            let kind = FeeCertKind::of(signer.certificate_kind);
            kind.zip(revocation.method.provision())
        }
        _ => None,
    };
    let record = CheckRecord {
        id: id.clone(),
        tenant_id: tenant.id.clone(),
        kind: CheckKind::Signature,
        valid: result.valid,
        failure_code,
        certificate_serial: signer.map(|s| s.certificate_serial.clone()),
        certificate_kind: signer.and_then(|s| FeeCertKind::of(s.certificate_kind)),
        revocation_method: result.revocation.as_ref().map(|r| r.method.as_str()),
        at: now,
        result: response.clone(),
        certificate: signer.filter(|_| result.valid).map(CheckedCertificate::of),
        metered,
        audit_action: "signature.verify",
        purpose: body.purpose.clone(),
        outcome,
        audit_detail: json!({ "verification_id": id, "certificate_serial": signer.map(|s| &s.certificate_serial), "released": ["4_info"] }),
    };
    state.recorder.record(record).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], response).into_response())
}

/// The tenant's customer a validly verified signer is: by the certificate, else (when the platform is
/// connected to the issuer) by the issuer's link information from it to an earlier certificate of the
/// customer's, which it then joins.
pub(super) async fn identify_user(
    state: &super::PlatformState,
    tenant_id: &str,
    signer: &jpki_verify::verifier::Signer,
    now: OffsetDateTime,
) -> Result<Option<customers::User>, ApiError> {
    let issuer = CheckedCertificate::of(signer).issuer;
    if customers::user_of(&state.db, tenant_id, &signer.certificate_serial).await?.is_none() {
        if let Some(provisions) = state.issuer.as_deref() {
            let links = provisions.links(std::slice::from_ref(&signer.certificate_serial)).await?;
            let predecessors: Vec<String> = links.into_iter().flat_map(|l| l.predecessors).collect();
            return Ok(customers::identify(&state.db, tenant_id, &issuer, &signer.certificate, &predecessors, now).await?);
        }
    }
    Ok(customers::identify(&state.db, tenant_id, &issuer, &signer.certificate, &[], now).await?)
}
