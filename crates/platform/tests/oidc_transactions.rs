//! An authorization's lifetime as the companion app and the polling page see it, and a sign
//! transaction's binding to one authorization, on every configured database: expired transactions,
//! wrong app keys, a sign transaction sent twice or too late, tokens that are not a login's.

use jpki_platform::oidc::authorization::{self, Collected, Unanswerable};
use jpki_platform::oidc::clients::{self, ClientMetadata};
use jpki_platform::oidc::error::ErrorCode;
use jpki_platform::oidc::params::Params;
use jpki_platform::oidc::sign;
use jpki_store::Database;
use jpki_verify::digest_info::DigestInfo;
use time::{Duration, OffsetDateTime};

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn request(client_id: &str, sign_transaction_id: Option<&str>) -> Params {
    let mut pairs = vec![
        ("client_id", client_id),
        ("redirect_uri", "https://rp.example/cb"),
        ("response_type", "code"),
        ("state", "s"),
        ("nonce", "n"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    match sign_transaction_id {
        Some(id) => pairs.extend([("scope", "openid sign"), ("sign_transaction_id", id)]),
        None => pairs.push(("scope", "openid")),
    }
    Params::from_pairs(pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())))
}

#[tokio::test]
async fn transactions_expire_and_sign_transactions_go_to_one_login() {
    let scratch = tempfile::tempdir().unwrap();
    for url in jpki_store::testing::database_urls(scratch.path()).await {
        let db = Database::open(&url).await.unwrap();
        let (tenant, _) = jpki_platform::tenants::create(&db, "rp", false).await.unwrap();
        let metadata: ClientMetadata = serde_json::from_value(serde_json::json!({
            "client_name": "RP", "redirect_uris": ["https://rp.example/cb"], "scope": "openid sign", "token_endpoint_auth_method": "client_secret_basic",
        }))
        .unwrap();
        let registered = clients::register(&db, &tenant.id, metadata.check(false).unwrap()).await.unwrap();
        let client = clients::find(&db, &registered.client.client_id).await.unwrap().unwrap();
        let now = OffsetDateTime::now_utc();
        let later = now + authorization::REQUEST_LIFETIME + Duration::seconds(1);

        // A login's transaction: answerable by its browser and its app key until it expires.
        let checked = authorization::check(&request(&client.client_id, None), &client).unwrap();
        let begun = authorization::begin(&db, &client, &checked, now).await.unwrap().unwrap();
        let key = authorization::app_key(&begun.browser_secret, &begun.id);
        assert!(authorization::app_answerable(&db, &begun.id, &key, now).await.unwrap().is_ok(), "{url}");
        let wrong = authorization::app_answerable(&db, &begun.id, &format!("{key}x"), now).await.unwrap();
        assert_eq!(wrong.unwrap_err(), Unanswerable::NotThisBrowser, "{url}");
        let other_browser = authorization::app_key("another browser", &begun.id);
        assert_eq!(authorization::app_answerable(&db, &begun.id, &other_browser, now).await.unwrap().unwrap_err(), Unanswerable::NotThisBrowser, "{url}");
        assert_eq!(authorization::app_answerable(&db, &begun.id, &key, later).await.unwrap().unwrap_err(), Unanswerable::Expired, "{url}");
        assert_eq!(authorization::app_answerable(&db, "authz_none", &key, now).await.unwrap().unwrap_err(), Unanswerable::Unknown, "{url}");
        let secret = Some(begun.browser_secret.as_str());
        assert!(matches!(authorization::collect(&db, &begun.id, secret, now).await.unwrap(), Ok(Collected::Waiting(p)) if p.id == begun.id), "{url}");
        assert_eq!(authorization::collect(&db, &begun.id, secret, later).await.unwrap().unwrap_err(), Unanswerable::Expired, "{url}");
        assert_eq!(authorization::collect(&db, &begun.id, Some("x"), now).await.unwrap().unwrap_err(), Unanswerable::NotThisBrowser, "{url}");
        assert_eq!(authorization::answerable(&db, &begun.id, secret, None, later).await.unwrap().unwrap_err(), Unanswerable::Expired, "{url}");

        // Declined in the app: the page takes access_denied to the RP once.
        let pending = authorization::app_answerable(&db, &begun.id, &key, now).await.unwrap().unwrap();
        assert!(authorization::refuse(&db, &pending, "declined", "the user declined in the app", &[], now).await.unwrap(), "{url}");
        assert!(!authorization::refuse(&db, &pending, "declined", "again", &[], now).await.unwrap(), "{url}: answered once");
        match authorization::collect(&db, &begun.id, secret, now).await.unwrap() {
            Ok(Collected::Refused { description, state, .. }) => {
                assert_eq!((description.as_str(), state.as_str()), ("the user declined in the app", "s"), "{url}")
            }
            other => panic!("{url}: {other:?}"),
        }
        assert_eq!(authorization::collect(&db, &begun.id, secret, now).await.unwrap().unwrap_err(), Unanswerable::Answered, "{url}");

        // A sign transaction goes to one authorization, of its own client, before it expires.
        let to_sign = DigestInfo::new(jpki_crypto::Digest::Sha256, &[7; 32]).unwrap();
        let created = sign::create(&db, &client, "契約書への署名", &to_sign, now).await.unwrap();
        let checked = authorization::check(&request(&client.client_id, Some(&created.id)), &client).unwrap();
        let late = authorization::begin(&db, &client, &checked, now + sign::LIFETIME + Duration::seconds(1)).await.unwrap();
        assert_eq!(late.unwrap_err().code, ErrorCode::InvalidRequest, "{url}: expired");
        let signing = authorization::begin(&db, &client, &checked, now).await.unwrap().unwrap();
        let signing_key = authorization::app_key(&signing.browser_secret, &signing.id);
        let signing_pending = authorization::app_answerable(&db, &signing.id, &signing_key, now).await.unwrap().unwrap();
        let bound = signing_pending.sign_transaction(&db).await.unwrap().unwrap();
        assert_eq!((bound.id.as_str(), bound.purpose.as_str(), &bound.to_sign), (created.id.as_str(), "契約書への署名", &to_sign), "{url}");
        let again = authorization::begin(&db, &client, &checked, now).await.unwrap();
        assert!(again.unwrap_err().description.contains("names no sign transaction"), "{url}: sent once");
        assert!(sign::create(&db, &client, "two\nlines", &to_sign, now).await.is_err(), "{url}");
        let result = sign::result(&db, &created.id, "not-a-token", now).await.unwrap();
        assert_eq!(result.unwrap_err().code, ErrorCode::InvalidToken, "{url}");
    }
}
