//! How the server stops, on SQLite and, when configured, PostgreSQL: `kill -9` under load loses no
//! acknowledged verification and the audit chain still verifies afterwards; SIGTERM finishes cleanly
//! and closes the database.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use common::{openssl_cms_sign, Sandbox, ADMIN_TOKEN};
use serde_json::json;

#[test]
fn acknowledged_verifications_survive_kill_9() {
    common::on_every_database("acknowledged_verifications_survive_kill_9", run);
}

#[test]
fn sigterm_stops_cleanly_and_closes_the_database() {
    common::on_every_database("sigterm_stops_cleanly_and_closes_the_database", |sb| {
        let label = sb.label();
        let body = signed_request(sb);
        let (server, key) = serve_tenant(sb);
        let id = post(&server.addr, &key, &body).unwrap_or_else(|| panic!("{label}: the verification was not answered"));
        let status = server.stop();
        assert!(status.success(), "{label}: the server must exit cleanly on SIGTERM: {status}");
        // SQLite folds its write-ahead log back into the database file when the last connection closes.
        let wal = sb.data().join("jpki.sqlite3-wal");
        assert!(label != "sqlite" || !wal.exists(), "{label}: {} left behind: the database was not closed", wal.display());

        let server = sb.serve();
        let (status, v) = server.get_json(&format!("/v1/verifications/{id}"), Some(&key));
        assert_eq!((status, &v["valid"]), (200, &json!(true)), "{label}: {v}");
        drop(server);
        sb.json(&["audit", "verify"]);
    });
}

/// An initialized sandbox with a card; the body of a verification request for a CMS signed with it.
fn signed_request(sb: &Sandbox) -> String {
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("耐久　三郎", "1975-03-03");
    sb.issue_card(&person, "card");
    let msg = sb.path("m.txt");
    std::fs::write(&msg, "load").unwrap();
    let p7s = sb.path("m.p7s");
    openssl_cms_sign(&sb.path("card"), &msg, &p7s, &["-nodetach"]);
    json!({ "cms": base64::engine::general_purpose::STANDARD.encode(std::fs::read(&p7s).unwrap()) }).to_string()
}

/// The running server and the API key of a new tenant.
fn serve_tenant(sb: &Sandbox) -> (common::Server, String) {
    let server = sb.serve();
    let (_, tenant) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Load"}"#);
    let key = tenant["api_key"].as_str().unwrap().to_owned();
    (server, key)
}

fn run(sb: &Sandbox) {
    let label = sb.label();
    let body = signed_request(sb);
    let (server, key) = serve_tenant(sb);
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let addr = server.addr.clone();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (acknowledged, stop, body, key, addr) = (acknowledged.clone(), stop.clone(), body.clone(), key.clone(), addr.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // A request cut by the kill is simply not acknowledged.
                    if let Some(id) = post(&addr, &key, &body) {
                        acknowledged.lock().unwrap().push(id);
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 40 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let server = sb.serve();
    for id in &acknowledged {
        let (status, v) = server.get_json(&format!("/v1/verifications/{id}"), Some(&key));
        assert_eq!((status, &v["valid"]), (200, &json!(true)), "{label}: acknowledged verification {id} lost");
    }
    drop(server);
    let report = sb.json(&["audit", "verify"]);
    assert!(report["entries"].as_i64().unwrap() > acknowledged.len() as i64, "{label}: the tenant and every acknowledged verification: {report}");
}

/// One verification over a fresh connection; the verification id when the server answered 200.
fn post(addr: &str, key: &str, body: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    let req = format!(
        "POST /v1/signatures/verify HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nAuthorization: Bearer {key}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let text = String::from_utf8_lossy(&resp);
    if !text.starts_with("HTTP/1.1 200") {
        return None;
    }
    let body = &text[text.find("\r\n\r\n")? + 4..];
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v["verification_id"].as_str().map(str::to_owned)
}
