//! What a verification takes and what it meters: a CMS made with the authentication key is not a
//! document signature (unless asked for as an authentication signature), and an answer from the OCSP
//! cache provided no revocation information, so it is not billed; on SQLite and PostgreSQL.

mod common;

use common::{b64, openssl, Sandbox, ADMIN_TOKEN};
use serde_json::json;

#[test]
fn an_authentication_cms_is_not_a_document_signature_and_cached_checks_are_not_billed() {
    common::on_every_database("an_authentication_cms_is_not_a_document_signature_and_cached_checks_are_not_billed", run);
}

fn usage_lines(server: &common::Server, key: &str) -> Vec<(String, String, i64)> {
    let (status, usage) = server.get_json("/v1/usage", Some(key));
    assert_eq!(status, 200, "{usage}");
    let line = |l: &serde_json::Value| (l["cert_kind"].as_str().unwrap().to_owned(), l["method"].as_str().unwrap().to_owned(), l["count"].as_i64().unwrap());
    usage["usage"].as_array().unwrap().iter().map(line).collect()
}

fn run(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("認証　一子", "1991-01-01");
    sb.issue_card(&person, "card");
    let msg = sb.path("form.txt");
    std::fs::write(&msg, "申込書").unwrap();
    // openssl cms -sign with the card's authentication key and certificate.
    let auth_cms = sb.path("auth.p7s");
    let (cert, key) = (sb.path("card/auth-cert.pem"), sb.path("card/auth-key.pem"));
    openssl(
        &["cms", "-sign", "-binary", "-md", "sha256", "-in", msg.to_str().unwrap(), "-signer", cert.to_str().unwrap(), "-inkey", key.to_str().unwrap()]
            .into_iter()
            .chain(["-outform", "DER", "-out", auth_cms.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    let server = sb.serve();
    let (_, tenant) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Kinds"}"#);
    let api_key = tenant["api_key"].as_str().unwrap();
    let body = |kind: Option<&str>| {
        let mut body = json!({ "cms": b64(&std::fs::read(&auth_cms).unwrap()), "content": b64(&std::fs::read(&msg).unwrap()) });
        if let Some(kind) = kind {
            body["certificate_kind"] = json!(kind);
        }
        body.to_string()
    };

    // As a document signature: refused with its own code, nothing metered.
    let (status, v) = server.post_json("/v1/signatures/verify", Some(api_key), &body(None));
    assert_eq!((status, &v["valid"], v["failure"]["code"].as_str()), (200, &json!(false), Some("wrong_certificate_kind")), "{label}: {v}");
    assert_eq!(usage_lines(&server, api_key), [], "{label}");
    let (status, v) = server.post_json("/v1/signatures/verify", Some(api_key), &body(Some("signature")));
    assert_eq!((status, v["failure"]["code"].as_str()), (200, Some("wrong_certificate_kind")), "{label}: {v}");
    // Asked for as an authentication signature: valid, and metered as an authentication check.
    let (status, v) = server.post_json("/v1/signatures/verify", Some(api_key), &body(Some("authentication")));
    assert_eq!((status, &v["valid"], v["signer"]["certificate_kind"].as_str()), (200, &json!(true), Some("authentication")), "{label}: {v}");
    assert_eq!(usage_lines(&server, api_key), [("authentication".into(), "ocsp".into(), 1)], "{label}");
    let (status, v) = server.post_json("/v1/signatures/verify", Some(api_key), &body(Some("qualified")));
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("invalid_json")), "{label}: {v}");

    // jpki verify says the same, and takes --authentication.
    let ocsp = server.url("/issuer/ocsp");
    let args = ["verify", auth_cms.to_str().unwrap(), "--content", msg.to_str().unwrap(), "--ocsp-url", ocsp.as_str()];
    let refused = sb.fails(&args);
    assert!(refused.contains("wrong_certificate_kind"), "{label}: {refused}");
    let mut as_authentication = args.to_vec();
    as_authentication.push("--authentication");
    assert!(sb.ok(&as_authentication).starts_with("valid"), "{label}");

    // A signature checked twice by a tenant that accepts an hour-old answer: the second comes from the
    // OCSP cache and is not billed.
    let p7s = sb.path("form.p7s");
    sb.ok(&common::sign_attached(sb.path("card").to_str().unwrap(), msg.to_str().unwrap(), p7s.to_str().unwrap()));
    let signed = json!({ "cms": b64(&std::fs::read(&p7s).unwrap()), "revocation": { "method": "ocsp", "max_age_seconds": 3600 } }).to_string();
    let methods: Vec<_> = (0..2)
        .map(|_| {
            let (status, v) = server.post_json("/v1/signatures/verify", Some(api_key), &signed);
            assert_eq!((status, &v["valid"]), (200, &json!(true)), "{label}: {v}");
            v["revocation"]["method"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(methods, ["ocsp", "ocsp_cached"], "{label}");
    let mut lines = usage_lines(&server, api_key);
    lines.sort();
    assert_eq!(lines, [("authentication".into(), "ocsp".into(), 1), ("signature".into(), "ocsp".into(), 1)], "{label}");
}
