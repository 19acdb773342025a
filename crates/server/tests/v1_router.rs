//! Every `/v1` endpoint in process, through the router (tower's `oneshot`, no socket): its success and
//! the error statuses and codes a client can cause, against a sandbox issuer's CAs and OCSP responder
//! asked in-process, on SQLite. The end-to-end tests in crates/cli/tests drive the same API through
//! `jpki serve`.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use base64::Engine;
use jpki_card::{CardDir, Emulator, MyNumberCard};
use jpki_issuer::cards::CardPins;
use jpki_issuer::meter::Meter;
use jpki_issuer::ocsp::OcspResponder;
use jpki_issuer::Issuer;
use jpki_profile::KeyRole;
use jpki_profile::{BirthDate, FourInfo, Sex};
use jpki_server::transport::InProcessOcsp;
use jpki_server::v1::{self, PlatformState};
use jpki_verify::revocation::OcspChecker;
use jpki_verify::{TrustStore, Verifier};
use serde_json::{json, Value};
use time::OffsetDateTime;
use tower::ServiceExt;

const ADMIN: &str = "router-test-admin-token";

struct App {
    router: Router,
    card: PathBuf,
    _dir: tempfile::TempDir,
}

async fn app(admin_token: Option<&str>) -> App {
    let dir = tempfile::tempdir().unwrap();
    let db = jpki_store::Database::open(&jpki_store::Database::sqlite_url(&dir.path().join("jpki.sqlite3"))).await.unwrap();
    let (issuer, _) = Issuer::init(db.clone()).await.unwrap();
    let responder = OcspResponder::start(issuer.clone(), Meter::start(db.clone())).await.unwrap();
    let anchors = KeyRole::ALL.iter().map(|r| jpki_verify::trust::Anchor::new(issuer.ca(*r).certificate.clone()).unwrap()).collect();
    let ocsp = OcspChecker::new("in-process", Box::new(InProcessOcsp { runtime: tokio::runtime::Handle::current(), responder }));
    let verifier = Verifier { trust: TrustStore::new(anchors), ocsp: Some(ocsp), crls: Default::default() };
    let card = issue_card(&issuer, &dir).await;
    let router = v1::router(Arc::new(PlatformState::new(db, verifier, admin_token)));
    App { router, card, _dir: dir }
}

async fn issue_card(issuer: &Issuer, dir: &tempfile::TempDir) -> PathBuf {
    let info = FourInfo::new("経路　試験", "東京都千代田区霞が関２－１－２", BirthDate::parse_iso("1990-01-02").unwrap(), Sex::Male).unwrap();
    let person = issuer.add_person(info, None).await.unwrap();
    let pins = CardPins { signature: "ABC123".into(), authentication: "1234".into(), input_assistance: "1234".into(), resident_registry: "1234".into() };
    let out = dir.path().join("card");
    issuer.issue_card(&person.id, &pins, None, &out).await.unwrap();
    out
}

/// The virtual card the tests sign with.
fn card(app: &App) -> MyNumberCard<Emulator> {
    MyNumberCard::new(Emulator::open(CardDir::new(&app.card)).unwrap())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn call(app: &App, method: &str, uri: &str, bearer: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(json) => {
            request = request.header("content-type", "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let response = app.router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

/// A tenant and its key.
async fn tenant(app: &App, name: &str) -> (String, String) {
    let (status, v) = call(app, "POST", "/v1/admin/tenants", Some(ADMIN), Some(json!({ "name": name }))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    (v["id"].as_str().unwrap().to_owned(), v["api_key"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_endpoints() {
    let app = app(Some(ADMIN)).await;
    let (id, key) = tenant(&app, "Bank").await;
    let tenant_path = format!("/v1/admin/tenants/{id}");
    for (method, uri, bearer, body, status, error) in [
        ("POST", "/v1/admin/tenants", None, Some(json!({ "name": "X" })), StatusCode::UNAUTHORIZED, "unauthorized"),
        ("POST", "/v1/admin/tenants", Some(key.as_str()), Some(json!({ "name": "X" })), StatusCode::UNAUTHORIZED, "unauthorized"),
        ("POST", "/v1/admin/tenants", Some(ADMIN), Some(json!({ "name": "Bank" })), StatusCode::CONFLICT, "conflict"),
        ("POST", "/v1/admin/tenants", Some(ADMIN), Some(json!({ "name": " " })), StatusCode::BAD_REQUEST, "invalid_name"),
        ("POST", "/v1/admin/tenants", Some(ADMIN), Some(json!({ "name": 5 })), StatusCode::BAD_REQUEST, "invalid_json"),
        ("POST", "/v1/admin/tenants", Some(ADMIN), None, StatusCode::BAD_REQUEST, "invalid_json"),
        ("GET", "/v1/admin/tenants", None, None, StatusCode::UNAUTHORIZED, "unauthorized"),
        ("PATCH", "/v1/admin/tenants/tenant_none", Some(ADMIN), Some(json!({ "disabled": true })), StatusCode::NOT_FOUND, "not_found"),
        ("PATCH", tenant_path.as_str(), Some(ADMIN), Some(json!({})), StatusCode::BAD_REQUEST, "invalid_change"),
        ("PATCH", tenant_path.as_str(), Some(ADMIN), Some(json!({ "verification_retention_days": 0 })), StatusCode::BAD_REQUEST, "invalid_retention"),
        ("PATCH", tenant_path.as_str(), Some(ADMIN), Some(json!({ "verification_retention_days": 3651 })), StatusCode::BAD_REQUEST, "invalid_retention"),
        ("PATCH", tenant_path.as_str(), Some(ADMIN), Some(json!({ "verification_retention_days": -1 })), StatusCode::BAD_REQUEST, "invalid_json"),
        ("POST", "/v1/admin/tenants/tenant_none/keys", Some(ADMIN), None, StatusCode::NOT_FOUND, "not_found"),
        ("DELETE", "/v1/admin/keys/key_none", Some(ADMIN), None, StatusCode::NOT_FOUND, "not_found"),
        ("PUT", "/v1/admin/tenants", Some(ADMIN), None, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
    ] {
        let (got, v) = call(&app, method, uri, bearer, body).await;
        assert_eq!((got, code(&v)), (status, error), "{method} {uri}: {v}");
    }
    let (status, v) = call(&app, "GET", "/v1/admin/tenants", Some(ADMIN), None).await;
    assert_eq!((status, v["tenants"][0]["name"].as_str()), (StatusCode::OK, Some("Bank")), "{v}");
    let (status, v) = call(&app, "PATCH", &tenant_path, Some(ADMIN), Some(json!({ "disabled": true }))).await;
    assert_eq!((status, &v["disabled"]), (StatusCode::OK, &json!(true)), "{v}");
    let (status, v) = call(&app, "GET", "/v1/usage", Some(&key), None).await;
    assert_eq!((status, code(&v)), (StatusCode::FORBIDDEN, "tenant_disabled"));
    let (status, v) = call(&app, "PATCH", &tenant_path, Some(ADMIN), Some(json!({ "verification_retention_days": 90 }))).await;
    assert_eq!((status, &v["verification_retention_days"]), (StatusCode::OK, &json!(90)), "{v}");
    let (status, v) = call(&app, "PATCH", &tenant_path, Some(ADMIN), Some(json!({ "verification_retention_days": null }))).await;
    assert_eq!((status, &v["verification_retention_days"]), (StatusCode::OK, &Value::Null), "{v}");
    call(&app, "PATCH", &tenant_path, Some(ADMIN), Some(json!({ "disabled": false }))).await;
    let (status, v) = call(&app, "POST", &format!("{tenant_path}/keys"), Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (spare_id, spare) = (v["key_id"].as_str().unwrap().to_owned(), v["api_key"].as_str().unwrap().to_owned());
    assert_eq!(call(&app, "GET", "/v1/usage", Some(&spare), None).await.0, StatusCode::OK);
    let (status, _) = call(&app, "DELETE", &format!("/v1/admin/keys/{spare_id}"), Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(call(&app, "GET", "/v1/usage", Some(&spare), None).await.0, StatusCode::UNAUTHORIZED, "a revoked key stops at once");

    // Without an admin token configured, the admin API is off.
    let closed = self::app(None).await;
    let (status, v) = call(&closed, "POST", "/v1/admin/tenants", Some(ADMIN), Some(json!({ "name": "X" }))).await;
    assert_eq!((status, code(&v)), (StatusCode::FORBIDDEN, "admin_disabled"));
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_verifications_and_usage() {
    let app = app(Some(ADMIN)).await;
    let (_, key) = tenant(&app, "Shop").await;
    let (_, other) = tenant(&app, "Other").await;
    let mut signer = card(&app);
    let cms = tokio::task::spawn_blocking(move || {
        let cert = signer.read_certificate(KeyRole::Signature, Some("ABC123")).unwrap();
        jpki_verify::signed_data::build("申込書".as_bytes(), &cert, true, OffsetDateTime::now_utc(), |d| signer.sign(KeyRole::Signature, "ABC123", d)).unwrap()
    })
    .await
    .unwrap();
    let (status, v) = call(&app, "POST", "/v1/signatures/verify", Some(&key), Some(json!({ "cms": b64(&cms) }))).await;
    assert_eq!((status, &v["valid"], &v["revocation"]["method"]), (StatusCode::OK, &json!(true), &json!("ocsp")), "{v}");
    let id = v["verification_id"].as_str().unwrap().to_owned();
    for (body, status, error) in [
        (json!({ "cms": "***" }), StatusCode::BAD_REQUEST, "invalid_base64"),
        (json!({ "cms": "MAMCAQA=" }), StatusCode::BAD_REQUEST, "invalid_cms"),
        (json!({ "cms": b64(&cms), "purpose": "x".repeat(201) }), StatusCode::BAD_REQUEST, "invalid_purpose"),
        (json!({ "cms": b64(&cms), "extra": 1 }), StatusCode::BAD_REQUEST, "invalid_json"),
    ] {
        let (got, v) = call(&app, "POST", "/v1/signatures/verify", Some(&key), Some(body.clone())).await;
        assert_eq!((got, code(&v)), (status, error), "{body} → {v}");
    }
    let body = json!({ "cms": b64(&cms), "certificate_kind": "authentication" });
    let (got, v) = call(&app, "POST", "/v1/signatures/verify", Some(&key), Some(body)).await;
    assert_eq!((got, &v["failure"]["code"]), (StatusCode::OK, &json!("wrong_certificate_kind")), "{v}");
    assert_eq!(call(&app, "POST", "/v1/signatures/verify", None, Some(json!({ "cms": b64(&cms) }))).await.0, StatusCode::UNAUTHORIZED);

    let (status, v) = call(&app, "GET", &format!("/v1/verifications/{id}"), Some(&key), None).await;
    assert_eq!((status, &v["verification_id"]), (StatusCode::OK, &json!(id)), "{v}");
    let (status, v) = call(&app, "GET", &format!("/v1/verifications/{id}"), Some(&other), None).await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "another tenant's verification");
    let (status, v) = call(&app, "GET", "/v1/verifications/%FF", Some(&key), None).await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, "invalid_path"));

    let (status, v) = call(&app, "GET", "/v1/usage", Some(&key), None).await;
    assert_eq!((status, &v["usage"][0]["method"], &v["usage"][0]["count"]), (StatusCode::OK, &json!("ocsp"), &json!(1)), "{v}");
    let (status, v) = call(&app, "GET", "/v1/usage?format=xml", Some(&key), None).await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, "invalid_format"));
    let (status, v) = call(&app, "GET", "/v1/usage?format=a&format=b", Some(&key), None).await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, "invalid_query"));
}

#[tokio::test(flavor = "multi_thread")]
async fn login_and_presentations() {
    let app = app(Some(ADMIN)).await;
    let (_, key) = tenant(&app, "Login").await;
    let (status, c) = call(&app, "POST", "/v1/auth/challenges", Some(&key), None).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let challenge = base64::engine::general_purpose::STANDARD.decode(c["challenge"].as_str().unwrap()).unwrap();
    let mut signer = card(&app);
    let (certificate, signature) = tokio::task::spawn_blocking(move || {
        let certificate = signer.read_certificate(KeyRole::Authentication, None).unwrap();
        let mut digest_info = jpki_crypto::SHA256_DIGEST_INFO_PREFIX.to_vec();
        digest_info.extend_from_slice(&jpki_crypto::sha256(&challenge));
        (certificate, signer.sign(KeyRole::Authentication, "1234", &digest_info).unwrap())
    })
    .await
    .unwrap();
    let login = json!({ "challenge_id": c["challenge_id"], "certificate": b64(&certificate), "signature": b64(&signature) });
    let (status, v) = call(&app, "POST", "/v1/auth/verify", Some(&key), Some(login.clone())).await;
    assert_eq!((status, &v["valid"], &v["device"]), (StatusCode::OK, &json!(true), &json!("card")), "{v}");
    for (body, status, error) in [
        (login.clone(), StatusCode::BAD_REQUEST, "challenge_used"),
        (
            json!({ "challenge_id": "challenge_none", "certificate": b64(&certificate), "signature": b64(&signature) }),
            StatusCode::NOT_FOUND,
            "challenge_unknown",
        ),
        (json!({ "challenge_id": "x", "certificate": "***", "signature": "" }), StatusCode::BAD_REQUEST, "invalid_base64"),
        (json!({ "challenge_id": "x", "certificate": "", "signature": "", "account_id": "" }), StatusCode::BAD_REQUEST, "invalid_account_id"),
    ] {
        let (got, v) = call(&app, "POST", "/v1/auth/verify", Some(&key), Some(body.clone())).await;
        assert_eq!((got, code(&v)), (status, error), "{body} → {v}");
    }
    assert_eq!(call(&app, "POST", "/v1/auth/challenges", None, None).await.0, StatusCode::UNAUTHORIZED);

    // Presentations need IACA roots; without them the endpoints say so.
    let wanted = json!({ "elements": ["age_over_20"], "purpose": "age check", "response_uri": "https://rp.example/cb" });
    let (status, v) = call(&app, "POST", "/v1/mdoc/requests", Some(&key), Some(wanted)).await;
    assert_eq!((status, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "mdoc_disabled"), "{v}");
    let (status, v) = call(&app, "POST", "/v1/mdoc/responses", Some(&key), Some(json!({ "request_id": "r", "response": {} }))).await;
    assert_eq!((status, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "mdoc_disabled"), "{v}");
    let (status, v) = call(&app, "POST", "/v1/mdoc/requests", Some(&key), Some(json!({ "elements": "x" }))).await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, "invalid_json"), "{v}");
}

/// Consent and latest-info bodies: each malformed one refused with the code naming what is wrong;
/// without a connected issuer a well-formed consent is answered 503, and nothing is recorded.
#[tokio::test(flavor = "multi_thread")]
async fn consent_and_latest_info_refusals() {
    let app = app(Some(ADMIN)).await;
    let (_, key) = tenant(&app, "Bank").await;
    let (_, other) = tenant(&app, "Other").await;
    let text = "最新の基本4情報の提供に同意します";
    let mut signer = card(&app);
    let (application, consent) = tokio::task::spawn_blocking(move || {
        let cert = signer.read_certificate(KeyRole::Signature, Some("ABC123")).unwrap();
        let now = OffsetDateTime::now_utc();
        let mut sign = |content: &[u8]| jpki_verify::signed_data::build(content, &cert, true, now, |d| signer.sign(KeyRole::Signature, "ABC123", d)).unwrap();
        (sign("申込書".as_bytes()), sign(text.as_bytes()))
    })
    .await
    .unwrap();
    let (_, v) = call(&app, "POST", "/v1/signatures/verify", Some(&key), Some(json!({ "cms": b64(&application), "identify_user": true }))).await;
    assert_eq!((&v["valid"], &v["user"]), (&json!(true), &Value::Null), "{v}");
    let body = json!({ "verification_id": v["verification_id"], "reference": "c-1", "account_id": "" });
    let (status, e) = call(&app, "POST", "/v1/customers", Some(&key), Some(body)).await;
    assert_eq!((status, code(&e)), (StatusCode::BAD_REQUEST, "invalid_account_id"), "{e}");
    let (status, customer) =
        call(&app, "POST", "/v1/customers", Some(&key), Some(json!({ "verification_id": v["verification_id"], "reference": "c-1", "account_id": "a-1" })))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    let id = customer["id"].as_str().unwrap();
    let (_, v) = call(&app, "POST", "/v1/signatures/verify", Some(&key), Some(json!({ "cms": b64(&application), "identify_user": true }))).await;
    assert_eq!((&v["user"]["customer_id"], &v["user"]["account_id"]), (&json!(id), &json!("a-1")), "{v}");

    let consent_path = format!("/v1/customers/{id}/consent");
    for (body, status, error) in [
        (json!({ "text": text }), StatusCode::BAD_REQUEST, "invalid_json"),
        (json!({ "text": text, "cms": b64(&consent), "extra": 1 }), StatusCode::BAD_REQUEST, "invalid_json"),
        (json!({ "text": text, "cms": "***" }), StatusCode::BAD_REQUEST, "invalid_base64"),
        (json!({ "text": text, "cms": "MAMCAQA=" }), StatusCode::BAD_REQUEST, "invalid_cms"),
        (json!({ "text": "別の文言", "cms": b64(&consent) }), StatusCode::BAD_REQUEST, "consent_text_mismatch"),
        (json!({ "text": text, "cms": b64(&consent) }), StatusCode::SERVICE_UNAVAILABLE, "issuer_not_configured"),
    ] {
        let (got, v) = call(&app, "PUT", &consent_path, Some(&key), Some(body.clone())).await;
        assert_eq!((got, code(&v)), (status, error), "{body} → {v}");
    }
    let (status, v) = call(&app, "PUT", "/v1/customers/customer_x/consent", Some(&key), Some(json!({ "text": text, "cms": b64(&consent) }))).await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    let (status, v) = call(&app, "PUT", &consent_path, Some(&other), Some(json!({ "text": text, "cms": b64(&consent) }))).await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "another tenant's customer: {v}");
    let (status, v) = call(&app, "GET", &consent_path, Some(&key), None).await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "nothing was recorded: {v}");
    let (status, v) = call(&app, "DELETE", &consent_path, Some(&key), None).await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");

    let latest_path = format!("/v1/customers/{id}/latest-info");
    for (body, status, error) in [
        (json!({}), StatusCode::BAD_REQUEST, "invalid_json"),
        (json!({ "purpose": 5 }), StatusCode::BAD_REQUEST, "invalid_json"),
        (json!({ "purpose": " " }), StatusCode::BAD_REQUEST, "invalid_purpose"),
        (json!({ "purpose": "x".repeat(201) }), StatusCode::BAD_REQUEST, "invalid_purpose"),
        (json!({ "purpose": "住所確認" }), StatusCode::FORBIDDEN, "consent_required"),
    ] {
        let (got, v) = call(&app, "POST", &latest_path, Some(&key), Some(body.clone())).await;
        assert_eq!((got, code(&v)), (status, error), "{body} → {v}");
    }
    let (status, v) = call(&app, "POST", &latest_path, Some(&other), Some(json!({ "purpose": "住所確認" }))).await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
}
