//! `jpki-bench mdoc-verify`: DeviceResponse verifications per second (the My Number card record over
//! OpenID4VP: document signer to IACA, MSO signature, digests, device signature: three ECDSA P-256
//! verifications per response) on every core, as a ratio to `openssl speed -multi <cores> ecdsap256`'s
//! verify rate divided by three, in one run.

use std::sync::Arc;

use jpki_crypto::EcKey;
use jpki_issuer::Issuer;
use jpki_mdoc::issuance::{issue, IssueParams};
use jpki_mdoc::mnc::{self, RecordContents};
use jpki_mdoc::mso::ValidityInfo;
use jpki_mdoc::transcript::SessionTranscript;
use jpki_mdoc::trust::Roots;
use jpki_mdoc::verify::{verify_response, Expectations};
use jpki_profile::{BirthDate, FourInfo, Sex};
use jpki_store::Database;

use crate::BenchResult;

/// ECDSA verifications one response needs.
const VERIFICATIONS_PER_RESPONSE: f64 = 3.0;

pub fn run(seconds: u64) -> BenchResult {
    let tmp = tempfile::tempdir()?;
    let rt = tokio::runtime::Runtime::new()?;
    let issuer = rt.block_on(async { Issuer::init(Database::open(&Database::sqlite_url(&tmp.path().join("jpki.sqlite3"))).await?).await })?.0;
    let pki = rt.block_on(issuer.mdoc_pki())?;
    let four_info = FourInfo::new("計測　花子", "東京都千代田区", BirthDate::parse_iso("1985-04-01")?, Sex::Female)?;
    let now = jpki_issuer::now();
    let device_key = EcKey::generate_p256()?;
    let contents = RecordContents { four_info: &four_info, my_number: "123456789018", local_gov_code: "99999", portrait: &[0xff; 2048], issued_on: now.date() };
    let validity = ValidityInfo { signed: now, valid_from: now, valid_until: now + time::Duration::days(30), expected_update: None };
    let params = IssueParams { doc_type: mnc::DOC_TYPE, device_key: &device_key.public_point(), validity, status: None };
    let record = issue(&pki.document_signer, params, mnc::elements(&contents))?;
    let transcript = SessionTranscript::openid4vp("redirect_uri:https://rp.example/cb", "bench-nonce-0123456789", None, "https://rp.example/cb");
    let wanted = [mnc::FULL_NAME, mnc::RESIDENT_ADDRESS, mnc::BIRTH_DATE_DISPLAY, mnc::SEX_DISPLAY, mnc::PORTRAIT];
    let disclosed = jpki_mdoc::issuance::disclose(&record, |ns, id| ns == mnc::NS_JP && wanted.contains(&id));
    let device_signed = jpki_mdoc::device_auth::sign(&device_key, &transcript, mnc::DOC_TYPE)?;
    let document = jpki_mdoc::document::Document { doc_type: mnc::DOC_TYPE.into(), issuer_signed: disclosed, device_signed };
    let response = Arc::new(jpki_mdoc::document::DeviceResponse { version: "1.0".into(), documents: vec![document], status: 0 }.to_bytes());
    let iaca = Roots::from_pem_or_der(pki.iaca.certificate_pem().as_bytes())?;

    let cores = crate::cores();
    let compared = crate::against_openssl(seconds, VERIFICATIONS_PER_RESPONSE, "ecdsap256", "ecdsa (nistp256)", {
        let response = response.clone();
        move || {
            let expect = Expectations { iaca: &iaca, transcript: &transcript, e_reader_key: None, request: None, at: jpki_issuer::now() };
            verify_response(&response, &expect).expect("the benchmark response verifies");
        }
    })?;
    println!("mdoc DeviceResponse verification ({cores} cores, {} byte response, {seconds} s)", response.len());
    println!("  verifications/s:                              {:.0}", compared.rate);
    println!("  openssl speed ecdsap256 verify/s:             {:.0}", compared.openssl);
    println!(
        "  ratio to openssl ÷ {VERIFICATIONS_PER_RESPONSE}:                        {:.0} % (goal ≥ 70 %; {} alternating rounds: {})",
        100.0 * compared.ratio,
        crate::ROUNDS,
        compared.rounds_text()
    );
    Ok(())
}
