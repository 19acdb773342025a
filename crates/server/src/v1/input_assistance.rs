//! `POST /v1/input-assistance/verify`: the number check (use case ①, card). Only a tenant authorized
//! under the number law may ask; the My Number is answered to it and never stored (the audit entry
//! names the verification and the card issuer's key only).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jpki_platform::{audit, verifications};
use jpki_verify::input_assistance::{self, Records};
use serde_json::json;
use time::OffsetDateTime;

use super::requests::NumberCheckRequest;
use super::{base64_field, tenant, AppState};
use crate::error::ApiError;
use crate::extract::Body;

pub(super) async fn verify(State(state): AppState, headers: HeaderMap, Body(body): Body<NumberCheckRequest>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    if !tenant.number_law_authorized {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "number_law_authorization_required",
            "this tenant is not authorized under the number law to receive My Number: the platform operator records the authorization",
        ));
    }
    let my_number = base64_field("my_number_record", &body.my_number_record)?;
    let attributes = base64_field("attributes_record", &body.attributes_record)?;
    let integrity = base64_field("integrity_record", &body.integrity_record)?;
    let card_certificate = base64_field("card_certificate", &body.card_certificate)?;
    let now = OffsetDateTime::now_utc();
    let signer = verifications::fresh_signer(&state.db, &tenant.id, &body.verification_id, now).await?;
    let records = Records { my_number: &my_number, attributes: &attributes, integrity: &integrity, card_certificate: &card_certificate };
    let checked = input_assistance::check(&records, &state.card_issuer_keys, &signer);
    if let Err(problem @ input_assistance::NumberCheckProblem::Malformed(_)) = &checked {
        return Err(ApiError::bad(problem.code(), problem.to_string()));
    }
    let result = match &checked {
        Ok(_) => "valid".to_owned(),
        Err(problem) => format!("invalid:{}", problem.code()),
    };
    let detail = json!({ "verification_id": body.verification_id, "card_issuer_key_id": checked.as_ref().ok().map(|v| &v.issuer_key_id) });
    let entry = audit::Entry {
        tenant_id: Some(&tenant.id),
        action: "input_assistance.verify",
        purpose: None,
        result: &result,
        detail: &detail,
        at: now.unix_timestamp(),
    };
    audit::append_alone(&state.db, &entry).await?;
    Ok(Json(match checked {
        Ok(v) => json!({ "valid": true, "my_number": v.my_number, "four_info": v.four_info, "card_issuer_key_id": v.issuer_key_id, "verification_id": body.verification_id }),
        Err(problem) => json!({ "valid": false, "failure": { "code": problem.code(), "message": problem.to_string() }, "verification_id": body.verification_id }),
    })
    .into_response())
}
