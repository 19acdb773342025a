//! The server's background jobs, each on the database's periodic-job mechanism
//! ([`jpki_store::Database::every`]) and so ending when the server stops and closes its database:
//! the platform's housekeeping sweep (started with its state), the sandbox's daily CRL publication, and
//! the hourly re-reading of the CRL files a production platform is given.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jpki_issuer::crl::CRL_LIFETIME;
use jpki_issuer::Issuer;
use jpki_profile::KeyRole;
use jpki_store::Database;
use jpki_verify::revocation::CrlStore;
use jpki_verify::TrustStore;

/// How often the CRL files are read again (J-LIS publishes one a day).
pub const CRL_RELOAD_INTERVAL: Duration = Duration::from_secs(3600);

/// Publishes both CAs' CRLs every [`CRL_LIFETIME`], as J-LIS does every day (the first a lifetime from
/// now: the server publishes at start only what is missing).
pub fn publish_crls(db: &Database, issuer: Issuer, dir: PathBuf) {
    let period = Duration::from_secs(CRL_LIFETIME.whole_seconds().unsigned_abs());
    db.every_after(period, period, move |_| {
        let (issuer, dir) = (issuer.clone(), dir.clone());
        async move {
            for role in KeyRole::ALL {
                match issuer.publish_crl(role, &dir).await {
                    Ok(s) => tracing::info!(crl = %s.path.display(), entries = s.entries, number = s.number, "published CRL"),
                    Err(e) => tracing::error!(error = %e, "CRL publication failed"),
                }
            }
        }
    });
}

/// Reads a CRL file into `crls`, verified against `trust`.
pub fn ingest_crl(crls: &CrlStore, path: &std::path::Path, trust: &TrustStore) -> Result<(), String> {
    let der = std::fs::read(path).map_err(|e| format!("cannot read CRL {}: {e}", path.display()))?;
    let summary = crls.ingest(&der, trust, time::OffsetDateTime::now_utc()).map_err(|e| format!("{}: {e}", path.display()))?;
    tracing::info!("CRL {}: {} entries, next update {:?}", path.display(), summary.entries, summary.next_update);
    Ok(())
}

/// Re-reads the CRL files every [`CRL_RELOAD_INTERVAL`]; a file that cannot be read or verified keeps
/// the list held before.
pub fn reload_crls(db: &Database, crls: Arc<CrlStore>, files: Vec<PathBuf>, trust: TrustStore) {
    db.every_after(CRL_RELOAD_INTERVAL, CRL_RELOAD_INTERVAL, move |_| {
        let (crls, files, trust) = (crls.clone(), files.clone(), trust.clone());
        async move {
            for path in files {
                let (crls, trust) = (crls.clone(), trust.clone());
                match tokio::task::spawn_blocking(move || ingest_crl(&crls, &path, &trust)).await {
                    Ok(Err(e)) => tracing::warn!("{e}"),
                    Err(e) => tracing::warn!("CRL reload task failed: {e}"),
                    Ok(Ok(())) => {}
                }
            }
        }
    });
}
