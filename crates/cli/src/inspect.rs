//! `jpki cert show` and `jpki crl show`: reading certificates and CRLs.

use std::path::PathBuf;

use clap::Subcommand;
use der::Decode;
use jpki_profile::revocation_list::RevocationList;
use jpki_profile::JpkiCertificate;
use jpki_store::sqlx;
use x509_cert::der::DecodePem;
use x509_cert::Certificate;

use crate::context::{CliError, CliResult, Context};
use crate::output::emit;

#[derive(Subcommand)]
pub enum CertCommand {
    /// Kind, serial, validity, 4 information and (when the sandbox knows it) revocation status.
    Show {
        /// The certificate (PEM or DER).
        file: PathBuf,
    },
}

/// Reads a certificate file in PEM or DER.
pub fn read_certificate(path: &PathBuf) -> CliResult<Certificate> {
    let bytes = std::fs::read(path).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let parsed = if bytes.starts_with(b"-----BEGIN") { Certificate::from_pem(&bytes) } else { Certificate::from_der(&bytes) };
    parsed.map_err(|e| CliError::Usage(format!("{} is not an X.509 certificate in PEM or DER (the decoder stopped at: {e})", path.display())))
}

#[derive(serde::Serialize)]
struct Shown {
    #[serde(flatten)]
    certificate: JpkiCertificate,
    revocation: Option<serde_json::Value>,
}

#[derive(Subcommand)]
pub enum CrlCommand {
    /// Issuer, validity, number and every revoked serial with its reason.
    Show {
        /// The CRL (DER or PEM).
        file: PathBuf,
    },
}

pub fn run_crl(ctx: &Context, cmd: CrlCommand) -> CliResult {
    let CrlCommand::Show { file } = cmd;
    let bytes = std::fs::read(&file).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    let bytes = match der::pem::decode_vec(&bytes) {
        Ok(("X509 CRL", der)) => der,
        Ok((label, _)) => return Err(CliError::Usage(format!("{} is PEM of a {label}, not of an X509 CRL", file.display()))),
        Err(_) => bytes,
    };
    let crl = RevocationList::from_der(&bytes)
        .map_err(|e| CliError::Usage(format!("{} is not a CRL in DER or PEM (the decoder stopped at: {e})", file.display())))?;
    emit(ctx, &crl, || {
        let mut lines = vec![
            format!("issuer: {}", crl.issuer),
            format!("number: {}", crl.number.as_deref().unwrap_or("-")),
            format!("scope: {}", crl.scope),
            format!("this update: {}", crate::output::time(crl.this_update)),
            format!("next update: {}", crl.next_update.map(crate::output::time).unwrap_or_else(|| "-".into())),
            format!("entries: {}", crl.entries.len()),
        ];
        lines.extend(crl.entries.iter().map(|e| {
            format!("{}	{}	{}", e.serial, crate::output::time(e.revoked_at), e.reason.unwrap_or(jpki_profile::revocation_reason::RevocationReason::Unspecified))
        }));
        lines.join("\n")
    });
    Ok(())
}

pub async fn run(ctx: &Context, cmd: CertCommand) -> CliResult {
    let CertCommand::Show { file } = cmd;
    let cert = read_certificate(&file)?;
    let info = JpkiCertificate::from_certificate(&cert).map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
    let revocation = sandbox_status(ctx, &info.serial).await;
    let shown = Shown { certificate: info, revocation };
    emit(ctx, &shown, || {
        let c = &shown.certificate;
        let mut lines = vec![
            format!("kind: {}{}", c.kind.as_str(), c.device.map(|d| format!(" ({})", d.as_str())).unwrap_or_default()),
            format!("serial: {}", c.serial),
            format!("subject: {}", c.subject),
            format!("issuer: {}", c.issuer),
            format!("valid: {} to {}", crate::output::time(c.not_before), crate::output::time(c.not_after)),
        ];
        if c.test_environment {
            lines.push("policy: JPKI test environment".into());
        }
        if let Some(f) = &c.four_info {
            lines.push(format!("name: {}", f.name));
            lines.push(format!("address: {}", f.address));
            lines.push(format!("birth date: {}", f.birth_date));
            lines.push(format!("sex: {}", f.sex.as_str()));
        }
        lines.push(match &shown.revocation {
            Some(r) => {
                format!("revocation: {}", r["status"].as_str().unwrap_or("?"))
                    + &r["reason"].as_str().map(|s| format!(" ({s}, {})", r["revoked_at"].as_str().unwrap_or(""))).unwrap_or_default()
            }
            None => "revocation: unknown (not issued by this sandbox)".into(),
        });
        lines.join("\n")
    });
    Ok(())
}

/// The status the local sandbox recorded for `serial`, if there is a sandbox and it issued the serial.
async fn sandbox_status(ctx: &Context, serial: &str) -> Option<serde_json::Value> {
    let db = ctx.database(false).await.ok()?;
    let row: Option<(Option<i64>, Option<i64>)> =
        sqlx::query_as("SELECT revoked_at, revocation_reason FROM certificate WHERE serial = $1").bind(serial).fetch_optional(db.pool()).await.ok()?;
    let (revoked_at, reason) = row?;
    Some(match revoked_at {
        None => serde_json::json!({ "status": "good", "source": "sandbox registry" }),
        Some(at) => {
            let at = time::OffsetDateTime::from_unix_timestamp(at).ok()?;
            serde_json::json!({
                "status": "revoked",
                "reason": jpki_profile::revocation_reason::RevocationReason::from_code(reason.unwrap_or(0)),
                "revoked_at": at.format(&time::format_description::well_known::Rfc3339).ok()?,
                "source": "sandbox registry",
            })
        }
    })
}
