//! The customer across time, end to end through `jpki serve --sandbox`: a customer signs with the card,
//! logs in, is registered with their account and consents (signing the consent text); moves and renews;
//! after the CRL's ingestion the change feed names them; the latest 4 information shows the new address
//! as changed and names the successor certificate, with which the next signature lands on the same
//! customer; a login with the renewed authentication certificate resolves the same account (by the
//! issuer's link information). Without consent, or after its withdrawal, nothing is provided. On SQLite
//! and PostgreSQL.

mod common;

use common::{answer, b64, sign_attached, Sandbox, Server, ADMIN_TOKEN};
use serde_json::{json, Value};

#[test]
fn one_customer_across_a_move_and_a_renewal() {
    common::on_every_database("one_customer_across_a_move_and_a_renewal", run);
}

/// An attached CMS of `text` made with the signature key of the card in `card`, base64.
fn signed(sb: &Sandbox, card: &str, name: &str, text: &str) -> String {
    let input = sb.path(&format!("{name}.txt"));
    std::fs::write(&input, text).unwrap();
    let out = sb.path(&format!("{name}.p7s"));
    sb.ok(&sign_attached(sb.path(card).to_str().unwrap(), input.to_str().unwrap(), out.to_str().unwrap()));
    b64(&std::fs::read(out).unwrap())
}

fn put(server: &Server, path: &str, key: &str, body: &Value) -> (u16, Value) {
    let headers = [("Authorization", format!("Bearer {key}")), ("Content-Type", "application/json".to_owned())];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, bytes) = server.request("PUT", path, &headers, body.to_string().as_bytes());
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn run(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("転居　花子", "1985-05-05");
    sb.issue_card(&person, "card");
    let stranger = sb.add_person("別人　次郎", "1990-09-09");
    sb.ok(&["sandbox", "event", "move", "--person", &stranger, "--address", "北海道札幌市中央区北一条西２"]);
    sb.issue_card(&stranger, "stranger");
    let server = sb.serve();
    let (_, tenant) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Bank"}"#);
    let key = tenant["api_key"].as_str().unwrap();
    let ingest = || {
        let crls = sb.publish_crls();
        let mut args = vec!["platform".to_owned(), "crl".to_owned(), "ingest".to_owned()];
        for f in crls.sign.iter().map(|(_, f)| f).chain([&crls.auth]) {
            args.extend(["--file".to_owned(), f.to_str().unwrap().to_owned()]);
        }
        sb.json(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    ingest();
    let verify = |cms: &str| {
        let (status, v) = server.post_json("/v1/signatures/verify", Some(key), &json!({ "cms": cms, "identify_user": true }).to_string());
        assert_eq!(status, 200, "{label}: {v}");
        v
    };
    let login = |card: &str, account: Option<&str>| {
        let (id, signature, _) = answer(sb, &server, key, card);
        let cert = common::der_file(&sb.path(&format!("{card}/auth-cert.pem")));
        let mut body = json!({ "challenge_id": id, "certificate": b64(&cert), "signature": signature });
        if let Some(account) = account {
            body["account_id"] = json!(account);
        }
        let (status, v) = server.post_json("/v1/auth/verify", Some(key), &body.to_string());
        assert_eq!(status, 200, "{label}: {v}");
        assert_eq!(v["valid"], true, "{label}: {v}");
        v
    };

    let certificates = |card: &str| ["sign-cert.pem", "auth-cert.pem"].map(|f| common::der_file(&sb.path(&format!("{card}/{f}"))));
    let mut held_certificates = certificates("card").to_vec();

    // The customer signs an application, logs in to open an account, and is registered with both.
    let application = verify(&signed(sb, "card", "application", "口座開設申込書\n"));
    let old_address = application["signer"]["address"].as_str().unwrap().to_owned();
    assert_eq!(application["valid"], true, "{label}: {application}");
    assert_eq!(application["user"], Value::Null, "{label}: no customer yet: {application}");
    let first_login = login("card", Some("acct-1"));
    assert_eq!((&first_login["linked"], &first_login["customer_id"]), (&json!(true), &Value::Null), "{label}: {first_login}");
    let body = json!({ "verification_id": application["verification_id"], "reference": "cust-1", "account_id": "acct-1" });
    let (status, customer) = server.post_json("/v1/customers", Some(key), &body.to_string());
    assert_eq!(status, 201, "{label}: {customer}");
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let (status, again) = server.post_json(
        "/v1/customers",
        Some(key),
        &json!({ "verification_id": application["verification_id"], "reference": "cust-2", "account_id": "acct-1" }).to_string(),
    );
    assert_eq!(status, 409, "{label}: one customer per account: {again}");
    let same = verify(&signed(sb, "card", "again", "同じ証明書\n"));
    assert_eq!((&same["user"]["customer_id"], &same["user"]["linked_by"]), (&json!(customer_id), &json!("certificate")), "{label}: {same}");
    assert_eq!(login("card", None)["customer_id"], json!(customer_id), "{label}: the account's logins are the customer's");

    // Consent: none yet → 403; signed by someone else → refused; signed by the customer → recorded.
    let latest_path = format!("/v1/customers/{customer_id}/latest-info");
    let (status, v) = server.post_json(&latest_path, Some(key), r#"{"purpose":"住所変更の確認"}"#);
    assert_eq!((status, &v["error"]["code"]), (403, &json!("consent_required")), "{label}: {v}");
    let text = "最新の基本4情報をBankへ提供することに同意します。";
    let consent_path = format!("/v1/customers/{customer_id}/consent");
    let (status, v) = put(&server, &consent_path, key, &json!({ "text": text, "cms": signed(sb, "stranger", "consent-stranger", text) }));
    assert_eq!((status, &v["error"]["code"]), (400, &json!("consent_signer_not_customer")), "{label}: {v}");
    let (status, v) = put(&server, &consent_path, key, &json!({ "text": "別の文言", "cms": signed(sb, "card", "consent-other", text) }));
    assert_eq!((status, &v["error"]["code"]), (400, &json!("consent_text_mismatch")), "{label}: {v}");
    let (status, consent) = put(&server, &consent_path, key, &json!({ "text": text, "cms": signed(sb, "card", "consent", text) }));
    assert_eq!(status, 200, "{label}: {consent}");
    assert_eq!((&consent["text"], &consent["withdrawn_at"]), (&json!(text), &Value::Null), "{label}: {consent}");
    let (status, v) = server.post_json(&latest_path, Some(key), r#"{"purpose":"住所変更の確認"}"#);
    assert_eq!((status, &v["revoked"], &v["changed"]), (200, &json!(false), &json!([])), "{label}: nothing changed yet: {v}");
    let (status, other) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Other"}"#);
    assert_eq!(status, 201);
    let (status, _) = server.post_json(&latest_path, other["api_key"].as_str(), r#"{"purpose":"x"}"#);
    assert_eq!(status, 404, "{label}: another tenant's customer is not found");

    // The customer moves and renews the card's certificates; the next CRL names the old one.
    sb.ok(&["sandbox", "event", "move", "--person", &person, "--address", "大阪府大阪市北区梅田１"]);
    let renewed = sb.json(&["sandbox", "cert", "reissue", "--card", "card"]);
    let new_sign = renewed.as_array().unwrap().iter().find(|c| c["role"] == "signature").unwrap()["serial"].as_str().unwrap().to_owned();
    held_certificates.extend(certificates("card"));
    ingest();
    let (_, feed) = server.get_json("/v1/changes", Some(key));
    let events = feed["events"].as_array().unwrap();
    assert!(events.iter().any(|e| e["customer_id"] == json!(customer_id) && e["reason"] == "affiliationChanged"), "{label}: {feed}");

    // The liveness report against the CRLs held: the old signature certificate revoked (JSON, CSV).
    let (status, report) = server.get_json("/v1/customers/status-report", Some(key));
    assert_eq!(status, 200, "{label}: {report}");
    let line =
        report["certificates"].as_array().unwrap().iter().find(|l| l["customer_id"] == json!(customer_id)).unwrap_or_else(|| panic!("{label}: {report}"));
    assert_eq!((&line["status"], &line["reason"]), (&json!("revoked"), &json!("affiliationChanged")), "{label}: {report}");
    let (status, csv) = server.request("GET", "/v1/customers/status-report?format=csv", &[("Authorization", &format!("Bearer {key}"))], b"");
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(status, 200, "{label}: {csv}");
    assert!(csv.starts_with("customer_id,reference,kind,serial,status,reason,revoked_at,generation\r\n"), "{label}: {csv}");
    assert!(csv.lines().any(|l| l.starts_with(&format!("{customer_id},cust-1,signature,")) && l.contains(",revoked,affiliationChanged,")), "{label}: {csv}");
    assert_eq!(server.get_json("/v1/customers/status-report?format=xml", Some(key)).0, 400, "{label}");
    // A liveness check now, with its purpose: revoked.
    let checks_path = format!("/v1/customers/{customer_id}/status-checks");
    let (status, checked) = server.post_json(&checks_path, Some(key), r#"{"purpose":"liveness_check"}"#);
    assert_eq!(status, 200, "{label}: {checked}");
    assert_eq!((&checked["checks"][0]["kind"], &checked["checks"][0]["valid"]), (&json!("signature"), &json!(false)), "{label}: {checked}");
    assert_eq!(server.post_json(&checks_path, Some(key), r#"{"purpose":"curiosity"}"#).0, 400, "{label}: purposes are named");

    // The latest 4 information: the new address, marked changed; the successor named.
    let (status, latest) = server.post_json(&latest_path, Some(key), r#"{"purpose":"住所変更の確認"}"#);
    assert_eq!(status, 200, "{label}: {latest}");
    assert_eq!(latest["revoked"], true, "{label}: {latest}");
    assert_eq!(latest["four_info"]["address"], "大阪府大阪市北区梅田１", "{label}: {latest}");
    assert_eq!(latest["changed"], json!(["address"]), "{label}: {latest}");
    assert_eq!(latest["successor_serial"], json!(new_sign), "{label}: {latest}");

    // The next signature, with the new certificate, lands on the same customer, who now watches it.
    let renewed_signature = verify(&signed(sb, "card", "renewed", "住所変更届\n"));
    assert_eq!(renewed_signature["signer"]["certificate_serial"], json!(new_sign), "{label}");
    assert_eq!(
        (&renewed_signature["user"]["customer_id"], &renewed_signature["user"]["linked_by"]),
        (&json!(customer_id), &json!("latest_4_info")),
        "{label}: {renewed_signature}"
    );
    let (_, customer) = server.get_json(&format!("/v1/customers/{customer_id}"), Some(key));
    let serials: Vec<&str> = customer["certificates"].as_array().unwrap().iter().map(|c| c["serial"].as_str().unwrap()).collect();
    assert!(serials.contains(&new_sign.as_str()), "{label}: {customer}");
    assert_eq!(verify(&signed(sb, "card", "renewed-again", "再度\n"))["user"]["linked_by"], "certificate", "{label}");
    let (_, checked) = server.post_json(&checks_path, Some(key), r#"{"purpose":"signature_verification"}"#);
    assert_eq!((&checked["checks"][0]["certificate_serial"], &checked["checks"][0]["valid"]), (&json!(new_sign), &json!(true)), "{label}: {checked}");

    // A login with the renewed authentication certificate resolves the same account.
    let renewed_login = login("card", None);
    assert_eq!(
        (&renewed_login["account_id"], &renewed_login["customer_id"], &renewed_login["linked_by"]),
        (&json!("acct-1"), &json!(customer_id), &json!("certificate_link")),
        "{label}: {renewed_login}"
    );
    assert_eq!(login("card", None)["linked_by"], Value::Null, "{label}: linked once");
    // The stranger's card is nobody's.
    let stranger_login = login("stranger", None);
    assert_eq!((&stranger_login["account_id"], &stranger_login["customer_id"]), (&Value::Null, &Value::Null), "{label}: {stranger_login}");

    // Withdrawn consent: nothing more is provided.
    let (status, _) = server.request("DELETE", &consent_path, &[("Authorization", &format!("Bearer {key}"))], b"");
    assert_eq!(status, 204, "{label}");
    let (status, v) = server.post_json(&latest_path, Some(key), r#"{"purpose":"住所変更の確認"}"#);
    assert_eq!((status, &v["error"]["code"]), (403, &json!("consent_required")), "{label}: {v}");
    let (status, _) = server.request("DELETE", &consent_path, &[("Authorization", &format!("Bearer {key}"))], b"");
    assert_eq!(status, 404, "{label}: nothing left to withdraw");

    // Metered for the tenant and the platform's operator account; audited; the chain holds.
    let (_, usage) = server.get_json("/v1/usage", Some(key));
    assert!(usage.to_string().contains("latest_4_info"), "{label}: {usage}");
    let lines = sb.ok(&["sandbox", "usage"]);
    assert!(lines.lines().any(|l| l.contains("certificate_link")), "{label}: {lines}");
    assert!(lines.lines().any(|l| l.contains("latest_4_info")), "{label}: {lines}");
    sb.ok(&["audit", "verify"]);

    // A disclosure request: everything held about the customer, for the tenant only.
    let export_path = format!("/v1/customers/{customer_id}/export");
    let (status, export) = server.get_json(&export_path, Some(key));
    assert_eq!(status, 200, "{label}: {export}");
    assert_eq!(export["customer"]["id"], json!(customer_id), "{label}");
    assert!(export["certificates"].as_array().unwrap().len() >= 2, "{label}: the old and the new signature certificates: {export}");
    assert!(export["login_certificates"].as_array().unwrap().len() >= 2, "{label}: the old and the renewed authentication certificates: {export}");
    assert_eq!((&export["consent"]["text"], export["consent"]["withdrawn_at"].is_string()), (&json!(text), true), "{label}: {export}");
    assert!(export["change_events"].as_array().unwrap().iter().any(|e| e["reason"] == "affiliationChanged"), "{label}: {export}");
    let verifications = export["verifications"].as_array().unwrap();
    let signatures: Vec<&Value> = verifications.iter().filter(|v| v.get("signer").is_some()).collect();
    assert!(signatures.len() >= 3 && signatures.iter().all(|v| v["signer"]["name"] == "転居　花子"), "{label}: {export}");
    assert!(verifications.iter().any(|v| v["linked_by"] == "certificate_link"), "{label}: the logins too: {export}");
    assert_eq!(server.get_json(&export_path, other["api_key"].as_str()).0, 404, "{label}: another tenant's");

    // Deleting the customer deletes every row of the platform's that holds their name, address or
    // certificates (another person's stays: the search sees results), and the audit chain still holds.
    let kept = verify(&signed(sb, "stranger", "kept", "別件\n"));
    assert_eq!(kept["valid"], true, "{label}");
    let (status, _) = server.request("DELETE", &format!("/v1/customers/{customer_id}"), &[("Authorization", &format!("Bearer {key}"))], b"");
    assert_eq!(status, 204, "{label}");
    let rows = sb.platform_rows();
    let found =
        |needle: &str| rows.iter().filter(|r| r.contains(needle) || r.to_ascii_lowercase().contains(&needle.to_ascii_lowercase())).cloned().collect::<Vec<_>>();
    assert!(!found("別人　次郎").is_empty(), "{label}: the other person's verification is kept");
    for needle in ["転居　花子", old_address.as_str(), "大阪府大阪市北区梅田１"] {
        assert_eq!(found(needle), Vec::<String>::new(), "{label}: {needle} is still held");
    }
    for der in &held_certificates {
        for trace in common::certificate_traces(der) {
            assert_eq!(found(&trace), Vec::<String>::new(), "{label}: a certificate of the deleted customer is still held");
        }
    }
    let (status, _) = server.get_json(&format!("/v1/customers/{customer_id}"), Some(key));
    assert_eq!(status, 404, "{label}");
    sb.ok(&["audit", "verify"]);
}
