//! The OCSP responder's request parser on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jpki_issuer::ocsp::parse_request(data);
});
