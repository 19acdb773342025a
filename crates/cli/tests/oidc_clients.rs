//! `jpki platform oidc`: an operator registers a tenant's OpenID Connect clients and rotates the
//! signing key by hand, and the running server sees both; on SQLite and, when configured, PostgreSQL.

mod common;

use base64::Engine;
use common::{Sandbox, ADMIN_TOKEN};
use serde_json::json;

#[test]
fn operators_register_clients_and_rotate_keys() {
    common::on_every_database("operators_register_clients_and_rotate_keys", run);
}

fn run(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let server = sb.serve();
    let (_, a) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"RP tenant"}"#);
    let (_, b) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Other tenant"}"#);
    let (tenant, key) = (a["id"].as_str().unwrap(), a["api_key"].as_str().unwrap());

    let web = sb
        .json(&["platform", "oidc", "add-client", "--tenant", tenant, "--name", "Web", "--redirect-uri", "https://rp.example.jp/cb", "--scope", "openid name"]);
    assert!(web["client_secret"].as_str().is_some_and(|s| s.starts_with("jpkics_")), "{label}: {web}");
    let point = jpki_crypto::EcKey::generate_p256().unwrap().public_point();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwks = sb.path("rp-jwks.json");
    std::fs::write(&jwks, json!({ "keys": [{ "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]) }] }).to_string()).unwrap();
    let app = sb.json(&[
        "platform",
        "oidc",
        "add-client",
        "--tenant",
        tenant,
        "--name",
        "App",
        "--redirect-uri",
        "http://127.0.0.1:5000/cb",
        "--jwks",
        jwks.to_str().unwrap(),
    ]);
    assert_eq!((&app["token_endpoint_auth_method"], app.get("client_secret")), (&json!("private_key_jwt"), None), "{label}: {app}");

    // The server lists what the command registered, to its tenant only.
    let (_, listed) = server.get_json("/v1/oidc/clients", Some(key));
    let ids: Vec<&str> = listed["clients"].as_array().unwrap().iter().map(|c| c["client_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{label}: {listed}");
    assert!(ids.contains(&web["client_id"].as_str().unwrap()) && ids.contains(&app["client_id"].as_str().unwrap()), "{label}");
    let (_, other) = server.get_json("/v1/oidc/clients", b["api_key"].as_str());
    assert_eq!(other["clients"].as_array().map(Vec::len), Some(0), "{label}");

    // Refused, saying why.
    let err = sb.fails(&["platform", "oidc", "add-client", "--tenant", tenant, "--name", "Plain", "--redirect-uri", "http://rp.example.jp/cb"]);
    assert!(err.contains("must be https://"), "{label}: {err}");
    sb.ok(&["platform", "oidc", "add-client", "--tenant", tenant, "--name", "Sandbox RP", "--redirect-uri", "http://rp.example.jp/cb", "--sandbox"]);
    let err = sb.fails(&["platform", "oidc", "add-client", "--tenant", "tenant_none", "--name", "X", "--redirect-uri", "https://rp.example.jp/cb"]);
    assert!(err.contains("no tenant tenant_none"), "{label}: {err}");
    let app_id = app["client_id"].as_str().unwrap();
    let err = sb.fails(&["platform", "oidc", "remove-client", "--tenant", b["id"].as_str().unwrap(), app_id]);
    assert!(err.contains("no client"), "{label}: another tenant's client: {err}");
    sb.ok(&["platform", "oidc", "remove-client", "--tenant", tenant, app_id]);
    assert_eq!(server.get_json(&format!("/v1/oidc/clients/{app_id}"), Some(key)).0, 404, "{label}");

    // A rotation: the server publishes the new key first, the old one beside it.
    let (_, before) = server.get_json("/api/realms/main/protocol/openid-connect/certs", None);
    let rotated = sb.json(&["platform", "oidc", "rotate-key"]);
    let (_, after) = server.get_json("/api/realms/main/protocol/openid-connect/certs", None);
    assert_eq!(after["keys"].as_array().map(Vec::len), Some(2), "{label}: {after}");
    assert_eq!((&after["keys"][0]["kid"], &after["keys"][1]["kid"]), (&rotated["kid"], &before["keys"][0]["kid"]), "{label}: {after}");
}
