//! The platform operator's API end to end through `jpki serve --sandbox`: tenants and keys, signature
//! verification of CMS from openssl and from `jpki sign`, tenant isolation, bad input, metering and the
//! audit chain; on SQLite and, when configured, PostgreSQL.

mod common;

use common::{answer, b64, der_file, openssl_cms_sign, Sandbox, ADMIN_TOKEN};
use serde_json::json;

#[test]
fn platform_api_verifies_for_tenants() {
    common::on_every_database("platform_api_verifies_for_tenants", run);
}

fn run(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("検証　花子", "1985-04-01");
    sb.issue_card(&person, "card");
    let server = sb.serve();
    let card = sb.path("card");

    // Tenants: only with the admin token.
    let (status, v) = server.post_json("/v1/admin/tenants", None, r#"{"name":"A"}"#);
    assert_eq!((status, v["error"]["code"].as_str()), (401, Some("unauthorized")), "{label}");
    let (status, a) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Bank A"}"#);
    assert_eq!(status, 201, "{label}: {a}");
    let key_a = a["api_key"].as_str().unwrap().to_owned();
    let (_, b) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Shop B"}"#);
    let key_b = b["api_key"].as_str().unwrap().to_owned();
    let (status, _) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Bank A"}"#);
    assert_eq!(status, 409, "{label}");
    tenant_admin(sb, &server, b["id"].as_str().unwrap(), &key_b);

    // A CMS made by openssl with the card's key verifies with the right 4 info.
    let msg = sb.path("contract.txt");
    std::fs::write(&msg, "口座開設申込書\n").unwrap();
    let p7s = sb.path("openssl.p7s");
    let card_s = card.to_str().unwrap();
    openssl_cms_sign(&card, &msg, &p7s, &[]);
    let body = json!({ "cms": b64(&std::fs::read(&p7s).unwrap()), "content": b64(&std::fs::read(&msg).unwrap()), "purpose": "account opening" }).to_string();
    let (status, v) = server.post_json("/v1/signatures/verify", Some(&key_a), &body);
    assert_eq!(status, 200, "{label}: {v}");
    assert_eq!(v["valid"], true, "{label}: {v}");
    assert_eq!(v["signer"]["name"], "検証　花子");
    assert_eq!(v["signer"]["birth_date"], "1985-04-01");
    assert_eq!(v["signer"]["certificate_kind"], "signature");
    assert_eq!(v["revocation"]["status"], "good");
    let id = v["verification_id"].as_str().unwrap().to_owned();

    // Tenant isolation: A reads its verification, B gets 404.
    let (status, again) = server.get_json(&format!("/v1/verifications/{id}"), Some(&key_a));
    assert_eq!((status, &again["signer"]["name"]), (200, &json!("検証　花子")), "{label}");
    let (status, v) = server.get_json(&format!("/v1/verifications/{id}"), Some(&key_b));
    assert_eq!((status, v["error"]["code"].as_str()), (404, Some("not_found")), "{label}");

    // jpki sign's CMS (attached) verifies too; altered content does not.
    let ours = sb.path("ours.p7s");
    sb.ok(&common::sign_attached(card_s, msg.to_str().unwrap(), ours.to_str().unwrap()));
    let (status, v) = server.post_json("/v1/signatures/verify", Some(&key_b), &json!({ "cms": b64(&std::fs::read(&ours).unwrap()) }).to_string());
    assert_eq!((status, &v["valid"]), (200, &json!(true)), "{label}: {v}");
    let altered = json!({ "cms": b64(&std::fs::read(&p7s).unwrap()), "content": b64("口座解約申込書\n".as_bytes()) }).to_string();
    let (status, v) = server.post_json("/v1/signatures/verify", Some(&key_a), &altered);
    assert_eq!((status, &v["valid"], v["failure"]["code"].as_str()), (200, &json!(false), Some("signature_invalid")), "{label}: {v}");

    // Bad input: 400 with a code naming the problem; unknown key: 401.
    let cases = [
        ("{not json", "invalid_json"),
        (r#"{"cms": 5}"#, "invalid_json"),
        (r#"{"cms": "AAAA", "extra": 1}"#, "invalid_json"),
        (r#"{"cms": "***"}"#, "invalid_base64"),
        (r#"{"cms": "MAMCAQA="}"#, "invalid_cms"),
    ];
    for (body, code) in cases {
        let (status, v) = server.post_json("/v1/signatures/verify", Some(&key_a), body);
        assert_eq!((status, v["error"]["code"].as_str()), (400, Some(code)), "{label}: {body} → {v}");
    }
    let (status, _) = server.post_json("/v1/signatures/verify", Some("jpk_0000"), &body);
    assert_eq!(status, 401, "{label}");

    // A certificate revoked before it is checked → revoked. (A good answer already cached stays good
    // until its nextUpdate, as OCSP caching allows.)
    let mover = sb.add_person("転居　次郎", "1970-07-07");
    sb.issue_card(&mover, "card2");
    let moved = sb.path("moved.p7s");
    sb.ok(&common::sign_attached(sb.path("card2").to_str().unwrap(), msg.to_str().unwrap(), moved.to_str().unwrap()));
    sb.ok(&["sandbox", "event", "move", "--person", &mover, "--address", "福岡県福岡市中央区天神１"]);
    std::thread::sleep(std::time::Duration::from_millis(600));
    let (status, v) = server.post_json("/v1/signatures/verify", Some(&key_a), &json!({ "cms": b64(&std::fs::read(&moved).unwrap()) }).to_string());
    assert_eq!((status, v["failure"]["code"].as_str()), (200, Some("revoked")), "{label}: {v}");

    // Usage: A made three metered checks (good, altered → no revocation check, revoked).
    let (status, usage) = server.get_json("/v1/usage", Some(&key_a));
    assert_eq!(status, 200, "{label}");
    let lines = usage["usage"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{label}: {usage}");
    assert_eq!(
        (lines[0]["cert_kind"].as_str(), lines[0]["method"].as_str(), lines[0]["count"].as_i64()),
        (Some("signature"), Some("ocsp"), Some(2)),
        "{label}: {usage}"
    );
    let (status, csv) = server.request("GET", "/v1/usage?format=csv", &[("Authorization", &format!("Bearer {key_a}"))], b"");
    assert_eq!(status, 200);
    assert!(String::from_utf8(csv).unwrap().starts_with("month,cert_kind,method,count,fee_yen\r\n"), "{label}");

    login(sb, &server, &key_b);

    // Key revocation: the key stops working.
    let key_id = a["key_id"].as_str().unwrap();
    let (status, _) = server.request("DELETE", &format!("/v1/admin/keys/{key_id}"), &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))], b"");
    assert_eq!(status, 204, "{label}");
    let (status, _) = server.get_json("/v1/usage", Some(&key_a));
    assert_eq!(status, 401, "{label}");

    // The OpenAPI document names every route.
    let (status, doc) = server.get_json("/openapi.json", None);
    assert_eq!(status, 200);
    for path in [
        "/v1/admin/tenants", "/v1/signatures/verify", "/v1/verifications/{id}", "/v1/usage", "/v1/auth/challenges", "/v1/auth/verify", "/v1/mdoc/requests",
        "/v1/mdoc/responses", "/v1/customers", "/v1/customers/{id}", "/v1/changes", "/v1/changes/{id}", "/v1/changes/{id}/deliveries",
        "/v1/changes/{id}/redeliver", "/v1/webhooks", "/v1/webhooks/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{label}: {path} undocumented");
    }
    assert!(doc["webhooks"]["changeEvent"]["post"]["description"].as_str().is_some_and(|d| d.contains("HMAC-SHA256")), "{label}: the webhook is documented");
    drop(server);

    // The audit chain verifies, and a changed entry is caught.
    let report = sb.json(&["audit", "verify"]);
    assert_eq!(
        report["entries"],
        2 + 4 + 4 + 5,
        "{label}: two tenants, one disabled and enabled again and its revocation policy set and reset, four verifications, five answered logins: {report}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = jpki_store::Database::open(&sb.db_url).await.unwrap();
        jpki_store::sqlx::query("UPDATE audit_log SET result = 'tampered' WHERE seq = 5").execute(db.pool()).await.unwrap();
        db.close().await;
    });
    let err = sb.fails(&["audit", "verify"]);
    assert!(err.contains("broken at entry 5"), "{label}: {err}");
}

fn login(sb: &Sandbox, server: &common::Server, key: &str) {
    let label = sb.label();
    let cert = || b64(&der_file(&sb.path("card/auth-cert.pem")));

    // Registration: link the certificate to an account, with the signature-certificate proof.
    let (id, sig, proof) = answer(sb, server, key, "card");
    let body = json!({ "challenge_id": id, "certificate": cert(), "signature": sig, "account_id": "user-42", "signature_proof": proof }).to_string();
    let (status, v) = server.post_json("/v1/auth/verify", Some(key), &body);
    assert_eq!((status, &v["valid"], &v["account_id"], &v["linked"]), (200, &json!(true), &json!("user-42"), &json!(true)), "{label}: {v}");
    // The same challenge again: refused.
    let (status, v) = server.post_json("/v1/auth/verify", Some(key), &body);
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("challenge_used")), "{label}");

    // A challenge from this process, answered to another process on the same database.
    let other = sb.serve();
    let (id, sig, _) = answer(sb, server, key, "card");
    let (status, v) = other.post_json("/v1/auth/verify", Some(key), &json!({ "challenge_id": id, "certificate": cert(), "signature": sig }).to_string());
    assert_eq!((status, &v["account_id"]), (200, &json!("user-42")), "{label}: a challenge must be shared by every server: {v}");
    drop(other);

    // A wrong signature is not a login.
    let (id, _, _) = answer(sb, server, key, "card");
    let (status, v) =
        server.post_json("/v1/auth/verify", Some(key), &json!({ "challenge_id": id, "certificate": cert(), "signature": b64(&[1u8; 256]) }).to_string());
    assert_eq!((status, v["failure"]["code"].as_str(), &v["account_id"]), (200, Some("signature_invalid"), &json!(null)), "{label}: {v}");

    // A re-issued authentication certificate: linked to the account by the issuer's link information.
    sb.ok(&["sandbox", "cert", "reissue", "--card", sb.path("card").to_str().unwrap(), "--which", "auth"]);
    let (id, sig, _) = answer(sb, server, key, "card");
    let (status, v) = server.post_json("/v1/auth/verify", Some(key), &json!({ "challenge_id": id, "certificate": cert(), "signature": sig }).to_string());
    assert_eq!((status, &v["valid"], &v["account_id"], &v["linked_by"]), (200, &json!(true), &json!("user-42"), &json!("certificate_link")), "{label}: {v}");
    // Renewed again, and re-linked by the same person's signature proof.
    sb.ok(&["sandbox", "cert", "reissue", "--card", sb.path("card").to_str().unwrap(), "--which", "auth"]);
    let (id, sig, proof) = answer(sb, server, key, "card");
    let (status, v) = server.post_json(
        "/v1/auth/verify",
        Some(key),
        &json!({ "challenge_id": id, "certificate": cert(), "signature": sig, "signature_proof": proof }).to_string(),
    );
    assert_eq!((status, &v["account_id"], &v["linked_by"]), (200, &json!("user-42"), &json!("registration")), "{label}: {v}");

    // Unknown challenge.
    let (status, v) =
        server.post_json("/v1/auth/verify", Some(key), &json!({ "challenge_id": "challenge_x", "certificate": cert(), "signature": sig }).to_string());
    assert_eq!((status, v["error"]["code"].as_str()), (404, Some("challenge_unknown")), "{label}");
}

/// The admin API lists tenants and disables one: its keys answer 403 at once, and work again once it is
/// enabled; both changes are audited.
fn tenant_admin(sb: &Sandbox, server: &common::Server, id: &str, key: &str) {
    let label = sb.label();
    let patch = |path: &str, token: &str, body: &str| {
        let auth = format!("Bearer {token}");
        let (status, body) = server.request("PATCH", path, &[("Authorization", &auth), ("Content-Type", "application/json")], body.as_bytes());
        (status, serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default())
    };
    let (status, v) = server.get_json("/v1/admin/tenants", Some(key));
    assert_eq!((status, v["error"]["code"].as_str()), (401, Some("unauthorized")), "{label}: a tenant's key is not the admin token");
    let (status, v) = server.get_json("/v1/admin/tenants", Some(ADMIN_TOKEN));
    assert_eq!(status, 200, "{label}: {v}");
    let names: Vec<&str> = v["tenants"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Bank A", "Shop B"], "{label}: oldest first");
    let listed = &v["tenants"][1];
    assert_eq!(
        (&listed["id"], &listed["disabled"], &listed["disabled_at"], &listed["active_keys"]),
        (&json!(id), &json!(false), &json!(null), &json!(1)),
        "{label}"
    );

    let audited = sb.json(&["audit", "verify"])["entries"].as_u64().unwrap();
    let path = format!("/v1/admin/tenants/{id}");
    let (status, v) = patch(&path, ADMIN_TOKEN, r#"{"disabled": true}"#);
    assert_eq!((status, &v["disabled"]), (200, &json!(true)), "{label}: {v}");
    assert!(v["disabled_at"].is_string(), "{label}: {v}");
    let (status, v) = server.get_json("/v1/usage", Some(key));
    assert_eq!((status, v["error"]["code"].as_str()), (403, Some("tenant_disabled")), "{label}: a disabled tenant's key: {v}");
    let (status, v) = patch(&path, ADMIN_TOKEN, r#"{"disabled": false}"#);
    assert_eq!((status, &v["disabled"], &v["disabled_at"]), (200, &json!(false), &json!(null)), "{label}: {v}");
    let (status, _) = server.get_json("/v1/usage", Some(key));
    assert_eq!(status, 200, "{label}: enabled again, the key works");

    for (path, body, expected) in [
        ("/v1/admin/tenants/tenant_unknown", r#"{"disabled": true}"#, (404, "not_found")),
        (path.as_str(), r#"{"disabled": "yes"}"#, (400, "invalid_json")),
        (path.as_str(), r#"{}"#, (400, "invalid_change")),
        (path.as_str(), r#"{"revocation": {"method": "crl", "max_age_seconds": 9999999}}"#, (400, "invalid_revocation")),
        (path.as_str(), r#"{"revocation": {"method": "ldap", "max_age_seconds": 0}}"#, (400, "invalid_json")),
    ] {
        let (status, v) = patch(path, ADMIN_TOKEN, body);
        assert_eq!((status, v["error"]["code"].as_str().unwrap_or_default()), expected, "{label}: PATCH {path} {body}");
    }
    let (status, _) = patch(&path, key, r#"{"disabled": true}"#);
    assert_eq!(status, 401, "{label}: only the admin token disables");

    // The tenant's default revocation policy, shown in its record, and reset with null.
    let (status, v) = patch(&path, ADMIN_TOKEN, r#"{"revocation": {"method": "crl", "max_age_seconds": 86400}}"#);
    assert_eq!((status, &v["revocation"]), (200, &json!({ "method": "crl", "max_age_seconds": 86400 })), "{label}: {v}");
    let (status, v) = patch(&path, ADMIN_TOKEN, r#"{"revocation": null}"#);
    assert_eq!((status, &v["revocation"], &v["disabled"]), (200, &json!(null), &json!(false)), "{label}: {v}");

    let entries = sb.json(&["audit", "verify"])["entries"].as_u64().unwrap();
    assert_eq!(entries, audited + 4, "{label}: the disable, the enable and both policy changes are in the audit chain");
}
