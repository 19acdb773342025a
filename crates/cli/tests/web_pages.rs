//! The web pages in a real browser: Debian's Chromium driven by playwright-core (`interop/web`) loads
//! each page of `jpki serve --sandbox` in English and Japanese, at a desktop and a phone width, and
//! checks the strict CSP (and that it blocks an injected script), the stylesheet, the languages,
//! accessibility (axe-core's WCAG 2 A/AA rules) and the links; screenshots go to
//! `target/tmp/web-screenshots`. Needs Node.js, `/usr/bin/chromium` and `npm ci` in interop/web;
//! skipped (and said so) without them, required under CI=true.

mod common;

use std::path::Path;
use std::process::Command;

use common::Sandbox;

/// interop/web, when Node.js, Chromium and its modules are there; `None` after saying the test is
/// skipped.
fn interop(test: &str) -> Option<std::path::PathBuf> {
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/web");
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let ready = node && Path::new("/usr/bin/chromium").exists() && interop.join("node_modules/playwright-core").is_dir();
    if !ready {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but Node.js, /usr/bin/chromium or interop/web's modules are missing");
        jpki_store::testing::skipped(&format!("{test} (needs node, /usr/bin/chromium and npm ci in interop/web)"));
        return None;
    }
    Some(interop)
}

#[test]
fn the_pages_hold_up_in_chromium() {
    let Some(interop) = interop("the Chromium page test") else { return };
    let sb = Sandbox::all().into_iter().next().unwrap();
    sb.ok(&["sandbox", "init"]);
    let server = sb.serve();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node").arg(interop.join("check.mjs")).arg(server.url("")).arg(&shots).args(["/", "/?lang=ja"]).output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the pages failed in Chromium:\n{report}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["screenshots"].as_array().map(Vec::len), Some(4), "{report}");
}

/// openid-client, a stock RP library, logs in through the provider while Chromium drives the user's
/// side: the authorization page (CSP, languages and their switch, accessibility), the sandbox
/// test-person picker, a decline, the error page; the ID token, userinfo with the 4 info and a
/// refresh. Screenshots go to `target/tmp/oidc-screenshots`.
#[test]
fn an_rp_library_logs_in_through_the_browser() {
    let Some(interop) = interop("the OpenID Connect browser test") else { return };
    let sb = Sandbox::all().into_iter().next().unwrap();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("画面　桜", "1992-03-03");
    sb.issue_card(&person, "card");
    sb.ok(&common::phone_issue("card", "phone", "1234"));
    let server = sb.serve();
    let (_, tenant) = server.post_json("/v1/admin/tenants", Some(common::ADMIN_TOKEN), r#"{"name":"Browser RP"}"#);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oidc-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg(interop.join("oidc.mjs"))
        .arg(server.url(""))
        .arg(&shots)
        .arg(tenant["api_key"].as_str().unwrap())
        .arg("画面　桜")
        .arg(common::JPKI)
        .arg(sb.path("card"))
        .arg(sb.path("phone"))
        .output()
        .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the login through Chromium failed:\n{report}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["login"]["userinfo"]["name"], "画面　桜", "{report}");
    assert_eq!(report["login"]["userinfo"]["birthdate"], "1992-03-03", "{report}");
    assert_eq!(report["declined"], "access_denied", "{report}");
    assert_eq!((&report["card"]["amr"], &report["card"]["name"]), (&serde_json::json!(["hwk", "pin", "sc"]), &serde_json::json!("画面　桜")), "{report}");
    assert_eq!((&report["phone"]["amr"], &report["phone"]["name"]), (&serde_json::json!(["hwk", "pin"]), &serde_json::json!("画面　桜")), "{report}");
    for device in ["card", "phone"] {
        assert_eq!(
            (&report["sign"][device]["openssl"], &report["sign"][device]["valid"]),
            (&serde_json::json!("Verified OK"), &serde_json::json!(true)),
            "{report}"
        );
        assert_eq!(report[device]["refreshed"], true, "{report}");
    }
    assert_eq!(report["screenshots"].as_array().map(Vec::len), Some(8), "{report}");
}
