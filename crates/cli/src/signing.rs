//! `jpki sign` and `jpki verify`: the holder's side (a CMS signature made with the card's signature
//! key) and an offline verifier's side (trust anchors from a directory, OCSP when a responder is given).

use std::path::PathBuf;

use clap::Args;
use jpki_profile::KeyRole;
use jpki_server::transport::HttpOcsp;
use jpki_verify::revocation::OcspChecker;
use jpki_verify::revocation::{RequestedMethod, RevocationPolicy};
use jpki_verify::{signed_data, TrustStore, Verification, Verifier};
use time::OffsetDateTime;

use crate::card::{pin_or_prompt, write_file, CardSource};
use crate::context::{CliError, CliResult, Context};
use crate::output::emit;

#[derive(Args)]
pub struct SignArgs {
    #[command(flatten)]
    source: CardSource,
    /// The file to sign.
    #[arg(long = "in")]
    input: PathBuf,
    /// The CMS SignedData (DER), conventionally FILE.p7s.
    #[arg(long)]
    out: PathBuf,
    /// The signature password; prompted when omitted.
    #[arg(long)]
    pin: Option<String>,
    /// Carry the content inside the SignedData (default: detached).
    #[arg(long)]
    attached: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The CMS SignedData (DER).
    file: PathBuf,
    /// The signed content, when the signature is detached.
    #[arg(long)]
    content: Option<PathBuf>,
    /// Trust anchors (PEM or DER CA certificates); default <data-dir>/trust.
    #[arg(long)]
    trust: Option<PathBuf>,
    /// The OCSP responder (JPKI certificates name none). Without one the result cannot be valid:
    /// revocation checks fail closed.
    #[arg(long, env = "JPKI_OCSP_URL")]
    ocsp_url: Option<String>,
    /// CRLs (DER files, or directories of `.crl` files) of the CAs, checked against the trust anchors
    /// and used when OCSP gives no answer; repeatable.
    #[arg(long)]
    crl: Vec<PathBuf>,
    /// The CMS is an authentication signature over data, made with the authentication key (電子利用者証明):
    /// verify it as such. Without this flag only a signature certificate's CMS (電子署名) is valid.
    #[arg(long)]
    authentication: bool,
    /// Where the revocation status comes from: `ocsp` (asked now unless --max-age accepts a held
    /// answer) or `crl` (the --crl lists, which must be within their nextUpdate).
    #[arg(long, default_value = "ocsp", value_parser = revocation_method)]
    revocation: RequestedMethod,
    /// The oldest revocation answer accepted, in seconds from its thisUpdate (0: a fresh OCSP answer;
    /// a CRL stands in for an unanswered OCSP request only when it is no older).
    #[arg(long, default_value_t = 0)]
    max_age: u32,
}

fn revocation_method(s: &str) -> Result<RequestedMethod, String> {
    RequestedMethod::parse(s).ok_or_else(|| format!("{s:?} is not a revocation method: ocsp or crl"))
}

fn read(path: &std::path::Path) -> CliResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))
}

pub fn sign(ctx: &Context, args: SignArgs) -> CliResult {
    let content = read(&args.input)?;
    let pin = pin_or_prompt(args.pin, "signature password")?;
    let mut card = args.source.open()?;
    let certificate = card.read_certificate(KeyRole::Signature, Some(&pin))?;
    let cms =
        signed_data::build(&content, &certificate, args.attached, OffsetDateTime::now_utc(), |digest_info| card.sign(KeyRole::Signature, &pin, digest_info))
            .map_err(|e| CliError::Usage(e.to_string()))?;
    write_file(&args.out, &cms)?;
    emit(ctx, &serde_json::json!({ "signature": args.out, "bytes": cms.len(), "attached": args.attached }), || {
        format!("CMS SignedData ({} bytes, {}) written to {}", cms.len(), if args.attached { "attached" } else { "detached" }, args.out.display())
    });
    Ok(())
}

fn describe(v: &Verification) -> String {
    let mut lines = vec![if v.valid { "valid".to_owned() } else { format!("NOT valid: {}", v.failure.as_ref().map(|f| f.message.as_str()).unwrap_or("")) }];
    if let Some(s) = &v.signer {
        lines.push(format!(
            "certificate {} ({} certificate, {})",
            s.certificate_serial,
            s.certificate_kind.as_str(),
            s.device.map_or("device unknown", |d| d.as_str())
        ));
        if let Some(name) = &s.name {
            lines.push(format!(
                "name {name}\naddress {}\nbirth date {}\nsex {}",
                s.address.as_deref().unwrap_or(""),
                s.birth_date.as_deref().unwrap_or(""),
                s.sex.as_deref().unwrap_or("")
            ));
        }
    }
    if let Some(r) = &v.revocation {
        lines.push(format!("revocation: {} by {} at {}", r.status, r.method, crate::output::time(r.checked_at)));
    }
    lines.join("\n")
}

pub fn verify(ctx: &Context, args: VerifyArgs) -> CliResult {
    let cms = read(&args.file)?;
    let content = args.content.as_deref().map(read).transpose()?;
    let trust_dir = args.trust.unwrap_or_else(|| ctx.trust_dir());
    let trust = TrustStore::from_dir(&trust_dir).map_err(|e| CliError::Usage(e.to_string()))?;
    let ocsp = args.ocsp_url.map(|url| OcspChecker::new(url, Box::new(HttpOcsp::new(jpki_server::config::OUTSIDE_TIMEOUT))));
    let crls = std::sync::Arc::new(jpki_verify::revocation::CrlStore::default());
    let files: Vec<PathBuf> = args.crl.iter().map(|p| jpki_server::transport::crl_files(p)).collect::<Result<Vec<_>, _>>().map_err(CliError::Usage)?.concat();
    for path in &files {
        let summary = crls.ingest(&read(path)?, &trust, OffsetDateTime::now_utc()).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
        tracing::info!("CRL {}: {} entries, next update {:?}", path.display(), summary.entries, summary.next_update);
    }
    let verifier = Verifier { trust, ocsp, crls };
    let policy = RevocationPolicy { method: args.revocation, max_age: time::Duration::seconds(i64::from(args.max_age)) };
    let kind = if args.authentication { jpki_profile::CertKind::Authentication } else { jpki_profile::CertKind::Signature };
    let result = verifier
        .verify_cms_by(kind, policy, &cms, content.as_deref(), OffsetDateTime::now_utc())
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.file.display())))?;
    emit(ctx, &result, || describe(&result));
    match &result.failure {
        None => Ok(()),
        Some(f) => Err(CliError::Usage(format!("signature not valid ({})", f.code))),
    }
}
