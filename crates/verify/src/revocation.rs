//! Revocation checking through OCSP (RFC 6960), failing closed: a certificate is good only on a
//! verified, fresh response saying so. Responses are cached until their nextUpdate.
//!
//! JPKI certificates carry no OCSP address (J-LIS's responder is reached over the platform operators'
//! dedicated network), so the responder URL is configuration: in the sandbox, the sandbox issuer's
//! `/issuer/ocsp`.

use std::collections::HashMap;
use std::sync::Mutex;

use const_oid::db::rfc5912::{ID_KP_OCSP_SIGNING, ID_SHA_1};
use const_oid::db::rfc6960::ID_PKIX_OCSP_BASIC;
use der::asn1::{Null, OctetString};
use der::referenced::OwnedToRef;
use der::{Any, Decode, Encode};
use jpki_profile::cert_profile::CertificateRef;
use jpki_profile::fees::ProvisionMethod;
use jpki_profile::revocation_reason::RevocationReason;
use serde::Serialize;
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_ocsp::{BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request, TbsRequest, Version};

use crate::chain::{signed_by, ValidCertificate};

/// How far a responder's clock may run ahead of ours.
const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationProblem {
    #[error("no revocation information: {0}")]
    Unavailable(String),
    #[error("the OCSP response is not trustworthy: {0}")]
    BadResponse(String),
    #[error("the CRL is not trustworthy: {0}")]
    BadCrl(String),
}

impl RevocationProblem {
    /// What went wrong, without the "no revocation information" that a combined problem says once.
    pub fn detail(&self) -> std::borrow::Cow<'_, str> {
        match self {
            RevocationProblem::Unavailable(why) => why.into(),
            other => other.to_string().into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Good,
    Revoked,
    Unknown,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Good => "good",
            Status::Revoked => "revoked",
            Status::Unknown => "unknown",
        })
    }
}

/// Where a revocation status came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationMethod {
    /// The OCSP responder, asked now.
    Ocsp,
    /// An OCSP response asked before and still within its nextUpdate.
    OcspCached,
    /// A CRL held (OCSP gave no answer).
    Crl,
}

impl RevocationMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationMethod::Ocsp => "ocsp",
            RevocationMethod::OcspCached => "ocsp_cached",
            RevocationMethod::Crl => "crl",
        }
    }

    /// How J-LIS provided the revocation information, for its fee table; `None` when it provided
    /// nothing new (a cached answer).
    pub fn provision(self) -> Option<ProvisionMethod> {
        match self {
            RevocationMethod::Ocsp => Some(ProvisionMethod::Ocsp),
            RevocationMethod::Crl => Some(ProvisionMethod::Crl),
            RevocationMethod::OcspCached => None,
        }
    }
}

impl std::fmt::Display for RevocationMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the revocation check found, and where from.
#[derive(Debug, Clone, Serialize)]
pub struct RevocationStatus {
    pub status: Status,
    pub method: RevocationMethod,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Serialized as its RFC 5280 name.
    pub reason: Option<RevocationReason>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_update: Option<OffsetDateTime>,
}

fn time_of(t: &x509_ocsp::OcspGeneralizedTime) -> OffsetDateTime {
    jpki_profile::cert_profile::unix_time(t.0.to_unix_duration()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn cert_id(cert: &ValidCertificate) -> Result<CertId, der::Error> {
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned { oid: ID_SHA_1, parameters: Some(Any::from(Null)) },
        issuer_name_hash: OctetString::new(cert.issuer.name_hash)?,
        issuer_key_hash: OctetString::new(cert.issuer.key_hash)?,
        serial_number: cert.serial_number.clone(),
    })
}

/// The DER OCSP request for `cert` (no nonce: responses are cached and shared).
pub fn request(cert: &ValidCertificate) -> Result<Vec<u8>, der::Error> {
    OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request { req_cert: cert_id(cert)?, single_request_extensions: None }],
            request_extensions: None,
        },
        optional_signature: None,
    }
    .to_der()
}

/// Checks an OCSP response for `cert` at `now`: signed by the issuing CA or by a responder it
/// delegated to (id-kp-OCSPSigning), about this certificate, and fresh.
pub fn check_response(cert: &ValidCertificate, der: &[u8], now: OffsetDateTime) -> Result<RevocationStatus, RevocationProblem> {
    let bad = |reason: String| RevocationProblem::BadResponse(reason);
    let response = OcspResponse::from_der(der).map_err(|e| bad(format!("not an OCSP response: {e}")))?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(RevocationProblem::Unavailable(format!("the responder answered {:?}", response.response_status)));
    }
    let bytes = response.response_bytes.ok_or_else(|| bad("no response bytes".into()))?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(bad(format!("response type {} is not basic", bytes.response_type)));
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let tbs = basic.tbs_response_data.to_der().map_err(|e| bad(e.to_string()))?;
    let scheme = crate::algorithms::rsa_scheme(basic.signature_algorithm.owned_to_ref(), None).map_err(|e| bad(e.to_string()))?;
    let signature = basic.signature.as_bytes().ok_or_else(|| bad("signature is not whole bytes".into()))?;
    let signed_by_ca = cert.issuer.verifies(scheme, &tbs, signature);
    let signed_by_delegate = || {
        basic.certs.iter().flatten().any(|responder| {
            let eku_ok = responder
                .tbs_certificate
                .extensions
                .iter()
                .flatten()
                .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_EXT_KEY_USAGE)
                .and_then(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok())
                .is_some_and(|eku| eku.0.contains(&ID_KP_OCSP_SIGNING));
            let validity = &responder.tbs_certificate.validity;
            let time = jpki_profile::cert_profile::x509_time;
            let in_time = time(&validity.not_before).is_some_and(|from| now >= from) && time(&validity.not_after).is_some_and(|until| now <= until);
            eku_ok
                && in_time
                && responder.tbs_certificate.issuer == cert.issuer.certificate.tbs_certificate.subject
                && responder.to_der().is_ok_and(|der| CertificateRef::from_der(&der).is_ok_and(|r| signed_by(&r, &der, &cert.issuer)))
                && jpki_crypto::verify_rsa(scheme, responder.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes(), &tbs, signature)
        })
    };
    if !signed_by_ca && !signed_by_delegate() {
        return Err(bad("not signed by the issuing CA or a responder it authorized".into()));
    }
    let id = cert_id(cert).map_err(|e| bad(e.to_string()))?;
    let single = basic.tbs_response_data.responses.iter().find(|r| r.cert_id == id).ok_or_else(|| bad("no answer about this certificate".into()))?;
    let this_update = time_of(&single.this_update);
    let next_update = single.next_update.as_ref().map(time_of);
    if this_update > now + CLOCK_SKEW {
        return Err(bad(format!("thisUpdate {this_update} is in the future")));
    }
    if next_update.is_some_and(|n| n < now) {
        return Err(RevocationProblem::Unavailable(format!("the response expired at {}", next_update.unwrap())));
    }
    let (status, revoked_at, reason) = match &single.cert_status {
        CertStatus::Good(_) => (Status::Good, None, None),
        CertStatus::Unknown(_) => (Status::Unknown, None, None),
        CertStatus::Revoked(info) => {
            (Status::Revoked, Some(time_of(&info.revocation_time)), info.revocation_reason.map(|r| RevocationReason::from_code(i64::from(r as u32))))
        }
    };
    Ok(RevocationStatus { status, method: RevocationMethod::Ocsp, checked_at: now, revoked_at, reason, next_update })
}

/// Something that answers OCSP requests: HTTP in production (the server crate's transports), the
/// sandbox responder in-process, anything in tests. This crate does no network I/O itself.
pub trait OcspTransport: Send + Sync {
    fn post(&self, url: &str, request: &[u8]) -> Result<Vec<u8>, TransportError>;
}

/// Revocation information that could not be fetched from where it was asked: unreachable, timed out,
/// an HTTP error, too large, or not served there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {reason}")]
pub struct TransportError {
    /// The URL (or in-process source) asked.
    pub location: String,
    pub reason: String,
}

impl TransportError {
    pub fn new(location: &str, reason: impl std::fmt::Display) -> TransportError {
        TransportError { location: location.to_owned(), reason: reason.to_string() }
    }
}

/// An OCSP checker with a cache shared by every verification in the process.
pub struct OcspChecker {
    url: String,
    transport: Box<dyn OcspTransport>,
    cache: Mutex<HashMap<Vec<u8>, RevocationStatus>>,
}

impl OcspChecker {
    pub fn new(url: impl Into<String>, transport: Box<dyn OcspTransport>) -> OcspChecker {
        OcspChecker { url: url.into(), transport, cache: Mutex::new(HashMap::new()) }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The cache's key for `cert`: the CertID's fields (issuer name and key hashes, serial).
    fn cache_key(cert: &ValidCertificate) -> Vec<u8> {
        [&cert.issuer.name_hash[..], &cert.issuer.key_hash, cert.serial_number.as_bytes()].concat()
    }

    /// The status of `cert` at `now` from a cached response that is still fresh, without asking anyone.
    pub fn cached(&self, cert: &ValidCertificate, now: OffsetDateTime) -> Option<RevocationStatus> {
        let cache = self.cache.lock().expect("cache lock");
        let cached = cache.get(&Self::cache_key(cert)).filter(|c| c.next_update.is_some_and(|n| n >= now))?;
        Some(RevocationStatus { method: RevocationMethod::OcspCached, ..cached.clone() })
    }

    /// The status of `cert` at `now`, from the cache while a response is fresh, else from the responder
    /// (which may block for up to the transport's timeout).
    pub fn status(&self, cert: &ValidCertificate, now: OffsetDateTime) -> Result<RevocationStatus, RevocationProblem> {
        if let Some(cached) = self.cached(cert, now) {
            return Ok(cached);
        }
        let key = Self::cache_key(cert);
        let request = request(cert).map_err(|e| RevocationProblem::Unavailable(e.to_string()))?;
        let response = self.transport.post(&self.url, &request).map_err(|e| RevocationProblem::Unavailable(e.to_string()))?;
        let status = check_response(cert, &response, now)?;
        if status.next_update.is_some() {
            self.cache.lock().expect("cache lock").insert(key, status.clone());
        }
        Ok(status)
    }
}

/// One ingested CRL: who issued it, until when it is fresh, and what it revokes.
struct IngestedCrl {
    next_update: Option<OffsetDateTime>,
    /// Serial (hex, as `JpkiCertificate::serial`) → (revocation time, reason).
    revoked: HashMap<String, (OffsetDateTime, Option<RevocationReason>)>,
}

/// What one ingestion found.
#[derive(Debug, Clone, Serialize)]
pub struct CrlSummary {
    pub issuer: String,
    pub entries: usize,
    #[serde(with = "time::serde::rfc3339")]
    pub this_update: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_update: Option<OffsetDateTime>,
}

/// CRLs (J-LIS publishes one a day per CA) verified against the trust anchors and held in memory, the
/// fallback when OCSP gives no answer; a CRL past its nextUpdate answers nothing (fail closed).
#[derive(Default)]
pub struct CrlStore {
    lists: std::sync::RwLock<HashMap<Vec<u8>, IngestedCrl>>,
}

impl CrlStore {
    /// Verifies `der` (signed by a trust anchor, already in force) and replaces that CA's list.
    pub fn ingest(&self, der: &[u8], trust: &crate::TrustStore, now: OffsetDateTime) -> Result<CrlSummary, RevocationProblem> {
        let bad = RevocationProblem::BadCrl;
        let crl = x509_cert::crl::CertificateList::from_der(der).map_err(|e| bad(e.to_string()))?;
        let issuer = crl.tbs_cert_list.issuer.to_der().map_err(|e| bad(e.to_string()))?;
        let tbs = crl.tbs_cert_list.to_der().map_err(|e| bad(e.to_string()))?;
        let scheme = crate::algorithms::rsa_scheme(crl.signature_algorithm.owned_to_ref(), None).map_err(|e| bad(e.to_string()))?;
        let signature = crl.signature.as_bytes().ok_or_else(|| bad("signature is not whole bytes".into()))?;
        if !trust.named(&issuer).any(|a| a.verifies(scheme, &tbs, signature)) {
            return Err(bad(format!("not signed by a trust anchor named {}", crl.tbs_cert_list.issuer)));
        }
        let list = jpki_profile::revocation_list::RevocationList::from_der(der).map_err(|e| bad(e.to_string()))?;
        if list.this_update > now + CLOCK_SKEW {
            return Err(bad(format!("thisUpdate {} is in the future", list.this_update)));
        }
        let summary = CrlSummary { issuer: list.issuer.clone(), entries: list.entries.len(), this_update: list.this_update, next_update: list.next_update };
        let revoked = list.entries.into_iter().map(|e| (e.serial, (e.revoked_at, e.reason))).collect();
        self.lists.write().expect("CRL lock").insert(issuer, IngestedCrl { next_update: list.next_update, revoked });
        Ok(summary)
    }

    /// The status of `cert` from its CA's CRL, if one is held and fresh at `now`.
    pub fn status(&self, cert: &ValidCertificate, now: OffsetDateTime) -> Result<RevocationStatus, RevocationProblem> {
        let lists = self.lists.read().expect("CRL lock");
        let list = lists.get(&cert.issuer.subject_der).ok_or_else(|| RevocationProblem::Unavailable("no CRL of the issuing CA".into()))?;
        if list.next_update.is_none_or(|n| n < now) {
            return Err(RevocationProblem::Unavailable("the CRL of the issuing CA is past its nextUpdate".into()));
        }
        let (status, revoked_at, reason) = match list.revoked.get(&cert.jpki.serial) {
            Some((at, reason)) => (Status::Revoked, Some(*at), *reason),
            None => (Status::Good, None, None),
        };
        Ok(RevocationStatus { status, method: RevocationMethod::Crl, checked_at: now, revoked_at, reason, next_update: list.next_update })
    }
}
