//! The change feed's machinery against the database, with the clock in the test's hands: webhook
//! retries back off and stop after the give-up age, a claimed delivery is not claimed again while its
//! lease runs, and a generation a crash left half-written is discarded by the next ingestion; on SQLite
//! and, when configured, PostgreSQL.

use futures_util::stream;
use jpki_issuer::ca::Ca;
use jpki_issuer::crl::{write_crl, CrlParams, RevokedEntry};
use jpki_platform::changes::{self, DeliveryState, Outcome};
use jpki_platform::revocation_lists::{self, CrlSource, IngestError};
use jpki_profile::revocation_reason::RevocationReason;
use jpki_profile::KeyRole;
use jpki_store::{sqlx, Database};
use jpki_verify::trust::Anchor;
use jpki_verify::TrustStore;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

async fn databases(dir: &std::path::Path) -> Vec<Database> {
    let mut out = Vec::new();
    for url in jpki_store::testing::database_urls(dir).await {
        out.push(Database::open(&url).await.unwrap());
    }
    out
}

/// An event for `tenant` as detection stores it, with a delivery queued to each of its webhooks.
async fn event(db: &Database, tenant: &str) -> String {
    let id = jpki_store::new_id("event");
    sqlx::query(
        "INSERT INTO change_event (seq, id, tenant_id, customer_id, reference, certificate_kind, issuer, serial, reason, revoked_at, generation_id, created_at)
         VALUES (1, $1, $2, 'customer_x', 'ref-1', 'signature', 'i', '0a', 1, 0, 1, 0)",
    )
    .bind(&id)
    .bind(tenant)
    .execute(db.pool())
    .await
    .unwrap();
    assert_eq!(changes::redeliver(db, tenant, &id).await.unwrap(), 1);
    id
}

fn failed(status: Option<u16>) -> Outcome {
    Outcome { status, error: status.is_none().then(|| "connection refused".into()), duration: std::time::Duration::from_millis(3) }
}

#[tokio::test]
async fn webhook_retries_back_off_and_stop_and_a_lease_is_held() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path()).await {
        let (tenant, _) = jpki_platform::tenants::create(&db, "Bank", false).await.unwrap();
        let hook = changes::add_webhook(&db, &tenant.id, "https://hooks.example.jp/jpki").await.unwrap();
        assert!(hook.secret.starts_with("whsec_") && hook.secret.len() > 60);
        let id = event(&db, &tenant.id).await;
        let now = OffsetDateTime::now_utc();

        // Claimed once; not again while the lease runs, even by another process.
        let due = changes::claim_due(&db, now, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert!(changes::claim_due(&db, now, 10).await.unwrap().is_empty());
        let body: serde_json::Value = serde_json::from_slice(&due[0].body).unwrap();
        assert_eq!(
            (&body["id"], &body["reason"], &body["type"]),
            (&serde_json::json!(id), &serde_json::json!("keyCompromise"), &serde_json::json!("certificate.revoked"))
        );

        // A 500 is retried after 30 s, a refused connection after a minute more.
        changes::record_attempt(&db, &due[0], &failed(Some(500)), now).await.unwrap();
        assert!(changes::claim_due(&db, now + Duration::seconds(29), 10).await.unwrap().is_empty());
        let due = changes::claim_due(&db, now + Duration::seconds(31), 10).await.unwrap();
        assert_eq!((due.len(), due[0].attempts), (1, 1));
        changes::record_attempt(&db, &due[0], &failed(None), now + Duration::seconds(31)).await.unwrap();
        assert!(changes::claim_due(&db, now + Duration::seconds(90), 10).await.unwrap().is_empty());
        let due = changes::claim_due(&db, now + Duration::seconds(92), 10).await.unwrap();
        assert_eq!(due.len(), 1);

        // Past the give-up age the delivery fails for good, with every attempt in the log.
        let created = OffsetDateTime::from_unix_timestamp(due[0].created_at).unwrap();
        changes::record_attempt(&db, &due[0], &failed(Some(503)), created + changes::GIVE_UP_AFTER).await.unwrap();
        assert!(changes::claim_due(&db, created + changes::GIVE_UP_AFTER + Duration::days(1), 10).await.unwrap().is_empty());
        let log = changes::deliveries(&db, &tenant.id, &id).await.unwrap();
        assert_eq!(log[0].state, DeliveryState::Failed);
        let statuses: Vec<Option<i32>> = log[0].attempts.iter().map(|a| a.status).collect();
        assert_eq!(statuses, vec![Some(500), None, Some(503)]);
        assert_eq!(log[0].attempts[1].error.as_deref(), Some("connection refused"));

        // A re-send starts over and a 2xx delivers it.
        assert_eq!(changes::redeliver(&db, &tenant.id, &id).await.unwrap(), 1);
        let due = changes::claim_due(&db, OffsetDateTime::now_utc() + Duration::seconds(1), 10).await.unwrap();
        changes::record_attempt(&db, &due[0], &Outcome { status: Some(200), error: None, duration: std::time::Duration::ZERO }, OffsetDateTime::now_utc())
            .await
            .unwrap();
        assert_eq!(changes::deliveries(&db, &tenant.id, &id).await.unwrap()[0].state, DeliveryState::Delivered);

        // Another tenant sees none of it.
        let (other, _) = jpki_platform::tenants::create(&db, "Shop", false).await.unwrap();
        assert!(matches!(changes::deliveries(&db, &other.id, &id).await, Err(jpki_platform::PlatformError::NotFound(_))));
        assert!(matches!(changes::redeliver(&db, &other.id, &id).await, Err(jpki_platform::PlatformError::NotFound(_))));
        db.close().await;
    }
}

#[test]
fn retries_span_more_than_a_day() {
    let mut elapsed = Duration::ZERO;
    let mut attempt = 1;
    while elapsed < changes::GIVE_UP_AFTER {
        elapsed += changes::retry_delay(attempt);
        attempt += 1;
    }
    assert!(changes::GIVE_UP_AFTER >= Duration::hours(24));
    assert!(attempt > 24, "{attempt} attempts before giving up");
    assert_eq!(
        (changes::retry_delay(1), changes::retry_delay(2), changes::retry_delay(40)),
        (Duration::seconds(30), Duration::seconds(60), Duration::hours(1))
    );
}

async fn sample_crl(ca: &Ca, number: u64, serials: &[u64], dir: &std::path::Path) -> std::path::PathBuf {
    let now = jpki_issuer::now();
    let params = CrlParams {
        issuer: ca.name(),
        issuer_key: &ca.key,
        authority_key_id: ca.authority_key_id().unwrap(),
        number,
        this_update: now,
        next_update: now + Duration::days(1),
        point: None,
    };
    let entries: Vec<_> = serials
        .iter()
        .map(|s| Ok(RevokedEntry { serial: s.to_be_bytes().to_vec(), revoked_at: now, reason: RevocationReason::AffiliationChanged, invalidity_date: None }))
        .collect();
    let path = dir.join(format!("{number}.crl"));
    write_crl(params, stream::iter(entries), &path).await.unwrap();
    path
}

fn source(path: &std::path::Path) -> CrlSource {
    let path = path.to_path_buf();
    CrlSource { name: path.display().to_string(), open: Box::new(move || Ok(Box::new(std::fs::File::open(path).map_err(|e| e.to_string())?) as _)) }
}

#[tokio::test]
async fn a_half_written_generation_is_discarded_and_a_lease_keeps_a_second_ingestion_out() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::create(KeyRole::Signature, jpki_issuer::now()).unwrap();
    let trust = TrustStore::new(vec![Anchor::new(ca.certificate.clone()).unwrap()]);
    let crl = sample_crl(&ca, 3, &[1, 2], dir.path()).await;
    for db in databases(dir.path()).await {
        let quiet: revocation_lists::Progress = Arc::new(|_: &str, _| {});
        let first = revocation_lists::ingest(&db, vec![source(&crl)], &trust, quiet.clone()).await.unwrap();
        // What a crash mid-ingestion leaves: a generation still building, with an entry of its own.
        let (issuer,): (String,) = sqlx::query_as("SELECT issuer FROM crl_issuer").fetch_one(db.pool()).await.unwrap();
        sqlx::query("INSERT INTO crl_generation (id, issuer, state, this_update, next_update, entries, new_entries, created_at) VALUES (99, $1, 'building', 0, 0, 0, 0, 0)")
            .bind(&issuer)
            .execute(db.pool())
            .await
            .unwrap();
        sqlx::query("INSERT INTO crl_entry (issuer, serial, generation_id, revoked_at, reason) VALUES ($1, '63', 99, 0, 1)")
            .bind(&issuer)
            .execute(db.pool())
            .await
            .unwrap();
        let second = revocation_lists::ingest(&db, vec![source(&crl)], &trust, quiet.clone()).await.unwrap();
        assert_eq!((second[0].entries, second[0].new_entries), (2, 0));
        assert!(second[0].generation > first[0].generation);
        let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM crl_entry WHERE generation_id = 99").fetch_one(db.pool()).await.unwrap();
        let (state,): (String,) = sqlx::query_as("SELECT state FROM crl_generation WHERE id = 99").fetch_one(db.pool()).await.unwrap();
        assert_eq!((left, state.as_str()), (0, "failed"));

        // While another process holds the lease, an ingestion is refused and changes nothing.
        sqlx::query("UPDATE job_lease SET holder = 'another', until = $1")
            .bind((OffsetDateTime::now_utc() + Duration::minutes(5)).unix_timestamp())
            .execute(db.pool())
            .await
            .unwrap();
        sqlx::query("INSERT INTO job_lease (name, holder, until) SELECT 'crl_ingestion', 'another', $1 WHERE NOT EXISTS (SELECT 1 FROM job_lease)")
            .bind((OffsetDateTime::now_utc() + Duration::minutes(5)).unix_timestamp())
            .execute(db.pool())
            .await
            .unwrap();
        assert!(matches!(revocation_lists::ingest(&db, vec![source(&crl)], &trust, quiet).await, Err(IngestError::Busy(_))));
        assert_eq!(revocation_lists::held(&db).await.unwrap()[0].generation, second[0].generation);
        db.close().await;
    }
}
