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

#[test]
fn the_pages_hold_up_in_chromium() {
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/web");
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let ready = node && Path::new("/usr/bin/chromium").exists() && interop.join("node_modules/playwright-core").is_dir();
    if !ready {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but Node.js, /usr/bin/chromium or interop/web's modules are missing");
        jpki_store::testing::skipped("the Chromium page test (needs node, /usr/bin/chromium and npm ci in interop/web)");
        return;
    }
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
