//! Ledger matching against `jpki serve --sandbox`, on SQLite and, when configured, PostgreSQL: a
//! customer registered from a verified signature; the tenant's ledger, written as Japanese ledgers
//! write it, matched field by field against the certificate's 4 info; one customer as JSON and many as
//! CSV, with each bad row named; another tenant's customer not found; the audit chain intact.

mod common;

use common::{b64, Sandbox, ADMIN_TOKEN};
use serde_json::{json, Value};

#[test]
fn a_tenants_ledger_is_matched_against_its_customers_certificates() {
    common::on_every_database("a_tenants_ledger_is_matched_against_its_customers_certificates", run);
}

fn run(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let v = sb.json(&[
        "sandbox",
        "person",
        "add",
        "--name",
        "台帳　一郎",
        "--address",
        "東京都千代田区霞が関２－１－２",
        "--birth-date",
        "1970-01-31",
        "--sex",
        "male",
    ]);
    let person = v["id"].as_str().unwrap().to_owned();
    sb.issue_card(&person, "card");
    std::fs::write(sb.path("form.txt"), "口座開設申込書\n").unwrap();
    sb.ok(&common::sign_attached("card", "form.txt", "form.p7s"));
    let server = sb.serve();
    let (_, a) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Bank"}"#);
    let key = a["api_key"].as_str().unwrap().to_owned();
    let (_, b) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Other"}"#);
    let other = b["api_key"].as_str().unwrap().to_owned();
    let cms = std::fs::read(sb.path("form.p7s")).unwrap();
    let (status, verified) = server.post_json("/v1/signatures/verify", Some(&key), &json!({ "cms": b64(&cms) }).to_string());
    assert_eq!((status, &verified["valid"]), (200, &json!(true)), "{label}: {verified}");
    let (status, customer) =
        server.post_json("/v1/customers", Some(&key), &json!({ "verification_id": verified["verification_id"], "reference": "acct-1" }).to_string());
    assert_eq!(status, 201, "{label}: {customer}");
    let id = customer["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/customers/{id}/ledger-match");

    // The ledger writes the address with kanji numerals and block markers, the name without a space.
    let ledger = json!({ "name": "台帳一郎", "address": "東京都千代田区霞が関二丁目一番二号", "birth_date": "1970-01-31" });
    let (status, matched) = server.post_json(&path, Some(&key), &ledger.to_string());
    assert_eq!(status, 200, "{label}: {matched}");
    assert_eq!(matched, json!({ "customer_id": id, "name": "same", "address": "same", "birth_date": "same", "sex": "not_given" }), "{label}");
    let moved = json!({ "address": "東京都千代田区霞が関２－１－３", "sex": "female" });
    let (_, matched) = server.post_json(&path, Some(&key), &moved.to_string());
    assert_eq!((&matched["address"], &matched["sex"], &matched["name"]), (&json!("different"), &json!("different"), &json!("not_given")), "{label}");

    // Bad input is named; another tenant's customer is not found.
    for (body, code) in [
        (json!({ "birth_date": "31/01/1970" }), "invalid_ledger_entry"),
        (json!({ "sex": "x" }), "invalid_ledger_entry"),
        (json!({ "nickname": "x" }), "invalid_json"),
    ] {
        let (status, refused) = server.post_json(&path, Some(&key), &body.to_string());
        assert_eq!((status, refused["error"]["code"].as_str()), (400, Some(code)), "{label}: {body}: {refused}");
    }
    let (status, _) = server.post_json(&path, Some(&other), &ledger.to_string());
    assert_eq!(status, 404, "{label}: another tenant's customer");

    // A CSV: good rows matched, each bad row named by its line.
    let csv = format!(
        "customer_id,name,address,birth_date,sex\r\n{id},台帳　一郎,\"東京都千代田区霞が関2丁目1番2号\",1970-01-31,male\r\n{id},台帳一郎,,1970-13-01,\r\ncustomer_none,x,,,\r\n\"{id}\",\"broken\r\n"
    );
    let csv_post = |key: &str, body: &str, content_type: &str| {
        server.exchange("POST", "/v1/ledger-matches", &[("Authorization", &format!("Bearer {key}")), ("Content-Type", content_type)], body.as_bytes())
    };
    let (status, _, body) = csv_post(&key, &csv, "text/csv; charset=utf-8");
    let report: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, &report["matched"], &report["failed"]), (200, &json!(1), &json!(3)), "{label}: {report}");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows[0]["matched"], json!({ "customer_id": id, "name": "same", "address": "same", "birth_date": "same", "sex": "same" }), "{label}: {report}");
    let errors: Vec<(i64, &str)> = rows[1..].iter().map(|r| (r["line"].as_i64().unwrap(), r["error"].as_str().unwrap())).collect();
    assert!(errors[0].0 == 3 && errors[0].1.contains("birth_date"), "{label}: {errors:?}");
    assert!(errors[1].0 == 4 && errors[1].1.contains("no customer"), "{label}: {errors:?}");
    assert!(errors[2].0 == 5 && errors[2].1.contains("not closed"), "{label}: {errors:?}");
    let (status, _, body) = csv_post(&key, "id,name\n", "text/csv");
    assert_eq!(status, 400, "{label}: {}", String::from_utf8_lossy(&body));
    let (status, _, _) = csv_post(&key, &csv, "application/json");
    assert_eq!(status, 400, "{label}: not text/csv");
    let (_, _, body) = csv_post(&other, &csv, "text/csv");
    let report: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((&report["matched"], &report["failed"]), (&json!(0), &json!(4)), "{label}: another tenant's customers are not found: {report}");
    sb.ok(&["audit", "verify"]);
}
