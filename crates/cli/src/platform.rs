//! `jpki platform`: the platform operator's own jobs, run by hand (the server runs them daily).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;
use jpki_server::transport::CrlLocation;
use jpki_verify::TrustStore;

use crate::context::{CliError, CliResult, Context};
use crate::output::emit;

#[derive(Subcommand)]
pub enum PlatformCommand {
    /// The CRL generations the platform verifies against and watches customers with.
    #[command(subcommand)]
    Crl(CrlCommand),
    /// The OpenID Connect provider: tenants' clients and the ID-token signing keys.
    #[command(subcommand)]
    Oidc(OidcCommand),
}

#[derive(Subcommand)]
pub enum OidcCommand {
    /// Register a client (relying party) for a tenant: with --jwks it authenticates by private_key_jwt,
    /// else by client_secret_basic with a secret printed once.
    AddClient {
        /// The tenant (tenant_…).
        #[arg(long)]
        tenant: String,
        /// The client's name, as the user will see it when asked to approve.
        #[arg(long)]
        name: String,
        /// A redirect URI, matched exactly: https://, or http:// on a loopback address. Repeatable.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// The scopes it may ask for, space-separated: openid plus name, address, birthdate, gender, sign.
        #[arg(long, default_value = "openid")]
        scope: String,
        /// The client's public keys, a JWK Set (JSON file).
        #[arg(long)]
        jwks: Option<PathBuf>,
        /// Take any http:// redirect URI, as a sandbox server does.
        #[arg(long)]
        sandbox: bool,
    },
    /// A tenant's clients.
    Clients {
        /// The tenant (tenant_…).
        #[arg(long)]
        tenant: String,
    },
    /// Remove a tenant's client.
    RemoveClient {
        /// The tenant (tenant_…) whose client it is.
        #[arg(long)]
        tenant: String,
        /// The client's client_id.
        client_id: String,
    },
    /// Make a new ID-token signing key; the one it replaces stays published for two days.
    RotateKey,
}

#[derive(Subcommand)]
pub enum CrlCommand {
    /// Read CRLs (a CA's partitions together) into a new generation: verified against the trust anchors,
    /// refused whole on any problem (the generation held before stays), and switched in whole.
    Ingest {
        /// A CRL file (DER), or a directory whose `.crl` files are all read. Repeatable.
        #[arg(long)]
        file: Vec<PathBuf>,
        /// A CRL URL (HTTP or HTTPS), streamed. Repeatable.
        #[arg(long)]
        url: Vec<String>,
        /// The trust anchors the CRLs must be signed by; default <data-dir>/trust.
        #[arg(long)]
        trust: Option<PathBuf>,
    },
    /// The generation in force of each CA.
    Status,
}

pub async fn run(ctx: &Context, command: PlatformCommand) -> CliResult {
    let db = ctx.database(true).await?;
    let command = match command {
        PlatformCommand::Crl(command) => command,
        PlatformCommand::Oidc(command) => return oidc(ctx, &db, command).await,
    };
    match command {
        CrlCommand::Ingest { file, url, trust } => {
            let locations: Vec<CrlLocation> = file.into_iter().map(CrlLocation::File).chain(url.into_iter().map(CrlLocation::Url)).collect();
            if locations.is_empty() {
                return Err(CliError::Usage("give at least one --file or --url".into()));
            }
            let trust_dir = trust.unwrap_or_else(|| ctx.trust_dir());
            let trust = TrustStore::from_dir(&trust_dir).map_err(|e| CliError::Usage(format!("trust anchors {}: {e}", trust_dir.display())))?;
            let bar = progress_bar();
            let shown = bar.clone();
            let progress = Arc::new(move |name: &str, bytes: u64| {
                shown.set_message(name.to_owned());
                shown.set_position(bytes);
            });
            let metrics = jpki_platform::metrics::Metrics::default();
            let ingested = jpki_server::jobs::ingest_crls(&db, &trust, &locations, progress, &metrics).await;
            bar.finish_and_clear();
            let generations = ingested.map_err(|e| CliError::Usage(e.to_string()))?;
            emit(ctx, &generations, || {
                generations
                    .iter()
                    .map(|g| {
                        format!(
                            "{}: generation {} in force, CRL number {}, {} CRL(s), {} entries ({} new), {} change event(s)",
                            g.issuer,
                            g.generation,
                            g.crl_number.as_deref().unwrap_or("-"),
                            g.partitions,
                            g.entries,
                            g.new_entries,
                            g.changes
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        CrlCommand::Status => {
            let held = jpki_platform::revocation_lists::held(&db).await.map_err(|e| CliError::Usage(e.to_string()))?;
            emit(ctx, &held, || {
                if held.is_empty() {
                    return "no CRL generation held".into();
                }
                held.iter()
                    .map(|g| {
                        format!(
                            "{}: generation {}, CRL number {}, {} entries, next update {}",
                            g.issuer,
                            g.generation,
                            g.crl_number.as_deref().unwrap_or("-"),
                            g.entries,
                            crate::output::time(g.next_update)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

async fn oidc(ctx: &Context, db: &jpki_store::Database, command: OidcCommand) -> CliResult {
    use jpki_platform::oidc::clients::{self, AuthMethod, ClientMetadata};
    let failed = |e: jpki_platform::PlatformError| CliError::Usage(e.to_string());
    let describe = |c: &clients::Client| {
        format!("{} {} ({}, {}): {}", c.client_id, c.client_name, c.token_endpoint_auth_method.as_str(), c.scope, c.redirect_uris.join(" "))
    };
    match command {
        OidcCommand::AddClient { tenant, name, redirect_uris, scope, jwks, sandbox } => {
            let jwks = jwks
                .map(|path| {
                    let text = std::fs::read(&path).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
                    serde_json::from_slice(&text).map_err(|e| CliError::Usage(format!("{} is not JSON: {e}", path.display())))
                })
                .transpose()?;
            let token_endpoint_auth_method = if jwks.is_some() { AuthMethod::PrivateKeyJwt } else { AuthMethod::ClientSecretBasic };
            let meta = ClientMetadata { client_name: name, redirect_uris, scope: Some(scope), token_endpoint_auth_method, jwks };
            let registered = clients::register(db, &tenant, meta.check(sandbox).map_err(failed)?).await.map_err(failed)?;
            emit(ctx, &registered, || match &registered.client_secret {
                Some(secret) => format!("{}\nclient secret (shown once): {secret}", describe(&registered.client)),
                None => describe(&registered.client),
            });
        }
        OidcCommand::Clients { tenant } => {
            let listed = clients::list(db, &tenant).await.map_err(failed)?;
            emit(ctx, &listed, || {
                if listed.is_empty() {
                    format!("tenant {tenant} has no client")
                } else {
                    listed.iter().map(describe).collect::<Vec<_>>().join("\n")
                }
            });
        }
        OidcCommand::RemoveClient { tenant, client_id } => {
            clients::delete(db, &tenant, &client_id).await.map_err(failed)?;
            emit(ctx, &serde_json::json!({ "removed": client_id }), || format!("removed client {client_id}"));
        }
        OidcCommand::RotateKey => {
            let key = jpki_platform::oidc::keys::rotate(db, time::OffsetDateTime::now_utc()).await.map_err(failed)?;
            emit(ctx, &serde_json::json!({ "kid": key.kid }), || format!("new signing key {} (the one it replaces stays published for two days)", key.kid));
        }
    }
    Ok(())
}

/// Bytes read, on a terminal only (hidden into a pipe or a file).
fn progress_bar() -> indicatif::ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {msg}: {bytes} read ({bytes_per_sec})").expect("a valid template"));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
