//! CMS SignedData verification on arbitrary bytes, attached and with detached content: an error or a
//! result, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jpki_verify::signed_data::verify(data, None);
    let _ = jpki_verify::signed_data::verify(data, Some(b"content"));
});
