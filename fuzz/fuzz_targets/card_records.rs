//! What a card sends back, parsed by the client: the input-assistance, card-face and common records,
//! card-verifiable certificates and the seal check, on arbitrary bytes.
#![no_main]
use jpki_card::applications::{card_data, card_face, common, input_assistance, resident_registry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = input_assistance::parse_my_number(data);
    let _ = input_assistance::parse_attributes(data);
    let _ = card_face::parse_face(data);
    let _ = card_data::CvCertificate::parse(data);
    let _ = common::parse_card_record(data);
    let _ = resident_registry::parse_resident_code(data);
    let (a, b) = data.split_at(data.len() / 2);
    let _ = input_assistance::check_seal(a, b, Some(a), Some(b));
});
