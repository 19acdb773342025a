//! `/v1/auth`: login with the authentication certificate: challenges, their answers, account links.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jpki_platform::{audit, PlatformError};
use serde_json::json;
use time::OffsetDateTime;

use super::requests::{LoginRequest, RevocationRequest};
use super::AppState;
use super::{base64_field, tenant};
use crate::error::ApiError;
use crate::extract::Body;
use jpki_platform::login::{self, ChallengeProblem};
use jpki_platform::usage;
use jpki_platform::{customers, verifications};
use jpki_profile::fees::FeeCertKind;
use jpki_profile::CertKind;
use jpki_verify::FailureCode;

pub(super) async fn new_challenge(State(state): AppState, headers: HeaderMap) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let challenge = login::issue(&state.db, &tenant.id, OffsetDateTime::now_utc()).await?;
    Ok((StatusCode::CREATED, Json(challenge)).into_response())
}

pub(super) async fn verify(State(state): AppState, headers: HeaderMap, Body(body): Body<LoginRequest>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let certificate = base64_field("certificate", &body.certificate)?;
    let signature = base64_field("signature", &body.signature)?;
    let proof = body.signature_proof.as_deref().map(|p| base64_field("signature_proof", p)).transpose()?;
    if body.account_id.as_ref().is_some_and(|a| a.is_empty() || a.chars().count() > 200 || a.chars().any(char::is_control)) {
        return Err(ApiError::bad("invalid_account_id", "account_id is 1 to 200 printable characters"));
    }
    let policy = RevocationRequest::policy(body.revocation, tenant.revocation).map_err(|e| ApiError::bad("invalid_revocation", e))?;
    let now = OffsetDateTime::now_utc();
    let challenge = match login::consume(&state.db, &tenant.id, &body.challenge_id, now).await? {
        Ok(bytes) => bytes,
        Err(ChallengeProblem::Unknown) => return Err(ApiError::new(StatusCode::NOT_FOUND, "challenge_unknown", "no such challenge for this tenant")),
        Err(ChallengeProblem::Expired) => return Err(ApiError::bad("challenge_expired", "the challenge expired; ask for a new one")),
        Err(ChallengeProblem::Used) => return Err(ApiError::bad("challenge_used", "the challenge was already answered; ask for a new one")),
    };

    let started = std::time::Instant::now();
    let login = state.verifier.verify_pkcs1_without_waiting(CertKind::Authentication, policy, &certificate, &challenge, &signature, now);
    let login = super::conclude(&state, login).await?;
    let proof = match proof.map(|cms| state.verifier.verify_cms_without_waiting_by(CertKind::Signature, policy, &cms, None, now)) {
        None => None,
        Some(Err(problem)) => return Err(ApiError::bad("invalid_cms", format!("signature_proof: {problem}"))),
        Some(Ok(p)) => Some(super::conclude(&state, p).await?),
    };
    let proof_identity = match &proof {
        // verify_cms takes only a signature certificate's CMS: a valid proof is a signature proof.
        Some(p) if p.valid => {
            let content_ok = jpki_verify::signed_data::verify(&base64_field("signature_proof", body.signature_proof.as_deref().unwrap_or(""))?, None)
                .map(|c| c.content == challenge)
                .unwrap_or(false);
            if !content_ok {
                return Err(ApiError::bad("invalid_proof", "signature_proof must sign the challenge bytes (attached)"));
            }
            p.signer.as_ref().and_then(login::identity_hash)
        }
        Some(p) => {
            let why = p.failure.as_ref().map_or(FailureCode::WrongCertificateKind, |f| f.code);
            return Err(ApiError::bad("invalid_proof", format!("the signature proof is not valid ({why})")));
        }
        None => None,
    };

    state.metrics.record("login", login.failure.as_ref().map_or("valid", |f| f.code.as_str()), started.elapsed().as_secs_f64());
    let serial = login.signer.as_ref().map(|s| s.certificate_serial.clone());
    let mut account = None;
    let mut linked = false;
    let mut replaced = 0;
    let mut refusal = None;
    // A certificate no account is linked to may be one re-issued after a linked one: the issuer's link
    // information names its predecessors (asked before the write transaction: the sandbox issuer
    // meters in the same database).
    let mut predecessors = Vec::new();
    if let (true, Some(serial), None, None, Some(provisions)) = (login.valid, serial.as_deref(), &body.account_id, &proof_identity, state.issuer.as_deref()) {
        if login::account_of(&state.db, &tenant.id, serial).await?.is_none() && login::has_links(&state.db, &tenant.id).await? {
            predecessors = provisions.links(&[serial.to_owned()]).await?.into_iter().flat_map(|l| l.predecessors).collect();
        }
    }
    let mut linked_by_issuer = false;
    let mut tx = state.db.begin_write().await.map_err(PlatformError::from)?;
    if let (true, Some(serial)) = (login.valid, serial.as_deref()) {
        let target = match (&body.account_id, &proof_identity) {
            (Some(account_id), _) => Some(account_id.clone()),
            (None, identity) => match login::account_of(&state.db, &tenant.id, serial).await? {
                Some(a) => {
                    account = Some(a);
                    None
                }
                None => match identity {
                    Some(hash) => login::account_by_identity(&state.db, &tenant.id, hash).await?,
                    None => {
                        account = login::link_successor(&mut tx, &tenant.id, serial, &predecessors, now).await?;
                        (linked, linked_by_issuer) = (account.is_some(), account.is_some());
                        None
                    }
                },
            },
        };
        if let Some(target) = target {
            let replace = body.account_id.is_some() && body.replace_link;
            match login::link(&mut tx, &tenant.id, &target, serial, proof_identity.as_deref(), replace, now).await? {
                Ok(n) => {
                    (linked, replaced, account) = (true, n, Some(target));
                }
                Err(refused) => refusal = Some(refused),
            }
        }
    }
    if let Some(method) = login.revocation.as_ref().and_then(|r| r.method.provision()) {
        usage::record(&mut tx, &tenant.id, FeeCertKind::Authentication, method, now).await?;
    }
    if let Some(method) = proof.as_ref().and_then(|p| p.revocation.as_ref()).and_then(|r| r.method.provision()) {
        usage::record(&mut tx, &tenant.id, FeeCertKind::Signature, method, now).await?;
    }
    let outcome = match (&refusal, &login.failure) {
        (Some(refused), _) => format!("refused:{}", refused.code()),
        (None, None) => "valid".to_owned(),
        (None, Some(f)) => format!("invalid:{}", f.code),
    };
    let detail = json!({
        "certificate_serial": serial,
        "account_id": account.as_ref().or(body.account_id.as_ref()),
        "linked": linked,
        "replaced_links": replaced,
        "identity_proof": proof_identity.is_some(),
        "linked_by_certificate_link": linked_by_issuer,
    });
    let action = if replaced > 0 { "auth.link.replace" } else { "auth.login" };
    let entry = audit::Entry { tenant_id: Some(&tenant.id), action, purpose: None, result: &outcome, detail: &detail, at: now.unix_timestamp() };
    audit::append(&mut tx, &entry).await?;
    if let Some(refused) = refusal {
        tx.commit().await?;
        return Err(ApiError::new(StatusCode::CONFLICT, refused.code(), refused.message()));
    }
    let customer_id = match &account {
        Some(account) => customers::of_account(&state.db, &tenant.id, account).await?,
        None => None,
    };
    // The login is kept as a verification (a fresh one answers a qualification check), without what
    // the signature proof showed.
    let verification_id = jpki_store::new_id("verification");
    let mut answer = json!({
        "verification_id": verification_id,
        "valid": login.valid,
        "failure": login.failure,
        "account_id": account,
        "customer_id": customer_id,
        "linked": linked,
        "linked_by": linked.then_some(if linked_by_issuer { "certificate_link" } else { "registration" }),
        "replaced_links": replaced,
        "certificate_serial": serial,
        "device": login.signer.as_ref().and_then(|s| s.device),
        "revocation": login.revocation,
    });
    verifications::record_login(&mut tx, &verification_id, &tenant.id, &login, &answer.to_string(), now).await?;
    tx.commit().await?;
    // At registration, what the signature proof showed of the person now linked.
    answer["four_info"] = json!(proof
        .as_ref()
        .and_then(|p| p.signer.as_ref())
        .map(|s| json!({ "name": s.name, "address": s.address, "birth_date": s.birth_date, "sex": s.sex })));
    Ok(Json(answer).into_response())
}
