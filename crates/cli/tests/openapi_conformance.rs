//! The served OpenAPI document against what the server does, checked by schemathesis (from PyPI, an
//! independent tool): every operation (the sandbox issuer's too), with a tenant key, the admin token and an operator key, a fixed seed and a time
//! cap; any 5xx, response that breaks the schema, undocumented status or content type, or request that
//! the schema forbids and the server accepts fails the test. Real examples (a CMS made with the card,
//! a challenge answered with its authentication key, ids that exist) are put into the document first,
//! so successful answers are checked too.
//!
//! The one check left out is `positive_data_acceptance`: a schema-valid body is not always a valid
//! request, since a CMS's DER or a signature's bytes are beyond what JSON Schema can say.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{b64, openssl, Sandbox, ADMIN_TOKEN};
use serde_json::{json, Value};

/// How long schemathesis may run before the test fails.
const TIME_CAP: Duration = Duration::from_secs(600);

/// schemathesis: `$JPKI_SCHEMATHESIS`, else on PATH; `None` after saying the test is skipped.
fn schemathesis() -> Option<String> {
    let program = std::env::var("JPKI_SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".into());
    if Command::new(&program).arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Some(program);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but schemathesis is not installed (scripts/test installs it into a venv)");
    }
    jpki_store::testing::skipped("the OpenAPI conformance test (schemathesis is not installed; pip install schemathesis)");
    None
}

fn set_body_example(doc: &mut Value, path: &str, method: &str, example: Value) {
    doc["paths"][path][method]["requestBody"]["content"]["application/json"]["example"] = example;
}

fn set_parameter_example(doc: &mut Value, path: &str, method: &str, name: &str, example: &str) {
    let parameters = doc["paths"][path][method]["parameters"].as_array_mut().unwrap_or_else(|| panic!("{method} {path} has no parameters"));
    let parameter = parameters.iter_mut().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"));
    parameter["example"] = json!(example);
}

#[test]
fn the_server_does_what_its_openapi_document_says() {
    if !common::openssl_available("the_server_does_what_its_openapi_document_says") {
        return;
    }
    let Some(schemathesis) = schemathesis() else { return };
    let sb = Sandbox::all().into_iter().next().unwrap();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("仕様　確認", "1988-08-08");
    sb.issue_card(&person, "card");
    let msg = sb.path("m.txt");
    std::fs::write(&msg, "契約書").unwrap();
    let p7s = sb.path("m.p7s");
    sb.ok(&common::sign_attached(sb.path("card").to_str().unwrap(), msg.to_str().unwrap(), p7s.to_str().unwrap()));
    // The sandbox issuer: a person who moved (a revoked signature certificate) and consented to an
    // operator, and an OCSP request for the first card's certificate.
    let moved = sb.add_person("転居　確認", "1977-07-07");
    sb.issue_card(&moved, "card2");
    let revoked_serial = sb.json(&["cert", "show", sb.path("card2/sign-cert.pem").to_str().unwrap()])["serial"].as_str().unwrap().to_owned();
    sb.ok(&["sandbox", "event", "move", "--person", &moved, "--address", "大阪府大阪市北区梅田１"]);
    let operator = sb.json(&["sandbox", "operator", "add", "--name", "Conformance operator"]);
    sb.ok(&["sandbox", "consent", "grant", "--person", &moved, "--operator", "Conformance operator"]);
    let ocsp_request = sb.path("ocsp.der");
    let ca = sb.data().join("trust/sign-ca.pem");
    let cert = sb.path("card/sign-cert.pem");
    openssl(&["ocsp", "-issuer", ca.to_str().unwrap(), "-cert", cert.to_str().unwrap(), "-no_nonce", "-reqout", ocsp_request.to_str().unwrap()]);
    let server = sb.serve();

    let (_, tenant) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"Conformance"}"#);
    let (tenant_id, api_key) = (tenant["id"].as_str().unwrap(), tenant["api_key"].as_str().unwrap());
    let (_, spare) = server.post_json(&format!("/v1/admin/tenants/{tenant_id}/keys"), Some(ADMIN_TOKEN), "");
    let cms = json!({ "cms": b64(&std::fs::read(&p7s).unwrap()), "purpose": "conformance" });
    let (status, verified) = server.post_json("/v1/signatures/verify", Some(api_key), &cms.to_string());
    assert_eq!((status, &verified["valid"]), (200, &json!(true)), "{verified}");
    // A login: the challenge answered with the card's authentication key.
    let (_, challenge) = server.post_json("/v1/auth/challenges", Some(api_key), "");
    let challenge_bytes = base64::engine::general_purpose::STANDARD.decode(challenge["challenge"].as_str().unwrap()).unwrap();
    let (challenge_file, signature_file) = (sb.path("challenge.bin"), sb.path("challenge.sig"));
    std::fs::write(&challenge_file, challenge_bytes).unwrap();
    let key = sb.path("card/auth-key.pem");
    openssl(&["dgst", "-sha256", "-sign", key.to_str().unwrap(), "-out", signature_file.to_str().unwrap(), challenge_file.to_str().unwrap()]);
    openssl(&["x509", "-in", sb.path("card/auth-cert.pem").to_str().unwrap(), "-outform", "DER", "-out", sb.path("auth.der").to_str().unwrap()]);
    let login = json!({
        "challenge_id": challenge["challenge_id"],
        "certificate": b64(&std::fs::read(sb.path("auth.der")).unwrap()),
        "signature": b64(&std::fs::read(&signature_file).unwrap()),
    });

    let (status, mut doc) = server.get_json("/openapi.json", None);
    assert_eq!(status, 200);
    set_body_example(&mut doc, "/v1/admin/tenants", "post", json!({ "name": "Example tenant" }));
    set_body_example(&mut doc, "/v1/signatures/verify", "post", cms);
    set_body_example(&mut doc, "/v1/auth/verify", "post", login);
    set_body_example(
        &mut doc,
        "/v1/mdoc/requests",
        "post",
        json!({ "elements": ["full_name_unicode"], "purpose": "age check", "response_uri": "https://rp.example/cb" }),
    );
    set_body_example(&mut doc, "/issuer/latest-4-info", "post", json!({ "serial": revoked_serial }));
    set_parameter_example(&mut doc, "/issuer/ocsp/{request}", "get", "request", &b64(&std::fs::read(&ocsp_request).unwrap()));
    set_parameter_example(&mut doc, "/v1/admin/tenants/{id}/keys", "post", "id", tenant_id);
    set_parameter_example(&mut doc, "/v1/admin/keys/{id}", "delete", "id", spare["key_id"].as_str().unwrap());
    set_parameter_example(&mut doc, "/v1/verifications/{id}", "get", "id", verified["verification_id"].as_str().unwrap());
    let (schema, config) = (sb.path("openapi.json"), sb.path("schemathesis.toml"));
    std::fs::write(&schema, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let operator_key = operator["api_key"].as_str().unwrap();
    std::fs::write(
        &config,
        format!("[auth.openapi.tenantKey]\nbearer = \"{api_key}\"\n[auth.openapi.adminToken]\nbearer = \"{ADMIN_TOKEN}\"\n[auth.openapi.operatorKey]\nbearer = \"{operator_key}\"\n"),
    )
    .unwrap();

    // OCSP requests are DER, which schemathesis does not generate: a hook gives it the real request and
    // arbitrary bytes (which the responder must answer with malformedRequest, never a 5xx).
    let hooks = format!(
        "import schemathesis\nfrom hypothesis import strategies as st\nschemathesis.openapi.media_type(\"application/ocsp-request\", st.one_of(st.just(bytes.fromhex(\"{}\")), st.binary(max_size=512)))\n",
        hex::encode(std::fs::read(&ocsp_request).unwrap())
    );
    std::fs::write(sb.path("jpki_hooks.py"), hooks).unwrap();
    // One worker: with two, CPython 3.11's `ast.parse` (which Hypothesis calls to describe its
    // strategies) now and then fails across threads ("SystemError: AST constructor recursion depth
    // mismatch"), a schemathesis runtime error that says nothing about the server.
    let log = sb.path("schemathesis.log");
    let mut run = Command::new(&schemathesis)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(&schema)
        .args(["--url", &server.url(""), "--seed", "42", "--max-examples", "20", "--checks", "all"])
        .args(["--exclude-checks", "positive_data_acceptance", "--no-color", "--workers", "1"])
        .current_dir(sb.dir.path())
        .env("PYTHONPATH", sb.dir.path())
        .env("SCHEMATHESIS_HOOKS", "jpki_hooks")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(sb.path("schemathesis.err")).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while run.try_wait().unwrap().is_none() {
        if started.elapsed() > TIME_CAP {
            let _ = run.kill();
            panic!("schemathesis did not finish within {} s", TIME_CAP.as_secs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = run.wait().unwrap();
    let report = std::fs::read_to_string(&log).unwrap() + &std::fs::read_to_string(sb.path("schemathesis.err")).unwrap();
    assert!(status.success(), "schemathesis found mismatches:\n{report}");
    // The examples ran, so successful answers were checked as well.
    assert!(report.contains("✅ Examples"), "{report}");

    // Errors in the path, the query or the route are the API's JSON errors too.
    let auth = format!("Bearer {api_key}");
    for (path, status, code) in
        [("/v1/usage?format=a&format=b", 400, "invalid_query"), ("/v1/verifications/%FF", 400, "invalid_path"), ("/v1/nothing-here", 404, "not_found")]
    {
        let (got, body) = server.request("GET", path, &[("Authorization", &auth)], b"");
        let body: Value = serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{path}: not JSON: {}", String::from_utf8_lossy(&body)));
        assert_eq!((got, body["error"]["code"].as_str()), (status, Some(code)), "{path}: {body}");
    }
    let (got, body) = server.request("PUT", "/v1/usage", &[("Authorization", &auth)], b"");
    assert_eq!(got, 405, "{}", String::from_utf8_lossy(&body));

    // An answer from the CRL (asked for, the responder down) names a method the schema lists.
    drop(server);
    let crl_only = sb.serve_with(&["--ocsp-url", "http://127.0.0.1:9/ocsp", "--crl", "data/crl"]);
    let (_, tenant) = crl_only.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"CRL reader"}"#);
    let mut body = doc["paths"]["/v1/signatures/verify"]["post"]["requestBody"]["content"]["application/json"]["example"].clone();
    body["revocation"] = json!({ "method": "crl" });
    let (status, v) = crl_only.post_json("/v1/signatures/verify", tenant["api_key"].as_str(), &body.to_string());
    assert_eq!((status, &v["valid"], &v["revocation"]["method"]), (200, &json!(true), &json!("crl")), "{v}");
    let methods = &doc["components"]["schemas"]["Revocation"]["properties"]["method"]["enum"];
    assert!(methods.as_array().unwrap().contains(&v["revocation"]["method"]), "{methods}");
}
