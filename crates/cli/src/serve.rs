//! `jpki serve`: the HTTP server. It always serves the platform operator's API (`/v1`, `/openapi.json`);
//! with `--sandbox` also the sandbox issuer (CRLs, OCSP, latest-4-info provision), publishing a fresh CRL
//! every day as J-LIS does, and the platform then trusts the sandbox's CAs and asks its OCSP responder.

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use clap::Args;
use jpki_issuer::crl::{crl_path, CRL_LIFETIME};
use jpki_issuer::http::IssuerService;
use jpki_issuer::meter::Meter;
use jpki_issuer::ocsp::OcspResponder;
use jpki_issuer::{CaRole, Issuer};

use jpki_platform::api::PlatformState;
use jpki_platform::presentations::{MdocService, ReaderCredential};
use jpki_server::listen;
use jpki_verify::presentation::{HttpStatusListSource, PresentationVerifier, StatusLists};
use jpki_verify::revocation::{HttpTransport, OcspChecker};

use crate::context::{CliError, CliResult, Context};

/// The sandbox platform's reader certificate: who the wallet is told signs its requests.
const SANDBOX_PLATFORM_NAME: &str = "openjpki sandbox platform";
const SANDBOX_PLATFORM_DNS: &str = "localhost";

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve the sandbox issuer (initializing it on first run).
    #[arg(long)]
    sandbox: bool,
    /// Trust anchors for verification (J-LIS's CA certificates in production, e.g. trust-anchors/jlis);
    /// default <data-dir>/trust, where --sandbox exports its CAs.
    #[arg(long)]
    trust: Option<std::path::PathBuf>,
    /// The OCSP responder verifications ask; with --sandbox, the sandbox's own. Without one, every
    /// verification is not valid (revocation checks fail closed).
    #[arg(long, env = "JPKI_OCSP_URL")]
    ocsp_url: Option<String>,
    /// CRLs (DER files) of the CAs, used when OCSP gives no answer; re-read every hour (J-LIS publishes
    /// one a day). Repeatable.
    #[arg(long)]
    crl: Vec<std::path::PathBuf>,
    /// Serve HTTPS (rustls) with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// IACA root certificates (PEM) of the card-substitute record's issuers; default
    /// <data-dir>/trust/iaca.pem when it exists (--sandbox exports its own). Without any, /v1/mdoc is off.
    #[arg(long)]
    iaca: Option<std::path::PathBuf>,
    /// The platform's reader certificate (PEM, leaf first), which signs Digital Credentials API
    /// requests; with --sandbox one is issued by the sandbox reader CA.
    #[arg(long, requires = "reader_key")]
    reader_cert: Option<std::path::PathBuf>,
    /// The private key (PKCS#8 DER) of --reader-cert.
    #[arg(long, requires = "reader_cert")]
    reader_key: Option<std::path::PathBuf>,
    /// Token of the admin API (tenants and keys); without it the admin API is disabled.
    #[arg(long, env = "JPKI_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Most connections served at once; past it new ones wait in the kernel's queue until one closes
    /// (logged each time it is reached).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,
    /// Seconds a connection may wait for a request's head to arrive in full, new or kept alive after an
    /// answer (the header read and keep-alive idle timeout; also the TLS handshake's).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    idle_timeout: u64,
    /// Seconds a request's body may take to arrive in full after its head (408 after that).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: u64,
    /// Largest request body in bytes; a larger declared Content-Length is refused at once (413).
    #[arg(long, default_value_t = 2 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1024..=1 << 30))]
    max_body_bytes: u64,
}

pub async fn run(ctx: &Context, args: ServeArgs) -> CliResult {
    let db = &ctx.database(true).await?;
    let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
    let local = listener.local_addr().map_err(|e| CliError::Usage(e.to_string()))?;
    let mut app = Router::new().route("/healthz", get(|| async { "ok\n" })).merge(jpki_server::web::router(args.sandbox));
    let mut sandbox_ocsp = None;
    let mut sandbox_issuer = None;
    if args.sandbox {
        let (issuer, _) = Issuer::init(db.clone()).await?;
        let issuer = issuer.with_public_url(&ctx.sandbox_url.clone().unwrap_or_else(|| format!("http://{local}")));
        ctx.export_trust(&issuer)?;
        let crl_dir = ctx.crl_dir();
        for role in CaRole::ALL {
            if !crl_path(&crl_dir, role).exists() {
                issuer.publish_crl(role, &crl_dir).await?;
            }
        }
        let meter = Meter::start(issuer.db().clone());
        let responder = OcspResponder::start(issuer.clone(), meter.clone()).await?;
        sandbox_ocsp = Some(responder.clone());
        ctx.export_mdoc_trust(&issuer).await?;
        sandbox_issuer = Some(issuer.clone());
        tokio::spawn(publish_daily(issuer.clone(), crl_dir.clone()));
        app = app.merge(jpki_issuer::http::router(IssuerService { issuer, responder, meter, crl_dir }));
    }
    let ocsp = match (args.ocsp_url, sandbox_ocsp) {
        (Some(url), _) => Some(OcspChecker::new(url, Box::new(HttpTransport::new(std::time::Duration::from_secs(10))))),
        (None, Some(responder)) => {
            let transport = jpki_issuer::ocsp::InProcessTransport { runtime: tokio::runtime::Handle::current(), responder };
            Some(OcspChecker::new(format!("http://{local}/issuer/ocsp"), Box::new(transport)))
        }
        (None, None) => None,
    };
    let reader = match (&args.reader_cert, &args.reader_key) {
        (Some(cert), Some(key)) => Some(reader_credential(cert, key)?),
        _ => None,
    };
    let mdoc = mdoc_service(ctx, args.iaca, reader, sandbox_issuer).await?;
    let (platform, connections) = platform_router(ctx, db, args.trust, ocsp, args.crl, args.admin_token.as_deref(), mdoc).await?;
    let app = app.merge(platform).layer(tower_http::trace::TraceLayer::new_for_http());
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(listen::tls_acceptor(cert, key).map_err(|e| CliError::Usage(e.to_string()))?),
        _ => None,
    };
    let limits = listen::Limits {
        max_connections: args.max_connections as usize,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        body_timeout: Duration::from_secs(args.body_timeout),
        max_body_bytes: args.max_body_bytes as usize,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    crate::output::stdout(&format!("listening on {scheme}://{local}\n"));
    listen::serve(listener, app, limits, tls, connections, shutdown_signal()).await;
    Ok(())
}

/// The sandbox's own OCSP responder, asked in-process by the platform (the same request and response
/// bytes as over HTTP, without a round trip to ourselves).
async fn platform_router(
    ctx: &Context,
    db: &jpki_store::Database,
    trust: Option<std::path::PathBuf>,
    ocsp: Option<OcspChecker>,
    crl_files: Vec<std::path::PathBuf>,
    admin_token: Option<&str>,
    mdoc: Option<MdocService>,
) -> CliResult<(Router, listen::ConnectionMetrics)> {
    let trust_dir = trust.unwrap_or_else(|| ctx.trust_dir());
    let trust = jpki_verify::TrustStore::from_dir(&trust_dir).map_err(|e| CliError::Usage(format!("{e} (give --trust DIR, or --sandbox)")))?;
    for path in trust.skipped() {
        tracing::debug!("{} holds no JPKI CA certificate; signatures and logins do not use it", path.display());
    }
    match &ocsp {
        Some(ocsp) => tracing::info!("verifying against {} trust anchors in {}, OCSP {}", trust.anchors().len(), trust_dir.display(), ocsp.url()),
        None => tracing::warn!("no OCSP responder (--ocsp-url): every verification will fail closed"),
    }
    if admin_token.is_none() {
        tracing::warn!("no JPKI_ADMIN_TOKEN: the admin API (tenants, keys) is disabled");
    }
    let crls = std::sync::Arc::new(jpki_verify::revocation::CrlStore::default());
    for path in &crl_files {
        ingest_crl(&crls, path, &trust).map_err(CliError::Usage)?;
    }
    if !crl_files.is_empty() {
        tokio::spawn(reload_crls(crls.clone(), crl_files, trust.clone()));
    }
    let mut state = PlatformState::new(db.clone(), jpki_verify::Verifier { trust, ocsp, crls }, admin_token);
    if let Some(mdoc) = mdoc {
        state = state.with_mdoc(mdoc);
    }
    let (open, limit_reached) = state.metrics.connections();
    Ok((jpki_platform::api::router(std::sync::Arc::new(state)), listen::ConnectionMetrics { open, limit_reached }))
}

/// The platform's reader certificate from files: the client id is its first subjectAltName DNS name.
fn reader_credential(cert: &std::path::Path, key: &std::path::Path) -> CliResult<ReaderCredential> {
    let files = crate::mdoc::reader_files(cert, key)?;
    let dns_name = files.dns_name.ok_or_else(|| CliError::Usage(format!("reader certificate {} names no DNS name (subjectAltName)", cert.display())))?;
    Ok(ReaderCredential { key: files.key, chain: files.chain, dns_name, number_act: files.number_act })
}

/// The presentation verifier: IACA roots, the platform's reader certificate, and the records' status
/// lists (the sandbox issuer's in-process, always current; others over HTTP, kept until they expire).
async fn mdoc_service(
    ctx: &Context,
    iaca: Option<std::path::PathBuf>,
    reader: Option<ReaderCredential>,
    sandbox: Option<Issuer>,
) -> CliResult<Option<MdocService>> {
    let path = iaca.clone().unwrap_or_else(|| ctx.trust_dir().join("iaca.pem"));
    if iaca.is_none() && !path.exists() {
        tracing::warn!("no IACA roots ({}): /v1/mdoc is disabled", path.display());
        return Ok(None);
    }
    let roots = jpki_mdoc::trust::Roots::from_pem_or_der(&crate::mdoc::read(&path, "the IACA roots")?)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    let (reader, status) = match sandbox {
        Some(issuer) => {
            let reader = match reader {
                Some(r) => r,
                None => {
                    let issued = issuer.issue_reader_certificate(SANDBOX_PLATFORM_NAME, SANDBOX_PLATFORM_DNS, true).await?;
                    ReaderCredential { key: issued.key, chain: vec![issued.certificate_der], dns_name: SANDBOX_PLATFORM_DNS.into(), number_act: true }
                }
            };
            let source = jpki_issuer::mdoc_pki::InProcessStatusList { runtime: tokio::runtime::Handle::current(), issuer };
            (Some(reader), StatusLists::new(Box::new(source), false))
        }
        None => (reader, StatusLists::new(Box::new(HttpStatusListSource::new(std::time::Duration::from_secs(10))), true)),
    };
    tracing::info!("card-substitute record presentations: {} IACA roots in {}", roots.iter().count(), path.display());
    Ok(Some(MdocService { verifier: PresentationVerifier { iaca: roots, status }, reader }))
}

fn ingest_crl(crls: &jpki_verify::revocation::CrlStore, path: &std::path::Path, trust: &jpki_verify::TrustStore) -> Result<(), String> {
    let der = std::fs::read(path).map_err(|e| format!("cannot read CRL {}: {e}", path.display()))?;
    let summary = crls.ingest(&der, trust, time::OffsetDateTime::now_utc()).map_err(|e| format!("{}: {e}", path.display()))?;
    tracing::info!("CRL {}: {} entries, next update {:?}", path.display(), summary.entries, summary.next_update);
    Ok(())
}

/// Re-reads the CRL files every hour; a file that cannot be read or verified keeps the list held before.
async fn reload_crls(crls: std::sync::Arc<jpki_verify::revocation::CrlStore>, files: Vec<std::path::PathBuf>, trust: jpki_verify::TrustStore) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        for path in &files {
            let (crls, path, trust) = (crls.clone(), path.clone(), trust.clone());
            match tokio::task::spawn_blocking(move || ingest_crl(&crls, &path, &trust)).await {
                Ok(Err(e)) => tracing::warn!("{e}"),
                Err(e) => tracing::warn!("CRL reload task failed: {e}"),
                Ok(Ok(())) => {}
            }
        }
    }
}

async fn publish_daily(issuer: Issuer, dir: std::path::PathBuf) {
    let period = std::time::Duration::from_secs(CRL_LIFETIME.whole_seconds().unsigned_abs());
    loop {
        tokio::time::sleep(period).await;
        for role in CaRole::ALL {
            match issuer.publish_crl(role, &dir).await {
                Ok(s) => tracing::info!(crl = %s.path.display(), entries = s.entries, number = s.number, "published CRL"),
                Err(e) => tracing::error!(error = %e, "CRL publication failed"),
            }
        }
    }
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
