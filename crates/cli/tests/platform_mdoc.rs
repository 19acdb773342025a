//! The platform verifies presentations of the card-substitute record for its tenants, through
//! `jpki serve --sandbox` and the phone of `jpki wallet present`, on every configured database:
//! direct post and Digital Credentials API requests, one answer per request, tenant isolation, My
//! Number only for a Number Act tenant, tampered and malformed answers, a lost phone (status list),
//! metering and an audit that keeps no disclosed value; and the phone's authentication certificate logs in.

mod common;

use base64::Engine;
use common::{Sandbox, Server, ADMIN_TOKEN};
use serde_json::{json, Value};

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn tenant(server: &Server, name: &str, number_law: bool) -> String {
    let (status, v) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), &json!({ "name": name, "number_law_authorized": number_law }).to_string());
    assert_eq!(status, 201, "{v}");
    v["api_key"].as_str().unwrap().to_owned()
}

/// Asks the platform for a request; returns its id and the file the wallet reads.
fn ask(sb: &Sandbox, server: &Server, key: &str, body: Value, file: &str) -> (String, String) {
    let (status, v) = server.post_json("/v1/mdoc/requests", Some(key), &body.to_string());
    assert_eq!(status, 201, "{v}");
    let path = sb.path(file);
    std::fs::write(&path, v["authorization_request"].to_string()).unwrap();
    (v["request_id"].as_str().unwrap().to_owned(), path.display().to_string())
}

/// The holder approves everything asked; returns the wallet's answer.
fn present(sb: &Sandbox, request: &str, origin: Option<&str>) -> Value {
    present_shown(sb, request, origin).0
}

/// [`present`], and what the wallet showed the holder.
fn present_shown(sb: &Sandbox, request: &str, origin: Option<&str>) -> (Value, String) {
    let out = sb.path("answer.json");
    let phone = sb.path("phone");
    let mut args = vec!["wallet", "present", "--phone", phone.to_str().unwrap(), "--request", request, "--out", out.to_str().unwrap(), "--approve"];
    if let Some(o) = origin {
        args.extend_from_slice(&["--origin", o]);
    }
    let shown = sb.ok(&args);
    (serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap(), shown)
}

fn answer(server: &Server, key: &str, request_id: &str, response: &Value) -> (u16, Value) {
    server.post_json("/v1/mdoc/responses", Some(key), &json!({ "request_id": request_id, "response": response }).to_string())
}

/// Use case ⑤ with the phone: logs in with the smartphone authentication certificate; the answer.
fn phone_login(sb: &Sandbox, server: &Server, key: &str) -> Value {
    let (status, c) = server.post_json("/v1/auth/challenges", Some(key), "");
    assert_eq!(status, 201, "{c}");
    let challenge = sb.path("challenge.bin");
    std::fs::write(&challenge, base64::engine::general_purpose::STANDARD.decode(c["challenge"].as_str().unwrap()).unwrap()).unwrap();
    let signature = sb.path("challenge.sig");
    sb.ok(&[
        "card",
        "sign",
        "--phone",
        sb.path("phone").to_str().unwrap(),
        "--which",
        "auth",
        "--in",
        challenge.to_str().unwrap(),
        "--out",
        signature.to_str().unwrap(),
        "--pin",
        "4321",
    ]);
    let pem = std::fs::read_to_string(sb.path("phone/jpki/auth-cert.pem")).unwrap();
    let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let body = json!({ "challenge_id": c["challenge_id"], "certificate": der, "signature": base64::engine::general_purpose::STANDARD.encode(std::fs::read(&signature).unwrap()) });
    let (status, v) = server.post_json("/v1/auth/verify", Some(key), &body.to_string());
    assert_eq!(status, 200, "{v}");
    v
}

#[test]
fn the_platform_verifies_record_presentations_for_tenants() {
    common::on_every_database("the_platform_verifies_record_presentations_for_tenants", run);
}

fn run(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("番号 太郎", "1980-02-03");
    sb.issue_card(&person, sb.path("card").to_str().unwrap());
    sb.ok(&common::phone_issue(sb.path("card").to_str().unwrap(), sb.path("phone").to_str().unwrap(), "1234"));
    let server = sb.serve();
    let shop = tenant(&server, "Shop", false);
    let bank = tenant(&server, "Bank", true);

    // Direct post: the shop asks for the name and age; the holder's answer verifies once.
    let wanted = json!({ "elements": ["full_name_unicode", "age_over_20"], "purpose": "age check", "response_uri": "https://shop.example/cb" });
    let (id, file) = ask(sb, &server, &shop, wanted.clone(), "req.json");
    let (response, shown) = present_shown(sb, &file, None);
    assert!(shown.starts_with("Shop (redirect_uri:https://shop.example/cb, NOT authenticated) asks for"), "{label}: {shown}");
    let (status, v) = answer(&server, &shop, &id, &response);
    assert_eq!((status, &v["valid"]), (200, &json!(true)), "{label}: {v}");
    assert_eq!(v["elements"]["org.iso.23220.1.jp/full_name_unicode"], "番号 太郎");
    assert_eq!(v["elements"]["org.iso.23220.1/age_over_20"], true);
    assert_eq!(v["elements"].as_object().unwrap().len(), 2);
    assert_eq!(v["status"], "valid");
    assert_eq!(v["doc_type"], "org.iso.23220.1.jp.mnc");
    let verification = v["verification_id"].as_str().unwrap().to_owned();

    // One answer per request: the same answer again is refused.
    let (status, v) = answer(&server, &shop, &id, &response);
    assert_eq!((status, v["error"]["code"].as_str()), (409, Some("request_answered")), "{label}");

    // Tenant isolation: the bank cannot answer the shop's request or read its verification.
    let (id2, file2) = ask(sb, &server, &shop, wanted.clone(), "req2.json");
    let response2 = present(sb, &file2, None);
    let (status, v) = answer(&server, &bank, &id2, &response2);
    assert_eq!((status, v["error"]["code"].as_str()), (404, Some("request_unknown")), "{label}");
    let (status, _) = server.get_json(&format!("/v1/verifications/{verification}"), Some(&bank));
    assert_eq!(status, 404, "{label}");
    // The stored result names what was disclosed, not the values (the request said intent_to_retain: false).
    let (status, kept) = server.get_json(&format!("/v1/verifications/{verification}"), Some(&shop));
    assert_eq!(status, 200, "{label}");
    assert!(kept["elements_disclosed"].as_array().unwrap().contains(&json!("org.iso.23220.1.jp/full_name_unicode")));
    assert!(!kept.to_string().contains("番号 太郎"), "{label}: {kept}");

    // Replay: an answer made for one request does not verify for another (its transcript differs).
    let (status, v) = answer(&server, &shop, &id2, &response);
    assert_eq!((status, &v["valid"], v["failure"]["code"].as_str()), (200, &json!(false), Some("device_signature")), "{label}: {v}");

    // Tampered: one byte of the name changed inside the DeviceResponse.
    let (id3, file3) = ask(sb, &server, &shop, wanted.clone(), "req3.json");
    let mut tampered = present(sb, &file3, None);
    let mut bytes = B64URL.decode(tampered["vp_token"]["mnc"][0].as_str().unwrap()).unwrap();
    let name = "番号 太郎".as_bytes();
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap();
    bytes[at + name.len() - 1] ^= 1;
    tampered["vp_token"]["mnc"][0] = json!(B64URL.encode(&bytes));
    let (status, v) = answer(&server, &shop, &id3, &tampered);
    assert_eq!((status, v["failure"]["code"].as_str()), (200, Some("digest_mismatch")), "{label}: {v}");

    // Malformed answers are checks that fail, each for its reason; malformed bodies are the caller's mistake.
    for (bad, code) in [
        (json!({ "vp_token": { "mnc": ["oWFhAQ"] } }), "malformed_mdoc"),
        (json!({ "vp_token": { "mnc": ["_w"] } }), "malformed_cbor"),
        (json!({ "vp_token": {} }), "malformed_mdoc"),
    ] {
        let (id, _) = ask(sb, &server, &shop, wanted.clone(), "req-bad.json");
        let (status, v) = answer(&server, &shop, &id, &bad);
        assert_eq!((status, v["failure"]["code"].as_str()), (200, Some(code)), "{label}: {bad} → {v}");
    }
    for (body, code) in
        [(r#"{"request_id": "x"}"#, "invalid_json"), (r#"{"request_id": "x", "response": {}, "extra": 1}"#, "invalid_json"), ("not json", "invalid_json")]
    {
        let (status, v) = server.post_json("/v1/mdoc/responses", Some(&shop), body);
        assert_eq!((status, v["error"]["code"].as_str()), (400, Some(code)), "{label}: {body}");
    }
    for (body, status_code, code) in [
        (json!({ "elements": ["nickname"], "purpose": "x", "response_uri": "https://shop.example/cb" }), 400, "invalid_elements"),
        (json!({ "elements": [], "purpose": "x", "response_uri": "https://shop.example/cb" }), 400, "invalid_elements"),
        (json!({ "elements": ["age_over_18"], "purpose": "", "response_uri": "https://shop.example/cb" }), 400, "invalid_purpose"),
        (json!({ "elements": ["age_over_18"], "purpose": "x" }), 400, "invalid_destination"),
        (json!({ "elements": ["age_over_18"], "purpose": "x", "response_uri": "ftp://shop.example" }), 400, "invalid_destination"),
        (json!({ "elements": ["age_over_18"], "purpose": "x", "response_uri": "http://localhost.evil.example/cb" }), 400, "invalid_destination"),
        (json!({ "elements": ["age_over_18"], "purpose": "x", "response_uri": "https://user@shop.example/cb" }), 400, "invalid_destination"),
        (json!({ "elements": ["age_over_18"], "purpose": "x", "origin": "https://shop.example/path" }), 400, "invalid_destination"),
        (json!({ "elements": ["individual_number_unicode"], "purpose": "x", "origin": "https://shop.example" }), 403, "number_law_not_authorized"),
    ] {
        let (status, v) = server.post_json("/v1/mdoc/requests", Some(&shop), &body.to_string());
        assert_eq!((status, v["error"]["code"].as_str()), (status_code, Some(code)), "{label}: {body}");
    }
    let (status, v) = server.post_json("/v1/mdoc/requests", None, &wanted.to_string());
    assert_eq!((status, v["error"]["code"].as_str()), (401, Some("unauthorized")), "{label}");

    // The My Number: the bank (Number Act) asks in a request signed by the platform's reader
    // certificate, over the Digital Credentials API; in a direct post it cannot.
    let number =
        json!({ "elements": ["individual_number_unicode", "full_name_unicode"], "purpose": "account opening (Number Act)", "origin": "https://bank.example" });
    let (status, v) = server.post_json(
        "/v1/mdoc/requests",
        Some(&bank),
        &json!({ "elements": ["individual_number_unicode"], "purpose": "x", "response_uri": "https://bank.example/cb" }).to_string(),
    );
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("number_act_reader_required")), "{label}");
    let (id4, file4) = ask(sb, &server, &bank, number, "req-mn.json");
    let (response4, shown) = present_shown(sb, &file4, Some("https://bank.example"));
    // The holder reads the tenant's name, and the certified platform that asks for it.
    assert!(shown.starts_with("Bank, through openjpki sandbox platform (x509_san_dns:localhost, certified) asks for"), "{label}: {shown}");
    let (status, v) = answer(&server, &bank, &id4, &response4);
    assert_eq!((status, &v["valid"]), (200, &json!(true)), "{label}: {v}");
    assert_eq!(v["elements"]["org.iso.23220.1.jp/individual_number_unicode"].as_str().unwrap().len(), 12);

    // The smartphone authentication certificate logs in like a card's (use case ⑤).
    let v = phone_login(sb, &server, &bank);
    assert_eq!((&v["valid"], &v["device"]), (&json!(true), &json!("smartphone")), "{label}: {v}");

    // A lost phone suspends its record: the next presentation fails on the status list.
    sb.ok(&["sandbox", "event", "lost", "--person", &person, "--device", "smartphone"]);
    let (id5, file5) = ask(sb, &server, &shop, wanted, "req5.json");
    let response5 = present(sb, &file5, None);
    let (status, v) = answer(&server, &shop, &id5, &response5);
    assert_eq!((status, v["failure"]["code"].as_str()), (200, Some("revoked")), "{label}: {v}");
    assert!(v["failure"]["message"].as_str().unwrap().contains("suspended"), "{label}: {v}");

    // Metering: every check that read the status list (for the shop: one valid, one suspended).
    let (_, usage) = server.get_json("/v1/usage", Some(&shop));
    let line = usage["usage"].as_array().unwrap().iter().find(|l| l["cert_kind"] == "card_substitute_record").cloned().unwrap_or_default();
    assert_eq!((line["method"].as_str(), line["count"].as_i64()), (Some("status_list"), Some(2)), "{label}: {usage}");
    drop(server);

    // The audit log: one entry per answered request, naming what was released and no value.
    let report = sb.json(&["audit", "verify"]);
    assert_eq!(report["entries"], 2 + 8 + 1, "{label}: two tenants, eight answered requests, one login: {report}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let details: Vec<(String, String)> = rt.block_on(async {
        let db = jpki_store::Database::open(&sb.db_url).await.unwrap();
        let rows = jpki_store::sqlx::query_as("SELECT action, detail FROM audit_log ORDER BY seq").fetch_all(db.pool()).await.unwrap();
        db.close().await;
        rows
    });
    let mdoc: Vec<&(String, String)> = details.iter().filter(|(action, _)| action == "mdoc.verify").collect();
    assert_eq!(mdoc.len(), 8, "{label}");
    assert!(mdoc[0].1.contains("org.iso.23220.1.jp/full_name_unicode"), "{label}: {:?}", mdoc[0]);
    assert!(details.iter().all(|(_, d)| !d.contains("番号 太郎")), "{label}: no disclosed value in the audit log");
}
