//! Removes what can no longer be used: login challenges, presentation requests, OpenID Connect
//! authorizations (with the claims they held), tokens and client-assertion ids, once they have been
//! expired for [`KEPT_AFTER_EXPIRY`]. Until then an answer that comes late is told that it expired
//! (or was already used) rather than that it is unknown; afterwards it is refused as unknown, so a
//! challenge or request stays single-use. Every server process sweeps; deleting what another process
//! already removed removes nothing.
//!
//! It also enforces each tenant's retention period for its verification results (the 4 information
//! they hold): a result older than the tenant's `verification_retention_days` is deleted, and each
//! tenant's deletions are audited (how many, up to when: no personal data).

use std::time::Duration;

use jpki_store::{sqlx, Database};
use time::OffsetDateTime;

use crate::PlatformError;

/// How long an expired challenge or presentation request is kept.
pub const KEPT_AFTER_EXPIRY: time::Duration = time::Duration::hours(1);

/// How often a server sweeps.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(600);

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub challenges: u64,
    pub presentation_requests: u64,
    /// OpenID Connect authorizations (with the claims they held) and their tokens.
    pub authorizations: u64,
    /// Sign transactions, with the signatures and certificates their results held.
    pub sign_transactions: u64,
    /// Verification results past their tenant's retention period.
    pub verifications: u64,
}

/// Removes the challenges and presentation requests that expired more than [`KEPT_AFTER_EXPIRY`]
/// before `now`.
pub async fn sweep(db: &Database, now: OffsetDateTime) -> Result<Swept, PlatformError> {
    let before = (now - KEPT_AFTER_EXPIRY).unix_timestamp();
    let challenges = sqlx::query("DELETE FROM auth_challenge WHERE expires_at < $1").bind(before).execute(db.pool()).await?.rows_affected();
    let presentation_requests = sqlx::query("DELETE FROM mdoc_request WHERE expires_at < $1").bind(before).execute(db.pool()).await?.rows_affected();
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM oidc_token WHERE authorization_id IN (SELECT id FROM oidc_authorization WHERE expires_at < $1)")
        .bind(before)
        .execute(&mut *tx)
        .await?;
    let authorizations = sqlx::query("DELETE FROM oidc_authorization WHERE expires_at < $1").bind(before).execute(&mut *tx).await?.rows_affected();
    sqlx::query("DELETE FROM oidc_token WHERE expires_at < $1 AND kind = 'access'").bind(before).execute(&mut *tx).await?;
    let sign_transactions = sqlx::query("DELETE FROM oidc_sign_transaction WHERE expires_at < $1").bind(before).execute(&mut *tx).await?.rows_affected();
    sqlx::query("DELETE FROM oidc_client_token WHERE expires_at < $1").bind(before).execute(&mut *tx).await?;
    tx.commit().await?;
    crate::oidc::client_auth::sweep(db, now - KEPT_AFTER_EXPIRY).await?;
    let verifications = expire_verifications(db, now).await?;
    Ok(Swept { challenges, presentation_requests, authorizations, sign_transactions, verifications })
}

/// Deletes each tenant's verification results older than its retention period, audited per tenant.
async fn expire_verifications(db: &Database, now: OffsetDateTime) -> Result<u64, PlatformError> {
    let tenants: Vec<(String, i64)> =
        sqlx::query_as("SELECT id, verification_retention_days FROM tenant WHERE verification_retention_days IS NOT NULL").fetch_all(db.pool()).await?;
    let mut total = 0;
    for (tenant_id, days) in tenants {
        let before = now.unix_timestamp() - days * 86_400;
        let mut tx = db.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM verification WHERE tenant_id = $1 AND created_at < $2")
            .bind(&tenant_id)
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted > 0 {
            let detail = serde_json::json!({ "deleted": deleted, "created_before": before, "retention_days": days });
            let entry = crate::audit::Entry {
                tenant_id: Some(&tenant_id),
                action: "verification.expire",
                purpose: None,
                result: "deleted",
                detail: &detail,
                at: now.unix_timestamp(),
            };
            crate::audit::append(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        total += deleted;
    }
    Ok(total)
}

/// Sweeps now and every [`SWEEP_INTERVAL`] until the database closes, when the task ends.
pub fn start(db: &Database) -> tokio::task::JoinHandle<()> {
    db.every(SWEEP_INTERVAL, |db| async move {
        match sweep(&db, OffsetDateTime::now_utc()).await {
            Ok(swept) if swept != Swept::default() => {
                tracing::info!(
                    "removed {} expired login challenges, {} expired presentation requests, {} ended OpenID Connect authorizations and {} verification results past their retention",
                    swept.challenges,
                    swept.presentation_requests,
                    swept.authorizations,
                    swept.verifications
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("sweeping expired challenges and presentation requests failed: {e}"),
        }
    })
}
