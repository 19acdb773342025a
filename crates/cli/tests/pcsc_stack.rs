//! The virtual card on the real PC/SC stack: pcscd with vsmartcard's vpcd reader, OpenSC's JPKI driver
//! (pkcs15-tool, pkcs11-tool with opensc-pkcs11.so) and our own `jpki card …` client, checked by
//! openssl. Needs pcscd, vsmartcard-vpcd, opensc and openssl; skipped (and said so) without them,
//! required under CI=true. With JPKI_TEST_PCSCD=own the test runs its own pcscd (it must be the only
//! one) and also restarts it under the running emulator.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{openssl, Sandbox, JPKI};

const READER: &str = "Virtual PCD 00 00";
const MODULE_PATHS: [&str; 3] = ["/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so", "/usr/lib/opensc-pkcs11.so"];

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn have(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// A pcscd this test started, stopped when dropped.
struct Pcscd(Option<Child>);

impl Pcscd {
    fn start() -> Pcscd {
        let child = Command::new("pcscd").arg("--foreground").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start pcscd");
        Pcscd(Some(child))
    }

    fn restart(&mut self) {
        self.stop();
        *self = Pcscd::start();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Emulator(Child);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn jpki(args: &[&str]) -> std::process::Output {
    Command::new(JPKI).args(args).stdin(Stdio::null()).env_remove("JPKI_DATA_DIR").output().unwrap()
}

fn jpki_ok(args: &[&str]) -> String {
    let out = jpki(args);
    assert!(out.status.success(), "jpki {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn jpki_err(args: &[&str]) -> String {
    let out = jpki(args);
    assert!(!out.status.success(), "jpki {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

fn readers() -> Option<serde_json::Value> {
    let out = jpki(&["--json", "card", "list"]);
    out.status.success().then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn card_present() -> bool {
    readers().is_some_and(|r| r.as_array().unwrap().iter().any(|x| x["name"] == READER && x["card_present"] == true))
}

fn tool(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program).args(args).stdin(Stdio::null()).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn pin_tries(card_args: &[&str], application_prefix: &str, pin_prefix: &str) -> u64 {
    let mut args = vec!["--json", "card", "pin", "status"];
    args.extend_from_slice(card_args);
    let v: serde_json::Value = serde_json::from_str(&jpki_ok(&args)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|p| p["application"].as_str().unwrap().starts_with(application_prefix) && p["pin"].as_str().unwrap().starts_with(pin_prefix))
        .unwrap()["tries_left"]
        .as_u64()
        .unwrap()
}

fn verify_signature(cert: &Path, message: &Path, signature: &Path) {
    let key = cert.with_extension("pub.pem");
    std::fs::write(&key, openssl(&["x509", "-in", cert.to_str().unwrap(), "-pubkey", "-noout"])).unwrap();
    let out = openssl(&["dgst", "-sha256", "-verify", key.to_str().unwrap(), "-signature", signature.to_str().unwrap(), message.to_str().unwrap()]);
    assert!(out.contains("Verified OK"), "{out}");
}

fn der_of_pem(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

#[test]
fn virtual_card_through_pcscd_opensc_and_jpki() {
    let missing: Vec<&str> = ["pcscd", "pkcs15-tool", "pkcs11-tool", "opensc-tool", "openssl"].into_iter().filter(|p| !have(p)).collect();
    let module = MODULE_PATHS.iter().find(|p| Path::new(p).exists());
    let vpcd = Path::new("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists() || Path::new("/etc/reader.conf.d/vpcd").exists();
    if !missing.is_empty() || module.is_none() || !vpcd {
        let why = format!("missing {missing:?}, opensc-pkcs11.so found: {}, vsmartcard-vpcd installed: {vpcd}", module.is_some());
        assert!(!in_ci(), "CI=true but the PC/SC stack is not installed: {why}");
        jpki_store::testing::skipped(&format!("PC/SC stack test ({why})"));
        return;
    }
    let module = module.unwrap().to_string();
    let mut pcscd = (std::env::var("JPKI_TEST_PCSCD").as_deref() == Ok("own")).then(Pcscd::start);
    if pcscd.is_some() {
        wait_for("pcscd", || readers().is_some_and(|r| r.as_array().unwrap().iter().any(|x| x["name"] == READER)));
    } else if !readers().is_some_and(|r| r.as_array().unwrap().iter().any(|x| x["name"] == READER)) {
        assert!(!in_ci(), "CI=true but pcscd with the vpcd reader is not running (set JPKI_TEST_PCSCD=own to start one)");
        jpki_store::testing::skipped("PC/SC stack test (pcscd with the vpcd reader is not running; JPKI_TEST_PCSCD=own starts one)");
        return;
    }

    let sb = Sandbox::all().into_iter().next().unwrap();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("番号　花子", "1980-02-17");
    sb.issue_card(&person, "card");
    let card_dir = sb.path("card");
    let card = card_dir.to_str().unwrap();
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(card_dir.join("card.json")).unwrap()).unwrap();
    let my_number = state["my_number"].as_str().unwrap().to_owned();
    let child = Command::new(JPKI).args(["card", "emulate", "--card", card]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut emulator = Emulator(child);
    wait_for("the virtual card in the vpcd reader", card_present);
    let list = readers().unwrap();
    let ours = list.as_array().unwrap().iter().find(|x| x["name"] == READER).unwrap();
    assert_eq!(ours["atr"], "3BE000FF8131FE4514");

    // OpenSC recognizes a JPKI card and lists our objects.
    let (ok, out) = tool("opensc-tool", &["--reader", READER, "-n"]);
    assert!(ok && out.contains("jpki"), "{out}");
    let (ok, dump) = tool("pkcs15-tool", &["--reader", READER, "--dump"]);
    assert!(ok && dump.contains("PKCS#15 Card [JPKI]"), "{dump}");
    assert!(dump.contains("User Authentication PIN") && dump.contains("Tries left     : 3"), "{dump}");
    assert!(dump.contains("Digital Signature PIN") && dump.contains("Tries left     : 5"), "{dump}");
    for (id, file) in [("01", "auth-cert.pem"), ("03", "auth-ca.pem"), ("04", "sign-ca.pem")] {
        let (ok, pem) = tool("pkcs15-tool", &["--reader", READER, "--read-certificate", id]);
        assert!(ok, "{pem}");
        let start = pem.find("-----BEGIN").unwrap();
        assert_eq!(der_of_pem(&pem[start..]), der_of_pem(&std::fs::read_to_string(card_dir.join(file)).unwrap()), "certificate {id}");
    }
    let (ok, pem) = tool("pkcs15-tool", &["--reader", READER, "--verify-pin", "--auth-id", "02", "--pin", "ABC123", "--read-certificate", "02"]);
    assert!(ok, "{pem}");
    let start = pem.find("-----BEGIN").unwrap();
    assert_eq!(der_of_pem(&pem[start..]), der_of_pem(&std::fs::read_to_string(card_dir.join("sign-cert.pem")).unwrap()));

    // PKCS#11: log in and sign with each key; openssl verifies against the certificates.
    let message = sb.path("message.txt");
    std::fs::write(&message, "openjpki through PKCS#11\n").unwrap();
    // pkcs11-tool logs in to `token` with `pin` and signs the message with key `id` into `out`.
    let p11_sign = |token: &str, pin: &str, id: &str, out: &str| {
        #[rustfmt::skip]
        let args = ["--module", &module, "--token-label", token, "--login", "--pin", pin, "--sign", "--id", id, "-m", "SHA256-RSA-PKCS", "-i", message.to_str().unwrap(), "-o", out];
        tool("pkcs11-tool", &args)
    };
    for (token, pin, id, cert) in
        [("JPKI (User Authentication PIN)", "1234", "01", "auth-cert.pem"), ("JPKI (Digital Signature PIN)", "ABC123", "02", "sign-cert.pem")]
    {
        let sig = sb.path(&format!("p11-{id}.sig"));
        let (ok, out) = p11_sign(token, pin, id, sig.to_str().unwrap());
        assert!(ok, "{out}");
        verify_signature(&card_dir.join(cert), &message, &sig);
    }

    // Wrong PINs count down and lock exactly as on a real card (3 tries for the authentication PIN).
    let reader = ["--reader", READER];
    for expected in [2, 1, 0] {
        let (ok, out) = p11_sign("JPKI (User Authentication PIN)", "9999", "01", "/dev/null");
        assert!(!ok && (out.contains("CKR_PIN_INCORRECT") || out.contains("CKR_PIN_LOCKED")), "{out}");
        assert_eq!(pin_tries(&reader, "JPKI", "authentication"), expected);
    }
    let (ok, out) = p11_sign("JPKI (User Authentication PIN)", "1234", "01", "/dev/null");
    // A real card answers 6984 to VERIFY on a blocked PIN, which OpenSC 0.23 reports as a general error.
    assert!(!ok && out.contains("C_Login failed"), "the right PIN must not open a locked card: {out}");
    let err = jpki_err(&["card", "sign", "--reader", READER, "--which", "auth", "--in", message.to_str().unwrap(), "--out", "/dev/null", "--pin", "1234"]);
    assert!(err.contains("locked"), "{err}");
    assert_eq!(pin_tries(&reader, "JPKI", "authentication"), 0, "a locked PIN never gets a try back");
    // The municipality resets it; the card (still in the reader) takes the new PIN.
    sb.ok(&["sandbox", "card", "reset-pin", "--card", card, "--pin", "auth", "--new-pin", "4321"]);
    assert_eq!(pin_tries(&reader, "JPKI", "authentication"), 3);

    // Our own client through pcscd.
    let info = jpki_ok(&["card", "info", "--reader", READER]);
    assert!(info.contains("JPKIAPICCTOKEN2"), "{info}");
    let sig = sb.path("jpki-auth.sig");
    jpki_ok(&["card", "sign", "--reader", READER, "--which", "auth", "--in", message.to_str().unwrap(), "--out", sig.to_str().unwrap(), "--pin", "4321"]);
    verify_signature(&card_dir.join("auth-cert.pem"), &message, &sig);
    let sig = sb.path("jpki-sign.sig");
    jpki_ok(&["card", "sign", "--reader", READER, "--which", "sign", "--in", message.to_str().unwrap(), "--out", sig.to_str().unwrap(), "--pin", "ABC123"]);
    verify_signature(&card_dir.join("sign-cert.pem"), &message, &sig);
    let pem = jpki_ok(&["card", "read-cert", "--reader", READER, "--which", "auth"]);
    assert_eq!(der_of_pem(&pem), der_of_pem(&std::fs::read_to_string(card_dir.join("auth-cert.pem")).unwrap()));
    let pem = jpki_ok(&["card", "read-cert", "--reader", READER, "--which", "sign", "--pin", "ABC123"]);
    assert_eq!(der_of_pem(&pem), der_of_pem(&std::fs::read_to_string(card_dir.join("sign-cert.pem")).unwrap()));
    let err = jpki_err(&["card", "read-cert", "--reader", READER, "--which", "sign"]);
    assert!(err.contains("signature password"), "no PIN and no terminal must be a clear error: {err}");

    let info: serde_json::Value = serde_json::from_str(&jpki_ok(&["--json", "card", "read-info", "--reader", READER, "--pin", "5678"])).unwrap();
    assert_eq!(info["my_number"], my_number.as_str());
    assert_eq!(info["four_info"]["name"], "番号　花子");
    assert_eq!(info["seal"]["intact"], true);
    let by_code_a: serde_json::Value = serde_json::from_str(&jpki_ok(&["--json", "card", "read-info", "--reader", READER, "--code-a", &my_number])).unwrap();
    assert_eq!(by_code_a["my_number"], my_number.as_str());
    assert!(by_code_a["four_info"].is_null(), "照合番号A opens My Number only");

    // PIN change through pcscd, then the old PIN is wrong.
    jpki_ok(&["card", "pin", "change", "--reader", READER, "--which", "auth", "--pin", "4321", "--new-pin", "2468"]);
    let err = jpki_err(&["card", "sign", "--reader", READER, "--which", "auth", "--in", message.to_str().unwrap(), "--out", "/dev/null", "--pin", "4321"]);
    assert!(err.contains("2 tries left"), "{err}");
    jpki_ok(&["card", "sign", "--reader", READER, "--which", "auth", "--in", message.to_str().unwrap(), "--out", "/dev/null", "--pin", "2468"]);

    // pcscd restarting under the emulator: the card comes back by itself.
    if let Some(daemon) = pcscd.as_mut() {
        daemon.restart();
        wait_for("the card after pcscd restarted", card_present);
        jpki_ok(&["card", "sign", "--reader", READER, "--which", "auth", "--in", message.to_str().unwrap(), "--out", "/dev/null", "--pin", "2468"]);
    } else {
        jpki_store::testing::skipped("pcscd restart under the emulator (JPKI_TEST_PCSCD=own not set)");
    }

    // Output to a device is written, never replaced by a file (the signatures above went to /dev/null).
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device(), "/dev/null was replaced");

    // Clear errors for a missing reader.
    let err = jpki_err(&["card", "info", "--reader", "No Such Reader"]);
    assert!(err.contains("no reader named") && err.contains(READER), "{err}");
    let err = jpki_err(&["card", "info", "--reader", "Virtual PCD 00 01"]);
    assert!(err.contains("no card"), "{err}");

    // SIGTERM removes the card cleanly; the reader is then empty.
    let pid = emulator.0.id().to_string();
    assert!(Command::new("kill").args(["-s", "TERM", &pid]).status().unwrap().success());
    let status = emulator.0.wait().unwrap();
    assert!(status.success(), "the emulator must exit cleanly on SIGTERM: {status}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(emulator.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("card removed"), "{stderr}");
    wait_for("the reader to be empty", || !card_present());
    let err = jpki_err(&["card", "info", "--reader", READER]);
    assert!(err.contains("no card"), "{err}");

    // A dead pcscd is named as such.
    if let Some(mut daemon) = pcscd.take() {
        daemon.stop();
        let err = jpki_err(&["card", "list"]);
        assert!(err.contains("PC/SC service is not running"), "{err}");
    }
}
