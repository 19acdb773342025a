//! The streaming CRL reader on arbitrary bytes: the header, every entry, the extensions and the
//! signature's framing (against no trust anchor, so nothing verifies).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jpki_verify::crl_stream::read_all(data, &jpki_verify::TrustStore::new(Vec::new()));
});
