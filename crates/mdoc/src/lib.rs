//! ISO/IEC 18013-5 mobile documents (mdoc), as Japan's card-substitute electromagnetic record
//! (カード代替電磁的記録) uses them. One crate for the format, used by the issuer, the wallet and the
//! verifier alike:
//!
//! - [`cbor`]: CBOR encoding and typed access; [`cose`]: COSE_Sign1 / COSE_Mac0 and COSE_Key;
//! - [`mso`]: the Mobile Security Object (§9.1.2.4); [`document`]: IssuerSigned, DeviceSigned,
//!   Document and DeviceResponse (§8.3.2.1.2.2); [`issuance`]: making an IssuerSigned;
//! - [`request`]: DeviceRequest and reader authentication (§8.3.2.1.2.1, §9.1.4);
//! - [`transcript`]: SessionTranscript for every flow (§9.1.5.1; OpenID4VP 1.0 Appendix B.2.6);
//! - [`engagement`] and [`session`]: in-person device engagement and session encryption (§8.2, §9.1.1);
//! - [`device_auth`]: mdoc authentication by signature or MAC (§9.1.3);
//! - [`openid4vp`]: OpenID4VP 1.0 requests (DCQL, request objects) and `vp_token` answers for mdoc;
//! - [`verify`]: the verifier's checks (§9.3), [`trust`]: document signer and reader certificates to their roots (Annex B);
//! - [`status`]: the record's revocation status as an IETF Token Status List;
//! - [`mnc`]: the My Number card record profile (doctype, namespaces, elements, age_over_NN).
#![forbid(unsafe_code)]

pub mod cbor;
pub mod cose;
pub mod device_auth;
pub mod document;
pub mod engagement;
pub mod issuance;
pub mod mnc;
pub mod mso;
pub mod openid4vp;
pub mod request;
pub mod session;
pub mod status;
pub mod transcript;
pub mod trust;
pub mod verify;

pub use ciborium::Value;

/// Why an mdoc structure was refused. Each variant has a stable [`code`](MdocError::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MdocError {
    #[error("{what} is not valid CBOR: {reason}")]
    Cbor { what: &'static str, reason: String },
    #[error("{what}: {reason}")]
    Malformed { what: &'static str, reason: String },
    #[error("{what} has no {field:?}")]
    Missing { what: &'static str, field: &'static str },
    #[error("unsupported {what}: {value}")]
    Unsupported { what: &'static str, value: String },
    #[error("the response's status is {0}, not 0 (OK)")]
    ResponseStatus(u64),
    #[error("the document signer certificate does not chain to a trusted issuing authority (IACA): {0}")]
    UnknownIssuer(String),
    #[error("document signer certificate: {0}")]
    IssuerCertificate(String),
    #[error("the issuer's signature over the mobile security object does not verify")]
    IssuerSignature,
    #[error("document type {found:?} where {expected:?} was expected")]
    DocType { expected: String, found: String },
    #[error("the mobile security object expired at {valid_until}")]
    Expired { valid_until: String },
    #[error("the mobile security object is not valid before {valid_from}")]
    NotYetValid { valid_from: String },
    #[error("element {namespace}/{element} does not match its digest in the mobile security object (altered)")]
    DigestMismatch { namespace: String, element: String },
    #[error("element {namespace}/{element} has digest ID {digest_id}, which the mobile security object does not list")]
    UnknownDigest { namespace: String, element: String, digest_id: u64 },
    #[error("the device signature does not verify over this session's transcript (made for another session, or altered)")]
    DeviceSignature,
    #[error("the device MAC does not verify over this session's transcript (made for another session, or altered)")]
    DeviceMac,
    #[error("element {namespace}/{element} was disclosed but not requested")]
    NotRequested { namespace: String, element: String },
    #[error("the reader's request signature does not verify, or its certificate is not trusted: {0}")]
    ReaderAuth(String),
    #[error("the record is {0} by its issuer")]
    Revoked(&'static str),
    #[error("the record's status could not be checked: {0}")]
    StatusUnavailable(String),
    #[error("session encryption: {0}")]
    Session(String),
}

impl MdocError {
    pub(crate) fn malformed(what: &'static str, reason: impl Into<String>) -> Self {
        MdocError::Malformed { what, reason: reason.into() }
    }

    /// A stable identifier for API clients and logs.
    pub fn code(&self) -> &'static str {
        match self {
            MdocError::Cbor { .. } => "malformed_cbor",
            MdocError::Malformed { .. } | MdocError::Missing { .. } => "malformed_mdoc",
            MdocError::Unsupported { .. } => "unsupported",
            MdocError::ResponseStatus(_) => "response_status",
            MdocError::UnknownIssuer(_) => "unknown_issuer",
            MdocError::IssuerCertificate(_) => "issuer_certificate",
            MdocError::IssuerSignature => "issuer_signature",
            MdocError::DocType { .. } => "wrong_doctype",
            MdocError::Expired { .. } => "mso_expired",
            MdocError::NotYetValid { .. } => "mso_not_yet_valid",
            MdocError::DigestMismatch { .. } => "digest_mismatch",
            MdocError::UnknownDigest { .. } => "unknown_digest",
            MdocError::DeviceSignature => "device_signature",
            MdocError::DeviceMac => "device_mac",
            MdocError::NotRequested { .. } => "not_requested",
            MdocError::ReaderAuth(_) => "reader_auth",
            MdocError::Revoked(_) => "revoked",
            MdocError::StatusUnavailable(_) => "status_unavailable",
            MdocError::Session(_) => "session",
        }
    }
}
