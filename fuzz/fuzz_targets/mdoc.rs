//! Every CBOR decoder of the mdoc crate on arbitrary bytes (DeviceResponse, DeviceRequest, IssuerSigned,
//! session messages, device engagement, status list tokens), the OpenID4VP request and `vp_token`
//! readers on whatever is JSON, and verification of whatever decodes: an error or a result, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

use jpki_mdoc::{document, engagement, mnc, openid4vp, request, session, status, transcript, trust, verify};

fuzz_target!(|data: &[u8]| {
    let _ = request::DeviceRequest::from_bytes(data);
    let _ = document::IssuerSigned::from_bytes(data).map(|i| i.mso());
    let _ = session::SessionEstablishment::from_bytes(data).map(|s| s.e_reader_key());
    let _ = session::SessionData::from_bytes(data);
    let _ = engagement::DeviceEngagement::from_bytes(data);
    let _ = transcript::SessionTranscript::from_tagged_bytes(data);
    let roots = trust::Roots::default();
    let _ = status::verify_token(data, "https://status.example/mnc", &roots, time::OffsetDateTime::UNIX_EPOCH);
    let t = transcript::SessionTranscript::dc_api("https://rp.example", "nonce", None);
    let expect = verify::Expectations { iaca: &roots, transcript: &t, e_reader_key: None, request: None, at: time::OffsetDateTime::UNIX_EPOCH };
    let _ = verify::verify_response(data, &expect);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = engagement::DeviceEngagement::from_qr(text);
        let _ = mnc::element_path(text);
        let _ = openid4vp::verify_request_object(text, &roots, time::OffsetDateTime::UNIX_EPOCH);
    }
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(r) = openid4vp::PresentationRequest::from_own_request(&json, Some("https://rp.example")) {
            let _ = r.device_response(&json);
            let _ = r.authorization_request(None);
        }
    }
});
