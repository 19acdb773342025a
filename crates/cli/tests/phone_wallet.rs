//! The smartphone from issuance to verification, on every configured database: the card is checked
//! before a phone is issued; the record is presented over OpenID4VP with consent and verified; My
//! Number goes only to Number Act readers; tampering, replay, a lost phone and a 4-info change are each
//! refused for their own reason, and an unknown status fails closed; in person, a reader reads it over
//! TCP after scanning the engagement; the phone's JPKI key signs like a card's.

mod common;

use common::Sandbox;

fn issue_phone(sb: &Sandbox) -> String {
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("番号 花子", "1990-04-01");
    sb.issue_card(&person, &sb.path("card").display().to_string());
    sb.fails(&common::phone_issue(sb.path("card").to_str().unwrap(), sb.path("bad").to_str().unwrap(), "9999"));
    sb.ok(&common::phone_issue(sb.path("card").to_str().unwrap(), sb.path("phone").to_str().unwrap(), "1234"));
    person
}

fn request(sb: &Sandbox, name: &str, elements: &str, signed_by: Option<&str>) -> String {
    let out = sb.path(name).display().to_string();
    let mut args = vec!["mdoc", "request", "--response-uri", "https://bank.example/cb", "--elements", elements, "--out", &out];
    let (cert, key);
    if let Some(reader) = signed_by {
        cert = sb.path(reader).join("reader.pem").display().to_string();
        key = sb.path(reader).join("reader-key.p8").display().to_string();
        args.extend_from_slice(&["--reader-cert", &cert, "--reader-key", &key]);
    }
    sb.ok(&args);
    out
}

/// The arguments of `jpki wallet present` answering `request` from the phone in `phone` into `out`, approved.
fn present_args<'a>(phone: &'a str, request: &'a str, out: &'a str) -> [&'a str; 9] {
    ["wallet", "present", "--phone", phone, "--request", request, "--out", out, "--approve"]
}

fn present(sb: &Sandbox, request: &str, out: &str) -> String {
    let (phone, out) = (sb.path("phone").display().to_string(), sb.path(out).display().to_string());
    sb.ok(&present_args(&phone, request, &out));
    out
}

fn verify(sb: &Sandbox, request: &str, response: &str, status: Option<&str>) -> std::process::Output {
    let mut args = vec!["--json", "mdoc", "verify", "--request", request, "--response", response];
    if let Some(s) = status {
        args.extend_from_slice(&["--status-list", s]);
    }
    sb.run(&args)
}

fn status_list(sb: &Sandbox) -> String {
    let out = sb.path("status.cwt").display().to_string();
    sb.ok(&["sandbox", "status-list", "--out", &out]);
    out
}

#[test]
fn a_phone_presents_its_record_and_the_verifier_checks_it() {
    for sb in Sandbox::all() {
        let person = issue_phone(&sb);
        assert!(sb.path("data/trust/iaca.pem").exists(), "the IACA root is exported for verifiers");
        let req = request(&sb, "req.json", "full_name_unicode,resident_address_unicode,age_over_20,portrait", None);
        let resp = present(&sb, &req, "resp.json");
        let status = status_list(&sb);
        let out = verify(&sb, &req, &resp, Some(&status));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["status"], "valid");
        assert_eq!(v["elements"]["org.iso.23220.1.jp/full_name_unicode"], "番号 花子");
        assert_eq!(v["elements"]["org.iso.23220.1/age_over_20"], true);
        assert!(v["elements"].get("org.iso.23220.1.jp/individual_number_unicode").is_none());

        // Only what the holder approved is disclosed.
        let only = sb.path("only.json").display().to_string();
        sb.ok(&["wallet", "present", "--phone", sb.path("phone").to_str().unwrap(), "--request", &req, "--out", &only, "--approve", "full_name_unicode"]);
        let v: serde_json::Value = serde_json::from_slice(&verify(&sb, &req, &only, Some(&status)).stdout).unwrap();
        assert_eq!(v["elements"].as_object().unwrap().len(), 1);

        // The status is checked or the record is refused: the sandbox's list URI cannot be fetched.
        let err = String::from_utf8(verify(&sb, &req, &only, None).stderr).unwrap();
        assert!(err.contains("status could not be checked"), "{err}");

        // Tampered: one byte of the disclosed name changed inside the DeviceResponse.
        let body: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&resp).unwrap()).unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut bytes = b64.decode(body["vp_token"]["mnc"][0].as_str().unwrap()).unwrap();
        let name = "番号 花子".as_bytes();
        let at = bytes.windows(name.len()).position(|w| w == name).unwrap();
        bytes[at + name.len() - 1] ^= 1;
        let tampered = sb.path("tampered.json");
        std::fs::write(&tampered, serde_json::json!({ "vp_token": { "mnc": [b64.encode(&bytes)] } }).to_string()).unwrap();
        let err = String::from_utf8(verify(&sb, &req, tampered.to_str().unwrap(), None).stderr).unwrap();
        assert!(err.contains("does not match its digest"), "{err}");

        // Expired: a year and a month on, the record's MSO (valid one year) has expired, its document
        // signer certificate (457 days) not yet.
        let later = (time::OffsetDateTime::now_utc() + time::Duration::days(400)).format(&time::format_description::well_known::Rfc3339).unwrap();
        let out = sb.run(&["mdoc", "verify", "--request", &req, "--response", &resp, "--status-list", &status, "--at", &later]);
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("mobile security object expired"), "{err}");

        // Replayed against another request (another nonce): the device signature does not verify.
        let req2 = request(&sb, "req2.json", "full_name_unicode,resident_address_unicode,age_over_20,portrait", None);
        let err = String::from_utf8(verify(&sb, &req2, &resp, None).stderr).unwrap();
        assert!(err.contains("device signature"), "{err}");

        // My Number: an unsigned request is refused; a Number Act reader gets it; a plain reader does not.
        let mn = request(&sb, "mn.json", "individual_number_unicode", None);
        let (phone, refused) = (sb.path("phone").display().to_string(), sb.path("x").display().to_string());
        let err = sb.fails(&present_args(&phone, &mn, &refused));
        assert!(err.contains("Number Act"), "{err}");
        sb.ok(&["sandbox", "reader", "issue", "--organization", "Bank", "--dns-name", "bank.example", "--out", sb.path("plain").to_str().unwrap()]);
        let plain = request(&sb, "plain.json", "individual_number_unicode", Some("plain"));
        sb.fails(&present_args(&phone, &plain, &refused));
        sb.ok(&[
            "sandbox",
            "reader",
            "issue",
            "--organization",
            "Bank",
            "--dns-name",
            "bank.example",
            "--number-act",
            "--out",
            sb.path("entitled").to_str().unwrap(),
        ]);
        let entitled = request(&sb, "entitled.json", "individual_number_unicode", Some("entitled"));
        let resp_mn = present(&sb, &entitled, "resp-mn.json");
        let v: serde_json::Value = serde_json::from_slice(&verify(&sb, &entitled, &resp_mn, Some(&status)).stdout).unwrap();
        assert_eq!(v["elements"]["org.iso.23220.1.jp/individual_number_unicode"].as_str().unwrap().len(), 12);

        // The phone's smartphone signature key signs like a card's (use case ④).
        let doc = sb.path("doc.txt");
        std::fs::write(&doc, "契約書").unwrap();
        sb.ok(&[
            "sign",
            "--phone",
            sb.path("phone").to_str().unwrap(),
            "--in",
            doc.to_str().unwrap(),
            "--out",
            sb.path("doc.p7s").to_str().unwrap(),
            "--pin",
            "PHONE123",
        ]);

        // A lost phone suspends the record (the card stays usable); a move invalidates it.
        sb.ok(&["sandbox", "event", "lost", "--person", &person, "--device", "smartphone"]);
        let err = String::from_utf8(verify(&sb, &req, &resp, Some(&status_list(&sb))).stderr).unwrap();
        assert!(err.contains("suspended"), "{err}");
        sb.ok(&["card", "read-cert", "--card", sb.path("card").to_str().unwrap(), "--which", "auth"]);
        sb.ok(&["sandbox", "event", "move", "--person", &person, "--address", "大阪府大阪市北区1-1"]);
        let err = String::from_utf8(verify(&sb, &req, &resp, Some(&status_list(&sb))).stderr).unwrap();
        assert!(err.contains("revoked"), "{err}");
    }
}

/// `jpki wallet engage` shows the QR code's text and serves one reader; returns the text and the process.
fn engage(sb: &Sandbox, approve: &[&str]) -> (String, std::process::Child) {
    use std::io::BufRead;
    let mut child = sb
        .command()
        .args(["--json", "wallet", "engage", "--phone", sb.path("phone").to_str().unwrap()])
        .args(approve)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut qr = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut qr).unwrap();
    assert!(qr.starts_with("mdoc:"), "{qr:?}");
    (qr.trim().to_owned(), child)
}

#[test]
fn a_reader_reads_the_record_in_person() {
    let sb = Sandbox::all().into_iter().next().unwrap();
    issue_phone(&sb);
    let status = status_list(&sb);

    // Engagement QR, session establishment, encrypted request and response, then verification.
    let (qr, child) = engage(&sb, &["--approve"]);
    let v = sb.json(&["mdoc", "read", "--engagement", &qr, "--elements", "full_name_unicode,age_over_18,portrait", "--status-list", &status]);
    assert_eq!(v["status"], "valid");
    assert_eq!(v["elements"]["org.iso.23220.1.jp/full_name_unicode"], "番号 花子");
    assert_eq!(v["elements"]["org.iso.23220.1/age_over_18"], true);
    assert!(v["elements"]["org.iso.23220.1.jp/portrait"].as_str().is_some_and(|p| p.len() > 100));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("full_name_unicode"));

    // The holder approves only the name: the age is not disclosed.
    let (qr, child) = engage(&sb, &["--approve", "full_name_unicode"]);
    let v = sb.json(&["mdoc", "read", "--engagement", &qr, "--elements", "full_name_unicode,age_over_18", "--status-list", &status]);
    assert_eq!(v["elements"].as_object().unwrap().len(), 1, "{v}");
    assert!(child.wait_with_output().unwrap().status.success());

    // My Number in person: an unauthenticated reader is refused before the holder is asked; a reader
    // signing its request with a Number Act certificate gets it.
    let (qr, child) = engage(&sb, &["--approve"]);
    let err = sb.fails(&["mdoc", "read", "--engagement", &qr, "--elements", "individual_number_unicode", "--status-list", &status]);
    assert!(err.contains("declined"), "{err}");
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("Number Act"), "{}", String::from_utf8_lossy(&out.stderr));
    sb.ok(&[
        "sandbox",
        "reader",
        "issue",
        "--organization",
        "Clinic",
        "--dns-name",
        "clinic.example",
        "--number-act",
        "--out",
        sb.path("clinic").to_str().unwrap(),
    ]);
    let (qr, child) = engage(&sb, &["--approve"]);
    let cert = sb.path("clinic/reader.pem").display().to_string();
    let key = sb.path("clinic/reader-key.p8").display().to_string();
    let v = sb.json(&[
        "mdoc", "read", "--engagement", &qr, "--elements", "individual_number_unicode", "--reader-cert", &cert, "--reader-key", &key, "--status-list", &status,
    ]);
    assert_eq!(v["elements"]["org.iso.23220.1.jp/individual_number_unicode"].as_str().unwrap().len(), 12);
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("clinic.example"), "the holder saw who asked: {}", String::from_utf8_lossy(&out.stdout));

    // A malformed engagement is refused for what it is.
    let err = sb.fails(&["mdoc", "read", "--engagement", "mdoc:AAAA", "--elements", "age_over_18"]);
    assert!(err.contains("DeviceEngagement"), "{err}");
}
