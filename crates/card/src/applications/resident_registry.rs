//! 住基AP: the resident-registry application, used by municipalities (住民基本台帳ネットワーク).
//! Real cards keep a 16-byte key reference in record EF 0002 and the PIN in EF 001C
//! (../shared/reference/jpki-card.md §12). Where the resident code (住民票コード) sits is not public; the
//! sandbox keeps it as 11 ASCII digits in binary EF 0001, readable after the PIN [openjpki layout].

pub const RESIDENT_CODE: u16 = 0x0001;
pub const KEY_REFERENCE: u16 = 0x0002;

pub fn key_reference(card_serial: &str) -> Vec<u8> {
    jpki_crypto::sha256(format!("juki:{card_serial}").as_bytes())[..16].to_vec()
}

/// The resident code from EF 0001.
pub fn parse_resident_code(ef: &[u8]) -> Option<String> {
    (ef.len() == 11 && ef.iter().all(u8::is_ascii_digit)).then(|| String::from_utf8_lossy(ef).into_owned())
}
