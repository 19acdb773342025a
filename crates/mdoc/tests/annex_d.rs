//! ISO/IEC 18013-5 Annex D worked example (the test vectors published with open implementations:
//! openwallet-foundation-labs/identity-credential `TestVectors.java`, the IACA root from
//! MinBZK/nl-wallet `examples.rs`). Our verifier accepts them and rejects altered copies.

use jpki_crypto::EcKey;
use jpki_mdoc::engagement::DeviceEngagement;
use jpki_mdoc::request::DeviceRequest;
use jpki_mdoc::session::{Role, SessionEncryption, SessionEstablishment};
use jpki_mdoc::transcript::SessionTranscript;
use jpki_mdoc::trust::Roots;
use jpki_mdoc::verify::{verify_response, Expectations};
use jpki_mdoc::MdocError;
use time::macros::datetime;

fn vector(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/vectors/iso18013-5-annex-d/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    hex::decode(std::fs::read_to_string(&path).unwrap().trim()).unwrap()
}

const EPHEMERAL_READER_KEY_D: &str = "de3b4b9e5f72dd9b58406ae3091434da48a6f9fd010d88fcb0958e2cebec947c";
const EPHEMERAL_DEVICE_KEY_D: &str = "c1917a1579949a042f1ba9fc53a2df9b1bc47adf31c10f813ed75702d1c1f136";

struct AnnexD {
    iaca: Roots,
    transcript: SessionTranscript,
    reader_key: EcKey,
    request: DeviceRequest,
}

fn annex_d() -> AnnexD {
    AnnexD {
        iaca: Roots::from_pem_or_der(&vector("iaca")).unwrap(),
        transcript: SessionTranscript::from_tagged_bytes(&vector("session-transcript-bytes")).unwrap(),
        reader_key: EcKey::from_p256_scalar(&hex::decode(EPHEMERAL_READER_KEY_D).unwrap()).unwrap(),
        request: DeviceRequest::from_bytes(&vector("device-request")).unwrap(),
    }
}

fn verify(
    d: &AnnexD,
    response: &[u8],
    transcript: &SessionTranscript,
    at: time::OffsetDateTime,
) -> Result<Vec<jpki_mdoc::verify::VerifiedDocument>, MdocError> {
    let expect = Expectations { iaca: &d.iaca, transcript, e_reader_key: Some(&d.reader_key), request: Some(&d.request.doc_requests[0].items_request), at };
    verify_response(response, &expect)
}

const AT: time::OffsetDateTime = datetime!(2021-01-01 0:00 UTC);

#[test]
fn the_annex_d_response_verifies() {
    let d = annex_d();
    let docs = verify(&d, &vector("device-response"), &d.transcript, AT).unwrap();
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    assert_eq!(doc.doc_type, "org.iso.18013.5.1.mDL");
    assert_eq!(doc.signer, "C=US,CN=utopia ds");
    assert_eq!(doc.element("org.iso.18013.5.1", "family_name").and_then(|v| v.as_text()), Some("Doe"));
    assert_eq!(doc.element("org.iso.18013.5.1", "document_number").and_then(|v| v.as_text()), Some("123456789"));
    assert_eq!(doc.elements.len(), 6);
}

/// Replaces the first occurrence of `from` in `bytes`.
fn altered(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes.windows(from.len()).position(|w| w == from).expect("pattern present");
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

#[test]
fn altered_copies_are_rejected_each_for_its_reason() {
    let d = annex_d();
    let response = vector("device-response");

    // "Doe" → "Dod" in family_name: the element no longer matches its digest.
    let tampered = altered(&response, b"\x63Doe", b"\x63Dod");
    let err = verify(&d, &tampered, &d.transcript, AT).unwrap_err();
    assert!(matches!(err, MdocError::DigestMismatch { ref element, .. } if element == "family_name"), "{err}");

    // A changed MSO byte (validUntil year 2021 → 2029): the issuer signature fails.
    let tampered = altered(&response, b"2021-10-01T13:30:02Z", b"2029-10-01T13:30:02Z");
    assert_eq!(verify(&d, &tampered, &d.transcript, AT).unwrap_err(), MdocError::IssuerSignature);

    // Replay under another session: same response, another transcript.
    let other = SessionTranscript::openid4vp("redirect_uri:https://rp.example/cb", "n-0S6_WzA2Mj", None, "https://rp.example/cb");
    assert_eq!(verify(&d, &response, &other, AT).unwrap_err(), MdocError::DeviceMac);

    // Expired: after the document signer certificate and the MSO.
    let err = verify(&d, &response, &d.transcript, datetime!(2022-01-01 0:00 UTC)).unwrap_err();
    assert_eq!(err.code(), "issuer_certificate", "{err}");

    // Unknown issuer: trust only the reader root.
    let mut other_roots = annex_d();
    other_roots.iaca = Roots::from_pem_or_der(&vector("reader-root")).unwrap();
    assert_eq!(verify(&other_roots, &response, &d.transcript, AT).unwrap_err().code(), "unknown_issuer");

    // Wrong document type asked for.
    let mut wrong = annex_d();
    wrong.request.doc_requests[0].items_request.doc_type = "org.iso.23220.1.jp.mnc".into();
    assert_eq!(verify(&wrong, &response, &d.transcript, AT).unwrap_err().code(), "wrong_doctype");

    // Disclosed but not requested.
    let mut fewer = annex_d();
    fewer.request.doc_requests[0].items_request.elements.retain(|e| e.identifier != "portrait");
    assert_eq!(verify(&fewer, &response, &d.transcript, AT).unwrap_err().code(), "not_requested");

    // Malformed CBOR: every truncation is refused with a reason, never a panic.
    for len in (0..response.len()).step_by(97) {
        let err = verify(&d, &response[..len], &d.transcript, AT).unwrap_err();
        assert!(matches!(err.code(), "malformed_cbor" | "malformed_mdoc"), "{len}: {err}");
    }
}

#[test]
fn session_establishment_decrypts_to_the_device_request_and_reader_auth_verifies() {
    let d = annex_d();
    let engagement = DeviceEngagement::from_bytes(&vector("device-engagement")).unwrap();
    let device_key = EcKey::from_p256_scalar(&hex::decode(EPHEMERAL_DEVICE_KEY_D).unwrap()).unwrap();
    assert_eq!(engagement.e_device_key, device_key.public_point());

    let establishment = SessionEstablishment::from_bytes(&vector("session-establishment")).unwrap();
    assert_eq!(establishment.e_reader_key().unwrap(), d.reader_key.public_point());
    let transcript = SessionTranscript::from_tagged_bytes(&vector("session-transcript-bytes")).unwrap();
    let mut device = SessionEncryption::new(Role::Device, &device_key, &establishment.e_reader_key().unwrap(), &transcript).unwrap();
    assert_eq!(device.decrypt(&establishment.data).unwrap(), vector("device-request"));

    // The reader side encrypts the same way: its first message equals the vector's.
    let mut reader = SessionEncryption::new(Role::Reader, &d.reader_key, &engagement.e_device_key, &transcript).unwrap();
    assert_eq!(reader.encrypt(&vector("device-request")).unwrap(), establishment.data);
    // A replayed message (counter already used) does not decrypt.
    assert!(device.decrypt(&establishment.data).is_err());

    let reader_roots = Roots::from_pem_or_der(&vector("reader-root")).unwrap();
    let reader = d.request.doc_requests[0].verify_reader(&transcript, &reader_roots, AT).unwrap().unwrap();
    assert_eq!(reader.subject(), "CN=reader");
    let other = SessionTranscript::dc_api("https://example.com", "nonce", None);
    assert_eq!(d.request.doc_requests[0].verify_reader(&other, &reader_roots, AT).unwrap_err().code(), "reader_auth");
}
