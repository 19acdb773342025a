//! `jpki`: the openjpki command line. A thin layer over the library crates.
#![deny(unsafe_code)]

mod app;
mod card;
mod context;
mod inspect;
mod mdoc;
mod output;
mod platform;
mod sandbox;
mod serve;
mod signing;

/// glibc's malloc took about a tenth of the server's CPU under load (arena locking and consolidation
/// across the runtime's and the blocking pool's threads); mimalloc's thread-local heaps avoid that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "jpki", version, about = "openjpki: Japan's My Number Card ecosystem (JPKI) for relying parties and platform operators")]
pub struct Cli {
    /// Where openjpki keeps its database, trust anchors and CRLs.
    #[arg(long, global = true, help_heading = "Global options", env = "JPKI_DATA_DIR", default_value = "./jpki-data")]
    data_dir: PathBuf,
    /// Database URL (sqlite://… or postgres://…); defaults to SQLite inside the data directory.
    #[arg(long, global = true, help_heading = "Global options", env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long, global = true, help_heading = "Global options")]
    json: bool,
    /// Where the sandbox server (`jpki serve --sandbox`) is reached: the phones' records name their status
    /// list under it, so that `jpki mdoc verify` fetches it. Default http://127.0.0.1:8080, and for
    /// `jpki serve` the address it listens on.
    #[arg(long, global = true, help_heading = "Global options", env = "JPKI_SANDBOX_URL")]
    sandbox_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The simulated issuer (J-LIS, the resident registry and municipalities) for testing without real cards.
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
    /// A My Number card: in a PC/SC reader, or a virtual one (emulate).
    #[command(subcommand)]
    Card(card::CardCommand),
    /// Sign a file with the card's signature key: a CMS SignedData (.p7s).
    Sign(signing::SignArgs),
    /// Verify a CMS SignedData against trust anchors, with OCSP when a responder is given.
    Verify(signing::VerifyArgs),
    /// The platform's audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run the server (the sandbox issuer with --sandbox).
    Serve(serve::ServeArgs),
    /// The platform operator's jobs: CRL ingestion.
    #[command(subcommand)]
    Platform(platform::PlatformCommand),
    /// The smartphone wallet: present the card-substitute record with the holder's consent.
    #[command(subcommand)]
    Wallet(mdoc::WalletCommand),
    /// Ask for and verify card-substitute records (ISO/IEC 18013-5 mdoc over OpenID4VP).
    #[command(subcommand)]
    Mdoc(mdoc::MdocCommand),
    /// Inspect certificates.
    #[command(subcommand)]
    Cert(inspect::CertCommand),
    /// Inspect CRLs.
    #[command(subcommand)]
    Crl(inspect::CrlCommand),
    /// The companion app: answer an OpenID Connect login or signature with a card or phone.
    #[command(subcommand)]
    App(app::AppCommand),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain of the audit log.
    Verify,
}

async fn audit(ctx: &context::Context, command: AuditCommand) -> context::CliResult {
    match command {
        AuditCommand::Verify => {
            let report = jpki_platform::audit::verify(&ctx.database(false).await?).await.map_err(|e| context::CliError::Usage(e.to_string()))?;
            output::emit(ctx, &report, || format!("audit log intact: {} entries, head {}", report.entries, report.head));
            Ok(())
        }
    }
}

/// Returns what this thread's heap has freed to the OS whenever a runtime thread goes idle, so that
/// memory taken by a burst (a flood of connections) does not stay with the process: mimalloc otherwise
/// keeps freed pages in each thread's heap for reuse.
#[allow(unsafe_code)]
fn give_back_freed_memory() {
    // SAFETY: mi_collect only walks and releases the calling thread's mimalloc heap (the global
    // allocator of this binary); it takes no pointers and may be called at any time on any thread.
    unsafe { libmimalloc_sys::mi_collect(false) }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Two rustls providers are linked (aws-lc-rs for the server, ring for ureq's client): TLS in this
    // process uses aws-lc-rs, the crypto library of the rest of openjpki.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let default_level = if matches!(cli.command, Command::Serve(_) | Command::Card(card::CardCommand::Emulate { .. })) { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never into a file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().on_thread_park(give_back_freed_memory).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = cli.json;
    let ctx = context::Context::new(cli.data_dir, cli.database_url, cli.json, cli.sandbox_url);
    let result = runtime.block_on(async {
        let result = match cli.command {
            Command::Sandbox(cmd) => sandbox::run(&ctx, cmd).await,
            Command::Serve(args) => serve::run(&ctx, args).await,
            Command::Platform(cmd) => platform::run(&ctx, cmd).await,
            Command::Card(cmd) => card::run(&ctx, cmd).await,
            Command::Sign(args) => signing::sign(&ctx, args),
            Command::Audit(cmd) => audit(&ctx, cmd).await,
            Command::Verify(args) => signing::verify(&ctx, args),
            Command::Cert(cmd) => inspect::run(&ctx, cmd).await,
            Command::Crl(cmd) => inspect::run_crl(&ctx, cmd),
            Command::App(cmd) => app::run(&ctx, cmd),
            Command::Wallet(mdoc::WalletCommand::Present(args)) => mdoc::present(&ctx, args),
            Command::Mdoc(mdoc::MdocCommand::Request(args)) => mdoc::request(&ctx, args),
            Command::Mdoc(mdoc::MdocCommand::Verify(args)) => mdoc::verify(&ctx, args),
            Command::Mdoc(mdoc::MdocCommand::Read(args)) => mdoc::read_in_person(&ctx, args),
            Command::Wallet(mdoc::WalletCommand::Engage(args)) => mdoc::engage(&ctx, args),
        };
        ctx.close().await;
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if json => {
            eprintln!("{}", serde_json::json!({ "error": { "message": e.to_string() } }));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every option and argument of every command says what it is, and no text numbers use cases the
    /// reader was never told about.
    #[test]
    fn every_option_of_every_command_is_described() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                if help.trim().is_empty() {
                    missing.push(format!("{path} --{id}"));
                }
                if help.contains('④') || help.contains('⑤') || help.contains('①') {
                    missing.push(format!("{path} --{id}: internal numbering in {help:?}"));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {}: no description", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let command = super::Cli::command();
        command.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&command, "jpki", &mut missing);
        assert!(missing.is_empty(), "{} undescribed:\n{}", missing.len(), missing.join("\n"));
    }
}
