//! The token endpoint (RFC 6749 §3.2: form posts only), UserInfo (OpenID Connect Core §5.3) and
//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jpki_platform::oidc::client_auth::{self, Credentials};
use jpki_platform::oidc::error::{ErrorCode, OAuthError};
use jpki_platform::oidc::params::Params;
use jpki_platform::oidc::{clients, keys, tokens};
use jpki_platform::tenants;
use minijinja::Value;
use time::OffsetDateTime;

use super::authorize::is_form;
use super::{no_store, oauth_error, redirect, Provider, ProviderState};
use crate::web::language;

fn invalid_request(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, description)
}

pub(super) async fn token(State(provider): ProviderState, headers: HeaderMap, body: Bytes) -> Response {
    let basic = headers.contains_key(header::AUTHORIZATION);
    match token_response(&provider, &headers, &body).await {
        Ok(Ok(response)) => {
            let mut response = Json(response).into_response();
            no_store(response.headers_mut());
            response
        }
        Ok(Err(error)) => oauth_error(&error, basic),
        Err(e) => e.into_response(),
    }
}

/// A token endpoint's answer: a user's tokens, or a client's own (client credentials).
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Issued {
    User(tokens::TokenResponse),
    Client(tokens::ClientTokenResponse),
}

async fn token_response(provider: &Provider, headers: &HeaderMap, body: &Bytes) -> Result<Result<Issued, OAuthError>, crate::error::ApiError> {
    if !is_form(headers) {
        return Ok(Err(invalid_request("the token request must be application/x-www-form-urlencoded (RFC 6749 §3.2)")));
    }
    let Ok(text) = std::str::from_utf8(body) else { return Ok(Err(invalid_request("the body is not UTF-8"))) };
    let params = match Params::parse(text) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let credentials = match Credentials::from_request(authorization, &params) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let db = &provider.platform.db;
    let now = OffsetDateTime::now_utc();
    let token_endpoint = provider.endpoint("token");
    let client = match client_auth::authenticate(db, &credentials, &[&token_endpoint, &provider.issuer], now).await? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    if tenants::get(db, &client.tenant_id).await?.is_none_or(|t| t.disabled) {
        return Ok(Err(OAuthError::new(ErrorCode::UnauthorizedClient, "the client's tenant is disabled by the platform operator")));
    }
    let field = |name: &str| params.one(name);
    Ok(match field("grant_type") {
        Ok(Some("authorization_code")) => match field("code") {
            Ok(Some(code)) => {
                let (redirect_uri, verifier) = match (field("redirect_uri"), field("code_verifier")) {
                    (Ok(r), Ok(v)) => (r, v),
                    (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
                };
                tokens::redeem_code(db, &client, &provider.issuer, code, redirect_uri, verifier, now).await?.map(Issued::User)
            }
            Ok(None) => Err(invalid_request("code is required")),
            Err(e) => Err(e),
        },
        Ok(Some("refresh_token")) => match (field("refresh_token"), field("scope")) {
            (Ok(Some(refresh)), Ok(scope)) => tokens::refresh(db, &client, &provider.issuer, refresh, scope, now).await?.map(Issued::User),
            (Ok(None), _) => Err(invalid_request("refresh_token is required")),
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        Ok(Some("client_credentials")) => match field("scope") {
            Ok(scope) => tokens::client_credentials(db, &client, scope, now).await?.map(Issued::Client),
            Err(e) => Err(e),
        },
        Ok(Some(other)) => Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            format!("grant_type {other:?} is not supported: authorization_code, refresh_token or client_credentials"),
        )),
        Ok(None) => Err(invalid_request("grant_type is required")),
        Err(e) => Err(e),
    })
}

/// OpenID Connect Core §5.3.1: GET or POST, with the access token as a Bearer token (RFC 6750 §2.1).
pub(super) async fn userinfo(State(provider): ProviderState, headers: HeaderMap) -> Response {
    let token = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        // RFC 6750 §3.1: a request without a token is told the scheme, and no error code.
        let body = Json(serde_json::json!({ "error_description": "send the access token as Authorization: Bearer <token>" }));
        let mut response = (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer realm=\"openjpki\"")], body).into_response();
        no_store(response.headers_mut());
        return response;
    };
    match tokens::userinfo(&provider.platform.db, token, OffsetDateTime::now_utc()).await {
        Ok(Ok(info)) => {
            let mut response = Json(info).into_response();
            no_store(response.headers_mut());
            response
        }
        Ok(Err(error)) => oauth_error(&error, false),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

pub(super) async fn logout_get(State(provider): ProviderState, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    logout(&provider, &headers, query.as_deref().unwrap_or("")).await
}

pub(super) async fn logout_post(State(provider): ProviderState, headers: HeaderMap, body: Bytes) -> Response {
    let text = if is_form(&headers) { std::str::from_utf8(&body).unwrap_or("") } else { "" };
    logout(&provider, &headers, text).await
}

/// The client and subject of an ID token this provider signed (expired or not: RP-Initiated Logout
/// §2 takes a past ID token as the hint).
async fn hinted(provider: &Provider, id_token: &str) -> Result<Option<(String, String)>, jpki_platform::PlatformError> {
    let Ok(header) = jsonwebtoken::decode_header(id_token) else { return Ok(None) };
    let published = keys::published(&provider.platform.db, OffsetDateTime::now_utc()).await?;
    let Some(key) = published.iter().find(|k| Some(&k.kid) == header.kid.as_ref()) else { return Ok(None) };
    let Ok(decoding) = jsonwebtoken::DecodingKey::from_ec_components(&key.x, &key.y) else { return Ok(None) };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["iss", "sub", "aud"]);
    validation.set_issuer(&[&provider.issuer]);
    let Ok(data) = jsonwebtoken::decode::<serde_json::Value>(id_token, &decoding, &validation) else { return Ok(None) };
    let (Some(aud), Some(sub)) = (data.claims["aud"].as_str(), data.claims["sub"].as_str()) else { return Ok(None) };
    Ok(Some((aud.to_owned(), sub.to_owned())))
}

async fn logout(provider: &Arc<Provider>, headers: &HeaderMap, query: &str) -> Response {
    let lang = language(None, headers);
    let page = |status, code: &str, description: &str| provider.pages.render("oidc_error.html", lang, status, minijinja::context! { code, description });
    let params = match Params::parse(query) {
        Ok(p) => p,
        Err(e) => return page(StatusCode::BAD_REQUEST, e.code.as_str(), &e.description),
    };
    let field = |name: &str| params.one(name).ok().flatten();
    let lang = field("ui_locales").and_then(|l| l.split(' ').find_map(crate::web::Lang::from_code)).unwrap_or(lang);
    let db = &provider.platform.db;
    let hint = match field("id_token_hint") {
        None => None,
        Some(token) => match hinted(provider, token).await {
            Ok(Some(h)) => Some(h),
            Ok(None) => return page(StatusCode::BAD_REQUEST, "invalid_request", "id_token_hint is not an ID token this provider issued"),
            Err(e) => return crate::error::ApiError::from(e).into_response(),
        },
    };
    let client_id = match (field("client_id"), &hint) {
        (Some(given), Some((aud, _))) if given != aud => {
            return page(StatusCode::BAD_REQUEST, "invalid_request", "client_id is not the id_token_hint's audience")
        }
        (Some(given), _) => Some(given.to_owned()),
        (None, hint) => hint.as_ref().map(|(aud, _)| aud.clone()),
    };
    if let Some((aud, sub)) = &hint {
        if let Err(e) = tokens::end_session(db, aud, sub, OffsetDateTime::now_utc()).await {
            return crate::error::ApiError::from(e).into_response();
        }
    }
    // The client's registered redirect URIs are where it may be sent back after logout.
    if let Some(uri) = field("post_logout_redirect_uri") {
        let client = match &client_id {
            Some(id) => clients::find(db, id).await.ok().flatten(),
            None => None,
        };
        return match client {
            Some(c) if c.redirect_uris.iter().any(|r| r == uri) => {
                let state = field("state");
                redirect(uri, &state.map(|s| vec![("state", s)]).unwrap_or_default())
            }
            Some(_) => page(StatusCode::BAD_REQUEST, "invalid_request", "post_logout_redirect_uri is not one of the client's redirect URIs"),
            None => page(StatusCode::BAD_REQUEST, "invalid_request", "post_logout_redirect_uri needs id_token_hint or client_id naming a registered client"),
        };
    }
    provider.pages.render("signed_out.html", lang, StatusCode::OK, Value::UNDEFINED)
}
