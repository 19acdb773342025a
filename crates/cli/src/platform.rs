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
    let PlatformCommand::Crl(command) = command;
    let db = ctx.database(true).await?;
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
