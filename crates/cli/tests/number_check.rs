//! The number check (use case ①, card) through `jpki serve --sandbox`: the input-assistance records
//! read from the card (`jpki card read-info --records`) and the same session's signature; the My Number
//! answered to a number-law-authorized tenant only, a tampered record and another person's records
//! refused, and the My Number held in no row of the platform's; on SQLite and PostgreSQL.

mod common;

use common::{b64, sign_attached, Sandbox, ADMIN_TOKEN};
use serde_json::{json, Value};

#[test]
fn the_number_check_returns_my_number_only_to_an_authorized_tenant() {
    common::on_every_database("the_number_check_returns_my_number_only_to_an_authorized_tenant", run);
}

fn run(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("番号　三郎", "1975-03-03");
    sb.issue_card(&person, "card");
    let other_person = sb.add_person("別人　四郎", "1991-04-04");
    sb.issue_card(&other_person, "other");
    let my_number = {
        let state: Value = serde_json::from_slice(&std::fs::read(sb.path("card/card.json")).unwrap()).unwrap();
        state["my_number"].as_str().unwrap().to_owned()
    };
    let server = sb.serve();
    let tenant = |name: &str, authorized: bool| {
        let (status, t) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), &json!({ "name": name, "number_law_authorized": authorized }).to_string());
        assert_eq!(status, 201, "{label}: {t}");
        t["api_key"].as_str().unwrap().to_owned()
    };
    let (securities, shop) = (tenant("Securities", true), tenant("Shop", false));
    let session = |key: &str| {
        std::fs::write(sb.path("account.txt"), "証券口座開設申込書\n").unwrap();
        sb.ok(&sign_attached("card", "account.txt", "account.p7s"));
        let cms = std::fs::read(sb.path("account.p7s")).unwrap();
        let (status, v) = server.post_json("/v1/signatures/verify", Some(key), &json!({ "cms": b64(&cms) }).to_string());
        assert_eq!((status, &v["valid"]), (200, &json!(true)), "{label}: {v}");
        v["verification_id"].as_str().unwrap().to_owned()
    };
    let records = |card: &str| -> Value { serde_json::from_str(&sb.ok(&["card", "read-info", "--card", card, "--pin", "5678", "--records"])).unwrap() };
    let check = |key: &str, records: &Value, verification_id: &str| {
        let mut body = records.clone();
        body["verification_id"] = json!(verification_id);
        server.post_json("/v1/input-assistance/verify", Some(key), &body.to_string())
    };

    let verification = session(&securities);
    let ours = records("card");
    let (status, v) = check(&securities, &ours, &verification);
    assert_eq!((status, &v["valid"], &v["my_number"]), (200, &json!(true), &json!(my_number)), "{label}: {v}");
    assert_eq!(v["four_info"]["name"], "番号　三郎", "{label}: {v}");

    // A tenant without number-law authorization gets nothing, whatever it sends.
    let (status, v) = check(&shop, &ours, &session(&shop));
    assert_eq!((status, &v["error"]["code"]), (403, &json!("number_law_authorization_required")), "{label}: {v}");
    assert!(!v.to_string().contains(&my_number), "{label}");

    // A record changed after the issuer sealed it.
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut attributes = engine.decode(ours["attributes_record"].as_str().unwrap()).unwrap();
    let at = attributes.windows(9).position(|w| w == "千代田".as_bytes()).unwrap_or_else(|| panic!("{label}: the address is in the record"));
    attributes[at..at + 9].copy_from_slice("中央区".as_bytes());
    let mut tampered = ours.clone();
    tampered["attributes_record"] = json!(engine.encode(&attributes));
    let (status, v) = check(&securities, &tampered, &verification);
    assert_eq!((status, &v["valid"], &v["failure"]["code"]), (200, &json!(false), &json!("seal_broken")), "{label}: {v}");
    assert!(v.get("my_number").is_none(), "{label}: {v}");
    let mut number = engine.decode(ours["my_number_record"].as_str().unwrap()).unwrap();
    number[5] = if number[5] == b'9' { b'0' } else { number[5] + 1 };
    let mut tampered = ours.clone();
    tampered["my_number_record"] = json!(engine.encode(&number));
    assert_eq!(check(&securities, &tampered, &verification).1["failure"]["code"], "seal_broken", "{label}");

    // Another person's intact records do not go with this person's signature.
    let (status, v) = check(&securities, &records("other"), &verification);
    assert_eq!((status, &v["failure"]["code"]), (200, &json!("four_info_mismatch")), "{label}: {v}");

    // Bad input.
    let mut garbled = ours.clone();
    garbled["card_certificate"] = json!(engine.encode(b"not a certificate"));
    assert_eq!(check(&securities, &garbled, &verification).1["error"]["code"], "malformed_record", "{label}");
    garbled["card_certificate"] = json!("***");
    assert_eq!(check(&securities, &garbled, &verification).1["error"]["code"], "invalid_base64", "{label}");
    assert_eq!(check(&securities, &ours, "verification_none").0, 404, "{label}");
    let (status, _) = server.post_json("/v1/input-assistance/verify", Some(&securities), r#"{"my_number_record":"AA=="}"#);
    assert_eq!(status, 400, "{label}");

    // Never stored: no row of the platform's holds the My Number; the checks are audited.
    let rows = sb.platform_rows();
    assert!(rows.iter().any(|r| r.contains("input_assistance.verify")), "{label}: audited");
    assert_eq!(rows.iter().filter(|r| r.contains(&my_number)).collect::<Vec<_>>(), Vec::<&String>::new(), "{label}: the My Number is stored");
    sb.ok(&["audit", "verify"]);
}
