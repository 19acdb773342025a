//! `jpki serve`: the HTTP server. With `--sandbox` it serves the sandbox issuer (CRLs, OCSP,
//! latest-4-info provision) and publishes a fresh CRL every day, as J-LIS does.

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use clap::Args;
use jpki_issuer::crl::{crl_path, CRL_LIFETIME};
use jpki_issuer::http::IssuerService;
use jpki_issuer::meter::Meter;
use jpki_issuer::ocsp::OcspResponder;
use jpki_issuer::{CaRole, Issuer};

use crate::context::{CliError, CliResult, Context};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve the sandbox issuer (initializing it on first run).
    #[arg(long)]
    sandbox: bool,
}

pub async fn run(ctx: &Context, args: ServeArgs) -> CliResult {
    let mut app = Router::new().route("/healthz", get(|| async { "ok\n" }));
    if args.sandbox {
        let (issuer, _) = Issuer::init(ctx.database(true).await?).await?;
        ctx.export_trust(&issuer)?;
        let crl_dir = ctx.crl_dir();
        for role in CaRole::ALL {
            if !crl_path(&crl_dir, role).exists() {
                issuer.publish_crl(role, &crl_dir).await?;
            }
        }
        let meter = Meter::start(issuer.db().clone());
        let responder = OcspResponder::start(issuer.clone(), meter.clone()).await?;
        tokio::spawn(publish_daily(issuer.clone(), crl_dir.clone()));
        app = app.merge(jpki_issuer::http::router(IssuerService { issuer, responder, meter, crl_dir }));
    } else {
        tracing::warn!("no --sandbox: only /healthz is served until the platform API is configured");
    }
    let app = app.layer(tower_http::trace::TraceLayer::new_for_http());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
    let local = listener.local_addr().map_err(|e| CliError::Usage(e.to_string()))?;
    crate::output::stdout(&format!("listening on http://{local}\n"));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| CliError::Usage(format!("server failed: {e}")))?;
    Ok(())
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
