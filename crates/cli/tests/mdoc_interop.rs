//! An independent, maintained mdoc implementation (auth0-lab/mdl from npm, run by
//! interop/mdoc/verify.mjs) verifies a DeviceResponse made by our wallet, and refuses it under another
//! request's session transcript. Skipped, saying so, where Node.js or the package is not installed;
//! under CI it must run.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Sandbox;

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/mdoc")
}

fn node_verifier_available() -> bool {
    let installed = interop_dir().join("node_modules/@auth0/mdl").is_dir() && Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !installed {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI must run the independent mdoc verifier: install Node.js and `npm ci --prefix interop/mdoc`");
        println!("SKIPPED: mdoc interoperability (no Node.js or no interop/mdoc/node_modules; run `npm ci --prefix interop/mdoc`)");
    }
    installed
}

fn node(args: &[&str]) -> std::process::Output {
    Command::new("node").arg(interop_dir().join("verify.mjs")).args(args).output().unwrap()
}

#[test]
fn auth0_mdl_verifies_our_device_response() {
    if !node_verifier_available() {
        return;
    }
    let sb = Sandbox::all().remove(0);
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("番号 花子", "1990-04-01");
    let card = sb.path("card").display().to_string();
    sb.issue_card(&person, &card);
    let phone = sb.path("phone").display().to_string();
    sb.ok(&common::phone_issue(&card, &phone, "1234"));
    let iaca = sb.path("data/trust/iaca.pem").display().to_string();
    let mut requests = Vec::new();
    for name in ["req.json", "other.json"] {
        let out = sb.path(name).display().to_string();
        sb.ok(&[
            "mdoc",
            "request",
            "--response-uri",
            "https://rp.example/cb",
            "--elements",
            "full_name_unicode,birth_date,age_over_18,portrait",
            "--out",
            &out,
        ]);
        requests.push(out);
    }
    let resp = sb.path("resp.json").display().to_string();
    sb.ok(&["wallet", "present", "--phone", &phone, "--request", &requests[0], "--out", &resp, "--approve"]);

    let out = node(&[&requests[0], &resp, &iaca]);
    assert!(out.status.success(), "auth0-lab/mdl rejected our response: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["docType"], "org.iso.23220.1.jp.mnc");
    assert_eq!(v["elements"]["org.iso.23220.1.jp/full_name_unicode"], "番号 花子");
    assert_eq!(v["elements"]["org.iso.23220.1/age_over_18"], true);

    let out = node(&["--expect-failure", &requests[1], &resp, &iaca]);
    assert!(out.status.success(), "a response replayed under another request must not verify: {}", String::from_utf8_lossy(&out.stdout));
}
