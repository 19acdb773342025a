//! The server's background jobs, each on the database's periodic-job mechanism
//! ([`jpki_store::Database::every`]) and so ending when the server stops and closes its database:
//! the platform's housekeeping sweep (started with its state), the sandbox's daily CRL publication, the
//! daily CRL ingestion, and the delivery of change events to webhooks.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jpki_issuer::crl::CRL_LIFETIME;
use jpki_issuer::Issuer;
use jpki_platform::changes;
use jpki_platform::metrics::Metrics;
use jpki_platform::revocation_lists::{self, GenerationSummary, IngestError};
use jpki_profile::KeyRole;
use jpki_store::Database;
use jpki_verify::TrustStore;

use crate::transport::CrlLocation;
use crate::v1::PlatformState;

/// Publishes both CAs' CRLs every [`CRL_LIFETIME`], as J-LIS does every day (the first a lifetime from
/// now: the server publishes at start only what is missing).
pub fn publish_crls(db: &Database, issuer: Issuer, dir: PathBuf) {
    let period = Duration::from_secs(CRL_LIFETIME.whole_seconds().unsigned_abs());
    db.every_after(period, period, move |_| {
        let (issuer, dir) = (issuer.clone(), dir.clone());
        async move {
            for role in KeyRole::ALL {
                match issuer.publish_crl(role, &dir).await {
                    Ok(published) => {
                        for s in published {
                            tracing::info!(crl = %s.path.display(), scope = %s.scope, entries = s.entries, number = s.number, "published CRL");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "CRL publication failed"),
                }
            }
        }
    });
}

/// Ingests the CRLs at `locations` as one set into the database's generations
/// ([`jpki_platform::revocation_lists`]), counting the outcome in `metrics`; `progress` is told the
/// bytes read of the CRL being read.
pub async fn ingest_crls(
    db: &Database,
    trust: &TrustStore,
    locations: &[CrlLocation],
    progress: revocation_lists::Progress,
    metrics: &Metrics,
) -> Result<Vec<GenerationSummary>, IngestError> {
    let sources = locations.iter().flat_map(CrlLocation::sources).collect();
    let outcome = revocation_lists::ingest(db, sources, trust, progress).await;
    metrics.crl_ingested(match &outcome {
        Ok(_) => "ok",
        Err(IngestError::Refused { .. }) => "refused",
        Err(IngestError::Unreachable { .. }) => "unreachable",
        Err(IngestError::Busy(_)) => "busy",
        Err(_) => "error",
    });
    outcome
}

/// The delay from `now` until the next `at` in Japan Standard Time (J-LIS's day).
pub fn until_next(at: time::Time, now: time::OffsetDateTime) -> Duration {
    let jst = now.to_offset(time::macros::offset!(+9));
    let mut next = jst.replace_time(at);
    if next <= jst {
        next += time::Duration::days(1);
    }
    Duration::from_secs((next - jst).whole_seconds().max(1) as u64)
}

/// Ingests the CRLs at `locations` every day at `at` (JST); a failure is logged and counted, and the
/// generations held before stay in force.
pub fn ingest_crls_daily(state: Arc<PlatformState>, trust: TrustStore, locations: Vec<CrlLocation>, at: time::Time) {
    let first = until_next(at, time::OffsetDateTime::now_utc());
    state.db.clone().every_after(first, Duration::from_secs(24 * 3600), move |db| {
        let (state, trust, locations) = (state.clone(), trust.clone(), locations.clone());
        async move {
            match ingest_crls(&db, &trust, &locations, Arc::new(|_: &str, _| {}), &state.metrics).await {
                Ok(generations) => {
                    for g in generations {
                        tracing::info!(issuer = %g.issuer, generation = g.generation, entries = g.entries, new_entries = g.new_entries, changes = g.changes, "CRL generation in force");
                    }
                }
                Err(e) => tracing::error!("CRL ingestion failed; the generations held before stay in force: {e}"),
            }
        }
    });
}

/// How often due webhook deliveries are looked for, and how many are posted at once.
const DELIVERY_INTERVAL: Duration = Duration::from_secs(2);
const DELIVERIES_AT_ONCE: i64 = 32;
/// How long one webhook POST may take.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Posts due webhook deliveries (see [`jpki_platform::changes`]) every [`DELIVERY_INTERVAL`], each in
/// a blocking task bounded by [`WEBHOOK_TIMEOUT`], so that no endpoint holds up verifications.
pub fn deliver_webhooks(state: Arc<PlatformState>) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(WEBHOOK_TIMEOUT)).http_status_as_error(false).max_redirects(0).build().new_agent();
    state.db.clone().every(DELIVERY_INTERVAL, move |db| {
        let (state, agent) = (state.clone(), agent.clone());
        async move {
            let due = match changes::claim_due(&db, time::OffsetDateTime::now_utc(), DELIVERIES_AT_ONCE).await {
                Ok(due) => due,
                Err(e) => return tracing::warn!("looking for webhook deliveries failed: {e}"),
            };
            let posts = due.into_iter().map(|delivery| {
                let (agent, db, state) = (agent.clone(), db.clone(), state.clone());
                async move {
                    let sending = delivery.clone();
                    let outcome = tokio::task::spawn_blocking(move || post_event(&agent, &sending)).await.unwrap_or_else(|e| changes::Outcome {
                        status: None,
                        error: Some(format!("the delivery task failed: {e}")),
                        duration: Duration::ZERO,
                    });
                    let now = time::OffsetDateTime::now_utc();
                    state.metrics.webhook_attempted(if outcome.delivered() { "delivered" } else { "retry" });
                    if let Err(e) = changes::record_attempt(&db, &delivery, &outcome, now).await {
                        tracing::warn!(event = %delivery.event_id, "recording a webhook attempt failed (it will be retried): {e}");
                    }
                }
            });
            futures_util::future::join_all(posts).await;
        }
    });
}

/// One POST of an event, signed as [`jpki_platform::changes`] describes.
fn post_event(agent: &ureq::Agent, delivery: &changes::DueDelivery) -> changes::Outcome {
    let started = std::time::Instant::now();
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let sent = agent
        .post(&delivery.url)
        .header("Content-Type", "application/json")
        .header("Webhook-Id", &delivery.event_id)
        .header("Webhook-Signature", &changes::signature(&delivery.secret, timestamp, &delivery.body))
        .send(&delivery.body[..]);
    match sent {
        Ok(response) => changes::Outcome { status: Some(response.status().as_u16()), error: None, duration: started.elapsed() },
        Err(e) => changes::Outcome { status: None, error: Some(e.to_string()), duration: started.elapsed() },
    }
}
