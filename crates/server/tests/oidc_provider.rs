//! The OpenID Connect provider's clients and keys through the routers in process, on SQLite and, when
//! configured, PostgreSQL: registration (secret shown once and stored hashed, public keys only),
//! tenant isolation, and the JWK Set across a key rotation, read by jsonwebtoken.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use jpki_platform::oidc::keys;
use jpki_server::v1::{self, PlatformState};
use jpki_store::{sqlx, Database};
use jpki_verify::{TrustStore, Verifier};
use serde_json::{json, Value};
use tower::ServiceExt;

async fn call(router: &Router, method: &str, uri: &str, bearer: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {bearer}"));
    let body = match body {
        Some(json) => {
            request = request.header("content-type", "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let response = router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A client's public key as a JWK, from a P-256 key of its own.
fn client_jwk(key: &jpki_crypto::EcKey) -> Value {
    use base64::Engine;
    let point = key.public_point();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    json!({ "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]), "alg": "ES256", "kid": "rp-1" })
}

#[tokio::test]
async fn clients_are_the_tenants_own_and_keys_rotate_with_overlap() {
    let dir = tempfile::tempdir().unwrap();
    for url in jpki_store::testing::database_urls(dir.path()).await {
        let db = Database::open(&url).await.unwrap();
        let verifier = Verifier { trust: TrustStore::new(Vec::new()), ocsp: None, crls: Default::default() };
        let state = Arc::new(PlatformState::new(db.clone(), verifier, None));
        let provider = jpki_server::oidc::Provider::new(state.clone(), "https://id.example.jp", jpki_server::web::Pages::new(false), None);
        let router = v1::router(state).merge(jpki_server::oidc::router(provider));
        let (_, a) = jpki_platform::tenants::create(&db, "Bank A", false).await.unwrap();
        let (_, b) = jpki_platform::tenants::create(&db, "Shop B", false).await.unwrap();
        let (a, b) = (a.api_key, b.api_key);

        // client_secret_basic: the secret once, its SHA-256 in the database.
        let meta = json!({ "client_name": "Bank A web", "redirect_uris": ["https://bank-a.example.jp/cb"], "scope": "openid name address",
                           "token_endpoint_auth_method": "client_secret_basic" });
        let (status, created) = call(&router, "POST", "/v1/oidc/clients", &a, Some(meta)).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {created}");
        let (client_id, secret) = (created["client_id"].as_str().unwrap().to_owned(), created["client_secret"].as_str().unwrap().to_owned());
        assert!(client_id.len() == 32 && client_id.bytes().all(|c| c.is_ascii_alphanumeric()), "{client_id}");
        assert_eq!(created["scope"], "openid name address");
        let (stored,): (String,) =
            sqlx::query_as("SELECT secret_hash FROM oidc_client WHERE client_id = $1").bind(&client_id).fetch_one(db.pool()).await.unwrap();
        assert_eq!(stored, jpki_platform::tenants::key_hash(&secret), "{url}: stored hashed");
        let (status, listed) = call(&router, "GET", "/v1/oidc/clients", &a, None).await;
        assert_eq!((status, listed["clients"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{listed}");
        assert!(listed["clients"][0].get("client_secret").is_none(), "{url}: the secret is shown once");

        // private_key_jwt: the client's public key set; private parts refused.
        let rp_key = jpki_crypto::EcKey::generate_p256().unwrap();
        let jwk = client_jwk(&rp_key);
        let meta = json!({ "client_name": "Bank A app", "redirect_uris": ["http://127.0.0.1:3000/cb"], "scope": "openid sign",
                           "token_endpoint_auth_method": "private_key_jwt", "jwks": { "keys": [jwk] } });
        let (status, created) = call(&router, "POST", "/v1/oidc/clients", &a, Some(meta.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {created}");
        assert!(created.get("client_secret").is_none(), "{created}");
        let app_id = created["client_id"].as_str().unwrap().to_owned();
        let mut with_private = meta.clone();
        with_private["jwks"]["keys"][0]["d"] = json!("AAAA");
        let mut no_keys = meta.clone();
        no_keys.as_object_mut().unwrap().remove("jwks");
        let mut bad_key = meta.clone();
        bad_key["jwks"]["keys"][0]["x"] = json!("not-a-point");
        let mut http = meta.clone();
        http["redirect_uris"] = json!(["http://rp.example.jp/cb"]);
        let mut fragment = meta.clone();
        fragment["redirect_uris"] = json!(["https://rp.example.jp/cb#top"]);
        let mut no_openid = meta.clone();
        no_openid["scope"] = json!("name");
        let mut unknown_scope = meta.clone();
        unknown_scope["scope"] = json!("openid email");
        let mut extra = meta.clone();
        extra["grant_types"] = json!(["implicit"]);
        for (body, code, why) in [
            (with_private, "invalid_client_metadata", "private member \"d\""),
            (no_keys, "invalid_client_metadata", "needs jwks"),
            (bad_key, "invalid_client_metadata", "cannot verify"),
            (http, "invalid_redirect_uri", "https"),
            (fragment, "invalid_redirect_uri", "fragment"),
            (no_openid, "invalid_client_metadata", "openid"),
            (unknown_scope, "invalid_client_metadata", "\"email\""),
            (extra, "invalid_json", "grant_types"),
        ] {
            let (status, v) = call(&router, "POST", "/v1/oidc/clients", &a, Some(body)).await;
            assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{url}: {v}");
            assert!(v["error"]["message"].as_str().unwrap().contains(why), "{url}: {why}: {v}");
        }

        // Another tenant neither sees nor removes them.
        let (_, others) = call(&router, "GET", "/v1/oidc/clients", &b, None).await;
        assert_eq!(others["clients"].as_array().map(Vec::len), Some(0), "{url}: {others}");
        assert_eq!(call(&router, "GET", &format!("/v1/oidc/clients/{app_id}"), &b, None).await.0, StatusCode::NOT_FOUND);
        assert_eq!(call(&router, "DELETE", &format!("/v1/oidc/clients/{app_id}"), &b, None).await.0, StatusCode::NOT_FOUND);
        let (status, got) = call(&router, "GET", &format!("/v1/oidc/clients/{app_id}"), &a, None).await;
        assert_eq!((status, &got["jwks"]["keys"][0]["kid"]), (StatusCode::OK, &json!("rp-1")), "{url}: {got}");
        assert_eq!(call(&router, "DELETE", &format!("/v1/oidc/clients/{app_id}"), &a, None).await.0, StatusCode::NO_CONTENT);
        assert_eq!(call(&router, "GET", &format!("/v1/oidc/clients/{app_id}"), &a, None).await.0, StatusCode::NOT_FOUND);

        // The JWK Set: one key, then two across a rotation, the new one signing; the old one leaves
        // after the overlap.
        let certs = "/api/realms/main/protocol/openid-connect/certs";
        let (status, set) = call(&router, "GET", certs, "", None).await;
        assert_eq!((status, set["keys"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{url}: {set}");
        let first = set["keys"][0]["kid"].clone();
        let now = time::OffsetDateTime::now_utc();
        let signing = keys::rotate(&db, now).await.unwrap();
        let (_, set) = call(&router, "GET", certs, "", None).await;
        let kids: Vec<&Value> = set["keys"].as_array().unwrap().iter().map(|k| &k["kid"]).collect();
        assert_eq!(kids, [&json!(signing.kid), &first], "{url}: {set}");
        assert_eq!(keys::current(&db, now).await.unwrap().kid, signing.kid);
        let later = keys::published(&db, now + keys::ROTATION_OVERLAP + time::Duration::minutes(1)).await.unwrap();
        assert_eq!(later.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), [signing.kid.as_str()], "{url}");
        // What the JWKS says verifies what the current key signs.
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(set["keys"][0].clone()).unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(signing.kid.clone());
        let token =
            jsonwebtoken::encode(&header, &json!({ "exp": 4_000_000_000u64 }), &jsonwebtoken::EncodingKey::from_ec_der(signing.key.pkcs8_der())).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        jsonwebtoken::decode::<Value>(&token, &key, &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256)).unwrap();
        db.close().await;
    }
}
