//! The number check (番号確認) of use case ① with the card: the input-assistance application's records
//! (券面事項入力補助AP: My Number, the 4 information, and the issuer's digests and signature over them,
//! ../shared/reference/jpki-card.md §10) as read from the card, checked against a card issuer's key the
//! relying party trusts and against the 4 information of the signature certificate verified in the
//! same session. Seed 002's securities case: the signature (identity) plus these records (the number)
//! together are the number law's online identity and number check.

use jpki_card::applications::card_data::{CardPublicKey, CvCertificate};
use jpki_card::applications::input_assistance;
use jpki_profile::FourInfo;
use serde::Serialize;

/// The records as the card gave them (EF 0001 to 0004).
pub struct Records<'a> {
    pub my_number: &'a [u8],
    pub attributes: &'a [u8],
    pub integrity: &'a [u8],
    pub card_certificate: &'a [u8],
}

/// A number check that passed.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedNumber {
    pub my_number: String,
    pub four_info: FourInfo,
    /// Key id (hex) of the card issuer's key that sealed the records.
    pub issuer_key_id: String,
}

/// Why a number check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberCheckProblem {
    #[error("the records are malformed: {0}")]
    Malformed(String),
    /// The digests or the signature do not match what was read: the records were changed.
    #[error("the issuer's seal does not match the records: they were changed after the issuer signed them")]
    SealBroken,
    #[error("the records are sealed by card issuer key {0}, which is not a trusted one")]
    UntrustedIssuer(String),
    #[error("the records' 4 information differs from the signature certificate's in {}", .0.join(", "))]
    FourInfoMismatch(Vec<&'static str>),
}

impl NumberCheckProblem {
    /// The stable code the API answers.
    pub fn code(&self) -> &'static str {
        match self {
            NumberCheckProblem::Malformed(_) => "malformed_record",
            NumberCheckProblem::SealBroken => "seal_broken",
            NumberCheckProblem::UntrustedIssuer(_) => "untrusted_card_issuer",
            NumberCheckProblem::FourInfoMismatch(_) => "four_info_mismatch",
        }
    }
}

/// Checks `records`: sealed intact by a card-verifiable certificate whose key is one of `trusted` or
/// is certified by one of them, and holding the same 4 information as `signer` (the signature
/// certificate's; the card carries no alternative-character flags, so the text is compared).
pub fn check(records: &Records<'_>, trusted: &[CardPublicKey], signer: &FourInfo) -> Result<VerifiedNumber, NumberCheckProblem> {
    let malformed = |e: jpki_card::tlv::TlvError| NumberCheckProblem::Malformed(e.to_string());
    let certificate = CvCertificate::parse(records.card_certificate).map_err(malformed)?;
    let issuer_key_id = hex::encode(certificate.subject_key_id);
    if !trusted.iter().any(|t| *t == certificate.public_key || certificate.signed_by(t)) {
        return Err(NumberCheckProblem::UntrustedIssuer(issuer_key_id));
    }
    let seal =
        input_assistance::check_seal(records.integrity, records.card_certificate, Some(records.my_number), Some(records.attributes)).map_err(malformed)?;
    if !seal.intact {
        return Err(NumberCheckProblem::SealBroken);
    }
    let my_number = input_assistance::parse_my_number(records.my_number).map_err(malformed)?;
    let four_info = input_assistance::parse_attributes(records.attributes).map_err(malformed)?;
    let differ = four_info.differing_fields(signer, false);
    if !differ.is_empty() {
        return Err(NumberCheckProblem::FourInfoMismatch(differ));
    }
    Ok(VerifiedNumber { my_number, four_info, issuer_key_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpki_card::applications::card_data::cv_certificate;
    use jpki_profile::{BirthDate, Sex};

    fn info() -> FourInfo {
        FourInfo::new("番号　花子", "東京都千代田区霞が関２－１－２", BirthDate::parse_iso("1980-02-17").unwrap(), Sex::Female).unwrap()
    }

    #[test]
    fn trust_seal_and_four_info_are_each_checked() {
        let number = "621498320257";
        let key = jpki_crypto::RsaKey::generate_2048().unwrap();
        let signature = key.sign_sha256(&input_assistance::to_be_signed(number, &info())).unwrap();
        let (ef1, ef2, ef3, cv) = (
            input_assistance::my_number_ef(number),
            input_assistance::attributes_ef(&info()),
            input_assistance::integrity_ef(number, &info(), &signature),
            cv_certificate(&key).unwrap(),
        );
        let records = Records { my_number: &ef1, attributes: &ef2, integrity: &ef3, card_certificate: &cv };
        let trusted = [CardPublicKey::of(&key)];
        let ok = check(&records, &trusted, &info()).unwrap();
        assert_eq!((ok.my_number.as_str(), &ok.four_info), (number, &info()));

        let stranger = [CardPublicKey::of(&jpki_crypto::RsaKey::generate_2048().unwrap())];
        assert!(matches!(check(&records, &stranger, &info()), Err(NumberCheckProblem::UntrustedIssuer(_))));
        assert_eq!(check(&records, &[], &info()).unwrap_err().code(), "untrusted_card_issuer");
        let moved = FourInfo::new(&info().name, "大阪府大阪市北区梅田１", info().birth_date, info().sex).unwrap();
        assert_eq!(check(&records, &trusted, &moved).unwrap_err(), NumberCheckProblem::FourInfoMismatch(vec!["address"]));
        let other_number = input_assistance::my_number_ef("123456789018");
        assert_eq!(check(&Records { my_number: &other_number, ..records }, &trusted, &info()).unwrap_err(), NumberCheckProblem::SealBroken);
        assert_eq!(check(&Records { card_certificate: b"x", ..records }, &trusted, &info()).unwrap_err().code(), "malformed_record");
        assert_eq!(check(&Records { integrity: &ef3[..10], ..records }, &trusted, &info()).unwrap_err().code(), "malformed_record");
    }
}
