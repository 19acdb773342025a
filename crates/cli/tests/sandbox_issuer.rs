//! The sandbox issuer end to end, through the `jpki` binary, checked by openssl; on SQLite and, when
//! configured, PostgreSQL.

mod common;

use std::time::Duration;

use common::{ocsp, openssl, Sandbox};

fn serial_line(serial: &str) -> String {
    format!("Serial Number: {}", serial.to_uppercase())
}

/// The reason openssl prints under the CRL entry of `serial`.
fn crl_reason(crl_text: &str, serial: &str) -> Option<String> {
    let start = crl_text.find(&serial_line(serial))?;
    let rest = &crl_text[start..];
    let block = rest[1..].find("Serial Number:").map(|e| &rest[..e + 1]).unwrap_or(rest);
    let after = block.split("CRL Reason Code:").nth(1)?;
    Some(after.lines().nth(1)?.trim().to_owned())
}

#[test]
fn issuer_lifecycle_crl_ocsp_and_provision() {
    common::on_every_database("issuer_lifecycle_crl_ocsp_and_provision", run_lifecycle);
}

fn run_lifecycle(sb: &Sandbox) {
    let label = sb.label();
    // init twice: the second run keeps the CAs.
    assert_eq!(sb.json(&["sandbox", "init"])["created"], true, "{label}");
    let sign_ca = std::fs::read(sb.data().join("trust/sign-ca.pem")).unwrap();
    assert_eq!(sb.json(&["sandbox", "init"])["created"], false, "{label}");
    assert_eq!(std::fs::read(sb.data().join("trust/sign-ca.pem")).unwrap(), sign_ca, "{label}: init replaced the CA");
    let sign_ca = sb.data().join("trust/sign-ca.pem");
    let auth_ca = sb.data().join("trust/auth-ca.pem");

    let mover = sb.add_person("山田　花子", "1980-02-17");
    let loser = sb.add_person("佐藤　次郎", "1990-12-31");
    let dead = sb.add_person("鈴木　三郎", "1940-05-05");
    // Each command closes the database: on SQLite it is one file again once the command has ended.
    assert!(label != "sqlite" || !sb.data().join("jpki.sqlite3-wal").exists(), "{label}: a command left the write-ahead log behind");
    let child = sb.add_person("田中　四郎", "2016-04-01");
    let (m_sign, m_auth) = sb.issue_card(&mover, "mover");
    let (l_sign, l_auth) = sb.issue_card(&loser, "loser");
    let (d_sign, d_auth) = sb.issue_card(&dead, "dead");
    let (c_sign, _) = sb.issue_card(&child, "child");
    let (m_sign, l_sign, d_sign) = (m_sign.unwrap(), l_sign.unwrap(), d_sign.unwrap());
    assert!(c_sign.is_none(), "{label}: no signature certificate under 15");

    // openssl verifies every certificate against the exported CAs, and no sandbox certificate
    // against J-LIS's real roots.
    for card in ["mover", "loser", "dead"] {
        openssl(&["verify", "-CAfile", sign_ca.to_str().unwrap(), sb.path(&format!("{card}/sign-cert.pem")).to_str().unwrap()]);
        openssl(&["verify", "-CAfile", auth_ca.to_str().unwrap(), sb.path(&format!("{card}/auth-cert.pem")).to_str().unwrap()]);
        let real = concat!(env!("CARGO_MANIFEST_DIR"), "/../../trust-anchors/jlis/sign_ca_2023.pem");
        let out = std::process::Command::new("openssl")
            .args(["verify", "-CAfile", real, sb.path(&format!("{card}/sign-cert.pem")).to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{label}: a sandbox certificate verified against J-LIS's root");
    }
    assert!(!sb.path("child/sign-cert.pem").exists());

    // cert show reads our profile back.
    let shown = sb.json(&["cert", "show", sb.path("mover/sign-cert.pem").to_str().unwrap()]);
    assert_eq!(shown["kind"], "signature");
    assert_eq!(shown["device"], "card");
    assert_eq!(shown["four_info"]["name"], "山田　花子");
    assert_eq!(shown["four_info"]["birth_date"], "1980-02-17");
    assert_eq!(shown["revocation"]["status"], "good");

    // Life events.
    let moved = sb.json(&["sandbox", "event", "move", "--person", &mover, "--address", "大阪府大阪市北区梅田１－１"]);
    assert_eq!(moved["revoked"][0]["serial"], m_sign.as_str());
    assert_eq!(moved["revoked"].as_array().unwrap().len(), 1, "{label}: a move revokes only the signature certificate");
    sb.ok(&["sandbox", "event", "lost", "--person", &loser]);
    sb.ok(&["sandbox", "event", "death", "--person", &dead]);
    let found = sb.json(&["sandbox", "event", "found", "--person", &loser, "--card", "loser"]);
    assert_eq!(found["issued"].as_array().unwrap().len(), 2, "{label}: a found card gets new certificates");
    let new_l_auth = std::fs::read_to_string(sb.path("loser/auth-cert.pem")).unwrap();
    assert_ne!(new_l_auth, "", "{label}");
    let renewed = sb.json(&["sandbox", "cert", "reissue", "--card", "mover", "--which", "both"]);
    let new_m_sign = renewed.as_array().unwrap().iter().find(|c| c["role"] == "signature").unwrap()["serial"].as_str().unwrap().to_owned();
    let new_m_auth = renewed.as_array().unwrap().iter().find(|c| c["role"] == "authentication").unwrap()["serial"].as_str().unwrap().to_owned();
    let auth_shown = sb.json(&["cert", "show", sb.path("mover/auth-cert.pem").to_str().unwrap()]);
    assert_eq!(auth_shown["serial"], new_m_auth.as_str(), "{label}: the card directory holds the renewed certificate");
    assert!(auth_shown["four_info"].is_null(), "{label}: the authentication certificate carries no 4 info");
    let reshown = sb.json(&["cert", "show", sb.path("mover/sign-cert.pem").to_str().unwrap()]);
    assert_eq!(reshown["four_info"]["address"], "大阪府大阪市北区梅田１－１", "{label}: the new certificate carries the new address");
    sb.fails(&["sandbox", "event", "death", "--person", &dead]);

    // CRLs: openssl parses them and shows every revoked serial with its reason.
    // The signature CA's list is partitioned by municipality, as J-LIS's is: the certificates issued in
    // 千代田区 are on its CRL, the one renewed after the move names 大阪市's.
    let crls = sb.publish_crls();
    assert_eq!(crls.sign.len(), 2, "{label}: {:?}", crls.sign);
    let sign_crl = crls.sign_for("東京都", "千代田区").to_path_buf();
    let osaka_crl = crls.sign_for("大阪府", "大阪市").to_path_buf();
    let auth_crl = crls.auth.clone();
    let renewed_cert = openssl(&["x509", "-in", sb.path("mover/sign-cert.pem").to_str().unwrap(), "-noout", "-text", "-nameopt", "utf8"]);
    assert!(renewed_cert.contains("Subject: C=JP, L=大阪市, CN="), "{label}: the subject names the municipality\n{renewed_cert}");
    // (openssl prints names inside extensions with UTF-8 escaped, whatever -nameopt says.)
    let escaped = |s: &str| s.bytes().map(|b| format!("\\{b:02X}")).collect::<String>();
    let point = format!("OU = CRL Distribution Points, OU = {}, CN = {}", escaped("大阪府"), escaped("大阪市"));
    assert!(renewed_cert.contains(&point), "{label}: the distribution point {point}\n{renewed_cert}");
    // openssl's own scope check (RFC 5280 §6.3.3 (b)): the renewed certificate is within 大阪市's CRL
    // only.
    for (crl, in_scope) in [(&osaka_crl, true), (&sign_crl, false)] {
        let pem = sb.path("scope.crl.pem");
        openssl(&["crl", "-inform", "DER", "-in", crl.to_str().unwrap(), "-out", pem.to_str().unwrap()]);
        let out = std::process::Command::new("openssl")
            .args([
                "verify",
                "-crl_check",
                "-CRLfile",
                pem.to_str().unwrap(),
                "-CAfile",
                sign_ca.to_str().unwrap(),
                sb.path("mover/sign-cert.pem").to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.success(), in_scope, "{label}: {}: {text}", crl.display());
        assert!(in_scope || text.contains("different CRL scope"), "{label}: {text}");
    }
    let osaka_text = openssl(&["crl", "-inform", "DER", "-in", osaka_crl.to_str().unwrap(), "-noout", "-text", "-nameopt", "utf8"]);
    assert!(osaka_text.contains("Issuing Distribution Point: critical") && osaka_text.contains("No Revoked Certificates"), "{label}\n{osaka_text}");
    let sign_text = openssl(&["crl", "-inform", "DER", "-in", sign_crl.to_str().unwrap(), "-CAfile", sign_ca.to_str().unwrap(), "-text"]);
    let auth_text = openssl(&["crl", "-inform", "DER", "-in", auth_crl.to_str().unwrap(), "-CAfile", auth_ca.to_str().unwrap(), "-text"]);
    assert!(sign_text.contains("verify OK") && auth_text.contains("verify OK"), "{label}");
    assert_eq!(crl_reason(&sign_text, &m_sign).as_deref(), Some("Affiliation Changed"), "{label}\n{sign_text}");
    assert_eq!(crl_reason(&sign_text, &l_sign).as_deref(), Some("Certificate Hold"), "{label}");
    assert_eq!(crl_reason(&auth_text, &l_auth).as_deref(), Some("Certificate Hold"), "{label}");
    assert_eq!(crl_reason(&sign_text, &d_sign).as_deref(), Some("Cessation Of Operation"), "{label}");
    assert_eq!(crl_reason(&auth_text, &d_auth).as_deref(), Some("Cessation Of Operation"), "{label}");
    assert_eq!(crl_reason(&auth_text, &m_auth).as_deref(), Some("Superseded"), "{label}");
    assert!(!sign_text.contains(&serial_line(&new_m_sign)), "{label}: a good certificate is on the CRL");
    assert!(sign_text.contains("Invalidity Date"), "{label}");
    let numbers: Vec<&str> = sign_text.lines().filter(|l| l.trim_start().starts_with("X509v3 CRL Number")).collect();
    assert_eq!(numbers.len(), 1);
    let shown = sb.json(&["crl", "show", sign_crl.to_str().unwrap()]);
    assert_eq!(shown["number"], "01");
    assert!(shown["scope"].as_str().is_some_and(|s| s.starts_with("CN=千代田区,OU=東京都,OU=CRL Distribution Points,")), "{label}: {shown}");
    assert_eq!(sb.json(&["crl", "show", auth_crl.to_str().unwrap()])["scope"], serde_json::Value::Null, "{label}");
    assert_eq!(sb.json(&["crl", "show", osaka_crl.to_str().unwrap()])["number"], "01", "{label}: one number per publication");
    assert_eq!(sb.publish_crls().sign_for("東京都", "千代田区"), sign_crl, "{label}: a partition keeps its file");
    assert_eq!(sb.json(&["crl", "show", sign_crl.to_str().unwrap()])["number"], "02", "{label}: CRL numbers increase");

    // OCSP against the running responder, with and without nonce.
    let server = sb.serve();
    for nonce in [false, true] {
        let good = ocsp(&server, &auth_ca, &["-cert", sb.path("mover/auth-cert.pem").to_str().unwrap()], nonce);
        assert!(good.contains("Response verify OK") && good.contains(": good"), "{label}: {good}");
        assert!(!good.contains("WARNING: no nonce"), "{label}: nonce {nonce}: the nonce was not echoed: {good}");
        let revoked = ocsp(&server, &sign_ca, &["-serial", &format!("0x{m_sign}")], nonce);
        assert!(revoked.contains(": revoked") && revoked.contains("Reason: affiliationChanged"), "{label}: {revoked}");
        let held = ocsp(&server, &auth_ca, &["-serial", &format!("0x{l_auth}")], nonce);
        assert!(held.contains("Reason: certificateHold"), "{label}: {held}");
        let unknown = ocsp(&server, &sign_ca, &["-serial", "0x0123456789"], nonce);
        assert!(unknown.contains(": unknown"), "{label}: {unknown}");
    }
    // A status change made by another process reaches the responder's cache.
    let before = ocsp(&server, &sign_ca, &["-serial", &format!("0x{new_m_sign}")], false);
    assert!(before.contains(": good"), "{label}: {before}");
    sb.ok(&["sandbox", "event", "rename", "--person", &mover, "--name", "山田　花"]);
    std::thread::sleep(Duration::from_millis(1200));
    let after = ocsp(&server, &sign_ca, &["-serial", &format!("0x{new_m_sign}")], false);
    assert!(after.contains("Reason: affiliationChanged"), "{label}: {after}");

    // Malformed requests get malformedRequest (status 1), never a server error.
    let (status, body) = server.request("POST", "/issuer/ocsp", &[("Content-Type", "application/ocsp-request")], b"\x30\x03\x02\x01");
    assert_eq!((status, body.as_slice()), (200, &[0x30, 0x03, 0x0a, 0x01, 0x01][..]), "{label}");
    let (status, body) = server.request("GET", "/issuer/ocsp/not%20base64!", &[], b"");
    assert_eq!((status, body.as_slice()), (200, &[0x30, 0x03, 0x0a, 0x01, 0x01][..]), "{label}");

    // The CRL over HTTP is the published file.
    let (status, index) = server.get_json("/issuer/crl/", None);
    assert_eq!(status, 200);
    let listed: Vec<&str> = index["crls"].as_array().unwrap().iter().map(|c| c["file"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 3, "{label}: {index}");
    for crl in [&sign_crl, &osaka_crl, &auth_crl] {
        let file = crl.file_name().unwrap().to_str().unwrap();
        assert!(listed.contains(&file), "{label}: {file} not in {index}");
        let (status, body) = server.request("GET", &format!("/issuer/crl/{file}"), &[], b"");
        assert_eq!(status, 200);
        assert_eq!(body, std::fs::read(crl).unwrap(), "{label}");
    }
    for missing in ["other.crl", "sign.crl", "sign-00000000.crl", "..%2Fjpki.sqlite3", "sign-ABCDEF01.crl"] {
        assert_eq!(server.request("GET", &format!("/issuer/crl/{missing}"), &[], b"").0, 404, "{label}: {missing}");
    }

    // Latest-4-info provision: refused without consent, then the new 4 info and certificate.
    let op = sb.json(&["sandbox", "operator", "add", "--name", "Example PF"]);
    let key = op["api_key"].as_str().unwrap();
    let body = format!(r#"{{"serial": "{m_sign}"}}"#);
    assert_eq!(server.post_json("/issuer/latest-4-info", None, &body).0, 401, "{label}");
    assert_eq!(server.post_json("/issuer/latest-4-info", Some("jpki_op_wrong"), &body).0, 401, "{label}");
    let (status, refused) = server.post_json("/issuer/latest-4-info", Some(key), &body);
    assert_eq!((status, refused["error"]["code"].as_str()), (403, Some("no_consent")), "{label}");
    sb.ok(&["sandbox", "consent", "grant", "--person", &mover, "--operator", "Example PF"]);
    let (status, latest) = server.post_json("/issuer/latest-4-info", Some(key), &body);
    assert_eq!(status, 200, "{label}: {latest}");
    assert_eq!(latest["four_info"]["address"], "大阪府大阪市北区梅田１－１");
    assert_eq!(latest["four_info"]["name"], "山田　花");
    assert_eq!(latest["revocation_reason"], "affiliationChanged");
    assert_eq!(latest["current_serial"], serde_json::Value::Null, "{label}: the renewed certificate was revoked by the rename");
    let (status, _) = server.post_json("/issuer/latest-4-info", Some(key), &format!(r#"{{"serial": "{l_auth}"}}"#));
    assert_eq!(status, 404, "{label}: an authentication serial is not a signature certificate");
    assert_eq!(server.post_json("/issuer/latest-4-info", Some(key), "{not json").0, 400, "{label}");
    sb.ok(&["sandbox", "consent", "withdraw", "--person", &mover, "--operator", "Example PF"]);
    assert_eq!(server.post_json("/issuer/latest-4-info", Some(key), &body).0, 403, "{label}");

    // Metering: OCSP answers about known certificates are priced by the fee table.
    let (_, _) = server.request("GET", "/issuer/crl/auth.crl", &[("Authorization", &format!("Bearer {key}"))], b"");
    drop(server);
    let usage = sb.json(&["sandbox", "usage"]);
    let lines = usage.as_array().unwrap();
    let today = time::OffsetDateTime::now_utc().to_offset(jpki_profile::cert_profile::JST).date();
    use jpki_profile::fees::{fee_yen, FeeCertKind, ProvisionMethod};
    let sign_ocsp = lines.iter().find(|l| l["method"] == "ocsp" && l["cert_kind"] == "signature" && l["operator_id"].is_null()).unwrap();
    let count = sign_ocsp["count"].as_i64().unwrap();
    assert_eq!(count, 4, "{label}: two answers each about two known signature certificates: {sign_ocsp}");
    let unit = i64::from(fee_yen(ProvisionMethod::Ocsp, FeeCertKind::Signature, today).unwrap());
    assert_eq!(sign_ocsp["fee_yen"].as_i64().unwrap(), unit * count, "{label}");
    let crl_line = lines.iter().find(|l| l["method"] == "crl" && l["operator_id"] == op["id"]).unwrap();
    assert_eq!((crl_line["count"].as_i64(), crl_line["fee_yen"].as_i64()), (Some(1), Some(0)), "{label}: the CRL is free");
    let latest_line = lines.iter().find(|l| l["method"] == "latest_4_info").unwrap();
    assert_eq!(latest_line["count"], 1, "{label}");
}

#[test]
fn bad_input_is_refused_and_writes_nothing() {
    for sb in Sandbox::all() {
        let label = sb.label();
        // Before init nothing exists and nothing is created.
        let err = sb.fails(&["sandbox", "person", "add", "--name", "a", "--address", "b", "--birth-date", "1990-01-01", "--sex", "male"]);
        assert!(err.contains("not initialized") || label == "postgres", "{label}: {err}");
        sb.ok(&["sandbox", "init"]);
        let count = || sb.json(&["sandbox", "person", "list"]).as_array().unwrap().len();
        let cases: &[(&[&str], &str)] = &[
            (&["--my-number", "123456789012"], "check digit"),
            (&["--my-number", "12345"], "12 digits"),
            (&["--birth-date", "2001-02-29"], "not a date"),
            (&["--birth-date", "1990/01/01"], "not a date"),
            (&["--sex", "other"], "sex must be"),
        ];
        for (extra, expected) in cases {
            let mut args = vec!["sandbox", "person", "add", "--name", "試験", "--address", "東京都", "--birth-date", "1990-01-01", "--sex", "male"];
            for pair in extra.chunks(2) {
                let i = args.iter().position(|a| *a == pair[0]);
                match i {
                    Some(i) => args[i + 1] = pair[1],
                    None => args.extend_from_slice(pair),
                }
            }
            let err = sb.fails(&args);
            assert!(err.contains(expected), "{label}: {args:?}: {err}");
        }
        assert_eq!(count(), 0, "{label}: a refused person was written");

        let person = sb.add_person("試験　太郎", "1990-01-01");
        let pins: &[(&str, &str, &str, &str)] = &[
            ("abc123", "1234", "1234", "capital letters"),
            ("123456", "1234", "1234", "mix"),
            ("ABC123", "12345", "1234", "authentication PIN"),
            ("ABC123", "1234", "12a4", "input-assistance PIN"),
        ];
        for (sign, auth, input, expected) in pins {
            let err =
                sb.fails(&["sandbox", "card", "issue", "--person", &person, "--out", "card", "--sign-pin", sign, "--auth-pin", auth, "--input-pin", input]);
            assert!(err.contains(expected), "{label}: {err}");
            assert!(!sb.path("card").exists(), "{label}: a refused card left a directory");
        }
        let err = sb.fails(&[
            "sandbox", "card", "issue", "--person", "person_nobody", "--out", "card", "--sign-pin", "ABC123", "--auth-pin", "1234", "--input-pin", "1234",
        ]);
        assert!(err.contains("no person"), "{label}: {err}");
        std::fs::create_dir_all(sb.path("full")).unwrap();
        std::fs::write(sb.path("full/x"), "x").unwrap();
        let err =
            sb.fails(&["sandbox", "card", "issue", "--person", &person, "--out", "full", "--sign-pin", "ABC123", "--auth-pin", "1234", "--input-pin", "1234"]);
        assert!(err.contains("not empty"), "{label}: {err}");
        let err = sb.fails(&["sandbox", "event", "move", "--person", "person_nobody", "--address", "x"]);
        assert!(err.contains("no person"), "{label}: {err}");
        let err = sb.fails(&["sandbox", "event", "lost", "--person", &person]);
        assert!(err.contains("no card"), "{label}: {err}");
        let err = sb.fails(&["cert", "show", sb.path("full/x").to_str().unwrap()]);
        assert!(err.contains("not an X.509 certificate"), "{label}: {err}");
        // No staging directories are left behind.
        let leftovers: Vec<_> =
            std::fs::read_dir(sb.dir.path()).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().starts_with(".card-")).collect();
        assert!(leftovers.is_empty(), "{label}: {leftovers:?}");
    }
}
