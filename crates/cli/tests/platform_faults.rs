//! `jpki serve` under faulty and hostile clients: clients that hang up in the middle of writes (on
//! SQLite and PostgreSQL), and slow or abusive ones that would hold connections, memory and file
//! descriptors (the connection limits of `jpki_server::listen`).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use common::{b64, Sandbox, Server, ADMIN_TOKEN};
use serde_json::json;

/// Sends a whole request and hangs up at once, without reading the answer.
fn hang_up(server: &Server, method: &str, path: &str, bearer: &str, body: &str) {
    let Ok(mut s) = TcpStream::connect(&server.addr) else { return };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bearer}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes()).and_then(|()| s.write_all(body.as_bytes()));
    let _ = s.shutdown(Shutdown::Write);
}

/// What one client that waits for its answers was told succeeded.
#[derive(Default)]
struct Acknowledged {
    /// API keys (of the test's tenant) answered 201.
    keys: Vec<String>,
    /// Key ids (and keys) whose revocation was answered 204.
    revoked: Vec<String>,
    /// Tenant names answered 201.
    tenants: Vec<String>,
    /// The first write that was not answered with success.
    refused: Option<String>,
}

#[test]
fn clients_that_hang_up_lose_no_acknowledged_write() {
    common::on_every_database("clients_that_hang_up_lose_no_acknowledged_write", hang_ups);
}

fn hang_ups(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("切断　一郎", "1975-05-05");
    sb.issue_card(&person, "card");
    let msg = sb.path("m.txt");
    std::fs::write(&msg, "m").unwrap();
    let p7s = sb.path("m.p7s");
    sb.ok(&common::sign_attached(sb.path("card").to_str().unwrap(), msg.to_str().unwrap(), p7s.to_str().unwrap()));
    let cms = json!({ "cms": b64(&std::fs::read(&p7s).unwrap()) }).to_string();

    let mut server = sb.serve();
    let (status, tenant) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Hang-up bank"}"#);
    assert_eq!(status, 201, "{label}: {tenant}");
    let (tenant_id, api_key) = (tenant["id"].as_str().unwrap().to_owned(), tenant["api_key"].as_str().unwrap().to_owned());

    // Four clients hang up on every write endpoint, 200 times each, while a fifth waits for its answers
    // (and all stop at its first refusal: a wedged store answers 503 after its timeouts).
    let per_endpoint = 200;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let acknowledged = std::thread::scope(|scope| {
        for client in 0..4 {
            let (server, tenant_id, api_key, cms, stop, finished) = (&server, &tenant_id, &api_key, &cms, &stop, &finished);
            scope.spawn(move || {
                for i in 0..per_endpoint / 4 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let name = json!({ "name": format!("hung-up {client}-{i}") }).to_string();
                    hang_up(server, "POST", "/v1/admin/tenants", ADMIN_TOKEN, &name);
                    hang_up(server, "POST", &format!("/v1/admin/tenants/{tenant_id}/keys"), ADMIN_TOKEN, "");
                    hang_up(server, "DELETE", "/v1/admin/keys/key_00000000000000000000000000000000", ADMIN_TOKEN, "");
                    hang_up(server, "POST", "/v1/signatures/verify", api_key, cms);
                    hang_up(server, "POST", "/v1/auth/challenges", api_key, "");
                    // A login needs a challenge of its own: the only request here that waits for its answer.
                    let (status, challenge) = server.post_json("/v1/auth/challenges", Some(api_key), "");
                    if status == 201 {
                        let login = json!({ "challenge_id": challenge["challenge_id"], "certificate": "AAAA", "signature": "AAAA" }).to_string();
                        hang_up(server, "POST", "/v1/auth/verify", api_key, &login);
                    }
                }
                finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        let (server, tenant_id, stop, finished) = (&server, &tenant_id, &stop, &finished);
        scope
            .spawn(move || {
                let mut seen = Acknowledged::default();
                let auth = format!("Bearer {ADMIN_TOKEN}");
                let mut i = 0;
                while finished.load(std::sync::atomic::Ordering::SeqCst) < 4 {
                    i += 1;
                    let (status, key) = server.post_json(&format!("/v1/admin/tenants/{tenant_id}/keys"), Some(ADMIN_TOKEN), "");
                    if status != 201 {
                        seen.refused = Some(format!("adding a key: {status} {key}"));
                        break;
                    }
                    let (id, secret) = (key["key_id"].as_str().unwrap().to_owned(), key["api_key"].as_str().unwrap().to_owned());
                    if i % 2 == 0 {
                        let (status, body) = server.request("DELETE", &format!("/v1/admin/keys/{id}"), &[("Authorization", &auth)], b"");
                        if status != 204 {
                            seen.refused = Some(format!("revoking a key: {status} {}", String::from_utf8_lossy(&body)));
                            break;
                        }
                        seen.revoked.push(secret);
                    } else {
                        seen.keys.push(secret);
                    }
                    let name = format!("acknowledged {i}");
                    let (status, v) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), &json!({ "name": name }).to_string());
                    if status != 201 {
                        seen.refused = Some(format!("creating a tenant: {status} {v}"));
                        break;
                    }
                    seen.tenants.push(name);
                }
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                seen
            })
            .join()
            .unwrap()
    });
    assert_eq!(acknowledged.refused, None, "{label}: a write was refused while clients hung up");
    let (kept, revoked, tenants) = (acknowledged.keys.len(), acknowledged.revoked.len(), acknowledged.tenants.len());
    assert!(kept > 0 && revoked > 0 && tenants == kept + revoked, "{label}: {kept} keys kept, {revoked} revoked, {tenants} tenants");

    let check = |server: &Server, when: &str| {
        // Writes go through: a new key, a new tenant, a verification.
        let (status, key) = server.post_json(&format!("/v1/admin/tenants/{tenant_id}/keys"), Some(ADMIN_TOKEN), "");
        assert_eq!(status, 201, "{label} {when}: {key}");
        let (status, v) = server.post_json("/v1/signatures/verify", Some(&api_key), &cms);
        assert_eq!((status, &v["valid"]), (200, &json!(true)), "{label} {when}: {v}");
        // Everything acknowledged is there: keys work, revoked keys do not, tenants exist.
        for key in &acknowledged.keys {
            assert_eq!(server.get_json("/v1/usage", Some(key)).0, 200, "{label} {when}: an acknowledged key does not work");
        }
        for key in &acknowledged.revoked {
            assert_eq!(server.get_json("/v1/usage", Some(key)).0, 401, "{label} {when}: a revoked key still works");
        }
        for name in &acknowledged.tenants {
            let (status, v) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), &json!({ "name": name }).to_string());
            assert_eq!(status, 409, "{label} {when}: the acknowledged tenant {name:?} is missing: {v}");
        }
    };
    check(&server, "after the hang-ups");
    // And still after a restart: nothing acknowledged was left in a transaction that a close rolls back.
    assert!(server.stop().success(), "{label}");
    server = sb.serve();
    check(&server, "after a restart");
    let audit = sb.ok(&["audit", "verify"]);
    assert!(audit.contains("intact"), "{label}: {audit}");
}

/// Reads until the server closes the connection (or `limit` passes); what it sent.
fn read_until_closed(s: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => Some(got),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(got),
        Err(_) => None,
    }
}

fn status_of(answer: &[u8]) -> Option<u16> {
    std::str::from_utf8(answer).ok()?.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn slow_and_abusive_clients_are_bounded() {
    let sb = Sandbox::all().into_iter().next().unwrap();
    sb.ok(&["sandbox", "init"]);
    let log = sb.path("serve.log");
    let server = sb.serve_logging(&["--idle-timeout", "1", "--body-timeout", "1", "--max-connections", "64", "--max-body-bytes", "4096"], &log);
    let long = Duration::from_secs(30);

    // A head that never ends, and a connection kept alive after its answer, are closed.
    let mut partial = TcpStream::connect(&server.addr).unwrap();
    partial.write_all(b"POST /v1/signatures/verify HTTP/1.1\r\nHost: x\r\n").unwrap();
    assert!(read_until_closed(&mut partial, long).is_some(), "a partial head kept its connection open");
    let mut kept = TcpStream::connect(&server.addr).unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let answer = read_until_closed(&mut kept, long).expect("an idle kept-alive connection stayed open");
    assert_eq!(status_of(&answer), Some(200), "{}", String::from_utf8_lossy(&answer));

    // A body that does not arrive in time: 408 with the API's error shape.
    let mut slow = TcpStream::connect(&server.addr).unwrap();
    slow.write_all(b"POST /v1/signatures/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"cms\":").unwrap();
    let answer = read_until_closed(&mut slow, long).expect("a slow body kept its connection open");
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(status_of(&answer), Some(408), "{text}");
    assert!(text.contains(r#""code":"body_timeout""#), "{text}");

    // A declared length over the limit: 413 at once, with nothing of the body sent.
    let mut huge = TcpStream::connect(&server.addr).unwrap();
    huge.write_all(b"POST /v1/signatures/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999\r\n\r\n").unwrap();
    let answer = read_until_closed(&mut huge, long).expect("no answer to an oversized declared length");
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(status_of(&answer), Some(413), "{text}");
    assert!(text.contains(r#""code":"body_too_large""#), "{text}");
    // A chunked body that grows past the limit: 413 as well.
    let mut chunked = TcpStream::connect(&server.addr).unwrap();
    chunked.write_all(b"POST /v1/signatures/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    for _ in 0..5 {
        chunked.write_all(format!("400\r\n{}\r\n", " ".repeat(0x400)).as_bytes()).unwrap();
    }
    let answer = read_until_closed(&mut chunked, long).expect("no answer to an oversized chunked body");
    assert_eq!(status_of(&answer), Some(413), "{}", String::from_utf8_lossy(&answer));

    // A flood of idle connections: at most 64 are held; the limit is logged and counted; each is closed
    // by the idle timeout; a request behind them is answered; the memory returns.
    server.wait_for_open_connections(0.0);
    let baseline = server.rss_kib();
    let flood = server.partial_requests(500);
    assert!(flood.len() >= 400, "only {} connections made", flood.len());
    let (status, _) = server.request("GET", "/healthz", &[], b"");
    assert_eq!(status, 200, "a request behind the flood was not answered");
    server.wait_for_open_connections(0.0);
    assert!(server.metric("jpki_platform_http_connection_limit_reached_total") >= 1.0);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("connection limit reached: 64 connections are open"), "{logged}");
    assert!(!logged.contains('\u{1b}'), "a log written to a file carries no terminal colours: {logged:?}");
    drop(flood);
    let after = server.rss_kib_settled(baseline + 16 * 1024, Duration::from_secs(5));
    assert!(after <= baseline + 16 * 1024, "memory after the flood: {after} KiB, before: {baseline} KiB");
}
