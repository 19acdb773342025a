//! A running server: [`ServerConfig`] (built by the CLI from flags and the environment) and
//! [`Server`], which composes the HTTP surfaces, the verifier with its transports and the background
//! jobs, and serves them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use jpki_issuer::crl::is_published;
use jpki_issuer::meter::Meter;
use jpki_issuer::ocsp::OcspResponder;
use jpki_issuer::{Issuer, IssuerError};
use jpki_platform::presentations::{MdocService, ReaderCredential};
use jpki_profile::KeyRole;
use jpki_store::Database;
use jpki_verify::presentation::{PresentationVerifier, StatusLists};
use jpki_verify::revocation::OcspChecker;
use jpki_verify::{TrustStore, Verifier};

use crate::issuer::IssuerService;
use crate::listen::{self, Limits};
use crate::provisions::IssuerProvisions;
use crate::transport::{CrlLocation, HttpOcsp, HttpStatusLists, InProcessOcsp, InProcessStatusList};
use crate::v1::PlatformState;

/// How long a request to an outside OCSP responder or status list may take as a whole.
pub const OUTSIDE_TIMEOUT: Duration = Duration::from_secs(10);

/// The sandbox platform's name: in its reader certificate (who the wallet is told signs its requests),
/// and as its operator account at the sandbox issuer.
const SANDBOX_PLATFORM_NAME: &str = "openjpki sandbox platform";
const SANDBOX_PLATFORM_DNS: &str = "localhost";

/// What the server serves and how.
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Where clients reach the server (the OpenID Connect issuer is under it); default the sandbox's
    /// public URL, else the address it listens on.
    pub public_url: Option<String>,
    /// Serve the sandbox issuer too, and verify against it.
    pub sandbox: Option<SandboxConfig>,
    /// The JPKI trust anchors (where the sandbox exports its CAs).
    pub trust_dir: PathBuf,
    /// The OCSP responder verifications ask (with the sandbox: its own, in-process, unless given).
    pub ocsp_url: Option<String>,
    /// CRLs (files or URLs) ingested into the database's generations at start and every day at
    /// [`ServerConfig::crl_at`]; one set, switched in whole.
    pub crls: Vec<CrlLocation>,
    /// The time of day (JST) of the daily CRL ingestion.
    pub crl_at: time::Time,
    /// The admin API's token; `None` disables the admin API.
    pub admin_token: Option<String>,
    /// IACA roots of the card-substitute record's issuers.
    pub iaca: IacaRoots,
    /// The platform's reader certificate for signed presentation requests (the sandbox issues one).
    pub reader: Option<ReaderCredential>,
    /// HTTPS with this certificate chain and key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
    pub limits: Limits,
}

/// The sandbox issuer served beside the platform.
pub struct SandboxConfig {
    /// Where the server is reached (the records' status list is named under it); default the address
    /// it listens on.
    pub public_url: Option<String>,
    /// Where its CRLs are published.
    pub crl_dir: PathBuf,
    /// Where its trust anchors are exported for relying parties (and for [`ServerConfig::trust_dir`]
    /// when that names the same directory).
    pub trust_export_dir: PathBuf,
}

/// Where the IACA roots are read from.
pub enum IacaRoots {
    /// A file that must be there.
    Required(PathBuf),
    /// A file read when it exists; without it `/v1/mdoc` is off.
    IfPresent(PathBuf),
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("{0} (give --trust DIR, or --sandbox)")]
    Trust(String),
    #[error("cannot read the IACA roots {path}: {reason}")]
    Iaca { path: String, reason: String },
    #[error(transparent)]
    Issuer(#[from] IssuerError),
    #[error(transparent)]
    Tls(#[from] listen::TlsError),
}

/// A server bound to its address, ready to serve.
pub struct Server {
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    connections: listen::ConnectionMetrics,
}

impl Server {
    /// Binds the address and composes everything `config` names over `db`.
    pub async fn bind(mut config: ServerConfig, db: &Database) -> Result<Server, ServerError> {
        let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(|source| ServerError::Listen { addr: config.listen, source })?;
        let local = listener.local_addr().map_err(|source| ServerError::Listen { addr: config.listen, source })?;
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        let public_url =
            config.public_url.clone().or_else(|| config.sandbox.as_ref().and_then(|s| s.public_url.clone())).unwrap_or_else(|| format!("{scheme}://{local}"));
        let pages = crate::web::Pages::new(config.sandbox.is_some());
        let mut app = Router::new().route("/healthz", get(|| async { "ok\n" })).merge(crate::web::router(pages.clone()));
        let mut sandbox_ocsp = None;
        let mut sandbox_issuer = None;
        let mut provisions = None;
        if let Some(sandbox) = &config.sandbox {
            let (issuer, _) = Issuer::init(db.clone()).await?;
            let issuer = issuer.with_public_url(&public_url);
            issuer.export_trust(&sandbox.trust_export_dir).await?;
            for role in KeyRole::ALL {
                if !is_published(&sandbox.crl_dir, role) {
                    issuer.publish_crl(role, &sandbox.crl_dir).await?;
                }
            }
            let meter = Meter::start(issuer.db().clone());
            let responder = OcspResponder::start(issuer.clone(), meter.clone()).await?;
            sandbox_ocsp = Some(responder.clone());
            sandbox_issuer = Some(issuer.clone());
            provisions = Some(Arc::new(IssuerProvisions::in_process(issuer.clone(), meter.clone(), SANDBOX_PLATFORM_NAME).await?));
            crate::jobs::publish_crls(db, issuer.clone(), sandbox.crl_dir.clone());
            app = app.merge(crate::issuer::router(IssuerService { issuer, responder, meter, crl_dir: sandbox.crl_dir.clone() }));
        }
        let ocsp = match (&config.ocsp_url, sandbox_ocsp) {
            (Some(url), _) => Some(OcspChecker::new(url.clone(), Box::new(HttpOcsp::new(OUTSIDE_TIMEOUT)))),
            (None, Some(responder)) => {
                let transport = InProcessOcsp { runtime: tokio::runtime::Handle::current(), responder };
                Some(OcspChecker::new(format!("http://{local}/issuer/ocsp"), Box::new(transport)))
            }
            (None, None) => None,
        };
        let reader = config.reader.take();
        let mdoc = mdoc_service(&config, reader, sandbox_issuer.clone()).await?;
        let (mut state, trust) = platform_state(&config, db, ocsp, mdoc)?;
        state.issuer = provisions;
        let state = Arc::new(state);
        if !config.crls.is_empty() {
            let ingested = crate::jobs::ingest_crls(db, &trust, &config.crls, Arc::new(|_: &str, _| {}), &state.metrics).await;
            // A CRL that cannot be had now keeps the generations held before (none on a first start: the
            // CRL method then fails closed), and is tried again at the daily time.
            match ingested {
                Ok(generations) => generations.iter().for_each(|g| tracing::info!("CRL generation {} of {}: {} entries", g.generation, g.issuer, g.entries)),
                // A generation another process is ingesting is the one this process will use.
                Err(jpki_platform::revocation_lists::IngestError::Busy(until)) => tracing::info!("another process is ingesting the CRLs (until {until})"),
                Err(e) => tracing::error!("CRL ingestion at start failed; the generations held before stay in force: {e}"),
            }
            crate::jobs::ingest_crls_daily(state.clone(), trust, config.crls.clone(), config.crl_at);
        }
        crate::jobs::deliver_webhooks(state.clone());
        let (open, limit_reached) = state.metrics.connections();
        let app = app
            .merge(crate::oidc::router(crate::oidc::Provider::new(state.clone(), &public_url, pages, sandbox_issuer)))
            .merge(crate::v1::router(state))
            .route("/openapi.json", get(crate::openapi::document))
            .fallback(crate::error::not_found)
            .layer(tower_http::trace::TraceLayer::new_for_http());
        let tls = match &config.tls {
            Some((cert, key)) => Some(listen::tls_acceptor(cert, key)?),
            None => None,
        };
        Ok(Server { listener, app, tls, limits: config.limits, connections: listen::ConnectionMetrics { open, limit_reached } })
    }

    /// The server's URL as it listens (`http://` or `https://`, the bound address).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        self.listener.local_addr().map(|a| format!("{scheme}://{a}")).unwrap_or_default()
    }

    /// Serves until `shutdown` completes, then finishes the requests under way.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) {
        listen::serve(self.listener, self.app, self.limits, self.tls, self.connections, shutdown).await;
    }
}

/// The platform's state (its verifier: trust anchors and OCSP; admin token; presentation service),
/// and the trust anchors, against which CRLs are verified.
fn platform_state(
    config: &ServerConfig,
    db: &Database,
    ocsp: Option<OcspChecker>,
    mdoc: Option<MdocService>,
) -> Result<(PlatformState, TrustStore), ServerError> {
    let trust = TrustStore::from_dir(&config.trust_dir).map_err(|e| ServerError::Trust(e.to_string()))?;
    for path in trust.skipped() {
        tracing::debug!("{} holds no JPKI CA certificate; signatures and logins do not use it", path.display());
    }
    match &ocsp {
        Some(ocsp) => tracing::info!("verifying against {} trust anchors in {}, OCSP {}", trust.anchors().len(), config.trust_dir.display(), ocsp.url()),
        None => tracing::warn!("no OCSP responder (--ocsp-url): every verification will fail closed"),
    }
    if config.admin_token.is_none() {
        tracing::warn!("no JPKI_ADMIN_TOKEN: the admin API (tenants, keys) is disabled");
    }
    let verifier = Verifier { trust: trust.clone(), ocsp, crls: Default::default() };
    let mut state = PlatformState::new(db.clone(), verifier, config.admin_token.as_deref());
    state.card_issuer_keys = Arc::new(card_issuer_keys(&config.trust_dir)?);
    state.sandbox = config.sandbox.is_some();
    if let Some(mdoc) = mdoc {
        state = state.with_mdoc(mdoc);
    }
    Ok((state, trust))
}

/// The card issuer keys of the trust directory's card-verifiable certificates (`*.cvc`), which the
/// number check trusts; none: every number check answers untrusted_card_issuer.
fn card_issuer_keys(dir: &std::path::Path) -> Result<Vec<jpki_card::applications::card_data::CardPublicKey>, ServerError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ServerError::Trust(format!("cannot read {}: {e}", dir.display())))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "cvc")).collect();
    paths.sort();
    let mut keys = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path).map_err(|e| ServerError::Trust(format!("cannot read {}: {e}", path.display())))?;
        let cert = jpki_card::applications::card_data::CvCertificate::parse(&bytes)
            .map_err(|e| ServerError::Trust(format!("{} is not a card-verifiable certificate: {e}", path.display())))?;
        keys.push(cert.public_key);
    }
    if keys.is_empty() {
        tracing::warn!("no card issuer key (*.cvc) in {}: the number check answers untrusted_card_issuer", dir.display());
    }
    Ok(keys)
}

/// The presentation verifier: IACA roots, the platform's reader certificate, and the records' status
/// lists (the sandbox issuer's in-process, always current; others over HTTP, kept until they expire).
async fn mdoc_service(config: &ServerConfig, reader: Option<ReaderCredential>, sandbox: Option<Issuer>) -> Result<Option<MdocService>, ServerError> {
    let (path, required) = match &config.iaca {
        IacaRoots::Required(path) => (path, true),
        IacaRoots::IfPresent(path) => (path, false),
    };
    if !required && !path.exists() {
        tracing::warn!("no IACA roots ({}): /v1/mdoc is disabled", path.display());
        return Ok(None);
    }
    let iaca_error = |reason: String| ServerError::Iaca { path: path.display().to_string(), reason };
    let pem = std::fs::read(path).map_err(|e| iaca_error(e.to_string()))?;
    let roots = jpki_mdoc::trust::Roots::from_pem_or_der(&pem).map_err(|e| iaca_error(e.to_string()))?;
    let (reader, status) = match sandbox {
        Some(issuer) => {
            let reader = match reader {
                Some(r) => r,
                None => {
                    let issued = issuer.issue_reader_certificate(SANDBOX_PLATFORM_NAME, SANDBOX_PLATFORM_DNS, true).await?;
                    ReaderCredential { key: issued.key, chain: vec![issued.certificate_der], dns_name: SANDBOX_PLATFORM_DNS.into(), number_act: true }
                }
            };
            let source = InProcessStatusList { runtime: tokio::runtime::Handle::current(), issuer };
            (Some(reader), StatusLists::new(Box::new(source), false))
        }
        None => (reader, StatusLists::new(Box::new(HttpStatusLists::new(OUTSIDE_TIMEOUT)), true)),
    };
    tracing::info!("card-substitute record presentations: {} IACA roots in {}", roots.iter().count(), path.display());
    Ok(Some(MdocService { verifier: PresentationVerifier { iaca: roots, status }, reader }))
}
