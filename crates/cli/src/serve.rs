//! `jpki serve`: the flags of the HTTP server, which the server crate composes and runs. It always
//! serves the platform operator's API (`/v1`, `/openapi.json`); with `--sandbox` also the sandbox issuer
//! (CRLs, OCSP, latest-4-info provision), publishing a fresh CRL every day as J-LIS does, and the
//! platform then trusts the sandbox's CAs and asks its OCSP responder.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use jpki_platform::presentations::ReaderCredential;
use jpki_server::listen::Limits;
use jpki_server::transport::CrlLocation;
use jpki_server::{IacaRoots, SandboxConfig, Server, ServerConfig};

use crate::context::{CliError, CliResult, Context};

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
    /// CRL files (DER; a directory stands for its `.crl` files, listed anew at each ingestion) of the CAs, ingested into the database at start and every day at --crl-at, with
    /// --crl-url's as one set (a CA's partitions together). Repeatable.
    #[arg(long)]
    crl: Vec<std::path::PathBuf>,
    /// CRL URLs (HTTP or HTTPS), read as --crl's are: J-LIS publishes each CA's list every day. Repeatable.
    #[arg(long)]
    crl_url: Vec<String>,
    /// Time of day, in Japan Standard Time (HH:MM), of the daily CRL ingestion.
    #[arg(long, default_value = "06:00", value_parser = parse_time_of_day)]
    crl_at: time::Time,
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
    /// Where clients reach this server, e.g. https://id.example.jp: the OpenID Connect issuer is this
    /// URL and /api/realms/main. Default: the global --sandbox-url with --sandbox, else the address
    /// it listens on.
    #[arg(long, env = "JPKI_PUBLIC_URL", value_parser = parse_public_url)]
    public_url: Option<String>,
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

fn parse_public_url(s: &str) -> Result<String, String> {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).ok_or_else(|| format!("{s:?} is not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.contains(['?', '#']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{s:?} must be a scheme, a host and at most a path: no query, fragment or spaces"));
    }
    Ok(s.trim_end_matches('/').to_owned())
}

fn parse_time_of_day(s: &str) -> Result<time::Time, String> {
    time::Time::parse(s, time::macros::format_description!("[hour]:[minute]")).map_err(|e| format!("{s:?} is not a time of day as HH:MM: {e}"))
}

pub async fn run(ctx: &Context, args: ServeArgs) -> CliResult {
    let db = &ctx.database(true).await?;
    let reader = match (&args.reader_cert, &args.reader_key) {
        (Some(cert), Some(key)) => Some(reader_credential(cert, key)?),
        _ => None,
    };
    let config = ServerConfig {
        listen: args.listen,
        public_url: args.public_url,
        sandbox: args.sandbox.then(|| SandboxConfig { public_url: ctx.sandbox_url.clone(), crl_dir: ctx.crl_dir(), trust_export_dir: ctx.trust_dir() }),
        trust_dir: args.trust.unwrap_or_else(|| ctx.trust_dir()),
        ocsp_url: args.ocsp_url,
        crls: args.crl.into_iter().map(CrlLocation::File).chain(args.crl_url.into_iter().map(CrlLocation::Url)).collect(),
        crl_at: args.crl_at,
        admin_token: args.admin_token,
        iaca: match args.iaca {
            Some(path) => IacaRoots::Required(path),
            None => IacaRoots::IfPresent(ctx.trust_dir().join("iaca.pem")),
        },
        reader,
        tls: args.tls_cert.zip(args.tls_key),
        limits: Limits {
            max_connections: args.max_connections as usize,
            idle_timeout: Duration::from_secs(args.idle_timeout),
            body_timeout: Duration::from_secs(args.body_timeout),
            max_body_bytes: args.max_body_bytes as usize,
        },
    };
    let server = Server::bind(config, db).await.map_err(|e| CliError::Usage(e.to_string()))?;
    crate::output::stdout(&format!("listening on {}\n", server.url()));
    server.serve(shutdown_signal()).await;
    Ok(())
}

/// The platform's reader certificate from files: the client id is its first subjectAltName DNS name.
fn reader_credential(cert: &std::path::Path, key: &std::path::Path) -> CliResult<ReaderCredential> {
    let files = crate::mdoc::reader_files(cert, key)?;
    let dns_name = files.dns_name.ok_or_else(|| CliError::Usage(format!("reader certificate {} names no DNS name (subjectAltName)", cert.display())))?;
    Ok(ReaderCredential { key: files.key, chain: files.chain, dns_name, number_act: files.number_act })
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
