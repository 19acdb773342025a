//! Certificate path validation for JPKI's two-level hierarchy (end entity ← CA root), RFC 5280 §6.1
//! reduced to what JPKI uses: the issuer is a configured trust anchor with the end entity's issuer
//! name, its signature verifies, both are within their validity at the checked time, the anchor is a
//! CA of the same purpose (signature certificates under the signature CA, authentication under the
//! authentication CA), and the key usage allows signing.

use der::{Decode, Encode};
use jpki_profile::cert_profile::CertificateRef;
use jpki_profile::{CertKind, JpkiCertificate};
use time::OffsetDateTime;
use x509_cert::ext::pkix::KeyUsages;
use x509_cert::serial_number::SerialNumber;

use crate::algorithms;
use crate::failure::FailureCode;
use crate::trust::{Anchor, TrustStore};

/// Why a certificate is not acceptable; `code()` is stable for API clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateProblem {
    #[error("the certificate is malformed: {0}")]
    Malformed(String),
    #[error("the certificate's issuer ({0}) is not a configured trust anchor")]
    UnknownIssuer(String),
    #[error("the certificate's signature does not verify with its issuer's key")]
    BadSignature,
    #[error("the certificate is not valid before {0}")]
    NotYetValid(OffsetDateTime),
    #[error("the certificate expired at {0}")]
    Expired(OffsetDateTime),
    #[error("the trust anchor {0} is outside its validity period")]
    AnchorExpired(String),
    #[error("the certificate is a {kind} certificate, which cannot sign")]
    NotEndEntity { kind: &'static str },
    #[error("the {kind} certificate is issued by {anchor}, which is not its CA")]
    WrongIssuer { kind: &'static str, anchor: String },
    #[error("the key usage does not allow digital signatures")]
    KeyUsage,
    #[error("signed with the {found} certificate, not the {expected} certificate this check takes (documents are signed with the signature certificate; the authentication certificate proves who is present)")]
    WrongKind { expected: &'static str, found: &'static str },
    #[error("the certificate has a critical extension {0} this verifier does not process")]
    UnknownCriticalExtension(String),
}

impl CertificateProblem {
    pub fn code(&self) -> FailureCode {
        match self {
            CertificateProblem::Malformed(_) => FailureCode::CertificateMalformed,
            CertificateProblem::UnknownIssuer(_) | CertificateProblem::BadSignature | CertificateProblem::WrongIssuer { .. } => FailureCode::Untrusted,
            CertificateProblem::NotYetValid(_) => FailureCode::NotYetValid,
            CertificateProblem::Expired(_) | CertificateProblem::AnchorExpired(_) => FailureCode::Expired,
            CertificateProblem::NotEndEntity { .. } | CertificateProblem::KeyUsage | CertificateProblem::WrongKind { .. } => FailureCode::WrongCertificateKind,
            CertificateProblem::UnknownCriticalExtension(_) => FailureCode::UnsupportedCriticalExtension,
        }
    }
}

/// The extensions validation and the JPKI profile read (RFC 5280 §4.2: "A certificate-using system MUST
/// reject the certificate if it encounters a critical extension it does not recognize").
const PROCESSED_EXTENSIONS: [const_oid::ObjectIdentifier; 10] = {
    use const_oid::db::rfc5280::*;
    [
        ID_CE_BASIC_CONSTRAINTS, ID_CE_KEY_USAGE, ID_CE_EXT_KEY_USAGE, ID_CE_CERTIFICATE_POLICIES, ID_CE_SUBJECT_ALT_NAME, ID_CE_ISSUER_ALT_NAME,
        ID_CE_SUBJECT_KEY_IDENTIFIER, ID_CE_AUTHORITY_KEY_IDENTIFIER, ID_CE_CRL_DISTRIBUTION_POINTS, ID_PE_AUTHORITY_INFO_ACCESS,
    ]
};

/// A certificate that chains to a trust anchor.
#[derive(Debug, Clone)]
pub struct ValidCertificate {
    pub jpki: JpkiCertificate,
    pub serial_number: SerialNumber,
    pub issuer: std::sync::Arc<Anchor>,
    /// The certificate's DER.
    pub der: Vec<u8>,
}

/// The TBSCertificate's bytes as they are in `der` (the first element of the Certificate SEQUENCE, RFC
/// 5280 §4.1.1.1): the signed bytes, without re-encoding the decoded certificate.
fn tbs_bytes(der: &[u8]) -> Option<&[u8]> {
    use der::Reader;
    let mut reader = der::SliceReader::new(der).ok()?;
    der::Header::decode(&mut reader).ok()?;
    let start = usize::try_from(reader.position()).ok()?;
    let tbs = der::Header::decode(&mut reader).ok()?;
    let len = usize::try_from((tbs.encoded_len().ok()? + tbs.length).ok()?).ok()?;
    der.get(start..start.checked_add(len)?)
}

/// Whether `issuer` signed `cert`, whose DER is `der`.
pub fn signed_by(cert: &CertificateRef<'_>, der: &[u8], issuer: &Anchor) -> bool {
    let Some(tbs) = tbs_bytes(der) else { return false };
    let Ok(scheme) = algorithms::rsa_scheme(cert.signature_algorithm, None) else { return false };
    let Some(signature) = cert.signature.as_bytes() else { return false };
    issuer.verifies(scheme, tbs, signature)
}

/// Validates an end-entity certificate (DER) against `trust` at `at`.
pub fn validate(der: &[u8], trust: &TrustStore, at: OffsetDateTime) -> Result<ValidCertificate, CertificateProblem> {
    let certificate = CertificateRef::from_der(der).map_err(|e| CertificateProblem::Malformed(e.to_string()))?;
    validate_ref(&certificate, der, trust, at)
}

/// [`validate`] for a certificate already read from `der`.
pub fn validate_ref(certificate: &CertificateRef<'_>, der: &[u8], trust: &TrustStore, at: OffsetDateTime) -> Result<ValidCertificate, CertificateProblem> {
    let jpki = JpkiCertificate::from_ref(certificate).map_err(|e| CertificateProblem::Malformed(e.to_string()))?;
    // RFC 5280 §4.1.1.2: signatureAlgorithm "MUST contain the same algorithm identifier as the
    // signature field in the sequence tbsCertificate".
    if certificate.signature_algorithm != certificate.tbs_certificate.signature {
        return Err(CertificateProblem::Malformed("its signatureAlgorithm differs from the tbsCertificate's signature field (RFC 5280 §4.1.1.2)".into()));
    }
    algorithms::rsa_scheme(certificate.signature_algorithm, None).map_err(|e| CertificateProblem::Malformed(e.to_string()))?;
    let mut named = trust.named(certificate.tbs_certificate.issuer.as_bytes()).peekable();
    if named.peek().is_none() {
        return Err(CertificateProblem::UnknownIssuer(jpki.issuer.to_string()));
    }
    let issuer = named.find(|a| signed_by(certificate, der, a)).ok_or(CertificateProblem::BadSignature)?.clone();

    if at < issuer.not_before || at > issuer.not_after {
        return Err(CertificateProblem::AnchorExpired(issuer.certificate.tbs_certificate.subject.to_string()));
    }
    if at < jpki.not_before {
        return Err(CertificateProblem::NotYetValid(jpki.not_before));
    }
    if at > jpki.not_after {
        return Err(CertificateProblem::Expired(jpki.not_after));
    }
    let expected_ca = match jpki.kind {
        CertKind::Signature => CertKind::SignatureCa,
        CertKind::Authentication => CertKind::AuthenticationCa,
        other => return Err(CertificateProblem::NotEndEntity { kind: other.as_str() }),
    };
    if issuer.kind != expected_ca {
        return Err(CertificateProblem::WrongIssuer { kind: jpki.kind.as_str(), anchor: issuer.certificate.tbs_certificate.subject.to_string() });
    }
    if jpki.key_usage.is_some_and(|u| !u.0.contains(KeyUsages::DigitalSignature)) {
        return Err(CertificateProblem::KeyUsage);
    }
    if let Some(unknown) = certificate.tbs_certificate.extensions.iter().flatten().find(|e| e.critical && !PROCESSED_EXTENSIONS.iter().any(|p| e.extn_id == *p))
    {
        let name = unknown.extn_id.to_oid().map_or_else(|_| "(malformed OID)".to_owned(), |oid| oid.to_string());
        return Err(CertificateProblem::UnknownCriticalExtension(name));
    }
    Ok(ValidCertificate { jpki, serial_number: certificate.tbs_certificate.serial_number.clone(), issuer, der: der.to_vec() })
}
