//! Why a verification is not valid: one code per reason, the stable string API clients match on
//! (`failure.code`), in one place.

use serde::Serialize;

/// A verification failure's code. Serialized, and [`FailureCode::as_str`], as the API's snake_case
/// string; new codes may be added, existing ones never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureCode {
    /// The certificate is not DER of an X.509 certificate (RFC 5280 §4.1).
    CertificateMalformed,
    /// No trust anchor issued it, or its signature does not verify.
    Untrusted,
    NotYetValid,
    Expired,
    /// A certificate of another kind than the check takes (a CA, the authentication certificate for a
    /// document signature, a key usage that does not allow signing).
    WrongCertificateKind,
    UnsupportedCriticalExtension,
    /// The CMS is readable but not as RFC 5652 requires.
    CmsMalformed,
    SignerCertificateMissing,
    /// The signed content is missing, given twice, or not the one signed.
    ContentMismatch,
    SignatureInvalid,
    UnsupportedAlgorithm,
    Revoked,
    /// The responder does not know the certificate.
    RevocationUnknown,
    /// No revocation information could be had (the check fails closed).
    RevocationUnavailable,
}

impl FailureCode {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCode::CertificateMalformed => "certificate_malformed",
            FailureCode::Untrusted => "untrusted",
            FailureCode::NotYetValid => "not_yet_valid",
            FailureCode::Expired => "expired",
            FailureCode::WrongCertificateKind => "wrong_certificate_kind",
            FailureCode::UnsupportedCriticalExtension => "unsupported_critical_extension",
            FailureCode::CmsMalformed => "cms_malformed",
            FailureCode::SignerCertificateMissing => "signer_certificate_missing",
            FailureCode::ContentMismatch => "content_mismatch",
            FailureCode::SignatureInvalid => "signature_invalid",
            FailureCode::UnsupportedAlgorithm => "unsupported_algorithm",
            FailureCode::Revoked => "revoked",
            FailureCode::RevocationUnknown => "revocation_unknown",
            FailureCode::RevocationUnavailable => "revocation_unavailable",
        }
    }
}

impl std::fmt::Display for FailureCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_string_of_a_code_is_its_serialization() {
        use FailureCode::*;
        let all = [
            CertificateMalformed, Untrusted, NotYetValid, Expired, WrongCertificateKind, UnsupportedCriticalExtension, CmsMalformed, SignerCertificateMissing,
            ContentMismatch, SignatureInvalid, UnsupportedAlgorithm, Revoked, RevocationUnknown, RevocationUnavailable,
        ];
        for code in all {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(code.as_str()));
        }
    }
}
