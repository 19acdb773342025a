//! A qualification check by a verification older than the freshness the check asks for is refused as
//! stale before anything else is looked at, on every configured database.

use jpki_platform::qualifications::{self, NotQualified, FRESHNESS};
use jpki_store::{sqlx, Database};
use time::{Duration, OffsetDateTime};

#[tokio::test]
async fn an_old_verification_is_stale() {
    let scratch = tempfile::tempdir().unwrap();
    for url in jpki_store::testing::database_urls(scratch.path()).await {
        let db = Database::open(&url).await.unwrap();
        let (tenant, _) = jpki_platform::tenants::create(&db, "employer", false).await.unwrap();
        let now = OffsetDateTime::now_utc();
        for (id, age) in [("ver_old", FRESHNESS + Duration::seconds(1)), ("ver_new", Duration::seconds(1))] {
            sqlx::query("INSERT INTO verification (id, tenant_id, kind, valid, created_at, result) VALUES ($1, $2, 'cms', 1, $3, '{}')")
                .bind(id)
                .bind(&tenant.id)
                .bind((now - age).unix_timestamp())
                .execute(db.pool())
                .await
                .unwrap();
        }
        let old = qualifications::check(&db, &tenant.id, "ver_old", "employee", now).await.unwrap();
        assert_eq!((old.qualified, old.reason), (false, Some(NotQualified::VerificationStale)), "{url}");
        let new = qualifications::check(&db, &tenant.id, "ver_new", "employee", now).await.unwrap();
        assert_eq!(new.reason, Some(NotQualified::UnknownPerson), "{url}: fresh, but no certificate of a customer");
        assert!(qualifications::check(&db, &tenant.id, "ver_none", "employee", now).await.is_err(), "{url}");
    }
}
