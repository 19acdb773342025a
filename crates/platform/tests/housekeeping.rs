//! The housekeeping sweep, on every configured database: what expired more than an hour ago goes, what
//! expired since is still told apart from an unknown id, and nothing that can still be used is touched.

use jpki_platform::housekeeping::{self, Swept, KEPT_AFTER_EXPIRY};
use jpki_platform::login::{self, ChallengeProblem, CHALLENGE_LIFETIME};
use jpki_platform::presentations::{self, RequestProblem};
use jpki_store::{sqlx, Database};
use time::{Duration, OffsetDateTime};

/// A presentation request row expiring at `expires_at` (the sweep reads nothing else of it).
async fn presentation_request(db: &Database, tenant_id: &str, expires_at: OffsetDateTime) -> String {
    let id = jpki_store::new_id("mdocreq");
    sqlx::query("INSERT INTO mdoc_request (id, tenant_id, purpose, claims, origin, created_at, expires_at) VALUES ($1, $2, 'test', '{}', NULL, $3, $4)")
        .bind(&id)
        .bind(tenant_id)
        .bind((expires_at - Duration::minutes(10)).unix_timestamp())
        .bind(expires_at.unix_timestamp())
        .execute(db.pool())
        .await
        .unwrap();
    id
}

/// An OpenID Connect authorization row expiring at `expires_at`, with one token, holding claims.
async fn authorization(db: &Database, tenant_id: &str, expires_at: OffsetDateTime) -> String {
    let id = jpki_store::new_id("authz");
    sqlx::query(
        "INSERT INTO oidc_authorization (id, client_id, tenant_id, redirect_uri, scopes, state, nonce, code_challenge, browser_hash, status,
             subject, claims, created_at, expires_at)
         VALUES ($1, 'c', $2, 'https://rp/cb', 'openid name', 's', 'n', 'x', 'h', 'redeemed', 'sub', '{\"name\":\"x\"}', $3, $3)",
    )
    .bind(&id)
    .bind(tenant_id)
    .bind(expires_at.unix_timestamp())
    .execute(db.pool())
    .await
    .unwrap();
    sqlx::query("INSERT INTO oidc_token (token_hash, authorization_id, kind, expires_at) VALUES ($1, $2, 'refresh', $3)")
        .bind(format!("hash-{id}"))
        .bind(&id)
        .bind(expires_at.unix_timestamp())
        .execute(db.pool())
        .await
        .unwrap();
    id
}

/// A signed sign transaction expiring at `expires_at`, its result holding a signature.
async fn sign_transaction(db: &Database, tenant_id: &str, expires_at: OffsetDateTime) -> String {
    let id = jpki_store::new_id("sign");
    sqlx::query(
        "INSERT INTO oidc_sign_transaction (id, client_id, tenant_id, purpose, to_sign, result, created_at, expires_at)
         VALUES ($1, 'c', $2, 'p', $3, '{\"signature\":\"x\"}', $4, $4)",
    )
    .bind(&id)
    .bind(tenant_id)
    .bind(vec![0u8; 51])
    .bind(expires_at.unix_timestamp())
    .execute(db.pool())
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn the_sweep_removes_only_what_expired_more_than_an_hour_ago() {
    let scratch = tempfile::tempdir().unwrap();
    for url in jpki_store::testing::database_urls(scratch.path()).await {
        let db = Database::open(&url).await.unwrap();
        let (tenant, _) = jpki_platform::tenants::create(&db, "housekeeping", false).await.unwrap();
        let now = OffsetDateTime::now_utc();
        let long_expired = now - KEPT_AFTER_EXPIRY - CHALLENGE_LIFETIME - Duration::minutes(1);
        let just_expired = now - CHALLENGE_LIFETIME - Duration::minutes(1);
        let old = login::issue(&db, &tenant.id, long_expired).await.unwrap();
        let recent = login::issue(&db, &tenant.id, just_expired).await.unwrap();
        let used = login::issue(&db, &tenant.id, long_expired).await.unwrap();
        assert!(login::consume(&db, &tenant.id, &used.challenge_id, long_expired).await.unwrap().is_ok());
        let live = login::issue(&db, &tenant.id, now).await.unwrap();
        let old_request = presentation_request(&db, &tenant.id, now - KEPT_AFTER_EXPIRY - Duration::seconds(1)).await;
        let live_request = presentation_request(&db, &tenant.id, now + Duration::minutes(5)).await;
        authorization(&db, &tenant.id, now - KEPT_AFTER_EXPIRY - Duration::seconds(1)).await;
        let live_authorization = authorization(&db, &tenant.id, now + Duration::hours(5)).await;
        sign_transaction(&db, &tenant.id, now - KEPT_AFTER_EXPIRY - Duration::seconds(1)).await;
        let live_sign = sign_transaction(&db, &tenant.id, now + Duration::minutes(20)).await;

        let swept = housekeeping::sweep(&db, now).await.unwrap();
        assert_eq!(swept, Swept { challenges: 2, presentation_requests: 1, authorizations: 1, sign_transactions: 1, verifications: 0 }, "{url}");

        let consume = |id: String| {
            let (db, tenant) = (db.clone(), tenant.id.clone());
            async move { login::consume(&db, &tenant, &id, now).await.unwrap() }
        };
        assert_eq!(consume(old.challenge_id).await, Err(ChallengeProblem::Unknown), "{url}");
        assert_eq!(consume(used.challenge_id).await, Err(ChallengeProblem::Unknown), "{url}: a used challenge stays refused");
        assert_eq!(consume(recent.challenge_id).await, Err(ChallengeProblem::Expired), "{url}");
        assert!(consume(live.challenge_id).await.is_ok(), "{url}: a live challenge must survive the sweep");
        assert!(matches!(presentations::take(&db, &tenant.id, &old_request, now).await.unwrap(), Err(RequestProblem::Unknown)), "{url}");
        let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM mdoc_request WHERE id = $1").bind(&live_request).fetch_one(db.pool()).await.unwrap();
        assert_eq!(left, 1, "{url}: a live presentation request must survive the sweep");
        let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM oidc_sign_transaction WHERE id = $1").bind(&live_sign).fetch_one(db.pool()).await.unwrap();
        assert_eq!(left, 1, "{url}: a live sign transaction must survive the sweep");
        let (rows, tokens): (i64, i64) =
            sqlx::query_as("SELECT (SELECT COUNT(*) FROM oidc_authorization), (SELECT COUNT(*) FROM oidc_token)").fetch_one(db.pool()).await.unwrap();
        assert_eq!((rows, tokens), (1, 1), "{url}: the ended authorization goes with its claims and tokens, the live one stays");
        let (live,): (String,) = sqlx::query_as("SELECT id FROM oidc_authorization").fetch_one(db.pool()).await.unwrap();
        assert_eq!(live, live_authorization, "{url}");

        assert_eq!(housekeeping::sweep(&db, now).await.unwrap(), Swept::default(), "{url}: a second sweep finds nothing");
        db.close().await;
    }
}

/// A verification row of `tenant_id` made at `at`, its result holding a name.
async fn verification(db: &Database, tenant_id: &str, at: OffsetDateTime) -> String {
    let id = jpki_store::new_id("verification");
    sqlx::query(
        "INSERT INTO verification (id, tenant_id, kind, valid, created_at, result) VALUES ($1, $2, 'signature', 1, $3, '{\"signer\":{\"name\":\"x\"}}')",
    )
    .bind(&id)
    .bind(tenant_id)
    .bind(at.unix_timestamp())
    .execute(db.pool())
    .await
    .unwrap();
    id
}

/// A tenant's retention period deletes its verification results once they are older, audited with
/// the count; a tenant without one keeps them; the audit chain holds.
#[tokio::test]
async fn verification_results_are_kept_for_the_tenants_retention_period() {
    let scratch = tempfile::tempdir().unwrap();
    for url in jpki_store::testing::database_urls(scratch.path()).await {
        let db = Database::open(&url).await.unwrap();
        let (short, _) = jpki_platform::tenants::create(&db, "thirty days", false).await.unwrap();
        let (keeps, _) = jpki_platform::tenants::create(&db, "keeps", false).await.unwrap();
        let mut tx = db.begin_write().await.unwrap();
        jpki_platform::tenants::set_retention_in(&mut tx, &short.id, Some(30)).await.unwrap();
        tx.commit().await.unwrap();
        let now = OffsetDateTime::now_utc();
        let old = verification(&db, &short.id, now - Duration::days(31)).await;
        let recent = verification(&db, &short.id, now - Duration::days(29)).await;
        let kept = verification(&db, &keeps.id, now - Duration::days(400)).await;

        let swept = housekeeping::sweep(&db, now).await.unwrap();
        assert_eq!(swept.verifications, 1, "{url}");
        let left: Vec<(String,)> = sqlx::query_as("SELECT id FROM verification ORDER BY id").fetch_all(db.pool()).await.unwrap();
        let mut expected = vec![recent.clone(), kept.clone()];
        expected.sort();
        assert_eq!(left.into_iter().map(|(i,)| i).collect::<Vec<_>>(), expected, "{url}: {old} goes");
        let (action, detail): (String, String) = sqlx::query_as("SELECT action, detail FROM audit_log WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1")
            .bind(&short.id)
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(action, "verification.expire", "{url}");
        assert!(detail.contains("\"deleted\":1") && !detail.contains("name"), "{url}: {detail}");
        // Two days later the recent one is past it too.
        assert_eq!(housekeeping::sweep(&db, now + Duration::days(2)).await.unwrap().verifications, 1, "{url}");
        jpki_platform::audit::verify(&db).await.unwrap();
        db.close().await;
    }
}

/// The sweeper runs in the background of every server; closing the database ends it.
#[tokio::test]
async fn closing_the_database_stops_the_sweeper() {
    let scratch = tempfile::tempdir().unwrap();
    for url in jpki_store::testing::database_urls(scratch.path()).await {
        let db = Database::open(&url).await.unwrap();
        let sweeper = housekeeping::start(&db);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!sweeper.is_finished(), "{url}: the sweeper must keep running while the database is open");
        tokio::time::timeout(std::time::Duration::from_secs(20), db.close()).await.unwrap_or_else(|_| panic!("{url}: closing waited for the sweeper"));
        tokio::time::timeout(std::time::Duration::from_secs(5), sweeper).await.unwrap_or_else(|_| panic!("{url}: the sweeper outlived the database")).unwrap();
    }
}
