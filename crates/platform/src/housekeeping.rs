//! Removes what can no longer be used: login challenges, presentation requests, OpenID Connect
//! authorizations (with the claims they held), tokens and client-assertion ids, once they have been
//! expired for [`KEPT_AFTER_EXPIRY`]. Until then an answer that comes late is told that it expired
//! (or was already used) rather than that it is unknown; afterwards it is refused as unknown, so a
//! challenge or request stays single-use. Every server process sweeps; deleting what another process
//! already removed removes nothing.

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
    Ok(Swept { challenges, presentation_requests, authorizations, sign_transactions })
}

/// Sweeps now and every [`SWEEP_INTERVAL`] until the database closes, when the task ends.
pub fn start(db: &Database) -> tokio::task::JoinHandle<()> {
    db.every(SWEEP_INTERVAL, |db| async move {
        match sweep(&db, OffsetDateTime::now_utc()).await {
            Ok(swept) if swept != Swept::default() => {
                tracing::info!(
                    "removed {} expired login challenges, {} expired presentation requests and {} ended OpenID Connect authorizations",
                    swept.challenges,
                    swept.presentation_requests,
                    swept.authorizations
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("sweeping expired challenges and presentation requests failed: {e}"),
        }
    })
}
