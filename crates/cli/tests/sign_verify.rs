//! `jpki sign` and `jpki verify` against openssl in both directions, with OCSP from `jpki serve
//! --sandbox`; on SQLite and, when configured, PostgreSQL.

mod common;

use common::{openssl, openssl_cms_sign, Sandbox};

fn verify_json(sb: &Sandbox, args: &[&str]) -> (bool, serde_json::Value) {
    let mut all = vec!["--json", "verify"];
    all.extend_from_slice(args);
    let out = sb.run(&all);
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("jpki verify {args:?}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), value)
}

#[test]
fn cms_signatures_between_jpki_and_openssl() {
    common::on_every_database("cms_signatures_between_jpki_and_openssl", run);
}

fn run(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("署名　花子", "1980-02-17");
    sb.issue_card(&person, "card");
    let server = sb.serve();
    let ocsp = server.url("/issuer/ocsp");
    let msg = sb.path("application.txt");
    std::fs::write(&msg, "申請書 / application form\n").unwrap();
    let msg_s = msg.to_str().unwrap();
    let card = sb.path("card");
    let ca = sb.data().join("trust/sign-ca.pem");

    // jpki sign (through the card) → openssl cms -verify.
    let p7s = sb.path("jpki.p7s");
    sb.ok(&["sign", "--card", card.to_str().unwrap(), "--in", msg_s, "--out", p7s.to_str().unwrap(), "--pin", "ABC123"]);
    let out = openssl(&[
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        p7s.to_str().unwrap(),
        "-content",
        msg_s,
        "-CAfile",
        ca.to_str().unwrap(),
        "-out",
        "/dev/null",
    ]);
    assert!(out.contains("Verification successful"), "{label}: {out}");
    let (ok, v) = verify_json(sb, &[p7s.to_str().unwrap(), "--content", msg_s, "--ocsp-url", &ocsp]);
    assert!(ok && v["valid"] == true, "{label}: {v}");
    assert_eq!(v["signer"]["name"], "署名　花子");
    assert_eq!(v["revocation"]["status"], "good");

    // openssl cms -sign with the card's key → jpki verify: detached, attached, PSS.
    let variants: [(&str, &[&str]); 3] = [("detached", &[]), ("attached", &["-nodetach"]), ("pss", &["-keyopt", "rsa_padding_mode:pss"])];
    for (name, extra) in variants {
        let out_file = sb.path(&format!("openssl-{name}.p7s"));
        openssl_cms_sign(&card, &msg, &out_file, extra);
        let mut verify = vec![out_file.to_str().unwrap(), "--ocsp-url", ocsp.as_str()];
        if name != "attached" {
            verify.extend_from_slice(&["--content", msg_s]);
        }
        let (ok, v) = verify_json(sb, &verify);
        assert!(ok && v["valid"] == true, "{label} {name}: {v}");
        assert_eq!(v["signer"]["birth_date"], "1980-02-17", "{label} {name}");
    }

    // Altered content.
    let altered = sb.path("altered.txt");
    std::fs::write(&altered, "申請書 / application form (edited)\n").unwrap();
    let (ok, v) = verify_json(sb, &[p7s.to_str().unwrap(), "--content", altered.to_str().unwrap(), "--ocsp-url", &ocsp]);
    assert!(!ok && v["failure"]["code"] == "signature_invalid", "{label}: {v}");

    // OCSP responder down and nothing fresh: not valid.
    let (ok, v) = verify_json(sb, &[p7s.to_str().unwrap(), "--content", msg_s, "--ocsp-url", "http://127.0.0.1:9/ocsp"]);
    assert!(!ok && v["failure"]["code"] == "revocation_unavailable", "{label}: {v}");
    let (ok, v) = verify_json(sb, &[p7s.to_str().unwrap(), "--content", msg_s]);
    assert!(!ok && v["failure"]["code"] == "revocation_unavailable", "{label}: offline must not be valid: {v}");

    // OCSP down, but a CRL of the signature CA within the age accepted: good, by CRL; not when no older
    // answer than a fresh OCSP one is accepted; another CA's CRL does not count.
    let crls = sb.publish_crls();
    let sign_crl = crls.sign_for("東京都", "千代田区").to_path_buf();
    let auth_crl = crls.auth.clone();
    let down = [p7s.to_str().unwrap(), "--content", msg_s, "--ocsp-url", "http://127.0.0.1:9/ocsp", "--crl", sign_crl.to_str().unwrap()];
    let (ok, v) = verify_json(sb, &[&down[..], &["--max-age", "86400"]].concat());
    assert!(ok && v["revocation"]["method"] == "crl" && v["revocation"]["status"] == "good", "{label}: {v}");
    let (ok, v) = verify_json(sb, &down);
    assert!(!ok && v["failure"]["code"] == "revocation_unavailable", "{label}: {v}");
    let (ok, v) = verify_json(sb, &[&down[..], &["--revocation", "crl"]].concat());
    assert!(ok && v["revocation"]["method"] == "crl" && v["revocation"]["crl_number"].is_string(), "{label}: {v}");
    let (ok, v) = verify_json(sb, &[p7s.to_str().unwrap(), "--content", msg_s, "--crl", auth_crl.to_str().unwrap()]);
    assert!(!ok && v["failure"]["code"] == "revocation_unavailable", "{label}: {v}");
    let forged = sb.path("forged.crl");
    let mut bytes = std::fs::read(&sign_crl).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&forged, bytes).unwrap();
    let err = sb.fails(&["verify", p7s.to_str().unwrap(), "--content", msg_s, "--crl", forged.to_str().unwrap()]);
    assert!(err.contains("signature does not verify with a trust anchor"), "{label}: {err}");

    // A certificate from an unknown CA: trust only the authentication CA.
    let other_trust = sb.path("other-trust");
    std::fs::create_dir_all(&other_trust).unwrap();
    std::fs::copy(sb.data().join("trust/auth-ca.pem"), other_trust.join("auth-ca.pem")).unwrap();
    let (ok, v) = verify_json(sb, &[p7s.to_str().unwrap(), "--content", msg_s, "--trust", other_trust.to_str().unwrap(), "--ocsp-url", &ocsp]);
    assert!(!ok && v["failure"]["code"] == "untrusted", "{label}: {v}");

    // Revoked: the holder moved.
    sb.ok(&["sandbox", "event", "move", "--person", &person, "--address", "大阪府大阪市北区梅田１"]);
    std::thread::sleep(std::time::Duration::from_millis(600));
    let (ok, v) = verify_json(sb, &[p7s.to_str().unwrap(), "--content", msg_s, "--ocsp-url", &ocsp]);
    assert!(!ok && v["failure"]["code"] == "revoked", "{label}: {v}");
    assert_eq!(v["revocation"]["reason"], "affiliationChanged");
    sb.ok(&["sandbox", "crl", "publish"]);
    // --crl DIR reads every CRL published there.
    let crl_dir = sb.data().join("crl");
    let (ok, v) = verify_json(sb, &[p7s.to_str().unwrap(), "--content", msg_s, "--crl", crl_dir.to_str().unwrap()]);
    assert!(!ok && v["failure"]["code"] == "revoked" && v["revocation"]["method"] == "crl", "{label}: revoked by the CRL: {v}");

    // Malformed input: a clear error, no panic.
    let junk = sb.path("junk.p7s");
    std::fs::write(&junk, b"\x30\x82\xff\xff not cms").unwrap();
    let err = sb.fails(&["verify", junk.to_str().unwrap()]);
    assert!(err.contains("not a DER CMS ContentInfo") && !err.contains("panicked"), "{label}: {err}");
}
