//! `jpki serve` over TLS (rustls) with a given certificate and key, checked by `openssl s_client` (and
//! refused by the status-list fetcher, which trusts only real roots); and
//! the Prometheus `/metrics` endpoint counting checks by outcome and the recorder's batches.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{openssl, openssl_available, Sandbox, ADMIN_TOKEN};

#[test]
fn tls_and_metrics() {
    if !openssl_available("tls_and_metrics") {
        return;
    }
    let sb = Sandbox::all().into_iter().next().unwrap();
    sb.ok(&["sandbox", "init"]);
    let (cert, key) = (sb.path("tls-cert.pem"), sb.path("tls-key.pem"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);

    // Metrics, over plain HTTP first: checks are counted by kind and outcome.
    let person = sb.add_person("計数　四郎", "1990-09-09");
    sb.issue_card(&person, "card");
    let msg = sb.path("m.txt");
    std::fs::write(&msg, "m").unwrap();
    let p7s = sb.path("m.p7s");
    sb.ok(&common::sign_attached(sb.path("card").to_str().unwrap(), msg.to_str().unwrap(), p7s.to_str().unwrap()));
    let server = sb.serve();
    let (_, tenant) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Metrics"}"#);
    let key_a = tenant["api_key"].as_str().unwrap();
    use base64::Engine;
    let cms = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&p7s).unwrap());
    for _ in 0..2 {
        let (status, v) = server.post_json("/v1/signatures/verify", Some(key_a), &format!(r#"{{"cms":"{cms}"}}"#));
        assert_eq!((status, &v["valid"]), (200, &serde_json::json!(true)), "{v}");
    }
    let (status, body) = server.request("GET", "/metrics", &[], b"");
    let text = String::from_utf8(body).unwrap();
    assert_eq!(status, 200);
    assert!(text.contains(r#"jpki_platform_checks_total{kind="signature",outcome="valid"} 2"#), "{text}");
    assert!(text.contains("jpki_platform_check_duration_seconds_bucket"), "{text}");
    // One after the other, the two checks were committed in two batches of one.
    assert!(text.contains("jpki_platform_record_batch_checks_sum 2.0\n") && text.contains("jpki_platform_record_batch_checks_count 2\n"), "{text}");
    drop(server);

    // TLS: openssl s_client trusts our certificate and gets /healthz.
    let server = sb.serve_with(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    let mut client = Command::new("openssl")
        .args(["s_client", "-connect", &server.addr, "-CAfile", cert.to_str().unwrap(), "-verify_return_error", "-quiet", "-verify_hostname", "127.0.0.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    client.stdin.as_mut().unwrap().write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let out = client.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 200") && text.trim_end().ends_with("ok"), "{text}\n{}", String::from_utf8_lossy(&out.stderr));

    // Status lists are fetched over verified TLS: this server's self-signed certificate is refused
    // before anything is asked.
    use jpki_server::transport::HttpStatusLists;
    use jpki_verify::presentation::StatusListSource;
    let fetched = HttpStatusLists::new(std::time::Duration::from_secs(10)).fetch(&format!("https://{}/healthz", server.addr));
    let refused = fetched.expect_err("a self-signed server must not be trusted");
    assert!(refused.to_string().to_lowercase().contains("certificate"), "{refused}");

    // A bad key file is a clear startup error.
    let out = sb.run(&["serve", "--sandbox", "--listen", "127.0.0.1:0", "--tls-cert", cert.to_str().unwrap(), "--tls-key", cert.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS certificate"), "{}", String::from_utf8_lossy(&out.stderr));
}
