//! What a newcomer reads: errors in JSON under --json, files named for what they are not, PEM taken
//! where DER is usual, and times as RFC 3339 seconds in JST.

mod common;

use common::{openssl, Sandbox};

#[test]
fn errors_files_and_times_read_as_a_user_expects() {
    if !common::openssl_available("errors_files_and_times_read_as_a_user_expects") {
        return;
    }
    let sb = Sandbox::all().into_iter().next().unwrap();
    // Under --json an error is JSON too.
    let out = sb.run(&["--json", "cert", "show", "missing.pem"]);
    assert!(!out.status.success());
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(error["error"]["message"].as_str().unwrap().contains("cannot read missing.pem"), "{error}");

    // A file that is not a certificate is named as such.
    std::fs::write(sb.path("notes.txt"), "hello").unwrap();
    let refused = sb.fails(&["cert", "show", "notes.txt"]);
    assert!(refused.contains("notes.txt is not an X.509 certificate in PEM or DER"), "{refused}");
    let refused = sb.fails(&["crl", "show", "notes.txt"]);
    assert!(refused.contains("notes.txt is not a CRL in DER or PEM"), "{refused}");

    // Times in JST to the second; a CRL in PEM is read like its DER.
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("時刻　表示", "1999-09-09");
    // Issuance prints the codes on the card's face; 照合番号B opens the card-face application.
    let card =
        sb.json(&["sandbox", "card", "issue", "--person", &person, "--out", "card", "--sign-pin", "ABC123", "--auth-pin", "1234", "--input-pin", "5678"]);
    let code_b = card["card_face"]["code_b"].as_str().unwrap_or_else(|| panic!("{card}"));
    assert_eq!((code_b.len(), &code_b[10..]), (14, card["card_face"]["security_code"].as_str().unwrap()), "{card}");
    sb.ok(&["card", "read-face", "--card", "card", "--code-b", code_b, "--photo-out", "face.png"]);
    assert!(sb.path("face.png").exists());
    let shown = sb.ok(&["cert", "show", "card/sign-cert.pem"]);
    let valid = shown.lines().find(|l| l.starts_with("valid: ")).unwrap_or_else(|| panic!("{shown}"));
    assert!(valid.ends_with("+09:00") && !valid.contains('.') && valid.matches("+09:00").count() == 2, "{valid}");
    let crl = sb.publish_crls().sign[0].1.clone();
    openssl(&["crl", "-inform", "DER", "-in", crl.to_str().unwrap(), "-outform", "PEM", "-out", sb.path("sign.pem.crl").to_str().unwrap()]);
    // A reader certificate (an mdoc reader's, with its own extendedKeyUsage) is no JPKI certificate.
    sb.ok(&["sandbox", "reader", "issue", "--organization", "Shop", "--dns-name", "shop.example", "--out", "reader"]);
    let reader = sb.ok(&["cert", "show", "reader/reader.pem"]);
    assert!(reader.starts_with("kind: other\n"), "{reader}");
    let (der, pem) = (sb.ok(&["crl", "show", crl.to_str().unwrap()]), sb.ok(&["crl", "show", "sign.pem.crl"]));
    assert_eq!(der, pem);
    assert!(der.contains("+09:00"), "{der}");
}

/// `GET /` is a page saying what the server is and where its endpoints are, in English and Japanese,
/// under a strict Content-Security-Policy.
#[test]
fn the_landing_page_says_what_this_server_is() {
    use std::io::{Read, Write};
    let sb = Sandbox::all().into_iter().next().unwrap();
    sb.ok(&["sandbox", "init"]);
    let server = sb.serve();
    let get_in = |path: &str, language: &str| {
        let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Language: {language}\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    };
    let get = |path: &str| get_in(path, "*");
    let page = get("/");
    let lower = page.to_ascii_lowercase();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(lower.contains("content-type: text/html"), "{page}");
    assert!(lower.contains("content-security-policy: default-src 'none'; style-src 'self'"), "{page}");
    for needed in ["<html lang=\"en\">", "href=\"/openapi.json\"", "href=\"/healthz\"", "/issuer/ocsp", "href=\"?lang=ja\"", "My Number Card"] {
        assert!(page.contains(needed), "the page lacks {needed}: {page}");
    }
    // In Japanese when asked for, by the query or by Accept-Language.
    for japanese in [get("/?lang=ja"), get_in("/", "ja-JP,en;q=0.5")] {
        for needed in ["<html lang=\"ja\">", "マイナンバーカード", "エンドポイント", "content-language: ja", "href=\"?lang=en\""] {
            assert!(japanese.to_lowercase().contains(&needed.to_lowercase()), "the Japanese page lacks {needed}: {japanese}");
        }
    }
    assert!(!lower.contains("<script") && !lower.contains(" style="), "no scripts or inline styles: {page}");
    let css = get("/static/site.css");
    assert!(css.starts_with("HTTP/1.1 200") && css.to_ascii_lowercase().contains("content-type: text/css"), "{css}");
}

/// A phone issued for the sandbox server at its URL names a status list there, so `jpki mdoc verify`
/// without `--status-list` fetches it from the running server.
#[test]
fn a_sandbox_record_names_a_status_list_the_server_serves() {
    let sb = Sandbox::all().into_iter().next().unwrap();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("状態　確認", "1984-04-04");
    sb.issue_card(&person, "card");
    let server = sb.serve();
    let url = server.url("");
    let mut issue = vec!["--sandbox-url", url.as_str()];
    issue.extend(common::phone_issue("card", "phone", "1234"));
    sb.ok(&issue);
    sb.ok(&["mdoc", "request", "--response-uri", "https://shop.example/cb", "--elements", "full_name_unicode", "--out", "req.json"]);
    sb.ok(&["wallet", "present", "--phone", "phone", "--request", "req.json", "--out", "resp.json", "--approve"]);
    let verified = sb.json(&["mdoc", "verify", "--request", "req.json", "--response", "resp.json"]);
    assert_eq!(verified["status"], "valid", "{verified}");
}

#[test]
fn the_record_elements_are_listed_where_a_verifier_asks_for_them() {
    let sb = Sandbox::all().into_iter().next().unwrap();
    for command in ["request", "read"] {
        let help = sb.ok(&["mdoc", command, "--help"]);
        let listed = help.split("Elements of org.iso.23220.1.jp.mnc").nth(1).unwrap_or_else(|| panic!("mdoc {command} --help lists no elements: {help}"));
        for element in ["full_name_unicode", "individual_number_unicode", "portrait", "birth_date", "age_in_years", "age_over_18", "age_over_65"] {
            assert!(listed.contains(element), "mdoc {command} --help does not list {element}: {listed}");
        }
    }
    // Every element listed is one `jpki mdoc request` takes.
    let help = sb.ok(&["mdoc", "request", "--help"]);
    let listed = help.split("Elements of org.iso.23220.1.jp.mnc (--elements):").nth(1).unwrap();
    let elements: Vec<&str> = listed.lines().filter_map(|l| l.trim().split_once(": ")).flat_map(|(_, list)| list.split(", ")).collect();
    assert!(elements.len() >= 13, "{elements:?}");
    let out = sb.path("req.json");
    sb.ok(&["mdoc", "request", "--response-uri", "https://rp.example/cb", "--elements", &elements.join(","), "--out", out.to_str().unwrap()]);
}
