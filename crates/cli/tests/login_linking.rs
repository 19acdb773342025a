//! Registration links an authentication certificate to a tenant's account, and an account holds one
//! person: another person's certificate is refused (with or without a signature proof) unless the
//! tenant replaces the link, which is audited; the proven 4 info come back at registration. On SQLite
//! and PostgreSQL.

mod common;

use base64::Engine;
use common::{answer, der_file, Sandbox, ADMIN_TOKEN};
use serde_json::json;

#[test]
fn an_account_holds_one_person() {
    common::on_every_database("an_account_holds_one_person", run);
}

fn run(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let first = sb.add_person("口座　一郎", "1970-01-01");
    sb.issue_card(&first, "first");
    let second = sb.add_person("別人　二郎", "1990-02-02");
    sb.issue_card(&second, "second");
    let server = sb.serve();
    let (_, tenant) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Bank"}"#);
    let key = tenant["api_key"].as_str().unwrap();
    let cert = |card: &str| base64::engine::general_purpose::STANDARD.encode(der_file(&sb.path(&format!("{card}/auth-cert.pem"))));
    // A login answer with the card in `card`, registering to `account` with the signature proof if `prove`.
    let login = |card: &str, account: Option<&str>, prove: bool, replace: bool| {
        let (id, signature, proof) = answer(sb, &server, key, card);
        let mut body = json!({ "challenge_id": id, "certificate": cert(card), "signature": signature });
        if let Some(account) = account {
            body["account_id"] = json!(account);
        }
        if prove {
            body["signature_proof"] = json!(proof);
        }
        if replace {
            body["replace_link"] = json!(true);
        }
        server.post_json("/v1/auth/verify", Some(key), &body.to_string())
    };

    // The first person registers, proven: the 4 info come back.
    let (status, v) = login("first", Some("acct-1"), true, false);
    assert_eq!((status, &v["linked"], &v["account_id"]), (200, &json!(true), &json!("acct-1")), "{label}: {v}");
    assert_eq!((v["four_info"]["name"].as_str(), v["four_info"]["birth_date"].as_str()), (Some("口座　一郎"), Some("1970-01-01")), "{label}: {v}");

    // Another person's certificate for the same account: refused, proven or not.
    let (status, v) = login("second", Some("acct-1"), true, false);
    assert_eq!((status, v["error"]["code"].as_str()), (409, Some("account_holds_another_person")), "{label}: {v}");
    let (status, v) = login("second", Some("acct-1"), false, false);
    assert_eq!((status, v["error"]["code"].as_str()), (409, Some("identity_proof_required")), "{label}: {v}");
    let (status, v) = login("second", None, false, false);
    assert_eq!((status, &v["valid"], &v["account_id"]), (200, &json!(true), &json!(null)), "{label}: nothing was linked: {v}");
    let (status, v) = login("first", None, false, false);
    assert_eq!((status, &v["account_id"]), (200, &json!("acct-1")), "{label}: {v}");

    // The same person's phone, answered by `jpki card answer`: proven the same person, so it joins the
    // account; then it logs in to it.
    sb.ok(&common::phone_issue("first", "phone", "1234"));
    let phone_answer = |account: Option<&str>, prove: bool| {
        let (_, c) = server.post_json("/v1/auth/challenges", Some(key), "");
        let (id, challenge) = (c["challenge_id"].as_str().unwrap(), c["challenge"].as_str().unwrap());
        let mut args = vec!["card", "answer", "--phone", "phone", "--challenge-id", id, "--challenge", challenge, "--pin", "4321"];
        if let Some(account) = account {
            args.extend(["--account", account]);
        }
        if prove {
            args.extend(["--prove", "--sign-pin", "PHONE123"]);
        }
        server.post_json("/v1/auth/verify", Some(key), sb.ok(&args).trim())
    };
    let (status, v) = phone_answer(Some("acct-1"), true);
    assert_eq!((status, &v["linked"], &v["device"]), (200, &json!(true), &json!("smartphone")), "{label}: {v}");
    assert_eq!(v["four_info"]["name"].as_str(), Some("口座　一郎"), "{label}: {v}");
    let (status, v) = phone_answer(None, false);
    assert_eq!((status, &v["account_id"]), (200, &json!("acct-1")), "{label}: {v}");

    // The tenant replaces the link explicitly: now the account is the second person's.
    let (status, v) = login("second", Some("acct-1"), true, true);
    assert_eq!((status, &v["linked"], &v["replaced_links"]), (200, &json!(true), &json!(2)), "{label}: the card's and the phone's: {v}");
    assert_eq!(v["four_info"]["name"].as_str(), Some("別人　二郎"), "{label}: {v}");
    let (_, v) = login("first", None, false, false);
    assert_eq!(v["account_id"], json!(null), "{label}: the replaced link is gone: {v}");
    let (_, v) = login("second", None, false, false);
    assert_eq!(v["account_id"], json!("acct-1"), "{label}: {v}");
    drop(server);
    let audit = sb.ok(&["audit", "verify"]);
    assert!(audit.contains("intact"), "{label}: {audit}");
}
