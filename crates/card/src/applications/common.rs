//! 共通カードAP: the card's own identity. EF 0001 is record-structured; record 1 is the SIMPLE-TLV
//! `01 1C` + 28 ASCII digits: card serial (15), issuing municipality code (5), expiry date YYYYMMDD
//! (../shared/reference/jpki-card.md §12, from a reverse-engineered real card). PIN EF 001C holds the
//! resident-registry PIN with its own counter.

use serde::Serialize;

pub const CARD_RECORD: u16 = 0x0001;

pub fn card_record(card_serial: &str, municipality_code: &str, expiry_yyyymmdd: &str) -> Vec<u8> {
    let digits = format!("{card_serial}{municipality_code}{expiry_yyyymmdd}");
    let mut out = vec![0x01, digits.len() as u8];
    out.extend_from_slice(digits.as_bytes());
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardRecord {
    pub card_serial: String,
    pub municipality_code: String,
    /// YYYYMMDD.
    pub expires: String,
}

pub fn parse_card_record(record: &[u8]) -> Option<CardRecord> {
    let [0x01, 0x1c, digits @ ..] = record else { return None };
    if digits.len() != 28 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let text = String::from_utf8_lossy(digits);
    Some(CardRecord { card_serial: text[..15].into(), municipality_code: text[15..20].into(), expires: text[20..].into() })
}

#[cfg(test)]
mod tests {
    #[test]
    fn card_record_round_trip() {
        let record = super::card_record("123456789012345", "13101", "20351231");
        assert_eq!(record.len(), 30);
        let parsed = super::parse_card_record(&record).unwrap();
        assert_eq!(parsed.municipality_code, "13101");
        assert!(super::parse_card_record(&record[..29]).is_none());
    }
}
