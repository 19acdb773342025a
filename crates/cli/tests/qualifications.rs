//! Qualification confirmation against `jpki serve --sandbox`, on SQLite and, when configured,
//! PostgreSQL: a customer registered from a verified signature, an employee qualification attached,
//! checked by a fresh signature of the person: qualified; expired; of another type; after the
//! certificate's revocation, not qualified with the reason; another tenant's ids not found; the
//! qualifications deleted with the customer. And checked by a card login with no user id, through the
//! customer's account.

mod common;

use common::{answer, b64, Sandbox, ADMIN_TOKEN};
use serde_json::{json, Value};

#[test]
fn a_fresh_signature_answers_whether_the_person_holds_a_qualification() {
    common::on_every_database("a_fresh_signature_answers_whether_the_person_holds_a_qualification", run);
}

fn run(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("社員　花子", "1988-08-08");
    sb.issue_card(&person, "card");
    let server = sb.serve();
    let (_, a) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Employer"}"#);
    let key = a["api_key"].as_str().unwrap().to_owned();
    let (_, b) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Other"}"#);
    let other = b["api_key"].as_str().unwrap().to_owned();
    let mut n = 0;
    let mut signed = || -> Value {
        n += 1;
        let (doc, p7s) = (format!("entry-{n}.txt"), format!("entry-{n}.p7s"));
        std::fs::write(sb.path(&doc), format!("入館申請 {n}\n")).unwrap();
        sb.ok(&common::sign_attached("card", &doc, &p7s));
        let cms = std::fs::read(sb.path(&p7s)).unwrap();
        server.post_json("/v1/signatures/verify", Some(&key), &json!({ "cms": b64(&cms) }).to_string()).1
    };
    let first = signed();
    let (_, customer) =
        server.post_json("/v1/customers", Some(&key), &json!({ "verification_id": first["verification_id"], "reference": "emp-1" }).to_string());
    let customer_id = customer["id"].as_str().unwrap().to_owned();

    let attach = |body: Value, key: &str| server.post_json(&format!("/v1/customers/{customer_id}/qualifications"), Some(key), &body.to_string());
    let employee = json!({ "type": "employee", "identifier": "E-0001", "valid_until": "2099-03-31T15:00:00Z", "attributes": { "department": "総務部" } });
    let (status, qualification) = attach(employee.clone(), &key);
    assert_eq!(status, 201, "{label}: {qualification}");
    let qid = qualification["id"].as_str().unwrap().to_owned();
    assert_eq!(attach(employee.clone(), &key).0, 409, "{label}: the same identifier twice");
    assert_eq!(attach(employee.clone(), &other).0, 404, "{label}: another tenant's customer");
    for (body, why) in [
        (json!({ "type": "", "identifier": "x" }), "type"),
        (json!({ "type": "a", "identifier": "x", "valid_from": "2030-01-01T00:00:00Z", "valid_until": "2029-01-01T00:00:00Z" }), "after"),
        (json!({ "type": "a", "identifier": "x", "colour": 1 }), "unknown field"),
    ] {
        let (status, refused) = attach(body, &key);
        assert_eq!(status, 400, "{label}: {why}: {refused}");
        assert!(refused.to_string().contains(why), "{label}: {why}: {refused}");
    }
    let (_, listed) = server.get_json(&format!("/v1/customers/{customer_id}/qualifications"), Some(&key));
    assert_eq!(listed["qualifications"][0]["attributes"]["department"], "総務部", "{label}: {listed}");
    assert_eq!(server.get_json(&format!("/v1/qualifications/{qid}"), Some(&other)).0, 404, "{label}");

    let check = |verification: &Value, kind: &str, key: &str| {
        server.post_json("/v1/qualifications/check", Some(key), &json!({ "verification_id": verification["verification_id"], "type": kind }).to_string())
    };
    let now = signed();
    let (status, answer) = check(&now, "employee", &key);
    assert_eq!((status, &answer["qualified"], &answer["customer_id"]), (200, &json!(true), &json!(customer_id)), "{label}: {answer}");
    assert_eq!(answer["qualification"]["identifier"], "E-0001", "{label}: {answer}");
    let (_, answer) = check(&now, "health_insurance", &key);
    assert_eq!((&answer["qualified"], &answer["reason"]), (&json!(false), &json!("no_qualification")), "{label}: {answer}");
    assert_eq!(check(&now, "employee", &other).0, 404, "{label}: another tenant's verification");

    // Expired: the employer ends it.
    let ended = json!({ "type": "employee", "identifier": "E-0001", "valid_from": "2020-04-01T00:00:00Z", "valid_until": "2021-03-31T15:00:00Z" });
    let (status, _, updated) = server.exchange(
        "PUT",
        &format!("/v1/qualifications/{qid}"),
        &[("Authorization", &format!("Bearer {key}")), ("Content-Type", "application/json")],
        ended.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{label}: {}", String::from_utf8_lossy(&updated));
    let (_, answer) = check(&now, "employee", &key);
    assert_eq!((&answer["qualified"], &answer["reason"]), (&json!(false), &json!("expired")), "{label}: {answer}");
    let (_, _, _) = server.exchange(
        "PUT",
        &format!("/v1/qualifications/{qid}"),
        &[("Authorization", &format!("Bearer {key}")), ("Content-Type", "application/json")],
        employee.to_string().as_bytes(),
    );

    // After the person moves, the signature certificate is revoked: not qualified, and why.
    sb.ok(&["sandbox", "event", "move", "--person", &person, "--address", "大阪府大阪市北区梅田１"]);
    let revoked = signed();
    assert_eq!(revoked["valid"], json!(false), "{label}: {revoked}");
    let (_, answer) = check(&revoked, "employee", &key);
    assert_eq!(
        (&answer["qualified"], &answer["reason"], &answer["failure_code"]),
        (&json!(false), &json!("certificate_revoked"), &json!("revoked")),
        "{label}: {answer}"
    );

    // A verification result is deleted by its tenant only.
    let delete = |path: &str| server.exchange("DELETE", path, &[("Authorization", &format!("Bearer {key}"))], b"").0;
    let extra = signed();
    let verification = format!("/v1/verifications/{}", extra["verification_id"].as_str().unwrap());
    assert_eq!(server.exchange("DELETE", &verification, &[("Authorization", &format!("Bearer {other}"))], b"").0, 404, "{label}");
    assert_eq!(delete(&verification), 204, "{label}");
    assert_eq!(server.get_json(&verification, Some(&key)).0, 404, "{label}");
    assert_eq!(delete(&verification), 404, "{label}: deleted once");

    // Deleted with the customer, and so are the verifications of the customer's certificates.
    assert_eq!(delete(&format!("/v1/customers/{customer_id}")), 204, "{label}");
    assert_eq!(server.get_json(&format!("/v1/qualifications/{qid}"), Some(&key)).0, 404, "{label}: deleted with the customer");
    let (status, answer) = check(&now, "employee", &key);
    assert_eq!((status, &answer["error"]["code"]), (404, &json!("not_found")), "{label}: {answer}");
    drop(server);

    // Every change and check is audited by id, with no personal data; the chain holds.
    sb.ok(&["audit", "verify"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let entries: Vec<(String, String, String)> = rt.block_on(async {
        let db = jpki_store::Database::open(&sb.db_url).await.unwrap();
        let rows = jpki_store::sqlx::query_as("SELECT action, result, detail FROM audit_log ORDER BY seq").fetch_all(db.pool()).await.unwrap();
        db.close().await;
        rows
    });
    let count = |action: &str| entries.iter().filter(|(a, _, _)| a == action).count();
    assert_eq!(
        (count("qualification.create"), count("qualification.update"), count("qualification.check"), count("customer.delete"), count("verification.delete")),
        (1, 2, 4, 1, 1),
        "{label}: {entries:?}"
    );
    assert!(entries.iter().any(|(a, r, _)| a == "qualification.check" && r == "not_qualified:certificate_revoked"), "{label}: {entries:?}");
    assert!(entries.iter().all(|(_, _, d)| !d.contains("社員") && !d.contains("E-0001") && !d.contains("総務部")), "{label}: no personal data audited");
}

#[test]
fn a_card_login_answers_whether_the_person_holds_a_qualification() {
    common::on_every_database("a_card_login_answers_whether_the_person_holds_a_qualification", run_login);
}

/// An employee logs in by card with no user id: the login's verification answers the check through the
/// customer's account; after the card is reported lost (its certificates held), not qualified, and why.
fn run_login(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("社員　次郎", "1979-07-07");
    sb.issue_card(&person, "card");
    let server = sb.serve();
    let (_, a) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Employer"}"#);
    let key = a["api_key"].as_str().unwrap().to_owned();
    let login = |account: Option<&str>| {
        let (id, signature, _) = answer(sb, &server, &key, "card");
        let cert = common::der_file(&sb.path("card/auth-cert.pem"));
        let mut body = json!({ "challenge_id": id, "certificate": b64(&cert), "signature": signature });
        if let Some(account) = account {
            body["account_id"] = json!(account);
        }
        let (status, v) = server.post_json("/v1/auth/verify", Some(&key), &body.to_string());
        assert_eq!(status, 200, "{label}: {v}");
        v
    };
    std::fs::write(sb.path("entry.txt"), "入社手続\n").unwrap();
    sb.ok(&common::sign_attached("card", "entry.txt", "entry.p7s"));
    let cms = std::fs::read(sb.path("entry.p7s")).unwrap();
    let (_, signed) = server.post_json("/v1/signatures/verify", Some(&key), &json!({ "cms": b64(&cms) }).to_string());
    let registered = login(Some("staff-7"));
    assert_eq!(registered["linked"], true, "{label}: {registered}");
    let body = json!({ "verification_id": signed["verification_id"], "reference": "emp-7", "account_id": "staff-7" });
    let (_, customer) = server.post_json("/v1/customers", Some(&key), &body.to_string());
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let employee = json!({ "type": "employee", "identifier": "E-0007" });
    let (status, _) = server.post_json(&format!("/v1/customers/{customer_id}/qualifications"), Some(&key), &employee.to_string());
    assert_eq!(status, 201, "{label}");
    let check = |verification: &Value| {
        server.post_json("/v1/qualifications/check", Some(&key), &json!({ "verification_id": verification["verification_id"], "type": "employee" }).to_string())
    };

    let at_the_door = login(None);
    assert_eq!((&at_the_door["account_id"], &at_the_door["customer_id"]), (&json!("staff-7"), &json!(customer_id)), "{label}: {at_the_door}");
    let (status, answer) = check(&at_the_door);
    assert_eq!((status, &answer["qualified"], &answer["qualification"]["identifier"]), (200, &json!(true), &json!("E-0007")), "{label}: {answer}");

    sb.ok(&["sandbox", "event", "lost", "--person", &person]);
    let after_loss = login(None);
    assert_eq!(after_loss["valid"], false, "{label}: {after_loss}");
    let (_, answer) = check(&after_loss);
    assert_eq!((&answer["qualified"], &answer["reason"]), (&json!(false), &json!("certificate_revoked")), "{label}: {answer}");
}
