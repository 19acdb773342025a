//! The latest-4-info provision names the certificate that replaced the revoked one: the same holder's
//! signature certificate on the same device, not a phone's issued later; on SQLite and PostgreSQL.

mod common;

use common::Sandbox;

#[test]
fn the_successor_is_on_the_same_device() {
    common::on_every_database("the_successor_is_on_the_same_device", run);
}

fn run(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("転居　三郎", "1982-03-03");
    let (old, _) = sb.issue_card(&person, "card");
    let old = old.unwrap();
    sb.ok(&["sandbox", "event", "move", "--person", &person, "--address", "大阪府大阪市北区梅田１"]);
    let renewed = sb.json(&["sandbox", "cert", "reissue", "--card", "card"]);
    let renewed = renewed.as_array().unwrap().iter().find(|c| c["role"] == "signature").unwrap()["serial"].as_str().unwrap().to_owned();
    // A phone issued after the re-issue (a second later: validity is in whole seconds) has a newer
    // signature certificate of its own.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let phone = sb.json(&common::phone_issue("card", "phone", "1234"));
    let phone_serial = phone.to_string();
    assert!(!phone_serial.contains(&renewed), "{label}: {phone}");

    let server = sb.serve();
    let op = sb.json(&["sandbox", "operator", "add", "--name", "Successor PF"]);
    sb.ok(&["sandbox", "consent", "grant", "--person", &person, "--operator", "Successor PF"]);
    let (status, latest) = server.post_json("/issuer/latest-4-info", op["api_key"].as_str(), &format!(r#"{{"serial": "{old}"}}"#));
    assert_eq!(status, 200, "{label}: {latest}");
    assert_eq!(latest["revocation_reason"], "affiliationChanged", "{label}: {latest}");
    assert_eq!(latest["current_serial"].as_str(), Some(renewed.as_str()), "{label}: the successor is the card's re-issued certificate: {latest}");
    assert_eq!(latest["four_info"]["address"], "大阪府大阪市北区梅田１", "{label}: {latest}");
}
