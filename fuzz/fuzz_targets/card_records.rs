//! What a card sends back, parsed by the client: the input-assistance, card-face and common records,
//! card-verifiable certificates, the seal check and the platform's number check, on arbitrary bytes.
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
    // The number check of the platform on records a client sent.
    let (c, d) = b.split_at(b.len() / 2);
    let records = jpki_verify::input_assistance::Records { my_number: a, attributes: c, integrity: d, card_certificate: b };
    let signer = jpki_profile::FourInfo::new("x", "y", jpki_profile::BirthDate::parse_iso("2000-01-01").expect("a date"), jpki_profile::Sex::Male).expect("4 info");
    let _ = jpki_verify::input_assistance::check(&records, &[], &signer);
});
