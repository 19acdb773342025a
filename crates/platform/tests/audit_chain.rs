//! The audit chain across batch boundaries (the writer appends up to hundreds of entries at once) and
//! across writers, on every configured database.

use jpki_platform::audit::{self, Entry};
use jpki_platform::recorder::{CheckKind, CheckRecord, Recorder};
use jpki_profile::fees::FeeCertKind;

#[tokio::test]
async fn batches_extend_one_chain_and_tampering_is_caught() {
    let scratch = tempfile::tempdir().unwrap();
    for url in jpki_store::testing::database_urls(scratch.path()).await {
        let db = jpki_store::Database::open(&url).await.unwrap();
        let details: Vec<serde_json::Value> = (0..250).map(|i| serde_json::json!({ "n": i })).collect();
        let entries: Vec<Entry<'_>> =
            details.iter().map(|d| Entry { tenant_id: None, action: "test.batch", purpose: Some("chain"), result: "ok", detail: d, at: 1 }).collect();
        let mut tx = db.begin_write().await.unwrap();
        let head = audit::Head::lock(&mut tx).await.unwrap();
        let mut statements = jpki_store::Statements::new(&tx);
        assert_eq!(audit::extend(&head, &mut statements, &entries).seq, 250);
        statements.execute(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = db.begin_write().await.unwrap();
        let empty = serde_json::json!({});
        let single = Entry { tenant_id: None, action: "test.single", purpose: None, result: "ok", detail: &empty, at: 2 };
        assert_eq!(audit::append(&mut tx, &single).await.unwrap(), 251);
        tx.commit().await.unwrap();
        assert_eq!(audit::verify(&db).await.unwrap().entries, 251, "{url}");

        jpki_store::sqlx::query("UPDATE audit_log SET detail = '{\"n\":7}' WHERE seq = 101").execute(db.pool()).await.unwrap();
        let broken = audit::verify(&db).await.unwrap_err().to_string();
        assert!(broken.contains("entry 101"), "{url}: {broken}");
        jpki_store::sqlx::query("DELETE FROM audit_log WHERE seq = 251").execute(db.pool()).await.unwrap();
        jpki_store::sqlx::query("UPDATE audit_log SET detail = '{\"n\":100}' WHERE seq = 101").execute(db.pool()).await.unwrap();
        let truncated = audit::verify(&db).await.unwrap_err().to_string();
        assert!(truncated.contains("removed"), "{url}: {truncated}");
        db.close().await;
    }
}

fn check(tenant_id: &str, n: usize) -> CheckRecord {
    let id = jpki_store::new_id("verification");
    CheckRecord {
        id: id.clone(),
        tenant_id: tenant_id.to_owned(),
        kind: CheckKind::Signature,
        valid: true,
        failure_code: None,
        certificate_serial: Some(format!("{n:04x}")),
        certificate_kind: Some(FeeCertKind::Signature),
        revocation_method: Some("ocsp"),
        at: time::OffsetDateTime::now_utc(),
        result: format!("{{\"n\":{n}}}"),
        certificate: None,
        metered: None,
        audit_action: "signature.verify",
        purpose: None,
        outcome: "valid".into(),
        audit_detail: serde_json::json!({ "verification_id": id }),
    }
}

/// The database at `url` with a tenant named `tenant` (its id is returned), and a recorder writing to it.
async fn recording(url: &str, tenant: &str) -> (jpki_store::Database, String, Recorder) {
    let db = jpki_store::Database::open(url).await.unwrap();
    let (tenant, _) = jpki_platform::tenants::create(&db, tenant, false).await.unwrap();
    let recorder = Recorder::start(db.clone(), jpki_platform::metrics::Metrics::default().batch_checks());
    (db, tenant.id, recorder)
}

/// The recorder remembers the chain's head between batches (SQLite); an entry appended by someone else
/// in between must not fork the chain nor lose the batch that follows it.
#[tokio::test]
async fn the_recorder_follows_entries_appended_beside_it() {
    let scratch = tempfile::tempdir().unwrap();
    for url in jpki_store::testing::database_urls(scratch.path()).await {
        let (db, tenant, recorder) = recording(&url, "chain").await;
        // Concurrent checks, so that the recorder commits them in batches.
        let record_all = |range: std::ops::Range<usize>| {
            let handles: Vec<_> = range
                .map(|n| {
                    tokio::spawn({
                        let (recorder, record) = (recorder.clone(), check(&tenant, n));
                        async move { recorder.record(record).await }
                    })
                })
                .collect();
            async move {
                for handle in handles {
                    handle.await.unwrap().unwrap();
                }
            }
        };
        record_all(0..20).await;
        for round in 0..3 {
            let mut tx = db.begin_write().await.unwrap();
            let detail = serde_json::json!({ "round": round });
            let beside = Entry { tenant_id: None, action: "test.beside", purpose: None, result: "ok", detail: &detail, at: 3 };
            audit::append(&mut tx, &beside).await.unwrap();
            tx.commit().await.unwrap();
            record_all(100 * (round + 1)..100 * (round + 1) + 20).await;
        }
        assert_eq!(audit::verify(&db).await.unwrap().entries, 20 + 3 * 21, "{url}");
        let (rows,): (i64,) = jpki_store::sqlx::query_as("SELECT COUNT(*) FROM verification").fetch_one(db.pool()).await.unwrap();
        assert_eq!(rows, 80, "{url}");
        db.close().await;
    }
}

/// Closing the database stops the recorder: closing waits for every connection in use, so the
/// recorder must give its own back, and a check recorded afterwards fails instead of waiting forever.
#[tokio::test]
async fn closing_the_database_stops_the_recorder() {
    use std::time::Duration;
    let scratch = tempfile::tempdir().unwrap();
    for url in jpki_store::testing::database_urls(scratch.path()).await {
        let (db, tenant, recorder) = recording(&url, "closing").await;
        recorder.record(check(&tenant, 1)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(30), db.close()).await.unwrap_or_else(|_| panic!("{url}: the recorder kept its connection"));
        assert_eq!(db.pool().size(), 0, "{url}");
        let refused = recorder.record(check(&tenant, 2)).await.unwrap_err().to_string();
        assert!(refused.contains("the recorder stopped"), "{url}: {refused}");
    }
}
