//! The companion app's side of an authorization: what the smartphone app is to the Digital
//! Authentication App. The authorization page's QR code carries this endpoint, the transaction and a
//! key of it (`…/app#transaction=…&key=…`, the key in the fragment so no server logs it); the app reads
//! what is asked (`POST …/app/transaction`), the user unlocks the keys with their PINs, and the app
//! sends the certificates and the signatures (`POST …/app/answer`): the authentication key's over the
//! transaction's challenge, and the signature key's over the sign transaction's DigestInfo or, for the
//! 4 info alone, over the challenge. Each is verified as a login is (chain, revocation); the 4 info
//! come only from the verified signature certificate.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jpki_platform::oidc::authorization::{self, Approval, Authenticator, Pending, Unanswerable};
use jpki_platform::oidc::{clients, sign};
use jpki_profile::cert_profile::Device;
use jpki_profile::{CertKind, KeyRole};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use super::authorize::{concluded, login_approval, policy_of, with_signature, LoginFailure};
use super::{Provider, ProviderState};
use crate::error::ApiError;
use crate::extract::Body;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TransactionRequest {
    transaction: String,
    key: String,
}

fn unanswerable(problem: Unanswerable) -> ApiError {
    let (status, code) = match problem {
        Unanswerable::Unknown => (StatusCode::NOT_FOUND, "unknown_transaction"),
        Unanswerable::NotThisBrowser => (StatusCode::FORBIDDEN, "wrong_key"),
        Unanswerable::Expired => (StatusCode::GONE, "expired"),
        Unanswerable::Answered => (StatusCode::GONE, "answered"),
    };
    let message = match problem {
        Unanswerable::NotThisBrowser => "the key is not the one the authorization page's QR code gives: scan it again",
        other => other.message(),
    };
    ApiError::new(status, code, message)
}

async fn pending(provider: &Provider, transaction: &str, key: &str) -> Result<Pending, ApiError> {
    authorization::app_answerable(&provider.platform.db, transaction, key, OffsetDateTime::now_utc()).await?.map_err(unanswerable)
}

/// What the user is asked: who asks, for what, and what the keys are to sign.
pub(super) async fn transaction(State(provider): ProviderState, Body(body): Body<TransactionRequest>) -> Result<Response, ApiError> {
    let pending = pending(&provider, &body.transaction, &body.key).await?;
    let db = &provider.platform.db;
    let client = clients::find(db, &pending.client_id).await?.ok_or_else(|| ApiError::new(StatusCode::GONE, "answered", "the client is gone"))?;
    let signing = pending.sign_transaction(db).await?;
    let challenge = authorization::app_challenge(&pending.id, &body.key);
    Ok(Json(json!({
        "client_name": client.client_name,
        "scopes": pending.scopes,
        "challenge": URL_SAFE_NO_PAD.encode(challenge),
        "needs_signature_key": pending.scopes.need_signature_key(),
        "sign": signing.map(|s| json!({ "purpose": s.purpose, "digest_info": STANDARD.encode(s.to_sign.to_der()) })),
        "expires_at": crate::v1::rfc3339(pending.expires_at),
    }))
    .into_response())
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(super) enum Decision {
    Approve,
    Decline,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AnswerRequest {
    transaction: String,
    key: String,
    decision: Decision,
    /// Base64 DER.
    authentication_certificate: Option<String>,
    /// Base64 PKCS#1 v1.5 (SHA-256) over the challenge.
    authentication_signature: Option<String>,
    signature_certificate: Option<String>,
    /// Base64 PKCS#1 v1.5 over the sign transaction's DigestInfo, or over the challenge (SHA-256).
    signature: Option<String>,
}

fn field(name: &str, value: &Option<String>) -> Result<Vec<u8>, ApiError> {
    let value = value.as_deref().ok_or_else(|| ApiError::bad("invalid_answer", format!("{name} is required to approve")))?;
    STANDARD.decode(value.trim()).map_err(|e| ApiError::bad("invalid_answer", format!("{name} is not base64: {e}")))
}

pub(super) async fn answer(State(provider): ProviderState, Body(body): Body<AnswerRequest>) -> Result<Response, ApiError> {
    let pending = pending(&provider, &body.transaction, &body.key).await?;
    let db = &provider.platform.db;
    let now = OffsetDateTime::now_utc();
    if body.decision == Decision::Decline {
        authorization::refuse(db, &pending, "declined", "the user declined in the app", &[], now).await?;
        return Ok(Json(json!({ "result": "declined" })).into_response());
    }
    let (auth_cert, auth_sig) =
        (field("authentication_certificate", &body.authentication_certificate)?, field("authentication_signature", &body.authentication_signature)?);
    let signature_key = if pending.scopes.need_signature_key() {
        Some((field("signature_certificate", &body.signature_certificate)?, field("signature", &body.signature)?))
    } else {
        None
    };
    let signing = pending.sign_transaction(db).await?;
    if pending.sign_transaction_id.is_some() && signing.is_none() {
        return Err(ApiError::new(StatusCode::GONE, "expired", "the sign transaction is gone"));
    }
    let challenge = authorization::app_challenge(&pending.id, &body.key);
    let unavailable = || ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the verification could not be completed; try again");
    let outcome =
        login(&provider, &pending, &challenge, (&auth_cert, &auth_sig), signature_key.as_ref(), signing.as_ref(), now).await.map_err(|()| unavailable())?;
    match outcome {
        Ok((approval, signed)) => {
            if !authorization::consent(db, &pending, &approval, signed.as_ref(), now).await? {
                return Err(unanswerable(Unanswerable::Answered));
            }
            Ok(Json(json!({ "result": "approved" })).into_response())
        }
        Err(failure) => {
            authorization::refuse(db, &pending, &failure.reason, &failure.description, &failure.checks, now).await?;
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "login_failed", failure.description))
        }
    }
}

type Signed<'a> = (&'a [u8], &'a [u8]);

/// The app's certificates and signatures verified: the approval and, for a sign transaction, its
/// result; or the failure the login ends in.
async fn login(
    provider: &Provider,
    pending: &Pending,
    challenge: &[u8],
    (auth_cert, auth_sig): Signed<'_>,
    signature_key: Option<&(Vec<u8>, Vec<u8>)>,
    signing: Option<&sign::SignTransaction>,
    now: OffsetDateTime,
) -> Result<Result<(Approval, Option<serde_json::Value>), LoginFailure>, ()> {
    let policy = policy_of(provider, pending).await?;
    let verifier = &provider.platform.verifier;
    let progress = verifier.verify_pkcs1_without_waiting(CertKind::Authentication, policy, auth_cert, challenge, auth_sig, now);
    let login = match concluded(provider, KeyRole::Authentication, progress).await? {
        Ok(v) => v,
        Err(failure) => return Ok(Err(failure)),
    };
    let phone = login.signer.as_ref().is_some_and(|s| s.device == Some(Device::Smartphone));
    let approval = login_approval(pending, &login, if phone { Authenticator::Phone } else { Authenticator::Card })?;
    let Some((sign_cert, sign_sig)) = signature_key else { return Ok(Ok((approval, None))) };
    let progress = match signing {
        Some(s) => verifier.verify_pkcs1_digest_without_waiting(CertKind::Signature, policy, sign_cert, &s.to_sign, sign_sig, now),
        None => verifier.verify_pkcs1_without_waiting(CertKind::Signature, policy, sign_cert, challenge, sign_sig, now),
    };
    let signature = concluded(provider, KeyRole::Signature, progress).await?;
    let verification = signature.as_ref().ok().cloned();
    let approval = match with_signature(approval, &pending.scopes, signature)? {
        Ok(a) => a,
        Err(failure) => return Ok(Err(failure)),
    };
    let result = match signing {
        None => None,
        Some(s) => {
            let cms = jpki_verify::signed_data::wrap(&s.to_sign, sign_cert, sign_sig).map_err(|_| ())?;
            Some(json!({
                "sign_transaction_id": s.id,
                "purpose": s.purpose,
                "digest_info": STANDARD.encode(s.to_sign.to_der()),
                "signature": STANDARD.encode(sign_sig),
                "certificate": STANDARD.encode(sign_cert),
                "cms": STANDARD.encode(cms),
                "verification": verification,
            }))
        }
    };
    Ok(Ok((approval, result)))
}
