//! 券面事項入力補助AP: My Number and the 4 information as text, for software that fills in forms
//! (../shared/reference/jpki-card.md §10).
//!
//! | EF | content | opened by |
//! |---|---|---|
//! | 0001 | `FF10 0C` + 12 digits + `FF FF` filler (17 bytes) | PIN or 照合番号A |
//! | 0002 | `FF20 { DF21 offsets, DF22 name, DF23 address, DF24 birth date YYYYMMDD, DF25 sex }` | PIN or 照合番号B |
//! | 0003 | `FF30 { DF31 SHA-256(EF 0001), DF32 SHA-256(EF 0002 from DF22 on), DF33 signature }` | PIN, A or B |
//! | 0004 | the issuer's card-verifiable certificate | free |
//! | 0005 | AP basic information `FF40 { DF41, DF42 key id }` | free |
//! | 0011, 0014, 0015 | PIN, 照合番号A, 照合番号B | |
//!
//! The DF33 signature is over `DF31 value ‖ DF32 value` (see [`super::card_data`]).

use jpki_profile::{BirthDate, FourInfo, Sex};

use super::card_data::{CardPublicKey, CvCertificate};
use crate::tlv::{self, TlvError};

pub const MY_NUMBER: u16 = 0x0001;
pub const ATTRIBUTES: u16 = 0x0002;
pub const INTEGRITY: u16 = 0x0003;
pub const CV_CERTIFICATE: u16 = 0x0004;
pub const BASIC_INFO: u16 = 0x0005;

/// Tag and length of EF 0001. The card marks tag `FF10` constructed yet stores the digits in it
/// directly, which no BER parser accepts, so this record is laid out by hand.
const MY_NUMBER_HEADER: [u8; 3] = [0xff, 0x10, 0x0c];

/// EF 0001.
pub fn my_number_ef(my_number: &str) -> Vec<u8> {
    let mut out = MY_NUMBER_HEADER.to_vec();
    out.extend_from_slice(my_number.as_bytes());
    out.extend_from_slice(&[0xff, 0xff]);
    out
}

/// EF 0002.
pub fn attributes_ef(info: &FourInfo) -> Vec<u8> {
    tlv::encode_with_offset_table(
        0xff20,
        0xdf21,
        vec![
            tlv::primitive(0xdf22, info.name.as_bytes()),
            tlv::primitive(0xdf23, info.address.as_bytes()),
            tlv::primitive(0xdf24, info.birth_date.to_compact().as_bytes()),
            tlv::primitive(0xdf25, &[b'0' + info.sex.code()]),
        ],
    )
}

/// The part of EF 0002 that DF32 digests: from the DF22 tag to the end.
fn attributes_digest(attributes_ef: &[u8]) -> Result<[u8; 32], TlvError> {
    let start = attributes_ef.windows(2).position(|w| w == [0xdf, 0x22]).ok_or(TlvError::Missing { what: "input-assistance attributes", tag: 0xdf22 })?;
    let record = tlv::parse("input-assistance attributes", 0xff20, attributes_ef)?;
    let end = record.to_vec().len();
    Ok(jpki_crypto::sha256(&attributes_ef[start..end]))
}

/// What the issuer signs: `SHA-256(EF 0001) ‖ SHA-256(EF 0002 from DF22)`.
pub fn to_be_signed(my_number: &str, info: &FourInfo) -> Vec<u8> {
    let mut out = jpki_crypto::sha256(&my_number_ef(my_number)).to_vec();
    out.extend(attributes_digest(&attributes_ef(info)).expect("our own record has DF22"));
    out
}

/// EF 0003.
pub fn integrity_ef(my_number: &str, info: &FourInfo, signature: &[u8]) -> Vec<u8> {
    let tbs = to_be_signed(my_number, info);
    tlv::constructed(0xff30, vec![tlv::primitive(0xdf31, &tbs[..32]), tlv::primitive(0xdf32, &tbs[32..]), tlv::primitive(0xdf33, signature)]).to_vec()
}

/// EF 0005.
pub fn basic_info_ef(signer: &CardPublicKey) -> Vec<u8> {
    tlv::constructed(0xff40, vec![tlv::primitive(0xdf41, &[0x06, 0x03, 0x0e, 0x01]), tlv::primitive(0xdf42, &signer.key_id())]).to_vec()
}

/// My Number from EF 0001.
pub fn parse_my_number(ef: &[u8]) -> Result<String, TlvError> {
    let bad = |reason: &str| TlvError::Malformed { what: "input-assistance My Number", reason: reason.to_owned() };
    let digits = ef.strip_prefix(&MY_NUMBER_HEADER[..]).ok_or_else(|| bad("expected FF 10 0C"))?;
    let digits = digits.get(..12).ok_or_else(|| bad("shorter than 12 digits"))?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad("not 12 digits"));
    }
    Ok(String::from_utf8_lossy(digits).into_owned())
}

/// The 4 information from EF 0002 (alternative-character flags are not on the card).
pub fn parse_attributes(ef: &[u8]) -> Result<FourInfo, TlvError> {
    const WHAT: &str = "input-assistance attributes";
    let record = tlv::parse(WHAT, 0xff20, ef)?;
    let text = |tag| -> Result<String, TlvError> {
        String::from_utf8(tlv::field(WHAT, &record, tag)?.to_vec())
            .map_err(|_| TlvError::Malformed { what: WHAT, reason: format!("field {tag:X} is not UTF-8") })
    };
    let bad = |reason: String| TlvError::Malformed { what: WHAT, reason };
    let birth_date = BirthDate::from_jpki(&text(0xdf24)?).map_err(|e| bad(e.to_string()))?;
    let sex = text(0xdf25)?.parse::<u8>().ok().and_then(Sex::from_code).ok_or_else(|| bad("unknown sex code".into()))?;
    FourInfo::new(&text(0xdf22)?, &text(0xdf23)?, birth_date, sex).map_err(|e| bad(e.to_string()))
}

/// How the data read from the card stands against the issuer's seal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SealCheck {
    /// The digests in EF 0003 match what was read and the signature verifies with the card's
    /// card-verifiable certificate.
    pub intact: bool,
    /// Key id (hex) of the certificate that signed the data.
    pub signer_key_id: String,
    /// The certificate is self-issued (a root); chaining to J-LIS's root needs its key, which is not public.
    pub signer_self_issued: bool,
}

/// Checks EF 0003 against the records read (`my_number_ef` and/or `attributes_ef`, whichever the
/// credential opened) and the card-verifiable certificate from EF 0004.
pub fn check_seal(integrity_ef: &[u8], cv_certificate: &[u8], my_number_ef: Option<&[u8]>, attributes_ef: Option<&[u8]>) -> Result<SealCheck, TlvError> {
    const WHAT: &str = "input-assistance integrity record";
    let record = tlv::parse(WHAT, 0xff30, integrity_ef)?;
    let (number_digest, attributes_digest_stored, signature) =
        (tlv::field(WHAT, &record, 0xdf31)?, tlv::field(WHAT, &record, 0xdf32)?, tlv::field(WHAT, &record, 0xdf33)?);
    let cert = CvCertificate::parse(cv_certificate)?;
    let mut tbs = number_digest.to_vec();
    tbs.extend_from_slice(attributes_digest_stored);
    let mut intact = cert.public_key.verifies_sha256(&tbs, signature);
    if let Some(ef) = my_number_ef {
        // The digest covers the whole EF, filler included: 17 bytes on real cards.
        intact &= jpki_crypto::sha256(ef) == number_digest;
    }
    if let Some(ef) = attributes_ef {
        intact &= attributes_digest(ef)? == attributes_digest_stored;
    }
    Ok(SealCheck { intact, signer_key_id: hex::encode(cert.subject_key_id), signer_self_issued: cert.is_self_issued() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::applications::card_data::cv_certificate;

    fn info() -> FourInfo {
        FourInfo::new("デジタル　花子", "東京都千代田区紀尾井町１－３", BirthDate::parse_iso("1980-02-17").unwrap(), Sex::Female).unwrap()
    }

    #[test]
    fn records_round_trip_and_the_seal_catches_changes() {
        let number = "621498320257";
        let ef1 = my_number_ef(number);
        assert_eq!(ef1.len(), 17);
        assert_eq!(&ef1[..3], &[0xff, 0x10, 0x0c]);
        assert_eq!(parse_my_number(&ef1).unwrap(), number);
        let ef2 = attributes_ef(&info());
        assert_eq!(parse_attributes(&ef2).unwrap(), info());

        let key = jpki_crypto::RsaKey::generate_2048().unwrap();
        let signature = key.sign_sha256(&to_be_signed(number, &info())).unwrap();
        let ef3 = integrity_ef(number, &info(), &signature);
        assert_eq!(ef3.len(), 336, "the size real cards' EF 0003 has");
        let cv = cv_certificate(&key).unwrap();
        let check = check_seal(&ef3, &cv, Some(&ef1), Some(&ef2)).unwrap();
        assert!(check.intact && check.signer_self_issued);

        let other = FourInfo { address: "大阪府".into(), address_alt: info().address_alt, ..info() };
        let forged = attributes_ef(&FourInfo::new(&other.name, &other.address, other.birth_date, other.sex).unwrap());
        assert!(!check_seal(&ef3, &cv, Some(&ef1), Some(&forged)).unwrap().intact);
        assert!(!check_seal(&ef3, &cv, Some(&my_number_ef("123456789018")), None).unwrap().intact);
        let other_key = jpki_crypto::RsaKey::generate_2048().unwrap();
        assert!(!check_seal(&ef3, &cv_certificate(&other_key).unwrap(), None, None).unwrap().intact);
        assert!(parse_my_number(&[0xff, 0x10, 0x02, b'1', b'2']).is_err());
        assert!(parse_attributes(&ef1).is_err());
    }
}
