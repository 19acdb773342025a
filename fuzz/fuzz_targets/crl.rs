//! The CRL reader on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jpki_profile::revocation_list::RevocationList::from_der(data);
});
