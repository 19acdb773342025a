//! The platform API's JSON request bodies and their base64 fields on arbitrary bytes: decoded or
//! refused, never a panic; an OpenID Connect client's registration metadata checked as well.
#![no_main]
use jpki_server::v1::requests::{
    base64_field, ConsentRequest, LatestInfoRequest, LoginRequest, NewCustomer, NumberCheckRequest, NewPresentationRequest, NewTenant, PresentationAnswer, VerifyRequest,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<NewTenant>(data);
    if let Ok(v) = serde_json::from_slice::<VerifyRequest>(data) {
        let _ = base64_field("cms", &v.cms);
        let _ = v.content.as_deref().map(|c| base64_field("content", c));
    }
    if let Ok(l) = serde_json::from_slice::<LoginRequest>(data) {
        let _ = base64_field("certificate", &l.certificate);
        let _ = base64_field("signature", &l.signature);
    }
    if let Ok(r) = serde_json::from_slice::<NewPresentationRequest>(data) {
        for e in &r.elements {
            let _ = jpki_mdoc::mnc::element_path(e);
        }
    }
    let _ = serde_json::from_slice::<PresentationAnswer>(data);
    let _ = serde_json::from_slice::<NewCustomer>(data);
    let _ = serde_json::from_slice::<LatestInfoRequest>(data);
    if let Ok(n) = serde_json::from_slice::<NumberCheckRequest>(data) {
        let _ = base64_field("my_number_record", &n.my_number_record);
    }
    if let Ok(c) = serde_json::from_slice::<ConsentRequest>(data) {
        let _ = base64_field("cms", &c.cms);
    }
    if let Ok(meta) = serde_json::from_slice::<jpki_platform::oidc::clients::ClientMetadata>(data) {
        let _ = meta.check(false);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = base64_field("field", text);
    }
});
