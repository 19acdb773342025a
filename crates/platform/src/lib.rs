//! The platform operator (プラットフォーム事業者): verifies JPKI signatures for tenant businesses, holds
//! the revocation information itself, and gives tenants only the result and the 4 information.
//!
//! - [`tenants`]: tenants and their API keys (random, shown once, stored as SHA-256, revocable);
//! - [`changes`]: the change feed of watched certificates found revoked, and its webhooks;
//! - [`customers`]: the customers a tenant watches for change confirmation (変更確認), each one user
//!   across re-issued certificates;
//! - [`consent`]: a customer's consent to the latest-4-info provision;
//! - [`audit`]: the append-only, hash-chained audit log of verifications and releases of personal data;
//! - [`housekeeping`]: removes login challenges, presentation requests and OpenID Connect
//!   authorizations an hour after they expired;
//! - [`liveness`]: liveness checks (現況確認) with a purpose, and the report against the CRLs held;
//! - [`login`]: authentication-certificate login: challenges, account links;
//! - [`metrics`]: Prometheus counters and latency histogram;
//! - [`oidc`]: the OpenID Connect provider's domain: clients, authorizations, tokens, signing keys;
//! - [`presentations`]: OpenID4VP requests for the card-substitute record and their one answer each;
//! - [`revocation_lists`]: the CRL generations held, ingested as streams and switched in whole;
//! - [`recorder`]: group commit of each check's records, acknowledged after the commit;
//! - [`usage`]: metering per tenant, month, certificate kind and method against the fee table.
//!
//! Its `/v1` HTTP API is served by the server crate.
#![forbid(unsafe_code)]

pub mod audit;
pub mod changes;
pub mod consent;
pub mod customers;
pub mod housekeeping;
pub mod ledger;
pub mod liveness;
pub mod login;
pub mod metrics;
pub mod oidc;
pub mod presentations;
pub mod qualifications;
pub mod recorder;
pub mod revocation_lists;
pub mod tenants;
pub mod usage;
pub mod verifications;

use jpki_store::sqlx;

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    Store(#[from] jpki_store::StoreError),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be done as asked: `code` names why for API clients.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("recording the check failed: {0}")]
    Recording(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("the audit log is broken at entry {seq}: {reason}")]
    AuditBroken { seq: i64, reason: String },
}

/// A time as the store keeps it (Unix seconds), read back; one out of range is a corrupt row.
pub(crate) fn stored_time(t: i64) -> Result<time::OffsetDateTime, PlatformError> {
    time::OffsetDateTime::from_unix_timestamp(t).map_err(|e| PlatformError::Corrupt(format!("stored time {t}: {e}")))
}

/// In one write transaction: if `owned` (bound to `id`, then `tenant_id`) finds the tenant's row, runs
/// `deletes` (each bound to `id`) and audits it as `<what>.delete` (the id only: an audit entry holds no
/// personal data), else answers that there is no `what` of that id.
pub(crate) async fn delete_owned(db: &jpki_store::Database, owned: &str, what: &str, id: &str, tenant_id: &str, deletes: &[&str]) -> Result<(), PlatformError> {
    let mut tx = db.begin_write().await?;
    let found: Option<(String,)> = sqlx::query_as(owned).bind(id).bind(tenant_id).fetch_optional(&mut *tx).await?;
    if found.is_none() {
        return Err(PlatformError::NotFound(format!("no {what} {id}")));
    }
    for sql in deletes {
        sqlx::query(sql).bind(id).execute(&mut *tx).await?;
    }
    let action = format!("{what}.delete");
    let detail = serde_json::json!({ "id": id });
    let at = time::OffsetDateTime::now_utc().unix_timestamp();
    audit::append(&mut tx, &audit::Entry { tenant_id: Some(tenant_id), action: &action, purpose: None, result: "deleted", detail: &detail, at }).await?;
    tx.commit().await?;
    Ok(())
}
