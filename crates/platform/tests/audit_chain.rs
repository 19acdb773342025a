//! The audit chain across batch boundaries (the writer appends up to hundreds of entries at once), on
//! every configured database.

use jpki_platform::audit::{self, Entry};

#[tokio::test]
async fn batches_extend_one_chain_and_tampering_is_caught() {
    let scratch = tempfile::tempdir().unwrap();
    for url in jpki_store::testing::database_urls(scratch.path()).await {
        let db = jpki_store::Database::open(&url).await.unwrap();
        let details: Vec<serde_json::Value> = (0..250).map(|i| serde_json::json!({ "n": i })).collect();
        let entries: Vec<Entry<'_>> = details
            .iter()
            .map(|d| Entry { tenant_id: None, action: "test.batch", purpose: Some("chain"), result: "ok", detail: d.clone(), at: 1 })
            .collect();
        let mut tx = db.begin_write().await.unwrap();
        let mut statements = jpki_store::Statements::new(&tx);
        assert_eq!(audit::append_all(&mut tx, &mut statements, &entries).await.unwrap(), 250);
        statements.execute(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = db.begin_write().await.unwrap();
        let single = Entry { tenant_id: None, action: "test.single", purpose: None, result: "ok", detail: serde_json::json!({}), at: 2 };
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
