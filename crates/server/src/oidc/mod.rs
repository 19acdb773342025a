//! The OpenID Connect provider's endpoints, at the paths the Digital Authentication App serves them
//! relative to its issuer (Keycloak's layout: `<issuer>/protocol/openid-connect/…`;
//! ../shared/reference/relying-party-apis.md), so that an RP written for it changes only its issuer URL.
//!
//! - `GET <issuer>/.well-known/openid-configuration`: discovery (OpenID Connect Discovery 1.0 §4);
//! - `GET|POST …/auth`: the authorization endpoint, and the pages the user answers on ([`authorize`]);
//! - `POST …/token`, `GET|POST …/userinfo`, `GET|POST …/logout` ([`token`]);
//! - `GET …/certs`: the ID-token signing keys, a JWK Set (RFC 7517 §5);
//! - `POST …/app/transaction`, `POST …/app/answer`: the companion app ([`app`]);
//! - `POST /api/sign-transactions`, `GET /api/sign-transactions/{id}/result` ([`sign`]).

mod app;
mod authorize;
mod sign;
mod token;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jpki_issuer::Issuer;
use jpki_platform::oidc::error::{ErrorCode, OAuthError};
use jpki_platform::oidc::keys;
use serde_json::json;

use crate::error::ApiError;
use crate::v1::PlatformState;
use crate::web::Pages;

/// The issuer's path below the server's URL: the Digital Authentication App's issuer is
/// `https://auth-and-sign.go.jp/api/realms/main`.
pub const ISSUER_PATH: &str = "/api/realms/main";
const ENDPOINTS: &str = "/protocol/openid-connect";

/// What the provider's endpoints share.
pub struct Provider {
    pub platform: Arc<PlatformState>,
    /// The issuer identifier: the server's public URL and [`ISSUER_PATH`].
    pub issuer: String,
    pub pages: Arc<Pages>,
    /// The sandbox issuer, whose test persons the authorization page offers; `None` in production.
    pub sandbox: Option<Issuer>,
}

impl Provider {
    /// `public_url` is where clients reach the server (no trailing slash).
    pub fn new(platform: Arc<PlatformState>, public_url: &str, pages: Arc<Pages>, sandbox: Option<Issuer>) -> Provider {
        Provider { platform, issuer: format!("{}{ISSUER_PATH}", public_url.trim_end_matches('/')), pages, sandbox }
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}{ENDPOINTS}/{name}", self.issuer)
    }

    /// Cookies are `Secure` when the issuer is served over HTTPS (always, for a production server).
    fn secure(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

type ProviderState = State<Arc<Provider>>;

pub fn router(provider: Provider) -> Router {
    let at = |name: &str| format!("{ISSUER_PATH}{ENDPOINTS}/{name}");
    Router::new()
        .route(&format!("{ISSUER_PATH}/.well-known/openid-configuration"), get(discovery))
        .route(&at("certs"), get(certs))
        .route(&at("auth"), get(authorize::begin_get).post(authorize::begin_post))
        .route(&at("auth/{id}"), get(authorize::page))
        .route(&at("auth/{id}/sandbox"), post(authorize::sandbox_answer))
        .route(&at("auth/{id}/decline"), post(authorize::decline))
        .route(&at("auth/{id}/app"), get(authorize::app_page))
        .route(&at("auth/{id}/qr.svg"), get(authorize::qr))
        .route(&at("app/transaction"), post(app::transaction))
        .route(&at("app/answer"), post(app::answer))
        .route(sign::SIGN_TRANSACTIONS, post(sign::create))
        .route(&format!("{}/{{id}}/result", sign::SIGN_TRANSACTIONS), get(sign::result))
        .route(&at("token"), post(token::token))
        .route(&at("userinfo"), get(token::userinfo).post(token::userinfo))
        .route(&at("logout"), get(token::logout_get).post(token::logout_post))
        .method_not_allowed_fallback(crate::error::method_not_allowed)
        .with_state(Arc::new(provider))
}

/// How long an RP may cache the key set: well within [`keys::ROTATION_OVERLAP`], so that a new key is
/// fetched before the one it replaced leaves.
const JWKS_MAX_AGE_SECONDS: u32 = 3600;

async fn certs(State(provider): ProviderState) -> Result<Response, ApiError> {
    let published = keys::published(&provider.platform.db, time::OffsetDateTime::now_utc()).await?;
    Ok(([(header::CACHE_CONTROL, format!("public, max-age={JWKS_MAX_AGE_SECONDS}"))], Json(json!({ "keys": published }))).into_response())
}

/// The signing algorithms jsonwebtoken verifies client assertions with.
const ASSERTION_ALGORITHMS: [&str; 9] = ["ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"];

async fn discovery(State(provider): ProviderState) -> Response {
    let scopes: Vec<&str> = jpki_platform::oidc::scope::Scope::ALL.iter().map(|s| s.as_str()).collect();
    let document = json!({
        "issuer": provider.issuer,
        "authorization_endpoint": provider.endpoint("auth"),
        "token_endpoint": provider.endpoint("token"),
        "userinfo_endpoint": provider.endpoint("userinfo"),
        "jwks_uri": provider.endpoint("certs"),
        "end_session_endpoint": provider.endpoint("logout"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "acr_values_supported": [jpki_platform::oidc::authorization::ACR_AAL3],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "name", "address", "birthdate", "gender"],
        "ui_locales_supported": ["ja", "en"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    });
    ([(header::CACHE_CONTROL, "public, max-age=3600")], Json(document)).into_response()
}

/// An error of the token or userinfo endpoint as RFC 6749 §5.2 and RFC 6750 §3 write it: the status
/// each code has, in this one place.
pub(crate) fn oauth_error(error: &OAuthError, basic_auth_used: bool) -> Response {
    let status = match error.code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = (status, Json(json!({ "error": error.code.as_str(), "error_description": error.description }))).into_response();
    let headers = response.headers_mut();
    no_store(headers);
    let challenge = match error.code {
        // RFC 6749 §5.2: a client that authenticated with the Authorization header is answered with
        // the scheme it used.
        ErrorCode::InvalidClient if basic_auth_used => Some("Basic realm=\"openjpki\"".to_owned()),
        ErrorCode::InvalidToken => {
            Some(format!("Bearer realm=\"openjpki\", error=\"invalid_token\", error_description=\"{}\"", error.description.replace('"', "'")))
        }
        _ => None,
    };
    if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// RFC 6749 §5.1: token responses are not cached.
pub(crate) fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A 303 to `uri` with `params` added to its query (RFC 6749 §3.1.2: a query it has is kept).
pub(crate) fn redirect(uri: &str, params: &[(&str, &str)]) -> Response {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let separator = if uri.contains('?') { '&' } else { '?' };
    let location = format!("{uri}{separator}{query}");
    match HeaderValue::from_str(&location) {
        Ok(value) => {
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the redirect URI cannot be sent").into_response(),
    }
}
