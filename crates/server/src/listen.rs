//! Serving connections: HTTP/1.1, plain or over TLS, with the limits a server that faces the Internet
//! needs — what nginx calls `worker_connections`, `client_header_timeout`/`keepalive_timeout`,
//! `client_body_timeout` and `client_max_body_size`:
//!
//! - at most [`Limits::max_connections`] connections at once; past that the server stops accepting
//!   (the kernel's backlog holds the rest) and says so in the log, until one ends;
//! - a connection waiting for a request, new or kept alive after an answer, is closed when that
//!   request's head has not arrived in full within [`Limits::idle_timeout`] (a TLS handshake too);
//! - a body must arrive in full within [`Limits::body_timeout`] of its head (408), and be no larger
//!   than [`Limits::max_body_bytes`]: a larger declared `Content-Length` is refused at once (413),
//!   before any of it is read;
//! - a request, once its body is in, runs to completion on a task of its own: a client that hangs up
//!   does not cancel work half-way (a write between its BEGIN and COMMIT, say). An answer is only
//!   sent after the work is done, so an answer of success still means committed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// How long the server waits, once told to stop, for the requests under way before it closes their
/// connections.
const GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub body_timeout: Duration,
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_connections: 1024, idle_timeout: Duration::from_secs(30), body_timeout: Duration::from_secs(30), max_body_bytes: 2 * 1024 * 1024 }
    }
}

/// What the server counts of its connections (for `/metrics`).
#[derive(Debug, Clone, Default)]
pub struct ConnectionMetrics {
    pub open: Gauge,
    /// Times the server stopped accepting because [`Limits::max_connections`] were open.
    pub limit_reached: Counter,
}

/// Serves `app` on `listener` until `shutdown` completes, then finishes the requests under way (for at
/// most [`GRACE`]) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    metrics: ConnectionMetrics,
    shutdown: impl Future<Output = ()>,
) {
    let app = guarded(app, &limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                metrics.limit_reached.inc();
                tracing::warn!("connection limit reached: {} connections are open; new ones wait until one closes (--max-connections)", limits.max_connections);
                tokio::select! {
                    permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                    () = &mut shutdown => break,
                }
            }
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, most often: wait for some to be released.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (app, tls, metrics, stopping, idle) = (app.clone(), tls.clone(), metrics.clone(), stopping.clone(), limits.idle_timeout);
        tokio::spawn(async move {
            metrics.open.inc();
            connection(stream, tls, app, idle, stopping).await;
            metrics.open.dec();
            drop(permit);
        });
    }
    let _ = stop.send(true);
    drop(listener);
    // Every slot back means every connection has ended.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(GRACE + Duration::from_secs(1), slots.acquire_many(all)).await.is_err() {
        tracing::warn!("connections still open {} s after the stop began; closing them", GRACE.as_secs());
    }
}

async fn connection(stream: tokio::net::TcpStream, tls: Option<tokio_rustls::TlsAcceptor>, app: Router, idle: Duration, stopping: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => http(TokioIo::new(stream), app, idle, stopping).await,
        Some(acceptor) => match tokio::time::timeout(idle, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => http(TokioIo::new(stream), app, idle, stopping).await,
            Ok(Err(e)) => tracing::debug!("TLS handshake failed: {e}"),
            Err(_) => tracing::debug!("TLS handshake not done within {} s", idle.as_secs()),
        },
    }
}

async fn http<I>(io: I, app: Router, idle: Duration, mut stopping: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper_util::service::TowerToHyperService::new(app);
    // hyper starts the head timer whenever the connection waits for a request: it is the keep-alive
    // idle timeout as well (hyper's proto/h1/conn.rs, `read_head`).
    let conn = hyper::server::conn::http1::Builder::new().timer(TokioTimer::new()).header_read_timeout(idle).serve_connection(io, service);
    tokio::pin!(conn);
    let stop = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    tokio::select! {
        done = conn.as_mut() => {
            if let Err(e) = done {
                tracing::debug!("connection ended: {e}");
            }
        }
        () = stop => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(GRACE, conn).await;
        }
    }
}

/// `app` behind the request limits: the body read in full first (within its size and time), then the
/// handler run on a task of its own.
fn guarded(app: Router, limits: &Limits) -> Router {
    let body = BodyLimits { max_bytes: limits.max_body_bytes, timeout: limits.body_timeout };
    app.layer(DefaultBodyLimit::max(limits.max_body_bytes)).layer(axum::middleware::from_fn_with_state(body, guard))
}

#[derive(Clone, Copy)]
struct BodyLimits {
    max_bytes: usize,
    timeout: Duration,
}

async fn guard(State(limits): State<BodyLimits>, request: Request, next: Next) -> Response {
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes as u64) {
        return too_large(limits.max_bytes);
    }
    let (parts, body) = request.into_parts();
    let read = http_body_util::Limited::new(body, limits.max_bytes).collect();
    let bytes = match tokio::time::timeout(limits.timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(limits.max_bytes),
        Ok(Err(e)) => return closing(error(StatusCode::BAD_REQUEST, "body_unreadable", format!("the request body could not be read: {e}"))),
        Err(_) => {
            let message = format!("the request body did not arrive in full within {} s", limits.timeout.as_secs());
            return closing(error(StatusCode::REQUEST_TIMEOUT, "body_timeout", message));
        }
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!("a request's task failed: {e}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the request failed inside the server")
        }
    }
}

fn too_large(max: usize) -> Response {
    closing(error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("the request body is larger than this server accepts ({max} bytes)")))
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    crate::error::ApiError::new(status, code, message).into_response()
}

/// Tells the client the connection ends after this answer: the rest of its body is not read.
fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate chain {path}: {source}")]
    Certificates { path: String, source: rustls_pki_types::pem::Error },
    #[error("cannot read the TLS certificate's private key {path} (PEM: PKCS#8, PKCS#1 or SEC1): {source}")]
    Key { path: String, source: rustls_pki_types::pem::Error },
    #[error("the TLS certificate and key do not make a server configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A TLS acceptor for a certificate chain (PEM, leaf first) and its private key (PEM), offering
/// HTTP/1.1 by ALPN.
pub fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certificates = |source| TlsError::Certificates { path: cert.display().to_string(), source };
    let chain = CertificateDer::pem_file_iter(cert).map_err(certificates)?.collect::<Result<Vec<_>, _>>().map_err(certificates)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key { path: key.display().to_string(), source })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config =
        rustls::ServerConfig::builder_with_provider(provider).with_safe_default_protocol_versions()?.with_no_client_auth().with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
