//! The DigestInfo a relying party hands in for a sign transaction, on arbitrary bytes: refused by
//! name or read, and what is read writes back to DER that reads as the same.
#![no_main]
use jpki_verify::digest_info::DigestInfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = DigestInfo::from_der(data) {
        assert_eq!(DigestInfo::from_der(&info.to_der()).as_ref(), Ok(&info));
    }
});
