//! Ledger matching on arbitrary text: a CSV line's fields, a ledger entry's fields, and the
//! normalization of names and addresses (kanji numerals, block markers, alternative characters):
//! an error or a result, never a panic.
#![no_main]
use jpki_profile::ledger::{match_four_info, normalize_address, normalize_name, LedgerEntry};
use jpki_profile::{BirthDate, FourInfo, Sex};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(fields) = jpki_platform::ledger::csv_fields(text) {
        let field = |i: usize| fields.get(i).map(String::as_str);
        let _ = jpki_platform::ledger::entry(field(0), field(1), field(2), field(3));
    }
    let _ = (normalize_name(text), normalize_address(text));
    if let Ok(info) = FourInfo::new("高橋　太郎", "東京都千代田区霞が関２－１－２", BirthDate::parse_iso("1980-02-17").unwrap(), Sex::Male) {
        let entry = LedgerEntry { name: Some(text.to_owned()), address: Some(text.to_owned()), ..Default::default() };
        let _ = match_four_info(&entry, &info);
    }
});
