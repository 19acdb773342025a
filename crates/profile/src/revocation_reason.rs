//! Revocation reasons: RFC 5280 §5.3.1's CRLReason codes, their ASN.1 names, what each means at J-LIS
//! (the signature and user-authentication CAs' certification practice statements §4.9.9, as
//! ../shared/reference/jpki-lifecycle.md reproduces them), and which life event revokes which
//! certificate with which reason. One place for all of it.

use der::Enumerated;
use serde::{Serialize, Serializer};

use crate::KeyRole;

/// CRLReason (RFC 5280 §5.3.1). The codes are the enumeration's values, encoded and decoded by der's
/// derive; 7 is not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumerated)]
#[repr(u32)]
pub enum RevocationReason {
    Unspecified = 0,
    KeyCompromise = 1,
    CaCompromise = 2,
    AffiliationChanged = 3,
    Superseded = 4,
    CessationOfOperation = 5,
    CertificateHold = 6,
    RemoveFromCrl = 8,
    PrivilegeWithdrawn = 9,
    AaCompromise = 10,
}

impl RevocationReason {
    /// The RFC 5280 code.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The reason with RFC 5280 code `code`; `Unspecified` for a code RFC 5280 does not define (as
    /// a CRL entry without a reasonCode extension is read).
    pub fn from_code(code: i64) -> RevocationReason {
        u32::try_from(code).ok().and_then(|c| RevocationReason::try_from(c).ok()).unwrap_or(RevocationReason::Unspecified)
    }

    /// The name RFC 5280's ASN.1 module gives it (`affiliationChanged`, `cACompromise`, …).
    pub fn name(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
            RevocationReason::CaCompromise => "cACompromise",
            RevocationReason::AffiliationChanged => "affiliationChanged",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessationOfOperation",
            RevocationReason::CertificateHold => "certificateHold",
            RevocationReason::RemoveFromCrl => "removeFromCRL",
            RevocationReason::PrivilegeWithdrawn => "privilegeWithdrawn",
            RevocationReason::AaCompromise => "aACompromise",
        }
    }

    /// What it means in JPKI, for a relying party.
    pub fn jlis_meaning(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "destroyed before delivery (交付前に破棄)",
            RevocationReason::KeyCompromise => "the holder's private key was compromised",
            RevocationReason::CaCompromise => "the CA's private key was compromised",
            RevocationReason::AffiliationChanged => "the certificate's content changed: the holder moved or was renamed (4 information changed)",
            RevocationReason::Superseded => "renewed or replaced by a re-issued card",
            RevocationReason::CessationOfOperation => "no longer needed (the holder died, or stopped using it)",
            RevocationReason::CertificateHold => "held because the key's safety is in doubt (a card reported lost); J-LIS never lifts a hold",
            RevocationReason::RemoveFromCrl | RevocationReason::PrivilegeWithdrawn | RevocationReason::AaCompromise => "not used by J-LIS",
        }
    }
}

impl std::fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Serialized as its RFC 5280 name.
impl Serialize for RevocationReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// A life event of the holder, as far as JPKI certificates are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifeEvent {
    /// A move or a rename: the 4 information changed.
    FourInfoChange,
    /// The card (or phone) was reported lost.
    Loss,
    Death,
    /// Renewal, or a re-issued card replacing the certificates.
    Replacement,
}

impl LifeEvent {
    /// How the event revokes a certificate of `role`, if it does:
    ///
    /// | event | signature certificate | authentication certificate |
    /// |---|---|---|
    /// | 4-info change (move, rename) | affiliationChanged | stays valid (it carries no 4 info) |
    /// | loss | certificateHold, never lifted | certificateHold, never lifted |
    /// | death | cessationOfOperation | cessationOfOperation |
    /// | renewal, card re-issue | superseded | superseded |
    pub fn revokes(self, role: KeyRole) -> Option<RevocationReason> {
        match (self, role) {
            (LifeEvent::FourInfoChange, KeyRole::Signature) => Some(RevocationReason::AffiliationChanged),
            (LifeEvent::FourInfoChange, KeyRole::Authentication) => None,
            (LifeEvent::Loss, _) => Some(RevocationReason::CertificateHold),
            (LifeEvent::Death, _) => Some(RevocationReason::CessationOfOperation),
            (LifeEvent::Replacement, _) => Some(RevocationReason::Superseded),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Decode, Encode};

    #[test]
    fn codes_round_trip_through_der_and_names_are_rfc_5280s() {
        for code in 0..=10 {
            let reason = RevocationReason::from_code(code);
            if code == 7 {
                assert_eq!(reason, RevocationReason::Unspecified, "7 is not a reason");
                continue;
            }
            assert_eq!(i64::from(reason.code()), code);
            assert_eq!(RevocationReason::from_der(&reason.to_der().unwrap()).unwrap(), reason);
            // The same DER as x509-cert's CRLReason, which CRLs and OCSP answers carry.
            let theirs = x509_cert::ext::pkix::crl::CrlReason::from_der(&reason.to_der().unwrap()).unwrap();
            assert_eq!(theirs as u32, reason.code());
        }
        assert_eq!(RevocationReason::from_code(-1), RevocationReason::Unspecified);
        assert_eq!(RevocationReason::CaCompromise.name(), "cACompromise");
        assert_eq!(serde_json::to_value(RevocationReason::AffiliationChanged).unwrap(), "affiliationChanged");
    }

    #[test]
    fn a_move_revokes_only_the_signature_certificate() {
        assert_eq!(LifeEvent::FourInfoChange.revokes(KeyRole::Signature), Some(RevocationReason::AffiliationChanged));
        assert_eq!(LifeEvent::FourInfoChange.revokes(KeyRole::Authentication), None);
        assert_eq!(LifeEvent::Loss.revokes(KeyRole::Authentication), Some(RevocationReason::CertificateHold));
        assert_eq!(LifeEvent::Death.revokes(KeyRole::Signature), Some(RevocationReason::CessationOfOperation));
    }
}
