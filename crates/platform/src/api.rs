//! The `/v1` JSON API. Handlers are thin: authenticate, decode, call the library, record (verification
//! row, usage and audit entry in one transaction, committed before the answer is sent), answer.
//! Every error is `{"error": {"code", "message"}}` with a stable code; a client's mistake is a 4xx.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use jpki_profile::fees::{FeeCertKind, ProvisionMethod};
use jpki_store::{sqlx, Database};
use jpki_verify::{Progress, Verifier};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::login::{self, ChallengeProblem};
use crate::presentations::{self, Destination, MdocService, RequestProblem};
use crate::requests::{self, LoginRequest, NewPresentationRequest, NewTenant, PresentationAnswer, TenantChange, VerifyRequest};
use crate::tenants::{self, Tenant};
use crate::{audit, usage, PlatformError};

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

pub struct PlatformState {
    pub db: Database,
    pub verifier: Arc<Verifier>,
    /// SHA-256 of the admin token; `None` disables the admin API.
    pub admin_token_hash: Option<[u8; 32]>,
    pub metrics: crate::metrics::Metrics,
    pub recorder: crate::recorder::Recorder,
    /// Presentations of the card-substitute record; `None` until IACA roots are configured.
    pub mdoc: Option<Arc<MdocService>>,
    pub keys: tenants::KeyCache,
}

impl PlatformState {
    pub fn new(db: Database, verifier: Verifier, admin_token: Option<&str>) -> PlatformState {
        let metrics = crate::metrics::Metrics::default();
        // Ends when the database closes.
        let _sweeper = crate::housekeeping::start(&db);
        PlatformState {
            recorder: crate::recorder::Recorder::start(db.clone(), metrics.batch_checks()),
            db,
            verifier: Arc::new(verifier),
            admin_token_hash: admin_token.map(|t| jpki_crypto::sha256(t.as_bytes())),
            metrics,
            mdoc: None,
            keys: Default::default(),
        }
    }

    pub fn with_mdoc(mut self, service: MdocService) -> PlatformState {
        self.mdoc = Some(Arc::new(service));
        self
    }
}

type AppState = State<Arc<PlatformState>>;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": { "code": self.code, "message": self.message } }))).into_response()
    }
}

impl From<PlatformError> for ApiError {
    fn from(e: PlatformError) -> ApiError {
        match e {
            PlatformError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            PlatformError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            other => {
                tracing::error!("platform: {other}");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the service could not complete the request; retry")
            }
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        PlatformError::from(e).into()
    }
}

/// A JSON body whose rejection is an [`ApiError`] naming what is wrong.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::bad("invalid_json", "the body must be JSON (Content-Type: application/json)")),
            Err(JsonRejection::BytesRejection(e)) => Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", e.body_text())),
            Err(e) => Err(ApiError::bad("invalid_json", e.body_text())),
        }
    }
}

/// A path parameter whose rejection (not UTF-8, say) is an [`ApiError`].
pub struct PathParam<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state).await.map(|Path(v)| PathParam(v)).map_err(|e| ApiError::bad("invalid_path", e.body_text()))
    }
}

/// A query string whose rejection (an unknown or repeated parameter) is an [`ApiError`].
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state).await.map(|Query(v)| QueryParams(v)).map_err(|e| ApiError::bad("invalid_query", e.body_text()))
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// How the revocation information a check used was provided, for the fee table: `None` when none was
/// (an OCSP answer from the cache provided nothing new, so nothing is metered for it).
fn provision_method(revocation: &jpki_verify::revocation::RevocationStatus) -> Option<ProvisionMethod> {
    match revocation.method {
        "crl" => Some(ProvisionMethod::Crl),
        "ocsp" => Some(ProvisionMethod::Ocsp),
        _ => None,
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

async fn tenant(state: &PlatformState, headers: &HeaderMap) -> Result<Tenant, ApiError> {
    let unauthorized = || ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "send a valid API key as Authorization: Bearer <key>");
    let key = bearer(headers).ok_or_else(unauthorized)?;
    let tenant = state.keys.authenticate(&state.db, key).await?.ok_or_else(unauthorized)?;
    if tenant.disabled {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "tenant_disabled", "this tenant is disabled: the platform operator can enable it again"));
    }
    Ok(tenant)
}

fn admin(state: &PlatformState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = state.admin_token_hash else {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "admin_disabled", "the admin API is disabled: set JPKI_ADMIN_TOKEN"));
    };
    let given = bearer(headers).map(|t| jpki_crypto::sha256(t.as_bytes()));
    if given.is_some_and(|g| jpki_crypto::constant_time_eq(&g, &expected)) {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "send the admin token as Authorization: Bearer <token>"))
    }
}

fn base64_field(name: &str, value: &str) -> Result<Vec<u8>, ApiError> {
    requests::base64_field(name, value).map_err(|message| ApiError::bad("invalid_base64", message))
}

pub fn router(state: Arc<PlatformState>) -> Router {
    Router::new()
        .route("/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }))
        .route("/metrics", get(|State(state): AppState| async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()) }))
        .route("/v1/admin/tenants", post(create_tenant).get(list_tenants))
        .route("/v1/admin/tenants/{id}", patch(change_tenant))
        .route("/v1/admin/tenants/{id}/keys", post(add_key))
        .route("/v1/admin/keys/{id}", delete(revoke_key))
        .route("/v1/signatures/verify", post(verify_signature))
        .route("/v1/verifications/{id}", get(get_verification))
        .route("/v1/usage", get(get_usage))
        .route("/v1/auth/challenges", post(new_challenge))
        .route("/v1/auth/verify", post(verify_login))
        .route("/v1/mdoc/requests", post(new_presentation_request))
        .route("/v1/mdoc/responses", post(verify_presentation))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint (see /openapi.json)") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not take that method (see /openapi.json)")
        })
        .with_state(state)
}

async fn create_tenant(State(state): AppState, headers: HeaderMap, Body(body): Body<NewTenant>) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad("invalid_name", "a tenant name is 1 to 100 printable characters"));
    }
    let mut tx = state.db.begin_write().await.map_err(PlatformError::from)?;
    let (tenant, key) = tenants::create_in(&mut tx, name, body.number_law_authorized).await?;
    let detail = json!({ "name": tenant.name, "number_law_authorized": tenant.number_law_authorized });
    let entry = audit::Entry {
        tenant_id: Some(&tenant.id),
        action: "tenant.create",
        purpose: None,
        result: "created",
        detail: &detail,
        at: OffsetDateTime::now_utc().unix_timestamp(),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    let body =
        json!({ "id": tenant.id, "name": tenant.name, "number_law_authorized": tenant.number_law_authorized, "key_id": key.key_id, "api_key": key.api_key });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn tenant_json(record: &tenants::TenantRecord) -> serde_json::Value {
    let time = |t: i64| OffsetDateTime::from_unix_timestamp(t).map(rfc3339).ok();
    json!({
        "id": record.tenant.id,
        "name": record.tenant.name,
        "number_law_authorized": record.tenant.number_law_authorized,
        "created_at": time(record.created_at),
        "disabled": record.tenant.disabled,
        "disabled_at": record.disabled_at.and_then(time),
        "active_keys": record.active_keys,
    })
}

async fn list_tenants(State(state): AppState, headers: HeaderMap) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let tenants = tenants::list(&state.db).await?;
    Ok(Json(json!({ "tenants": tenants.iter().map(tenant_json).collect::<Vec<_>>() })).into_response())
}

/// Disables a tenant (its keys answer 403 `tenant_disabled` at once; nothing of it is deleted) or enables
/// it again; audited.
async fn change_tenant(
    State(state): AppState,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    Body(body): Body<TenantChange>,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let mut tx = state.db.begin_write().await.map_err(PlatformError::from)?;
    let record = tenants::set_disabled_in(&mut tx, &id, body.disabled).await?;
    let entry = audit::Entry {
        tenant_id: Some(&record.tenant.id),
        action: if body.disabled { "tenant.disable" } else { "tenant.enable" },
        purpose: None,
        result: "changed",
        detail: &json!({ "disabled": body.disabled }),
        at: OffsetDateTime::now_utc().unix_timestamp(),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    state.keys.clear();
    Ok(Json(tenant_json(&record)).into_response())
}

async fn add_key(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let key = tenants::add_key(&state.db, &id).await?;
    Ok((StatusCode::CREATED, Json(key)).into_response())
}

async fn revoke_key(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<StatusCode, ApiError> {
    admin(&state, &headers)?;
    tenants::revoke_key(&state.db, &id).await?;
    state.keys.clear();
    Ok(StatusCode::NO_CONTENT)
}

/// The answer to a signature check: the verification, under the id it is stored as.
#[derive(Serialize)]
struct SignatureAnswer<'a> {
    verification_id: &'a str,
    #[serde(flatten)]
    verification: &'a jpki_verify::Verification,
}

async fn verify_signature(State(state): AppState, headers: HeaderMap, Body(body): Body<VerifyRequest>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let cms = base64_field("cms", &body.cms)?;
    let content = body.content.as_deref().map(|c| base64_field("content", c)).transpose()?;
    if body.purpose.as_ref().is_some_and(|p| p.chars().count() > 200) {
        return Err(ApiError::bad("invalid_purpose", "purpose is at most 200 characters"));
    }
    let now = OffsetDateTime::now_utc();
    let started = std::time::Instant::now();
    // On this task while nothing can block (a cached OCSP answer); asking the responder may wait on the
    // network, so that part runs as a blocking task.
    let result = match state.verifier.verify_cms_without_waiting_by(body.certificate_kind.into(), &cms, content.as_deref(), now) {
        Ok(Progress::Done(verification)) => verification,
        Ok(Progress::AwaitingResponder(pending)) => {
            let verifier = state.verifier.clone();
            tokio::task::spawn_blocking(move || pending.ask(&verifier))
                .await
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("verification task failed: {e}")))?
        }
        Err(problem) => return Err(ApiError::bad("invalid_cms", problem.to_string())),
    };

    let id = jpki_store::new_id("verification");
    let failure_code = result.failure.as_ref().map(|f| f.code);
    state.metrics.record("signature", failure_code.unwrap_or("valid"), started.elapsed().as_secs_f64());
    let signer = result.signer.as_ref();
    let outcome = if result.valid { "valid".to_owned() } else { format!("invalid:{}", failure_code.unwrap_or("")) };
    let response = serde_json::to_string(&SignatureAnswer { verification_id: &id, verification: &result })
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("the answer does not serialize: {e}")))?;

    let metered = match (signer, &result.revocation) {
        (Some(signer), Some(revocation)) => {
            let kind = if signer.certificate_kind == "signature" { FeeCertKind::Signature } else { FeeCertKind::Authentication };
            provision_method(revocation).map(|method| (kind, method))
        }
        _ => None,
    };
    let record = crate::recorder::CheckRecord {
        id: id.clone(),
        tenant_id: tenant.id.clone(),
        kind: "signature",
        valid: result.valid,
        failure_code,
        certificate_serial: signer.map(|s| s.certificate_serial.clone()),
        certificate_kind: signer.map(|s| s.certificate_kind),
        revocation_method: result.revocation.as_ref().map(|r| r.method),
        at: now,
        result: response.clone(),
        metered,
        audit_action: "signature.verify",
        purpose: body.purpose.clone(),
        outcome,
        audit_detail: json!({ "verification_id": id, "certificate_serial": signer.map(|s| &s.certificate_serial), "released": ["4_info"] }),
    };
    state.recorder.record(record).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], response).into_response())
}

async fn get_verification(State(state): AppState, headers: HeaderMap, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let row: Option<(String,)> =
        sqlx::query_as("SELECT result FROM verification WHERE id = $1 AND tenant_id = $2").bind(&id).bind(&tenant.id).fetch_optional(state.db.pool()).await?;
    let (result,) = row.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no verification {id}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], result).into_response())
}

#[derive(Deserialize)]
struct UsageQuery {
    format: Option<String>,
}

async fn get_usage(State(state): AppState, headers: HeaderMap, QueryParams(q): QueryParams<UsageQuery>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let lines = usage::of_tenant(&state.db, &tenant.id).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(json!({ "tenant_id": tenant.id, "usage": lines })).into_response()),
        Some("csv") => Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], usage::csv(&lines)).into_response()),
        Some(other) => Err(ApiError::bad("invalid_format", format!("format {other:?}: use json or csv"))),
    }
}

async fn new_challenge(State(state): AppState, headers: HeaderMap) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let challenge = login::issue(&state.db, &tenant.id, OffsetDateTime::now_utc()).await?;
    Ok((StatusCode::CREATED, Json(challenge)).into_response())
}

async fn verify_login(State(state): AppState, headers: HeaderMap, Body(body): Body<LoginRequest>) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers).await?;
    let certificate = base64_field("certificate", &body.certificate)?;
    let signature = base64_field("signature", &body.signature)?;
    let proof = body.signature_proof.as_deref().map(|p| base64_field("signature_proof", p)).transpose()?;
    if body.account_id.as_ref().is_some_and(|a| a.is_empty() || a.chars().count() > 200 || a.chars().any(char::is_control)) {
        return Err(ApiError::bad("invalid_account_id", "account_id is 1 to 200 printable characters"));
    }
    let now = OffsetDateTime::now_utc();
    let challenge = match login::consume(&state.db, &tenant.id, &body.challenge_id, now).await? {
        Ok(bytes) => bytes,
        Err(ChallengeProblem::Unknown) => return Err(ApiError::new(StatusCode::NOT_FOUND, "challenge_unknown", "no such challenge for this tenant")),
        Err(ChallengeProblem::Expired) => return Err(ApiError::bad("challenge_expired", "the challenge expired; ask for a new one")),
        Err(ChallengeProblem::Used) => return Err(ApiError::bad("challenge_used", "the challenge was already answered; ask for a new one")),
    };

    let verifier = state.verifier.clone();
    let signed = challenge.clone();
    let started = std::time::Instant::now();
    let (mut login, proof) = tokio::task::spawn_blocking(move || {
        let login = verifier.verify_pkcs1(&certificate, &signed, &signature, now);
        let proof = proof.map(|cms| verifier.verify_cms(&cms, None, now));
        (login, proof)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("verification task failed: {e}")))?;
    if login.valid && login.signer.as_ref().is_some_and(|s| s.certificate_kind != "authentication") {
        login.valid = false;
        login.failure = Some(jpki_verify::verifier::Failure { code: "wrong_certificate_kind", message: "log in with the authentication certificate".into() });
    }
    let proof = match proof {
        None => None,
        Some(Err(problem)) => return Err(ApiError::bad("invalid_cms", format!("signature_proof: {problem}"))),
        Some(Ok(p)) => Some(p),
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
            let why = p.failure.as_ref().map(|f| f.code).unwrap_or("wrong_certificate_kind");
            return Err(ApiError::bad("invalid_proof", format!("the signature proof is not valid ({why})")));
        }
        None => None,
    };

    state.metrics.record("login", login.failure.as_ref().map(|f| f.code).unwrap_or("valid"), started.elapsed().as_secs_f64());
    let serial = login.signer.as_ref().map(|s| s.certificate_serial.clone());
    let mut account = None;
    let mut linked = false;
    let mut replaced = 0;
    let mut refusal = None;
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
                    None => None,
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
    if let Some(method) = login.revocation.as_ref().and_then(provision_method) {
        usage::record(&mut tx, &tenant.id, FeeCertKind::Authentication, method, now).await?;
    }
    if let Some(method) = proof.as_ref().and_then(|p| p.revocation.as_ref()).and_then(provision_method) {
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
    });
    let action = if replaced > 0 { "auth.link.replace" } else { "auth.login" };
    let entry = audit::Entry { tenant_id: Some(&tenant.id), action, purpose: None, result: &outcome, detail: &detail, at: now.unix_timestamp() };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    if let Some(refused) = refusal {
        return Err(ApiError::new(StatusCode::CONFLICT, refused.code(), refused.message()));
    }
    // At registration, what the signature proof showed of the person now linked.
    let four_info =
        proof.as_ref().and_then(|p| p.signer.as_ref()).map(|s| json!({ "name": s.name, "address": s.address, "birth_date": s.birth_date, "sex": s.sex }));
    Ok(Json(json!({
        "valid": login.valid,
        "failure": login.failure,
        "account_id": account,
        "linked": linked,
        "replaced_links": replaced,
        "four_info": four_info,
        "certificate_serial": serial,
        "device": login.signer.as_ref().and_then(|s| s.device),
        "revocation": login.revocation,
    }))
    .into_response())
}

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

async fn new_presentation_request(State(state): AppState, headers: HeaderMap, Body(body): Body<NewPresentationRequest>) -> Result<Response, ApiError> {
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

async fn verify_presentation(State(state): AppState, headers: HeaderMap, Body(body): Body<PresentationAnswer>) -> Result<Response, ApiError> {
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
        Ok(p) => p.status == "valid",
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
    let record = crate::recorder::CheckRecord {
        id: id.clone(),
        tenant_id: tenant.id.clone(),
        kind: "mdoc",
        valid: verified.is_ok(),
        failure_code,
        certificate_serial: None,
        certificate_kind: Some(FeeCertKind::CardSubstituteRecord.as_str()),
        revocation_method: status_read.then_some(ProvisionMethod::StatusList.as_str()),
        at: now,
        result: kept.to_string(),
        metered: status_read.then_some((FeeCertKind::CardSubstituteRecord, ProvisionMethod::StatusList)),
        audit_action: "mdoc.verify",
        purpose: Some(outstanding.purpose),
        outcome,
        audit_detail: json!({ "verification_id": id, "request_id": body.request_id, "released": released }),
    };
    state.recorder.record(record).await?;
    Ok(Json(response).into_response())
}
