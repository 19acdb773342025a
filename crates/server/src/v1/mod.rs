//! The `/v1` JSON API of the platform operator, one module per resource. Handlers are thin:
//! authenticate, decode, call the platform library, record (verification row, usage and audit entry in
//! one transaction, committed before the answer is sent), answer.

mod admin;
mod auth;
mod changes;
mod customers;
mod input_assistance;
mod mdoc;
mod oidc_clients;
mod qualifications;
pub mod requests;
mod signatures;
mod usage;
mod verifications;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{delete, get, patch, post};
use axum::Router;
use jpki_platform::presentations::MdocService;
use jpki_platform::tenants::{self, Tenant};
use jpki_store::Database;
use jpki_verify::{Progress, Verification, Verifier};
use time::OffsetDateTime;

use crate::error::ApiError;

type AppState = State<Arc<PlatformState>>;

pub struct PlatformState {
    pub db: Database,
    pub verifier: Arc<Verifier>,
    /// SHA-256 of the admin token; `None` disables the admin API.
    pub admin_token_hash: Option<[u8; 32]>,
    pub metrics: jpki_platform::metrics::Metrics,
    pub recorder: jpki_platform::recorder::Recorder,
    /// Presentations of the card-substitute record; `None` until IACA roots are configured.
    pub mdoc: Option<Arc<MdocService>>,
    pub keys: tenants::KeyCache,
    /// Serving the sandbox: webhooks may be plain HTTP.
    pub sandbox: bool,
    /// The issuer's provisions to the platform (links, latest 4 info, consent); `None` without one.
    pub issuer: Option<Arc<crate::provisions::IssuerProvisions>>,
    /// The card issuer keys the number check trusts (the trust directory's `*.cvc` files).
    pub card_issuer_keys: Arc<Vec<jpki_card::applications::card_data::CardPublicKey>>,
}

impl PlatformState {
    pub fn new(db: Database, verifier: Verifier, admin_token: Option<&str>) -> PlatformState {
        let metrics = jpki_platform::metrics::Metrics::default();
        // Ends when the database closes.
        let _sweeper = jpki_platform::housekeeping::start(&db);
        PlatformState {
            recorder: jpki_platform::recorder::Recorder::start(db.clone(), metrics.batch_checks()),
            db,
            verifier: Arc::new(verifier),
            admin_token_hash: admin_token.map(|t| jpki_crypto::sha256(t.as_bytes())),
            metrics,
            mdoc: None,
            keys: Default::default(),
            sandbox: false,
            issuer: None,
            card_issuer_keys: Default::default(),
        }
    }

    pub fn with_mdoc(mut self, service: MdocService) -> PlatformState {
        self.mdoc = Some(Arc::new(service));
        self
    }
}

impl PlatformState {
    /// The issuer's provisions, or why there are none.
    pub(crate) fn issuer(&self) -> Result<&crate::provisions::IssuerProvisions, ApiError> {
        self.issuer.as_deref().ok_or_else(crate::provisions::not_configured)
    }
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

pub(crate) async fn tenant(state: &PlatformState, headers: &HeaderMap) -> Result<Tenant, ApiError> {
    let unauthorized = || ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "send a valid API key as Authorization: Bearer <key>");
    let key = bearer(headers).ok_or_else(unauthorized)?;
    let tenant = state.keys.authenticate(&state.db, key).await?.ok_or_else(unauthorized)?;
    if tenant.disabled {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "tenant_disabled", "this tenant is disabled: the platform operator can enable it again"));
    }
    Ok(tenant)
}

pub(crate) fn admin(state: &PlatformState, headers: &HeaderMap) -> Result<(), ApiError> {
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

/// Carries a verification to its end: the CRL generation in force for the certificate's issuer is
/// looked up in the database (so every server process answers from the same one), and the OCSP
/// responder, if it has to be asked, is asked on a blocking task.
pub(crate) async fn conclude(state: &PlatformState, progress: Progress) -> Result<Verification, ApiError> {
    let progress = match progress {
        Progress::AwaitingCrl(pending) => {
            let cert = pending.certificate();
            let answer = jpki_platform::revocation_lists::answer(&state.db, &cert.issuer.subject_der, &cert.jpki.serial, &cert.jpki.crl_points).await?;
            pending.with_crl(&state.verifier, answer)
        }
        other => other,
    };
    match progress {
        Progress::AwaitingResponder(pending) => {
            let verifier = state.verifier.clone();
            tokio::task::spawn_blocking(move || pending.ask(&verifier))
                .await
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("verification task failed: {e}")))
        }
        // Done: nothing is left to look up.
        other => Ok(other.finish(&state.verifier)),
    }
}

pub(crate) fn base64_field(name: &str, value: &str) -> Result<Vec<u8>, ApiError> {
    requests::base64_field(name, value).map_err(|message| ApiError::bad("invalid_base64", message))
}

pub fn router(state: Arc<PlatformState>) -> Router {
    Router::new()
        .route("/metrics", get(|State(state): AppState| async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()) }))
        .route("/v1/admin/tenants", post(admin::create_tenant).get(admin::list_tenants))
        .route("/v1/admin/tenants/{id}", patch(admin::change_tenant))
        .route("/v1/admin/tenants/{id}/keys", post(admin::add_key))
        .route("/v1/admin/keys/{id}", delete(admin::revoke_key))
        .route("/v1/signatures/verify", post(signatures::verify))
        .route("/v1/verifications/{id}", get(verifications::get).delete(verifications::delete))
        .route("/v1/usage", get(usage::get))
        .route("/v1/auth/challenges", post(auth::new_challenge))
        .route("/v1/auth/verify", post(auth::verify))
        .route("/v1/customers", post(customers::create).get(customers::list))
        .route("/v1/customers/{id}", get(customers::get).delete(customers::delete))
        .route("/v1/customers/{id}/consent", get(customers::get_consent).put(customers::grant_consent).delete(customers::withdraw_consent))
        .route("/v1/customers/{id}/latest-info", post(customers::latest_info))
        .route("/v1/customers/{id}/export", get(customers::export))
        .route("/v1/customers/{id}/status-checks", post(customers::status_check))
        .route("/v1/customers/status-report", get(customers::status_report))
        .route("/v1/customers/{id}/ledger-match", post(customers::ledger_match))
        .route("/v1/ledger-matches", post(customers::ledger_match_csv))
        .route("/v1/customers/{id}/qualifications", post(qualifications::create).get(qualifications::list))
        .route("/v1/qualifications/check", post(qualifications::check))
        .route("/v1/input-assistance/verify", post(input_assistance::verify))
        .route("/v1/qualifications/{id}", get(qualifications::get).put(qualifications::update).delete(qualifications::delete))
        .route("/v1/changes", get(changes::feed))
        .route("/v1/changes/{id}", get(changes::get))
        .route("/v1/changes/{id}/deliveries", get(changes::deliveries))
        .route("/v1/changes/{id}/redeliver", post(changes::redeliver))
        .route("/v1/webhooks", post(changes::add_webhook).get(changes::webhooks))
        .route("/v1/webhooks/{id}", delete(changes::delete_webhook))
        .route("/v1/oidc/clients", post(oidc_clients::register).get(oidc_clients::list))
        .route("/v1/oidc/clients/{id}", get(oidc_clients::get).delete(oidc_clients::delete))
        .route("/v1/mdoc/requests", post(mdoc::new_request))
        .route("/v1/mdoc/responses", post(mdoc::verify))
        .method_not_allowed_fallback(crate::error::method_not_allowed)
        .with_state(state)
}
