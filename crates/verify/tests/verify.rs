//! Verification against the sandbox issuer: CMS made with a card, chain and OCSP through the issuer's
//! own responder; every way a signature can fail gives its own code; malformed input never panics.

use std::sync::Arc;

use der::{Decode, Encode};
use jpki_card::{CardDir, Emulator, MyNumberCard};
use jpki_issuer::cards::CardPins;
use jpki_issuer::ocsp::OcspResponder;
use jpki_issuer::Issuer;
use jpki_profile::revocation_reason::RevocationReason;
use jpki_profile::KeyRole;
use jpki_profile::{BirthDate, CertKind, Device, FourInfo, Sex};
use jpki_server::transport::InProcessOcsp;
use jpki_verify::revocation::{OcspChecker, OcspTransport, RequestedMethod, RevocationMethod, RevocationPolicy, TransportError};
use jpki_verify::{signed_data, FailureCode, Progress, TrustStore, Verifier};
use time::OffsetDateTime;
use x509_ocsp::{BasicOcspResponse, OcspResponse};

struct Sandbox {
    rt: Arc<tokio::runtime::Runtime>,
    issuer: Issuer,
    responder: Arc<OcspResponder>,
    dir: tempfile::TempDir,
}

/// A responder that is down.
struct Down;

impl OcspTransport for Down {
    fn post(&self, url: &str, _request: &[u8]) -> Result<Vec<u8>, TransportError> {
        Err(TransportError::new(url, "connection refused"))
    }
}

impl Sandbox {
    fn new() -> Sandbox {
        let rt = Arc::new(tokio::runtime::Runtime::new().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let url = jpki_store::Database::sqlite_url(&dir.path().join("jpki.sqlite3"));
        let (issuer, responder) = rt.block_on(async {
            let db = jpki_store::Database::open(&url).await.unwrap();
            let (issuer, _) = Issuer::init(db.clone()).await.unwrap();
            let meter = jpki_issuer::meter::Meter::start(db);
            let responder = OcspResponder::start(issuer.clone(), meter).await.unwrap();
            (issuer, responder)
        });
        Sandbox { rt, issuer, responder, dir }
    }

    fn trust(&self) -> TrustStore {
        let anchors = KeyRole::ALL.iter().map(|r| jpki_verify::trust::Anchor::new(self.issuer.ca(*r).certificate.clone()).unwrap()).collect();
        TrustStore::new(anchors)
    }

    fn verifier(&self) -> Verifier {
        let transport = InProcessOcsp { runtime: self.rt.handle().clone(), responder: self.responder.clone() };
        Verifier { trust: self.trust(), ocsp: Some(OcspChecker::new("in-process", Box::new(transport))), crls: Default::default() }
    }

    fn card(&self, name: &str) -> (String, std::path::PathBuf) {
        let info = FourInfo::new(name, "東京都千代田区霞が関２－１－２", BirthDate::parse_iso("1980-02-17").unwrap(), Sex::Female).unwrap();
        let out = self.dir.path().join(jpki_store::new_id("card"));
        let pins = CardPins { signature: "ABC123".into(), authentication: "1234".into(), input_assistance: "1234".into(), resident_registry: "1234".into() };
        let person = self.rt.block_on(async {
            let person = self.issuer.add_person(info, None).await.unwrap();
            self.issuer.issue_card(&person.id, &pins, None, &out).await.unwrap();
            person
        });
        (person.id, out)
    }
}

fn sign_with_card(card: &std::path::Path, content: &[u8], attached: bool) -> Vec<u8> {
    let mut client = MyNumberCard::new(Emulator::open(CardDir::new(card)).unwrap());
    let cert = client.read_certificate(KeyRole::Signature, Some("ABC123")).unwrap();
    signed_data::build(content, &cert, attached, OffsetDateTime::now_utc(), |digest_info| client.sign(KeyRole::Signature, "ABC123", digest_info)).unwrap()
}

/// A transport that counts the requests it passes on.
struct Counting<T>(T, Arc<std::sync::atomic::AtomicUsize>);

impl<T: OcspTransport> OcspTransport for Counting<T> {
    fn post(&self, url: &str, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.0.post(url, request)
    }
}

/// OCSP answers up to an hour old accepted.
fn hour_old() -> RevocationPolicy {
    RevocationPolicy { method: RequestedMethod::Ocsp, max_age: time::Duration::hours(1) }
}

/// A responder that always serves the same response, whatever it is asked (a replay).
struct Replaying(Vec<u8>);

impl OcspTransport for Replaying {
    fn post(&self, _url: &str, _request: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(self.0.clone())
    }
}

#[test]
fn a_revocation_after_a_check_reads_revoked_on_the_next_check() {
    let sb = Sandbox::new();
    let verifier = sb.verifier();
    let (person, card) = sb.card("転居　太郎");
    let cms = sign_with_card(&card, b"contract", true);
    let check = |policy: RevocationPolicy| verifier.verify_cms_by(CertKind::Signature, policy, &cms, None, OffsetDateTime::now_utc()).unwrap();

    let first = check(RevocationPolicy::default());
    let r = first.revocation.as_ref().unwrap();
    assert!(first.valid, "{:?}", first.failure);
    assert_eq!((r.method, r.cached, r.produced_at.is_some()), (RevocationMethod::Ocsp, false, true));
    assert!(check(hour_old()).revocation.unwrap().cached, "an accepted age answers from the cache");

    sb.rt.block_on(sb.issuer.move_address(&person, "大阪府大阪市北区梅田１")).unwrap();
    // The tenant that accepted an hour-old answer gets it, and says so; the default asks again.
    let accepted = check(hour_old());
    assert!(accepted.valid && accepted.revocation.unwrap().cached);
    let fresh = check(RevocationPolicy::default());
    let r = fresh.revocation.as_ref().unwrap();
    assert_eq!((fresh.failure.as_ref().map(|f| f.code), r.method, r.cached), (Some(FailureCode::Revoked), RevocationMethod::Ocsp, false), "{fresh:?}");
    assert_eq!(r.reason, Some(RevocationReason::AffiliationChanged));
    // From now on the cache holds the revocation, which no later "good" replaces.
    assert_eq!(check(hour_old()).failure.map(|f| f.code), Some(FailureCode::Revoked));
}

#[test]
fn a_replayed_old_good_response_is_refused_and_a_listed_revocation_wins() {
    let sb = Sandbox::new();
    let (person, card) = sb.card("再送　花子");
    let cms = sign_with_card(&card, b"loan", true);
    let signer = signed_data::verify(&cms, None).unwrap().signer_certificate.to_vec();
    let cert = jpki_verify::chain::validate(&signer, &sb.trust(), OffsetDateTime::now_utc()).unwrap();

    // A genuine "good", re-dated a year back without nextUpdate and signed by the CA itself (as an
    // attacker who recorded one would serve it; dated so, the CA's signature is what makes it genuine).
    let recorded = sb.rt.block_on(sb.responder.respond(&jpki_verify::revocation::request(&cert, None).unwrap(), None)).to_vec();
    let response = OcspResponse::from_der(&recorded).unwrap();
    let mut basic = BasicOcspResponse::from_der(response.response_bytes.unwrap().response.as_bytes()).unwrap();
    let year_ago = x509_ocsp::OcspGeneralizedTime(
        der::asn1::GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(
            (OffsetDateTime::now_utc() - time::Duration::days(365)).unix_timestamp() as u64,
        ))
        .unwrap(),
    );
    basic.tbs_response_data.produced_at = year_ago;
    basic.tbs_response_data.responses[0].this_update = year_ago;
    basic.tbs_response_data.responses[0].next_update = None;
    basic.certs = None;
    let signature = sb.issuer.ca(KeyRole::Signature).key.sign_sha256(&basic.tbs_response_data.to_der().unwrap()).unwrap();
    basic.signature = der::asn1::BitString::from_bytes(&signature).unwrap();
    let replayed = OcspResponse::successful(basic).unwrap().to_der().unwrap();

    let verifier = Verifier { trust: sb.trust(), ocsp: Some(OcspChecker::new("replay", Box::new(Replaying(replayed)))), crls: Default::default() };
    let v = verifier.verify_cms(&cms, None, OffsetDateTime::now_utc()).unwrap();
    let failure = v.failure.unwrap();
    assert_eq!(failure.code, FailureCode::RevocationUnavailable, "{}", failure.message);
    assert!(failure.message.contains("too old"), "{}", failure.message);

    // Revoked, and the CRL saying so held: revoked, whatever the responder replays.
    sb.rt.block_on(sb.issuer.move_address(&person, "大阪府大阪市北区梅田１")).unwrap();
    let crl_dir = sb.dir.path().join("crl");
    let published = sb.rt.block_on(sb.issuer.publish_crl(KeyRole::Signature, &crl_dir)).unwrap();
    // One CRL per municipality: the one the certificate names lists it.
    for crl in &published {
        verifier.crls.ingest(&std::fs::read(&crl.path).unwrap(), &verifier.trust, OffsetDateTime::now_utc()).unwrap();
    }
    let v = verifier.verify_cms(&cms, None, OffsetDateTime::now_utc()).unwrap();
    assert_eq!((v.failure.map(|f| f.code), v.revocation.map(|r| r.method)), (Some(FailureCode::Revoked), Some(RevocationMethod::Crl)));
    // And by the CRL method itself.
    let crl = RevocationPolicy { method: RequestedMethod::Crl, max_age: time::Duration::ZERO };
    let v = verifier.verify_cms_by(CertKind::Signature, crl, &cms, None, OffsetDateTime::now_utc()).unwrap();
    let r = v.revocation.unwrap();
    assert_eq!((v.failure.map(|f| f.code), r.method, r.crl_number.is_some()), (Some(FailureCode::Revoked), RevocationMethod::Crl, true));
}

#[test]
fn crl_ingestion_refuses_a_rollback_and_an_expired_list() {
    let sb = Sandbox::new();
    let crls = jpki_verify::revocation::CrlStore::default();
    let dir = sb.dir.path().join("crl");
    let first = std::fs::read(sb.rt.block_on(sb.issuer.publish_crl(KeyRole::Signature, &dir)).unwrap()[0].path.clone()).unwrap();
    let second = std::fs::read(sb.rt.block_on(sb.issuer.publish_crl(KeyRole::Signature, &dir)).unwrap()[0].path.clone()).unwrap();
    let now = OffsetDateTime::now_utc();
    crls.ingest(&second, &sb.trust(), now).unwrap();
    let e = crls.ingest(&first, &sb.trust(), now).unwrap_err().to_string();
    assert!(e.contains("rollback"), "{e}");
    let e = crls.ingest(&second, &sb.trust(), now + time::Duration::days(3)).unwrap_err().to_string();
    assert!(e.contains("past its nextUpdate"), "{e}");
}

#[test]
fn only_asking_the_responder_is_left_for_later() {
    let sb = Sandbox::new();
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let transport = Counting(InProcessOcsp { runtime: sb.rt.handle().clone(), responder: sb.responder.clone() }, asked.clone());
    let verifier = Verifier { trust: sb.trust(), ocsp: Some(OcspChecker::new("in-process", Box::new(transport))), crls: Default::default() };
    let asked = || asked.load(std::sync::atomic::Ordering::SeqCst);
    let now = OffsetDateTime::now_utc();
    let (_, card) = sb.card("待機　次郎");
    let content = b"lease".to_vec();
    let cms = sign_with_card(&card, &content, false);

    // Nothing cached: the check stops for the CRL lookup (its caller's to make), then before the
    // responder, which is asked only by `ask`.
    let Ok(Progress::AwaitingCrl(lookup)) = verifier.verify_cms_without_waiting(&cms, Some(&content), now) else { panic!("expected to await the CRL lookup") };
    assert_eq!(lookup.certificate().jpki.kind, CertKind::Signature);
    let Progress::AwaitingResponder(pending) = lookup.with_crl(&verifier, None) else { panic!("expected to await the responder") };
    assert_eq!(asked(), 0);
    let v = pending.ask(&verifier);
    assert!(v.valid, "{:?}", v.failure);
    assert_eq!((v.revocation.unwrap().method, asked()), (RevocationMethod::Ocsp, 1));

    // Now cached: done without waiting when the caller accepts an hour-old answer, with the same signer.
    let Ok(Progress::AwaitingCrl(lookup)) = verifier.verify_cms_without_waiting_by(CertKind::Signature, hour_old(), &cms, Some(&content), now) else {
        panic!("expected to await the CRL lookup")
    };
    let Progress::Done(v) = lookup.with_crl(&verifier, None) else { panic!("expected a cached answer") };
    assert!(v.valid, "{:?}", v.failure);
    assert_eq!((v.revocation.unwrap().method, asked()), (RevocationMethod::OcspCached, 1));
    assert_eq!(v.signer.unwrap().name.as_deref(), Some("待機　次郎"));

    // Failures before revocation never wait; a verifier with no responder waits only for the CRL.
    let done_code = |verifier: &Verifier, content: &[u8]| match verifier.verify_cms_without_waiting(&cms, Some(content), now) {
        Ok(Progress::Done(v)) => v.failure.map(|f| f.code),
        Ok(Progress::AwaitingCrl(lookup)) if verifier.ocsp.is_none() => match lookup.with_crl(verifier, None) {
            Progress::Done(v) => v.failure.map(|f| f.code),
            _ => panic!("expected to be done"),
        },
        _ => panic!("expected to be done"),
    };
    let fresh = sb.verifier();
    assert_eq!(done_code(&fresh, b"altered"), Some(FailureCode::SignatureInvalid));
    let no_ocsp = Verifier { trust: sb.trust(), ocsp: None, crls: Default::default() };
    assert_eq!(done_code(&no_ocsp, &content), Some(FailureCode::RevocationUnavailable));
    assert_eq!(asked(), 1);
}

#[test]
fn card_signatures_verify_and_every_failure_has_its_reason() {
    let sb = Sandbox::new();
    let verifier = sb.verifier();
    let now = OffsetDateTime::now_utc();
    let (person, card) = sb.card("署名　花子");
    let content = b"application form".to_vec();

    for attached in [true, false] {
        let cms = sign_with_card(&card, &content, attached);
        let detached = (!attached).then_some(content.as_slice());
        let v = verifier.verify_cms_by(CertKind::Signature, hour_old(), &cms, detached, now).unwrap();
        assert!(v.valid, "{:?}", v.failure);
        let signer = v.signer.as_ref().unwrap();
        assert_eq!(signer.name.as_deref(), Some("署名　花子"));
        assert_eq!(signer.birth_date.as_deref(), Some("1980-02-17"));
        assert_eq!((signer.certificate_kind, signer.device), (CertKind::Signature, Some(Device::Card)));
        assert_eq!(v.revocation.as_ref().unwrap().method, if attached { RevocationMethod::Ocsp } else { RevocationMethod::OcspCached });
    }

    // Altered content.
    let cms = sign_with_card(&card, &content, false);
    let v = verifier.verify_cms(&cms, Some(b"application form (edited)"), now).unwrap();
    assert_eq!(v.failure.unwrap().code, FailureCode::SignatureInvalid);

    // Untrusted: a certificate from another sandbox's CA.
    let other = Sandbox::new();
    let (_, foreign_card) = other.card("他所　太郎");
    let v = verifier.verify_cms(&sign_with_card(&foreign_card, &content, true), None, now).unwrap();
    assert_eq!(v.failure.unwrap().code, FailureCode::Untrusted);

    // Expired at a later time; not yet valid before.
    let v = verifier.verify_cms(&cms, Some(&content), now + time::Duration::days(366 * 6)).unwrap();
    assert_eq!(v.failure.unwrap().code, FailureCode::Expired);

    // Responder down and nothing cached: fail closed.
    let offline = Verifier { trust: sb.trust(), ocsp: Some(OcspChecker::new("http://127.0.0.1:9/ocsp", Box::new(Down))), crls: Default::default() };
    let v = offline.verify_cms(&cms, Some(&content), now).unwrap();
    assert!(!v.valid);
    assert_eq!(v.failure.unwrap().code, FailureCode::RevocationUnavailable);
    let no_ocsp = Verifier { trust: sb.trust(), ocsp: None, crls: Default::default() };
    assert_eq!(no_ocsp.verify_cms(&cms, Some(&content), now).unwrap().failure.unwrap().code, FailureCode::RevocationUnavailable);

    // Revoked (the holder moved: affiliationChanged); a fresh verifier has no cached answer.
    sb.rt.block_on(sb.issuer.move_address(&person, "大阪府大阪市北区梅田１")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(600));
    let v = sb.verifier().verify_cms(&cms, Some(&content), OffsetDateTime::now_utc()).unwrap();
    let failure = v.failure.unwrap();
    assert_eq!(failure.code, FailureCode::Revoked, "{}", failure.message);
    assert_eq!(v.revocation.unwrap().reason, Some(jpki_profile::revocation_reason::RevocationReason::AffiliationChanged));
}

/// A new card's signature certificate, to be changed and [`resigned`].
fn signature_certificate(sb: &Sandbox, name: &str) -> x509_cert::Certificate {
    use der::Decode;
    let (_, card) = sb.card(name);
    let mut client = MyNumberCard::new(Emulator::open(CardDir::new(&card)).unwrap());
    x509_cert::Certificate::from_der(&client.read_certificate(KeyRole::Signature, Some("ABC123")).unwrap()).unwrap()
}

/// `original` with its extensions changed by `change`, re-signed by the signature CA.
fn resigned(sb: &Sandbox, original: &x509_cert::Certificate, change: impl Fn(&mut Vec<x509_cert::ext::Extension>)) -> Vec<u8> {
    use der::Encode;
    let mut cert = original.clone();
    change(cert.tbs_certificate.extensions.get_or_insert_with(Vec::new));
    let signature = sb.issuer.ca(KeyRole::Signature).key.sign_sha256(&cert.tbs_certificate.to_der().unwrap()).unwrap();
    cert.signature = der::asn1::BitString::from_bytes(&signature).unwrap();
    cert.to_der().unwrap()
}

/// RFC 5280 §4.2: an unknown extension is ignored unless it is critical, and then the certificate is
/// refused. The card's certificate is re-signed by its CA with one extra extension.
#[test]
fn an_unknown_critical_extension_is_refused_and_an_unknown_plain_one_ignored() {
    use der::Encode;
    let sb = Sandbox::new();
    let verifier = sb.verifier();
    let original = signature_certificate(&sb, "拡張　一郎");
    let with_extension = |critical: bool| {
        resigned(&sb, &original, |extensions| {
            extensions.push(x509_cert::ext::Extension {
                extn_id: const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1"),
                critical,
                extn_value: der::asn1::OctetString::new(der::asn1::Null.to_der().unwrap()).unwrap(),
            })
        })
    };
    let now = OffsetDateTime::now_utc();
    let plain = verifier.verify_certificate(&with_extension(false), now);
    assert!(plain.valid, "{:?}", plain.failure);
    let failure = verifier.verify_certificate(&with_extension(true), now).failure.unwrap();
    assert_eq!(failure.code, FailureCode::UnsupportedCriticalExtension);
    assert!(failure.message.contains("1.3.6.1.4.1.99999.1"), "{}", failure.message);
}

/// RFC 5280 §4.2.1.3: a key whose keyUsage leaves out digitalSignature does not verify signatures, even
/// in a certificate its CA signed.
#[test]
fn a_certificate_whose_key_usage_leaves_out_digital_signature_is_refused() {
    use der::Encode;
    use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
    let sb = Sandbox::new();
    let verifier = sb.verifier();
    let original = signature_certificate(&sb, "用途　次郎");
    let with_usage = |usage: KeyUsage| {
        resigned(&sb, &original, |extensions| {
            let key_usage = extensions.iter_mut().find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_KEY_USAGE).unwrap();
            key_usage.extn_value = der::asn1::OctetString::new(usage.to_der().unwrap()).unwrap();
        })
    };
    let now = OffsetDateTime::now_utc();
    let signing = verifier.verify_certificate(&with_usage(KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation)), now);
    assert!(signing.valid, "{:?}", signing.failure);
    let failure = verifier.verify_certificate(&with_usage(KeyUsage(KeyUsages::NonRepudiation | KeyUsages::KeyEncipherment)), now).failure.unwrap();
    assert_eq!(failure.code, FailureCode::WrongCertificateKind, "{}", failure.message);
    assert!(failure.message.contains("key usage"), "{}", failure.message);
}

#[test]
fn malformed_cms_is_an_error_not_a_panic() {
    let sb = Sandbox::new();
    let verifier = Verifier { trust: sb.trust(), ocsp: None, crls: Default::default() };
    let now = OffsetDateTime::now_utc();
    let (_, card) = sb.card("壊れ　次郎");
    let good = sign_with_card(&card, b"x", true);
    let mut cases: Vec<Vec<u8>> = vec![vec![], vec![0x30], vec![0x30, 0x80, 0x00, 0x00], b"not der at all".to_vec(), good[..good.len() / 2].to_vec()];
    for i in (0..good.len()).step_by(7) {
        let mut flipped = good.clone();
        flipped[i] ^= 0xff;
        cases.push(flipped);
    }
    for case in &cases {
        match verifier.verify_cms(case, None, now) {
            Err(problem) => assert!(problem.is_malformed_input(), "{problem}"),
            Ok(v) => assert!(!v.valid, "a corrupted CMS verified"),
        }
    }
    // Detached content given to an attached signature, and none to a detached one.
    assert!(matches!(verifier.verify_cms(&good, Some(b"x"), now).unwrap().failure.unwrap().code, FailureCode::ContentMismatch));
    let detached = sign_with_card(&card, b"x", false);
    assert_eq!(verifier.verify_cms(&detached, None, now).unwrap().failure.unwrap().code, FailureCode::ContentMismatch);
}

#[test]
fn jlis_roots_load_as_trust_anchors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../trust-anchors/jlis");
    let trust = TrustStore::from_dir(&dir).unwrap();
    assert_eq!(trust.anchors().len(), std::fs::read_dir(&dir).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "pem")).count());
    assert!(TrustStore::from_dir(std::path::Path::new("/nonexistent")).is_err());
}

/// A directory's certificates that are no JPKI CA (the sandbox's mdoc roots, a responder's) are left out
/// and named; a directory of nothing else has no trust anchors.
#[test]
fn certificates_that_are_no_jpki_ca_are_not_trust_anchors() {
    let sb = Sandbox::new();
    let dir = tempfile::tempdir().unwrap();
    let pem = |der: &[u8]| der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der).unwrap();
    let ca = sb.issuer.ca(KeyRole::Signature);
    std::fs::write(dir.path().join("responder.pem"), pem(&ca.responder_certificate_der)).unwrap();
    let only_responder = TrustStore::from_dir(dir.path()).unwrap_err();
    assert!(only_responder.to_string().contains("no JPKI CA certificates"), "{only_responder}");
    std::fs::write(dir.path().join("signature-ca.pem"), pem(&ca.certificate_der)).unwrap();
    let trust = TrustStore::from_dir(dir.path()).unwrap();
    assert_eq!(trust.anchors().len(), 1);
    assert_eq!(trust.anchors()[0].der, ca.certificate_der);
    assert_eq!(trust.skipped(), [dir.path().join("responder.pem")]);
}

/// CMS shapes other signers make, each read by `signed_data::verify` as `openssl cms -sign` wrote it: the
/// signer named by subject key identifier, no signed attributes (the signature covers the content),
/// SHA-512, PSS. Signed with a sandbox CA's key, whose certificate has a subject key identifier.
#[test]
fn signer_identified_by_key_id_without_attributes_sha512_and_pss() {
    if !std::process::Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success()) {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but openssl is not installed");
        jpki_store::testing::skipped("CMS shapes made by openssl (openssl is not installed)");
        return;
    }
    let sb = Sandbox::new();
    let ca = sb.issuer.ca(KeyRole::Signature);
    let (cert, key, msg) = (sb.dir.path().join("ca.pem"), sb.dir.path().join("ca.key"), sb.dir.path().join("msg.txt"));
    std::fs::write(&cert, der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &ca.certificate_der).unwrap()).unwrap();
    std::fs::write(&key, ca.key.pkcs8_pem()).unwrap();
    std::fs::write(&msg, "契約書 / contract\n").unwrap();
    let cases: [(&str, &[&str]); 4] =
        [("keyid", &["-keyid"]), ("noattr", &["-noattr"]), ("sha512", &["-md", "sha512"]), ("pss", &["-keyopt", "rsa_padding_mode:pss"])];
    for (name, extra) in cases {
        let out = sb.dir.path().join(format!("{name}.p7s"));
        // -keyopt applies to the signer before it: the options go last.
        let mut args = vec!["cms", "-sign", "-binary", "-nodetach", "-outform", "DER"];
        args.extend_from_slice(&[
            "-in",
            msg.to_str().unwrap(),
            "-out",
            out.to_str().unwrap(),
            "-signer",
            cert.to_str().unwrap(),
            "-inkey",
            key.to_str().unwrap(),
        ]);
        args.extend_from_slice(extra);
        let status = std::process::Command::new("openssl").args(&args).status().unwrap();
        assert!(status.success(), "openssl cms -sign {name}");
        let cms = std::fs::read(&out).unwrap();
        let signed = signed_data::verify(&cms, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(signed.signer_certificate, ca.certificate_der, "{name}");
        assert_eq!(signed.content, "契約書 / contract\n".as_bytes(), "{name}");
        assert_eq!(signed.signing_time.is_some(), name != "noattr", "{name}");
        // One flipped byte of the signature (the DER's last bytes) breaks it.
        let mut altered = cms.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(signed_data::verify(&altered, None).unwrap_err(), signed_data::CmsProblem::BadSignature, "{name}");
    }
}

/// Every single-bit flip of a valid CMS (detached, and attached) fails to parse, fails to verify, or
/// breaks a rule of RFC 5652 / 5280 that the verifier checks even outside the signature: the
/// SignedData and SignerInfo versions (§5.1, §5.3), the digestAlgorithms SET holding the signer's
/// digest algorithm, NULL or absent algorithm parameters (RFC 5754), and a certificate's outer
/// signatureAlgorithm equal to its inner one (RFC 5280 §4.1.1.2). None verifies as valid.
#[test]
fn no_single_bit_flip_of_a_valid_cms_verifies() {
    let sb = Sandbox::new();
    let verifier = sb.verifier();
    let now = OffsetDateTime::now_utc();
    let (_, card) = sb.card("変異　三郎");
    let content = b"bit flips".to_vec();
    for attached in [false, true] {
        let cms = sign_with_card(&card, &content, attached);
        let detached = (!attached).then_some(content.as_slice());
        assert!(verifier.verify_cms(&cms, detached, now).unwrap().valid);
        let (mut unreadable, mut refused) = (0, std::collections::BTreeMap::<&str, usize>::new());
        for bit in 0..cms.len() * 8 {
            let mut flipped = cms.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            match verifier.verify_cms(&flipped, detached, now) {
                Err(_) => unreadable += 1,
                Ok(v) => {
                    assert!(!v.valid, "flipping bit {bit} (byte {} of {}) left the CMS valid", bit / 8, cms.len());
                    *refused.entry(v.failure.unwrap().code.as_str()).or_default() += 1;
                }
            }
        }
        assert_eq!(unreadable + refused.values().sum::<usize>(), cms.len() * 8);
        // Flips of the fields outside the signature are among the refusals, each for what it breaks.
        assert!(refused.get("cms_malformed").is_some_and(|n| *n > 0), "{refused:?}");
        eprintln!("attached={attached}: {} flips: {unreadable} unreadable, refused {refused:?}", cms.len() * 8);
    }
}

/// The fields the bit flips above reach, one at a time, with the RFC's rule each breaks.
#[test]
fn fields_outside_the_signature_are_checked() {
    use der::{Decode, Encode};
    let sb = Sandbox::new();
    let (_, card) = sb.card("形式　四郎");
    let content = b"form".to_vec();
    let cms = sign_with_card(&card, &content, true);
    let info = cms::content_info::ContentInfo::from_der(&cms).unwrap();
    let signed: cms::signed_data::SignedData = info.content.decode_as().unwrap();
    let rebuild = |change: &dyn Fn(&mut cms::signed_data::SignedData)| {
        let mut s = signed.clone();
        change(&mut s);
        let info = cms::content_info::ContentInfo { content_type: info.content_type, content: der::Any::encode_from(&s).unwrap() };
        info.to_der().unwrap()
    };
    let problem = |der: &[u8]| signed_data::verify(der, None).err().map(|p| p.to_string());
    assert_eq!(problem(&rebuild(&|_| {})), None);
    let v3 = rebuild(&|s| s.version = cms::content_info::CmsVersion::V3);
    assert!(problem(&v3).unwrap().contains("SignedData version is 3; RFC 5652 §5 requires 1"), "{:?}", problem(&v3));
    let signer_v3 = rebuild(&|s| {
        let mut infos: Vec<_> = s.signer_infos.0.iter().cloned().collect();
        infos[0].version = cms::content_info::CmsVersion::V3;
        s.signer_infos = cms::signed_data::SignerInfos(der::asn1::SetOfVec::try_from(infos).unwrap());
    });
    assert!(problem(&signer_v3).unwrap().contains("SignerInfo version is 3"), "{:?}", problem(&signer_v3));
    let unlisted = rebuild(&|s| {
        let sha512 = spki::AlgorithmIdentifierOwned { oid: const_oid::db::rfc5912::ID_SHA_512, parameters: None };
        s.digest_algorithms = der::asn1::SetOfVec::try_from(vec![sha512]).unwrap();
    });
    assert!(problem(&unlisted).unwrap().contains("not among the SignedData's digestAlgorithms"), "{:?}", problem(&unlisted));
    let octet_params = rebuild(&|s| {
        let mut infos: Vec<_> = s.signer_infos.0.iter().cloned().collect();
        infos[0].signature_algorithm.parameters = Some(der::Any::new(der::Tag::OctetString, Vec::<u8>::new()).unwrap());
        s.signer_infos = cms::signed_data::SignerInfos(der::asn1::SetOfVec::try_from(infos).unwrap());
    });
    assert!(problem(&octet_params).unwrap().contains("must be NULL or absent"), "{:?}", problem(&octet_params));

    // A certificate whose outer signatureAlgorithm lost its NULL: malformed, not merely untrusted.
    let mut client = MyNumberCard::new(Emulator::open(CardDir::new(&card)).unwrap());
    let mut cert = x509_cert::Certificate::from_der(&client.read_certificate(KeyRole::Signature, Some("ABC123")).unwrap()).unwrap();
    cert.signature_algorithm.parameters = None;
    let v = sb.verifier().verify_certificate(&cert.to_der().unwrap(), OffsetDateTime::now_utc());
    let failure = v.failure.unwrap();
    assert_eq!(failure.code, FailureCode::CertificateMalformed, "{}", failure.message);
    assert!(failure.message.contains("RFC 5280 §4.1.1.2"), "{}", failure.message);
}

/// With neither OCSP nor a CRL, the failure says "no revocation information" once and then why, for each.
#[test]
fn an_unavailable_revocation_status_is_said_once_with_each_reason() {
    let sb = Sandbox::new();
    let (_, card) = sb.card("失効　不明");
    let content = b"offline".to_vec();
    let cms = sign_with_card(&card, &content, false);
    let offline = Verifier { trust: sb.trust(), ocsp: Some(OcspChecker::new("http://127.0.0.1:9/ocsp", Box::new(Down))), crls: Default::default() };
    let failure = offline.verify_cms(&cms, Some(&content), OffsetDateTime::now_utc()).unwrap().failure.unwrap();
    assert_eq!(failure.code, FailureCode::RevocationUnavailable);
    assert_eq!(failure.message.matches("no revocation information").count(), 1, "{}", failure.message);
    assert!(failure.message.contains("OCSP: http://127.0.0.1:9/ocsp: connection refused; CRL: no CRL of the issuing CA"), "{}", failure.message);
}

/// A CRL that cannot be used is said to be a CRL problem, not an OCSP one.
#[test]
fn an_unusable_crl_is_named_as_a_crl() {
    let sb = Sandbox::new();
    let crls = jpki_verify::revocation::CrlStore::default();
    let problem = crls.ingest(b"\x30\x03\x02\x01\x00", &sb.trust(), OffsetDateTime::now_utc()).unwrap_err().to_string();
    assert!(problem.starts_with("the CRL is not trustworthy: "), "{problem}");
    assert!(!problem.contains("OCSP"), "{problem}");
}
