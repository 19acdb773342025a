//! Sign transactions at the Digital Authentication App's paths (`/api/sign-transactions`, beside the
//! issuer's `/api/realms/main`; ../shared/reference/relying-party-apis.md): created with a
//! client-credentials token, signed by the user through the authorization endpoint with `scope=openid
//! sign`, fetched with the user's access token.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jpki_platform::oidc::error::{ErrorCode, OAuthError};
use jpki_platform::oidc::{clients, sign, tokens};
use jpki_verify::digest_info::DigestInfo;
use serde::Deserialize;
use time::OffsetDateTime;

use super::{no_store, oauth_error, ProviderState};
use crate::error::ApiError;
use crate::extract::{Body, PathParam};

/// The paths below the server's URL.
pub const SIGN_TRANSACTIONS: &str = "/api/sign-transactions";

/// What an RP asks to have signed: exactly one of `hash` (the document's SHA-256) and `digest_info`
/// (a DER DigestInfo of SHA-256, -384 or -512), both base64.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateRequest {
    purpose: String,
    hash: Option<String>,
    digest_info: Option<String>,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty())
}

fn no_token() -> Response {
    oauth_error(&OAuthError::new(ErrorCode::InvalidToken, "send the token as Authorization: Bearer <token>"), false)
}

impl CreateRequest {
    fn to_sign(&self) -> Result<DigestInfo, String> {
        let decode = |name: &str, value: &str| STANDARD.decode(value.trim()).map_err(|e| format!("{name} is not base64: {e}"));
        match (&self.hash, &self.digest_info) {
            (Some(hash), None) => DigestInfo::new(jpki_crypto::Digest::Sha256, &decode("hash", hash)?).map_err(|e| format!("hash: {e}")),
            (None, Some(info)) => DigestInfo::from_der(&decode("digest_info", info)?).map_err(|e| format!("digest_info: {e}")),
            _ => Err("give exactly one of hash (the document's SHA-256) and digest_info (a DER DigestInfo), base64".into()),
        }
    }
}

pub(super) async fn create(State(provider): ProviderState, headers: HeaderMap, Body(body): Body<CreateRequest>) -> Result<Response, ApiError> {
    let Some(token) = bearer(&headers) else { return Ok(no_token()) };
    let db = &provider.platform.db;
    let now = OffsetDateTime::now_utc();
    let client_id = match tokens::client_of(db, token, now).await? {
        Ok(id) => id,
        Err(e) => return Ok(oauth_error(&e, false)),
    };
    let client = clients::find(db, &client_id).await?.ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "the token's client is gone"))?;
    let to_sign = body.to_sign().map_err(|e| ApiError::bad("invalid_sign_transaction", e))?;
    let created = sign::create(db, &client, &body.purpose, &to_sign, now).await?;
    let answer = serde_json::json!({ "sign_transaction_id": created.id, "expires_at": crate::v1::rfc3339(created.expires_at) });
    let mut response = (StatusCode::CREATED, Json(answer)).into_response();
    no_store(response.headers_mut());
    Ok(response)
}

pub(super) async fn result(State(provider): ProviderState, PathParam(id): PathParam<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(token) = bearer(&headers) else { return Ok(no_token()) };
    Ok(match sign::result(&provider.platform.db, &id, token, OffsetDateTime::now_utc()).await? {
        Ok(result) => {
            let mut response = Json(result).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(e) => oauth_error(&e, false),
    })
}
