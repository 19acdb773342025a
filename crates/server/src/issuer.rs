//! The sandbox issuer's HTTP endpoints (the simulated J-LIS), mounted with `--sandbox`:
//!
//! - `GET /issuer/crl/`: the published CRLs, and `GET /issuer/crl/{file}` one of them
//!   (`application/pkix-crl`): `auth.crl`, and a `sign-<id>.crl` per municipality;
//! - `POST /issuer/ocsp` and `GET /issuer/ocsp/{base64 request}`: OCSP (RFC 6960 Appendix A);
//! - `POST /issuer/latest-4-info`: `{"serial": "…"}` with an operator's `Authorization: Bearer` key;
//! - `POST /issuer/certificate-links`: `{"serials": ["…", …]}` (the old → new link information), and
//!   `PUT` / `DELETE /issuer/consents/{serial}`: a holder's consent as the operator forwards it, both
//!   with an operator's key;
//! - `GET /issuer/status/mnc`: the card-substitute records' status list.
//!
//! A platform operator may send its key with OCSP and CRL requests too, so that they are metered to it.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use jpki_profile::fees::ProvisionMethod;

use jpki_issuer::crl::crl_file_role;
use jpki_issuer::meter::{Meter, Provision};
use jpki_issuer::ocsp::OcspResponder;
use jpki_issuer::provision::Operator;
use jpki_issuer::{now, Issuer, IssuerError};
use jpki_profile::KeyRole;

use crate::error::ApiError;

#[derive(Clone)]
pub struct IssuerService {
    pub issuer: Issuer,
    pub responder: Arc<OcspResponder>,
    pub meter: Meter,
    pub crl_dir: PathBuf,
}

/// Largest OCSP request accepted (a request for hundreds of certificates fits easily).
const MAX_OCSP_REQUEST: usize = 64 * 1024;

pub fn router(service: IssuerService) -> Router {
    Router::new()
        .route("/issuer/crl/", get(crl_index))
        .route("/issuer/crl/{file}", get(crl))
        .route("/issuer/ocsp", post(ocsp_post))
        .route("/issuer/ocsp/{*request}", get(ocsp_get))
        .route("/issuer/latest-4-info", post(latest_four_info))
        .route("/issuer/certificate-links", post(certificate_links))
        .route("/issuer/consents/{serial}", axum::routing::put(grant_consent).delete(withdraw_consent))
        .route("/issuer/status/mnc", get(status_list))
        .layer(DefaultBodyLimit::max(MAX_OCSP_REQUEST))
        .method_not_allowed_fallback(crate::error::method_not_allowed)
        .with_state(service)
}

/// The card-substitute records' status list token (draft-ietf-oauth-status-list §8.1: media type
/// `application/statuslist+cwt`).
async fn status_list(State(service): State<IssuerService>) -> Result<Response, ApiError> {
    let token = service.issuer.status_list_token().await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/statuslist+cwt")], token).into_response())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// The operator a request is from: `None` without a key; an error for a key that is not valid.
async fn operator(service: &IssuerService, headers: &HeaderMap) -> Result<Option<Operator>, ApiError> {
    match bearer(headers) {
        None => Ok(None),
        Some(key) => Ok(Some(service.issuer.authenticate_operator(key).await?)),
    }
}

#[derive(serde::Serialize)]
struct PublishedCrl {
    file: String,
    role: KeyRole,
    url: String,
    bytes: u64,
}

async fn crl_index(State(service): State<IssuerService>) -> Result<Json<serde_json::Value>, ApiError> {
    let dir = service.crl_dir.clone();
    let mut crls = Vec::new();
    let mut entries = match tokio::fs::read_dir(&dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Json(serde_json::json!({ "crls": crls }))),
        Err(e) => return Err(IssuerError::io(&dir, e).into()),
    };
    while let Some(entry) = entries.next_entry().await.map_err(|e| IssuerError::io(&dir, e))? {
        let file = entry.file_name().to_string_lossy().into_owned();
        let (Some(role), Ok(meta)) = (crl_file_role(&file), entry.metadata().await) else { continue };
        crls.push(PublishedCrl { url: format!("/issuer/crl/{file}"), file, role, bytes: meta.len() });
    }
    crls.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(Json(serde_json::json!({ "crls": crls })))
}

async fn crl(State(service): State<IssuerService>, headers: HeaderMap, Path(file): Path<String>) -> Result<Response, ApiError> {
    let Some(role) = crl_file_role(&file) else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no CRL named {file:?}; GET /issuer/crl/ lists them")));
    };
    let operator = operator(&service, &headers).await?;
    let path = service.crl_dir.join(&file);
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::new(StatusCode::NOT_FOUND, "not_published", "no CRL published yet: run `jpki sandbox crl publish`"))
        }
        Err(e) => return Err(IssuerError::io(&path, e).into()),
    };
    let provision = Provision::revocation_info(operator.map(|o| o.id), role, ProvisionMethod::Crl, now());
    service.meter.record(vec![provision]).await?;
    Ok(([(header::CONTENT_TYPE, "application/pkix-crl")], bytes).into_response())
}

fn ocsp_response(der: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/ocsp-response")], der).into_response()
}

async fn ocsp_post(State(service): State<IssuerService>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let operator = operator(&service, &headers).await?;
    Ok(ocsp_response(service.responder.respond(&body, operator.as_ref().map(|o| o.id.as_str())).await))
}

async fn ocsp_get(State(service): State<IssuerService>, headers: HeaderMap, Path(request): Path<String>) -> Result<Response, ApiError> {
    let operator = operator(&service, &headers).await?;
    let operator_id = operator.as_ref().map(|o| o.id.as_str());
    // RFC 6960 Appendix A.1: the path is the URL-encoding of the base64 of the DER request.
    let der = base64::engine::general_purpose::STANDARD.decode(request.trim_start_matches('/')).unwrap_or_default();
    Ok(ocsp_response(service.responder.respond(&der, operator_id).await))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LatestRequest {
    serial: String,
}

async fn latest_four_info(
    State(service): State<IssuerService>,
    headers: HeaderMap,
    body: Result<Json<LatestRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let operator = required_operator(&service, &headers).await?;
    let Json(request) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let answer = service.issuer.latest_four_info(&operator, &request.serial, &service.meter).await?;
    Ok(Json(answer).into_response())
}

async fn required_operator(service: &IssuerService, headers: &HeaderMap) -> Result<Operator, ApiError> {
    operator(service, headers)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "send the operator API key as `Authorization: Bearer …`"))
}

/// Most serials one link request names.
pub const MAX_LINK_SERIALS: usize = 1000;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LinksRequest {
    serials: Vec<String>,
}

async fn certificate_links(
    State(service): State<IssuerService>,
    headers: HeaderMap,
    body: Result<Json<LinksRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let operator = required_operator(&service, &headers).await?;
    let Json(request) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    if request.serials.is_empty() || request.serials.len() > MAX_LINK_SERIALS {
        return Err(ApiError::bad("invalid_serials", format!("serials names 1 to {MAX_LINK_SERIALS} certificates")));
    }
    let links = service.issuer.certificate_links(&operator, &request.serials, &service.meter).await?;
    Ok(Json(serde_json::json!({ "links": links })).into_response())
}

async fn grant_consent(State(service): State<IssuerService>, headers: HeaderMap, Path(serial): Path<String>) -> Result<StatusCode, ApiError> {
    let operator = required_operator(&service, &headers).await?;
    service.issuer.forward_consent(&operator, &serial, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn withdraw_consent(State(service): State<IssuerService>, headers: HeaderMap, Path(serial): Path<String>) -> Result<StatusCode, ApiError> {
    let operator = required_operator(&service, &headers).await?;
    service.issuer.forward_consent(&operator, &serial, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
