//! The My Number Card's PINs: what each protects, its format, and how many wrong tries lock it.
//!
//! Sources: ../shared/reference/jpki-card.md §7 (OpenSC `card-jpki.c` JPKI_AUTH_PIN_MAX_TRIES and the
//! PKCS#15 PIN objects, jpki/myna `validate_jpki_sign_password`), and seed 001's description of the card's
//! four passwords. A locked PIN is reset only at the municipality (市区町村窓口).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PinKind {
    /// 署名用電子証明書のパスワード: protects the signature key and the signature certificate.
    Signature,
    /// 利用者証明用電子証明書の暗証番号: protects the authentication key.
    Authentication,
    /// 券面事項入力補助用の暗証番号: protects the input-assistance application's data.
    InputAssistance,
    /// 住民基本台帳用の暗証番号: the resident-registry application's PIN.
    ResidentRegistry,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PinError {
    #[error("the {kind} must be {min} to {max} characters long, got {len}")]
    Length { kind: PinKind, min: usize, max: usize, len: usize },
    #[error("the {kind} may contain only the digits 0-9")]
    NotDigits { kind: PinKind },
    #[error("the {kind} may contain only the capital letters A-Z and the digits 0-9")]
    NotUpperAlphanumeric { kind: PinKind },
    #[error("the {kind} must mix at least one letter and at least one digit")]
    NotMixed { kind: PinKind },
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
    pub const ALL: [PinKind; 4] =
        [PinKind::Signature, PinKind::Authentication, PinKind::InputAssistance, PinKind::ResidentRegistry];

    pub fn rule(self) -> PinRule {
        match self {
            PinKind::Signature => PinRule { min_len: 6, max_len: 16, alphanumeric: true, max_tries: 5 },
            PinKind::Authentication | PinKind::InputAssistance | PinKind::ResidentRegistry => {
                PinRule { min_len: 4, max_len: 4, alphanumeric: false, max_tries: 3 }
            }
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
            PinKind::Signature => "signature PIN (6-16 capital letters and digits)",
            PinKind::Authentication => "authentication PIN (4 digits)",
            PinKind::InputAssistance => "input-assistance PIN (4 digits)",
            PinKind::ResidentRegistry => "resident-registry PIN (4 digits)",
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
}
