//! The My Number Card's PINs: what each protects, its format, and how many wrong tries lock it.
//!
//! Sources: ../shared/reference/jpki-card.md §7 (OpenSC `card-jpki.c` JPKI_AUTH_PIN_MAX_TRIES and the
//! PKCS#15 PIN objects, jpki/myna `validate_jpki_sign_password`), and seed 001's description of the card's
//! four passwords. A locked PIN is reset only at the municipality (市区町村窓口). The lock after 3 (4-digit
//! PINs) and 5 (signature password) wrong tries is stated by municipalities, e.g.
//! <http://www.town.masaki.ehime.jp/soshiki/7/17837.html>. The verification codes read off the card face
//! (照合番号A/B, the birth-date key) have no official retry count; a secondary source reports 10 for the
//! card-face application, which we use for all three [unconfirmed].

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PinKind {
    /// 署名用電子証明書のパスワード: protects the signature key and the signature certificate.
    Signature,
    /// 利用者証明用電子証明書の暗証番号: protects the authentication key.
    Authentication,
    /// 券面事項入力補助用の暗証番号: protects the input-assistance application's data.
    InputAssistance,
    /// 住民基本台帳用の暗証番号: the resident-registry application's PIN.
    ResidentRegistry,
    /// 照合番号A: the 12-digit My Number, opening the card-face and input-assistance data to someone who
    /// holds the card and reads its number off the back (券面事項確認AP, 券面事項入力補助AP).
    CardNumberCode,
    /// 照合番号B: date of birth in the Japanese era (YYMMDD) + the card's expiry year (YYYY) + the 4-digit
    /// security code printed on the front, 14 digits in all.
    CardFaceCode,
    /// The card-face application's date-of-birth key: YYMMDD in the Japanese era, opening the age record.
    BirthDateCode,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PinError {
    #[error("the {kind} must be {} characters long, got {len}", length(*min, *max))]
    Length { kind: PinKind, min: usize, max: usize, len: usize },
    #[error("the {kind} may contain only the digits 0-9")]
    NotDigits { kind: PinKind },
    #[error("the {kind} may contain only the capital letters A-Z and the digits 0-9")]
    NotUpperAlphanumeric { kind: PinKind },
    #[error("the {kind} must mix at least one letter and at least one digit")]
    NotMixed { kind: PinKind },
}

/// "4" for a fixed length, "6 to 16" for a range.
fn length(min: usize, max: usize) -> String {
    if min == max {
        min.to_string()
    } else {
        format!("{min} to {max}")
    }
}

/// Format and retry limit of one PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinRule {
    pub min_len: usize,
    pub max_len: usize,
    pub alphanumeric: bool,
    pub max_tries: u8,
}

impl PinKind {
    pub const ALL: [PinKind; 7] = [
        PinKind::Signature,
        PinKind::Authentication,
        PinKind::InputAssistance,
        PinKind::ResidentRegistry,
        PinKind::CardNumberCode,
        PinKind::CardFaceCode,
        PinKind::BirthDateCode,
    ];

    /// The PINs a holder chooses (and can change); the others are read off the card face.
    pub const CHOSEN: [PinKind; 4] = [PinKind::Signature, PinKind::Authentication, PinKind::InputAssistance, PinKind::ResidentRegistry];

    pub fn rule(self) -> PinRule {
        match self {
            PinKind::Signature => PinRule { min_len: 6, max_len: 16, alphanumeric: true, max_tries: 5 },
            PinKind::Authentication | PinKind::InputAssistance | PinKind::ResidentRegistry => {
                PinRule { min_len: 4, max_len: 4, alphanumeric: false, max_tries: 3 }
            }
            PinKind::CardNumberCode => PinRule { min_len: 12, max_len: 12, alphanumeric: false, max_tries: 10 },
            PinKind::CardFaceCode => PinRule { min_len: 14, max_len: 14, alphanumeric: false, max_tries: 10 },
            PinKind::BirthDateCode => PinRule { min_len: 6, max_len: 6, alphanumeric: false, max_tries: 10 },
        }
    }

    /// Checks a PIN a user chooses (issuance, PIN change). The signature password must mix letters and
    /// digits when chosen; the card itself compares whatever it is sent.
    pub fn validate_new(self, pin: &str) -> Result<(), PinError> {
        let rule = self.rule();
        let len = pin.chars().count();
        if len < rule.min_len || len > rule.max_len {
            return Err(PinError::Length { kind: self, min: rule.min_len, max: rule.max_len, len });
        }
        if rule.alphanumeric {
            if !pin.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
                return Err(PinError::NotUpperAlphanumeric { kind: self });
            }
            if !pin.bytes().any(|b| b.is_ascii_uppercase()) || !pin.bytes().any(|b| b.is_ascii_digit()) {
                return Err(PinError::NotMixed { kind: self });
            }
        } else if !pin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PinError::NotDigits { kind: self });
        }
        Ok(())
    }
}

impl fmt::Display for PinKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PinKind::Signature => "signature password (6-16 capital letters and digits)",
            PinKind::Authentication => "authentication PIN (4 digits)",
            PinKind::InputAssistance => "input-assistance PIN (4 digits)",
            PinKind::ResidentRegistry => "resident-registry PIN (4 digits)",
            PinKind::CardNumberCode => "verification code A (the 12-digit My Number)",
            PinKind::CardFaceCode => "verification code B (birth date YYMMDD in the Japanese era, expiry year, security code)",
            PinKind::BirthDateCode => "birth-date code (YYMMDD in the Japanese era)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(PinKind::Signature.validate_new("ABC123").is_ok());
        assert!(PinKind::Signature.validate_new("A1B2C3D4E5F6G7H8").is_ok());
        assert!(matches!(PinKind::Signature.validate_new("AB12"), Err(PinError::Length { .. })));
        assert!(matches!(PinKind::Signature.validate_new("abc123"), Err(PinError::NotUpperAlphanumeric { .. })));
        assert!(matches!(PinKind::Signature.validate_new("123456"), Err(PinError::NotMixed { .. })));
        assert!(PinKind::Authentication.validate_new("1234").is_ok());
        assert!(matches!(PinKind::Authentication.validate_new("12345"), Err(PinError::Length { .. })));
        assert!(matches!(PinKind::InputAssistance.validate_new("12a4"), Err(PinError::NotDigits { .. })));
        assert_eq!(PinKind::Signature.rule().max_tries, 5);
        assert_eq!(PinKind::Authentication.rule().max_tries, 3);
    }

    #[test]
    fn messages_read_as_sentences() {
        let fixed = PinKind::Authentication.validate_new("12345").unwrap_err().to_string();
        assert_eq!(fixed, "the authentication PIN (4 digits) must be 4 characters long, got 5");
        let range = PinKind::Signature.validate_new("AB12").unwrap_err().to_string();
        assert_eq!(range, "the signature password (6-16 capital letters and digits) must be 6 to 16 characters long, got 4");
    }
}
