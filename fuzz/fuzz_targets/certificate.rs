//! The JPKI certificate profile decoder on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jpki_profile::JpkiCertificate::from_der(data);
});
