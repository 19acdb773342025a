//! Change confirmation (変更確認) end to end through `jpki serve --sandbox` and `jpki platform crl
//! ingest`, on SQLite and, when configured, PostgreSQL: a tenant verifies a signature and watches the
//! signer; the person moves; the next check answers revoked by fresh OCSP; once the day's CRL is
//! ingested the CRL method answers revoked too, the change feed names the customer, and the tenant's
//! webhook receives the event, signed. A second ingestion adds nothing; bad CRLs change nothing; two
//! server processes on one database use the same generation and deliver each event once.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{b64, openssl_cms_sign, Sandbox, Server, ADMIN_TOKEN};
use serde_json::{json, Value};

#[test]
fn change_confirmation_end_to_end() {
    common::on_every_database("change_confirmation_end_to_end", run);
}

/// A request a webhook receiver got: its headers (lower-case names) and body.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A webhook endpoint on a local port that records every request and answers 204.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/jpki", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let recorded = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut headers = Vec::new();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap_or_default();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                    }
                }
                let len = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
                let mut body = vec![0u8; len];
                let _ = reader.read_exact(&mut body);
                recorded.lock().unwrap().push(Received { headers, body });
                let _ = reader.get_mut().write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            }
        });
        Receiver { url, got }
    }

    /// The requests received, once there are at least `n` (or after 30 s).
    fn wait_for(&self, n: usize) -> Vec<Received> {
        let start = Instant::now();
        while self.got.lock().unwrap().len() < n && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(100));
        }
        self.got.lock().unwrap().clone()
    }
}

fn verify(server: &Server, key: &str, cms: &[u8], content: &[u8], revocation: Option<Value>) -> Value {
    let mut body = json!({ "cms": b64(cms), "content": b64(content) });
    if let Some(r) = revocation {
        body["revocation"] = r;
    }
    let (status, v) = server.post_json("/v1/signatures/verify", Some(key), &body.to_string());
    assert_eq!(status, 200, "{v}");
    v
}

fn delete(server: &Server, path: &str, key: &str) -> u16 {
    server.request("DELETE", path, &[("Authorization", &format!("Bearer {key}"))], b"").0
}

fn run(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("変更　確認", "1979-07-07");
    sb.issue_card(&person, "card");
    let server = sb.serve();
    let (_, a) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Life Insurer A"}"#);
    let key_a = a["api_key"].as_str().unwrap().to_owned();
    let (_, b) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Card Issuer B"}"#);
    let key_b = b["api_key"].as_str().unwrap().to_owned();

    // The tenant's webhook: HTTP is taken in the sandbox; a URL with credentials is not.
    let receiver = Receiver::start();
    let (status, v) = server.post_json("/v1/webhooks", Some(&key_a), &json!({ "url": "ftp://example.com/x" }).to_string());
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("invalid_url")), "{label}: {v}");
    let (status, v) = server.post_json("/v1/webhooks", Some(&key_a), &json!({ "url": "http://user:pw@127.0.0.1/x" }).to_string());
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("invalid_url")), "{label}: {v}");
    let (status, hook) = server.post_json("/v1/webhooks", Some(&key_a), &json!({ "url": receiver.url }).to_string());
    assert_eq!(status, 201, "{label}: {hook}");
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let (_, listed) = server.get_json("/v1/webhooks", Some(&key_a));
    assert!(listed["webhooks"][0].get("secret").is_none(), "{label}: the secret is shown once: {listed}");

    // The day's CRLs, ingested before anything happened: generation 1 of each CA.
    let crls = sb.publish_crls();
    let sign_crl = crls.sign_for("東京都", "千代田区").to_path_buf();
    let auth_crl = crls.auth.clone();
    let old_crl = sb.path("old-sign.crl");
    std::fs::copy(&sign_crl, &old_crl).unwrap();
    let ingest = |files: &[&std::path::Path]| {
        let mut args = vec!["platform", "crl", "ingest"];
        for f in files {
            args.extend(["--file", f.to_str().unwrap()]);
        }
        sb.json(&args)
    };
    let first = ingest(&[&sign_crl, &auth_crl]);
    assert_eq!(first.as_array().unwrap().len(), 2, "{label}: {first}");

    // A verification, and the signer watched as a customer.
    let msg = sb.path("policy.txt");
    std::fs::write(&msg, "保険契約申込書\n").unwrap();
    let p7s = sb.path("policy.p7s");
    openssl_cms_sign(&sb.path("card"), &msg, &p7s, &[]);
    let (cms, content) = (std::fs::read(&p7s).unwrap(), std::fs::read(&msg).unwrap());
    let v = verify(&server, &key_a, &cms, &content, None);
    assert_eq!((&v["valid"], &v["revocation"]["method"], &v["revocation"]["cached"]), (&json!(true), &json!("ocsp"), &json!(false)), "{label}: {v}");
    let verification_id = v["verification_id"].as_str().unwrap().to_owned();
    let serial = v["signer"]["certificate_serial"].as_str().unwrap().to_owned();
    let register = |key: &str, reference: &str, id: &str| {
        server.post_json("/v1/customers", Some(key), &json!({ "verification_id": id, "reference": reference }).to_string())
    };
    let (status, customer) = register(&key_a, "policy-0001", &verification_id);
    assert_eq!(status, 201, "{label}: {customer}");
    assert_eq!((&customer["certificates"][0]["kind"], &customer["certificates"][0]["serial"]), (&json!("signature"), &json!(serial)), "{label}");
    assert!(customer["certificates"][0].get("certificate").is_none(), "{label}: a tenant never receives the certificate");
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let (status, v) = register(&key_a, "policy-0001", &verification_id);
    assert_eq!(status, 409, "{label}: {v}");
    let (status, v) = register(&key_b, "other", &verification_id);
    assert_eq!((status, v["error"]["code"].as_str()), (404, Some("not_found")), "{label}: another tenant's verification");
    let (status, v) = register(&key_a, "", &verification_id);
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("invalid_reference")), "{label}: {v}");
    let invalid = verify(&server, &key_a, &cms, "改ざん".as_bytes(), None);
    let (status, v) = register(&key_a, "policy-0002", invalid["verification_id"].as_str().unwrap());
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("verification_not_valid")), "{label}: {v}");
    let (status, v) = server.get_json(&format!("/v1/customers/{customer_id}"), Some(&key_b));
    assert_eq!(status, 404, "{label}: {v}");
    let (status, page) = server.get_json("/v1/customers?limit=1", Some(&key_a));
    assert_eq!((status, page["customers"].as_array().map(Vec::len)), (200, Some(1)), "{label}: {page}");
    let (status, v) = server.get_json("/v1/customers?limit=0", Some(&key_a));
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("invalid_limit")), "{label}: {v}");

    // The person moves: the certificate is revoked at once, and the next check says so by fresh OCSP.
    sb.ok(&["sandbox", "event", "move", "--person", &person, "--address", "北海道札幌市中央区北一条西２"]);
    let v = verify(&server, &key_a, &cms, &content, None);
    assert_eq!((&v["valid"], &v["revocation"]["status"], &v["revocation"]["method"]), (&json!(false), &json!("revoked"), &json!("ocsp")), "{label}: {v}");
    assert_eq!(v["revocation"]["reason"], "affiliationChanged", "{label}: {v}");
    // The CRL in force (generation 1) predates the move: by CRL the certificate still reads good.
    let by_crl = Some(json!({ "method": "crl", "max_age_seconds": 86400 }));
    let v = verify(&server, &key_a, &cms, &content, by_crl.clone());
    assert_eq!((&v["revocation"]["status"], &v["revocation"]["method"]), (&json!("good"), &json!("crl")), "{label}: {v}");
    let (_, feed) = server.get_json("/v1/changes", Some(&key_a));
    assert_eq!(feed["events"].as_array().map(Vec::len), Some(0), "{label}: {feed}");

    // Bad CRLs are refused with the reason, and change nothing.
    let held = || sb.json(&["platform", "crl", "status"]);
    let before = held();
    let bytes = std::fs::read(&sign_crl).unwrap();
    sb.ok(&["sandbox", "crl", "publish"]);
    let truncated = sb.path("truncated.crl");
    std::fs::write(&truncated, &std::fs::read(&sign_crl).unwrap()[..bytes.len() / 2]).unwrap();
    let flipped = sb.path("flipped.crl");
    let mut f = std::fs::read(&sign_crl).unwrap();
    let at = f.len() - 40;
    f[at] ^= 0x01;
    std::fs::write(&flipped, &f).unwrap();
    for (file, why) in [(&truncated, "truncated"), (&flipped, "signature")] {
        let err = sb.fails(&["platform", "crl", "ingest", "--file", file.to_str().unwrap(), "--file", auth_crl.to_str().unwrap()]);
        assert!(err.contains(why), "{label}: {file:?} should be refused for {why}: {err}");
    }
    let err = sb.fails(&["platform", "crl", "ingest", "--url", "http://127.0.0.1:9/sign.crl"]);
    assert!(err.contains("cannot be read"), "{label}: {err}");
    assert_eq!(held(), before, "{label}: nothing switched");

    // The new day's CRL: the customer's certificate is listed, once.
    let second = ingest(&[&sign_crl, &auth_crl]);
    let sign_generation = second.as_array().unwrap().iter().find(|g| g["changes"] == 1).unwrap_or_else(|| panic!("{label}: one change: {second}"));
    let generation = sign_generation["generation"].clone();
    let err = sb.fails(&["platform", "crl", "ingest", "--file", old_crl.to_str().unwrap(), "--file", auth_crl.to_str().unwrap()]);
    assert!(err.contains("rollback"), "{label}: yesterday's CRL is refused: {err}");
    let v = verify(&server, &key_a, &cms, &content, by_crl.clone());
    assert_eq!((&v["revocation"]["status"], &v["revocation"]["method"]), (&json!("revoked"), &json!("crl")), "{label}: {v}");
    assert!(v["revocation"]["crl_number"].is_string(), "{label}: {v}");
    // A tenant whose default is the CRL gets it without asking.
    let patch = |body: &str| {
        let path = format!("/v1/admin/tenants/{}", a["id"].as_str().unwrap());
        server.request("PATCH", &path, &[("Authorization", &format!("Bearer {ADMIN_TOKEN}")), ("Content-Type", "application/json")], body.as_bytes()).0
    };
    assert_eq!(patch(r#"{"revocation": {"method": "crl", "max_age_seconds": 86400}}"#), 200, "{label}");
    let v = verify(&server, &key_a, &cms, &content, None);
    assert_eq!((&v["revocation"]["status"], &v["revocation"]["method"]), (&json!("revoked"), &json!("crl")), "{label}: {v}");
    assert_eq!(patch(r#"{"revocation": null}"#), 200, "{label}");
    let (_, feed) = server.get_json("/v1/changes", Some(&key_a));
    let events = feed["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{label}: {feed}");
    let event = &events[0];
    assert_eq!(
        (&event["customer_id"], &event["reference"], &event["certificate_kind"], &event["reason"], &event["generation"]),
        (&json!(customer_id), &json!("policy-0001"), &json!("signature"), &json!("affiliationChanged"), &generation),
        "{label}: {event}"
    );
    assert_eq!(event["certificate_serial"], json!(serial), "{label}");
    let (_, other) = server.get_json("/v1/changes", Some(&key_b));
    assert_eq!(other["events"].as_array().map(Vec::len), Some(0), "{label}: another tenant's feed");
    let cursor = feed["next_cursor"].as_str().unwrap().to_owned();
    let (_, after) = server.get_json(&format!("/v1/changes?after={cursor}"), Some(&key_a));
    assert_eq!((after["events"].as_array().map(Vec::len), &after["next_cursor"]), (Some(0), &json!(cursor)), "{label}: {after}");
    let (status, v) = server.get_json("/v1/changes?after=x", Some(&key_a));
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("invalid_cursor")), "{label}");

    // The webhook got it, signed over timestamp and body with the secret.
    let got = receiver.wait_for(1);
    assert_eq!(got.len(), 1, "{label}: {got:?}");
    let event_id = event["id"].as_str().unwrap();
    assert_eq!(got[0].header("webhook-id"), Some(event_id), "{label}");
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!((&body["id"], &body["reason"]), (&json!(event_id), &json!("affiliationChanged")), "{label}: {body}");
    let signature = got[0].header("webhook-signature").unwrap();
    let (t, mac) = signature.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let expected = hex::encode(jpki_crypto::hmac_sha256(secret.as_bytes(), &[t.as_bytes(), b".", &got[0].body].concat()));
    assert_eq!(mac, expected, "{label}: the signature verifies with the secret");
    let start = Instant::now();
    let log = loop {
        let (_, log) = server.get_json(&format!("/v1/changes/{event_id}/deliveries"), Some(&key_a));
        if log["deliveries"][0]["state"] == "delivered" || start.elapsed() > Duration::from_secs(20) {
            break log;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!((&log["deliveries"][0]["state"], &log["deliveries"][0]["attempts"][0]["status"]), (&json!("delivered"), &json!(204)), "{label}: {log}");
    let (status, _) = server.get_json(&format!("/v1/changes/{event_id}/deliveries"), Some(&key_b));
    assert_eq!(status, 404, "{label}");

    // The same CRL again: a new generation, no new event.
    let third = ingest(&[&sign_crl, &auth_crl]);
    assert!(third.as_array().unwrap().iter().all(|g| g["changes"] == 0 && g["new_entries"] == 0), "{label}: {third}");
    let (_, feed) = server.get_json("/v1/changes", Some(&key_a));
    assert_eq!(feed["events"].as_array().map(Vec::len), Some(1), "{label}");

    // The renewed certificate names 札幌市's CRL, which the generation held lacks: by CRL its status is
    // unknown (failing closed) until a set with that partition is ingested.
    sb.ok(&["sandbox", "cert", "reissue", "--card", "card", "--which", "sign"]);
    let renewed_p7s = sb.path("renewed.p7s");
    openssl_cms_sign(&sb.path("card"), &msg, &renewed_p7s, &[]);
    let renewed_cms = std::fs::read(&renewed_p7s).unwrap();
    let v = verify(&server, &key_a, &renewed_cms, &content, by_crl.clone());
    assert_eq!((&v["valid"], &v["failure"]["code"]), (&json!(false), &json!("revocation_unavailable")), "{label}: {v}");
    let crls = sb.publish_crls();
    let err = sb.fails(&["platform", "crl", "ingest", "--file", crls.sign_for("北海道", "札幌市").to_str().unwrap(), "--file", auth_crl.to_str().unwrap()]);
    assert!(err.contains("leaves out the CRL for distribution point CN=千代田区"), "{label}: a set without a partition held is refused: {err}");
    let fourth = sb.json(&["platform", "crl", "ingest", "--file", sb.data().join("crl").to_str().unwrap()]);
    assert!(fourth.as_array().unwrap().iter().all(|g| g["changes"] == 0), "{label}: {fourth}");
    let v = verify(&server, &key_a, &renewed_cms, &content, by_crl.clone());
    assert_eq!((&v["valid"], &v["revocation"]["status"], &v["revocation"]["method"]), (&json!(true), &json!("good"), &json!("crl")), "{label}: {v}");
    let v = verify(&server, &key_a, &cms, &content, by_crl.clone());
    assert_eq!(v["revocation"]["status"], "revoked", "{label}: the old partition is still held: {v}");

    // A second server process on the same database answers from the same generation, and the two
    // deliver a re-sent event once.
    let other_server = sb.serve();
    let v = verify(&other_server, &key_a, &cms, &content, by_crl);
    assert_eq!(v["revocation"]["status"], "revoked", "{label}: {v}");
    let (status, v) = server.post_json(&format!("/v1/changes/{event_id}/redeliver"), Some(&key_a), "");
    assert_eq!((status, &v["queued"]), (202, &json!(1)), "{label}: {v}");
    let got = receiver.wait_for(2);
    std::thread::sleep(Duration::from_secs(5));
    let got_now = receiver.got.lock().unwrap().clone();
    assert_eq!((got.len(), got_now.len()), (2, 2), "{label}: delivered once more, by one of the two processes");
    assert_eq!(got_now[1].header("webhook-id"), Some(event_id), "{label}");

    // A CRL URL that does not answer when a server starts: it serves from the generations held, and
    // the failure is in its metrics.
    drop(other_server);
    let unreachable = sb.serve_with(&["--crl-url", "http://127.0.0.1:9/sign.crl"]);
    assert_eq!(unreachable.metric("jpki_platform_crl_ingestions_total{outcome=\"unreachable\"}"), 1.0, "{label}");
    let v = verify(&unreachable, &key_a, &cms, &content, Some(json!({ "method": "crl", "max_age_seconds": 86400 })));
    assert_eq!(v["revocation"]["status"], "revoked", "{label}: {v}");
    drop(unreachable);

    // Deleting the customer deletes its events.
    assert_eq!(delete(&server, &format!("/v1/customers/{customer_id}"), &key_b), 404, "{label}");
    assert_eq!(delete(&server, &format!("/v1/customers/{customer_id}"), &key_a), 204, "{label}");
    let (status, _) = server.get_json(&format!("/v1/customers/{customer_id}"), Some(&key_a));
    assert_eq!(status, 404, "{label}");
    let (_, feed) = server.get_json("/v1/changes", Some(&key_a));
    assert_eq!(feed["events"].as_array().map(Vec::len), Some(0), "{label}: {feed}");
}
