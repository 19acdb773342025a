//! The OpenID Connect provider's endpoints, at the paths the Digital Authentication App serves them
//! relative to its issuer (Keycloak's layout: `<issuer>/protocol/openid-connect/…`;
//! ../shared/reference/relying-party-apis.md), so that an RP written for it changes only its issuer URL.
//!
//! - `GET <issuer>/protocol/openid-connect/certs`: the ID-token signing keys, a JWK Set (RFC 7517 §5).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jpki_platform::oidc::keys;
use jpki_store::Database;
use serde_json::json;

use crate::error::ApiError;

/// The issuer's path below the server's URL: the Digital Authentication App's issuer is
/// `https://auth-and-sign.go.jp/api/realms/main`.
pub const ISSUER_PATH: &str = "/api/realms/main";

pub fn router(db: Database) -> Router {
    Router::new()
        .route(&format!("{ISSUER_PATH}/protocol/openid-connect/certs"), get(certs))
        .method_not_allowed_fallback(crate::error::method_not_allowed)
        .with_state(db)
}

/// How long an RP may cache the key set: well within [`keys::ROTATION_OVERLAP`], so that a new key is
/// fetched before the one it replaced leaves.
const JWKS_MAX_AGE_SECONDS: u32 = 3600;

async fn certs(State(db): State<Database>) -> Result<Response, ApiError> {
    let published = keys::published(&db, time::OffsetDateTime::now_utc()).await?;
    Ok(([(header::CACHE_CONTROL, format!("public, max-age={JWKS_MAX_AGE_SECONDS}"))], Json(json!({ "keys": published }))).into_response())
}
