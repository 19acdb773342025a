//! `jpki-bench verify`: verifications per second of the library (CMS signature, chain, OCSP answered
//! from the cache: two RSA-2048 verifications per check) on every core, as a ratio to `openssl speed
//! -multi <cores> rsa2048`'s verify rate divided by those two; then the HTTP API
//! (`POST /v1/signatures/verify` on `jpki serve --sandbox`) under a bounded keep-alive load from the
//! same machine: throughput as a ratio to the library, and p50/p99 latency.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;

use base64::Engine;
use jpki_card::{CardDir, Emulator, MyNumberCard};
use jpki_issuer::cards::CardPins;
use jpki_issuer::ocsp::OcspResponder;
use jpki_issuer::Issuer;
use jpki_profile::KeyRole;
use jpki_profile::{BirthDate, CertKind, FourInfo, Sex};
use jpki_server::transport::InProcessOcsp;
use jpki_store::Database;
use jpki_verify::revocation::{OcspChecker, RequestedMethod, RevocationPolicy};
use jpki_verify::{signed_data, TrustStore, Verifier};
use time::OffsetDateTime;

use crate::BenchResult;

/// RSA verifications in one check with a cached OCSP answer: the CMS signature and the certificate's.
const RSA_PER_CHECK: f64 = 2.0;

pub fn run(seconds: u64, clients: usize) -> BenchResult {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data)?;
    let rt = Arc::new(tokio::runtime::Runtime::new()?);
    let db_url = Database::sqlite_url(&data.join("jpki.sqlite3"));
    let card_dir = tmp.path().join("card");
    let (issuer, responder) = rt.block_on(async {
        let db = Database::open(&db_url).await?;
        let (issuer, _) = Issuer::init(db.clone()).await?;
        let responder = OcspResponder::start(issuer.clone(), jpki_issuer::meter::Meter::start(db)).await?;
        let info = FourInfo::new("計測　花子", "東京都千代田区", BirthDate::parse_iso("1985-04-01")?, Sex::Female)?;
        let person = issuer.add_person(info, None).await?;
        let pins = CardPins { signature: "ABC123".into(), authentication: "1234".into(), input_assistance: "1234".into(), resident_registry: "1234".into() };
        issuer.issue_card(&person.id, &pins, None, &card_dir).await?;
        Ok::<_, Box<dyn std::error::Error>>((issuer, responder))
    })?;
    let mut card = MyNumberCard::new(Emulator::open(CardDir::new(&card_dir))?);
    let certificate = card.read_certificate(KeyRole::Signature, Some("ABC123"))?;
    let content = b"benchmark document".to_vec();
    let cms = signed_data::build(&content, &certificate, true, OffsetDateTime::now_utc(), |d| card.sign(KeyRole::Signature, "ABC123", d))?;

    // The library on every core.
    let anchors = KeyRole::ALL.iter().map(|r| jpki_verify::trust::Anchor::new(issuer.ca(*r).certificate.clone())).collect::<Result<Vec<_>, _>>()?;
    let verifier = Arc::new(Verifier {
        trust: TrustStore::new(anchors),
        ocsp: Some(OcspChecker::new("in-process", Box::new(InProcessOcsp { runtime: rt.handle().clone(), responder }))),
        crls: Default::default(),
    });
    // The answer from the OCSP cache, as a tenant accepting an hour-old answer gets it.
    let hour_old = RevocationPolicy { method: RequestedMethod::Ocsp, max_age: time::Duration::hours(1) };
    let first = verifier.verify_cms_by(CertKind::Signature, hour_old, &cms, None, OffsetDateTime::now_utc())?;
    if !first.valid {
        return Err(format!("the benchmark signature does not verify: {:?}", first.failure).into());
    }
    let cores = crate::cores();
    let library = crate::against_openssl(seconds, RSA_PER_CHECK, "rsa2048", "rsa 2048 bits", {
        let (verifier, cms) = (verifier.clone(), cms.clone());
        move || {
            let v = verifier.verify_cms_by(CertKind::Signature, hour_old, &cms, None, OffsetDateTime::now_utc());
            assert!(v.is_ok_and(|v| v.valid), "verification failed under load");
        }
    })?;

    // The HTTP API.
    let bin = crate::jpki_binary()?;
    let mut child = Command::new(&bin)
        .args(["--data-dir", data.to_str().ok_or("path")?, "serve", "--sandbox", "--listen", "127.0.0.1:0"])
        .env("JPKI_ADMIN_TOKEN", "bench-admin")
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("stdout")?;
    let server = crate::Guard(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)?;
    let addr = line.trim().strip_prefix("listening on http://").ok_or("unexpected serve output")?.to_owned();
    let tenant = rt.block_on(async {
        let mut conn = crate::connect(&addr).await.ok_or(std::io::ErrorKind::ConnectionRefused)?;
        let headers = "Content-Type: application/json\r\nAuthorization: Bearer bench-admin\r\n";
        crate::exchange(&mut conn, &addr, "/v1/admin/tenants", headers, br#"{"name":"bench"}"#).await
    })?;
    let tenant: serde_json::Value = serde_json::from_slice(&tenant.1)?;
    let key = tenant["api_key"].as_str().ok_or("no api key")?;
    let requests = Arc::new(crate::Requests {
        headers: format!("Content-Type: application/json\r\nAuthorization: Bearer {key}\r\n"),
        bodies: vec![
            serde_json::json!({ "cms": base64::engine::general_purpose::STANDARD.encode(&cms), "revocation": { "method": "ocsp", "max_age_seconds": 3600 } })
                .to_string()
                .into_bytes(),
        ],
        good: |answer| answer.windows(12).any(|w| w == br#""valid":true"#),
    });
    let api = crate::measure(&addr, "/v1/signatures/verify", &requests, clients, seconds)?;
    drop(server);

    println!("verification of one CMS SignedData (signature, chain, OCSP from cache = {RSA_PER_CHECK} RSA-2048 verifications), {seconds} s, {cores} cores:");
    println!(
        "  library:  {:.0} checks/s; openssl speed rsa2048 verify {:.0}/s ÷ {RSA_PER_CHECK} = {:.0}/s; ratio {:.0}% (goal >= 80%; {} alternating rounds: {})",
        library.rate,
        library.openssl,
        library.openssl / RSA_PER_CHECK,
        100.0 * library.ratio,
        crate::ROUNDS,
        library.rounds_text()
    );
    println!(
        "  HTTP API: {:.0} checks/s with {clients} keep-alive clients, p50 {:.1} ms, p99 {:.1} ms, {} errors; ratio to the library {:.0}% (goal >= 50%)",
        api.rate,
        api.percentile(50).as_secs_f64() * 1000.0,
        api.percentile(99).as_secs_f64() * 1000.0,
        api.errors,
        100.0 * api.rate / library.rate
    );
    Ok(())
}
