//! Revocation checking through OCSP (RFC 6960) and CRLs (RFC 5280 §5), failing closed: a certificate is
//! good only on a verified, fresh answer saying so.
//!
//! Freshness is the relying party's to state ([`RevocationPolicy`]): an answer's age is counted from its
//! thisUpdate, a cached OCSP answer is used only within the age the request accepts (by default none: every
//! check asks the responder), and a response to a request carrying a nonce (RFC 8954) must echo it or
//! be young enough on its own. Evidence of revocation is never outweighed: a certificate that any held
//! CRL lists is revoked whatever an OCSP response says.
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
use jpki_profile::revocation_list::CrlScope;
use jpki_profile::revocation_reason::RevocationReason;
use serde::Serialize;
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_ocsp::{BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request, TbsRequest, Version};

use crate::chain::{signed_by, ValidCertificate};

/// How far a responder's clock may run ahead of ours, and how old a response without our nonce may be
/// when the request accepts no older answer.
const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// Where a relying party wants its revocation information from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestedMethod {
    /// The OCSP responder (one certificate per query).
    Ocsp,
    /// The CRL generation held (J-LIS publishes one a day).
    Crl,
}

impl RequestedMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestedMethod::Ocsp => "ocsp",
            RequestedMethod::Crl => "crl",
        }
    }

    pub fn parse(s: &str) -> Option<RequestedMethod> {
        [RequestedMethod::Ocsp, RequestedMethod::Crl].into_iter().find(|m| m.as_str() == s)
    }
}

/// What a verification accepts as revocation information: the method, and how old an answer may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationPolicy {
    pub method: RequestedMethod,
    /// The oldest answer accepted, counted from its thisUpdate; zero asks the OCSP responder every time.
    pub max_age: time::Duration,
}

impl Default for RevocationPolicy {
    /// The platform's default: fresh OCSP.
    fn default() -> Self {
        RevocationPolicy { method: RequestedMethod::Ocsp, max_age: time::Duration::ZERO }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationProblem {
    #[error("no revocation information: {0}")]
    Unavailable(String),
    #[error("the OCSP response is not trustworthy: {0}")]
    BadResponse(String),
    #[error("the CRL is not trustworthy: {0}")]
    BadCrl(String),
}

impl From<crate::crl_stream::CrlStreamError> for RevocationProblem {
    fn from(e: crate::crl_stream::CrlStreamError) -> Self {
        RevocationProblem::BadCrl(e.to_string())
    }
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
    /// Whether the answer was one held from an earlier check (a cached OCSP response).
    pub cached: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    /// The source's own time: the OCSP response's or the CRL's thisUpdate.
    #[serde(with = "time::serde::rfc3339")]
    pub this_update: OffsetDateTime,
    /// The OCSP response's producedAt.
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub produced_at: Option<OffsetDateTime>,
    /// The CRL's number (lower-case hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crl_number: Option<String>,
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

/// id-pkix-ocsp-nonce (RFC 6960 §4.4.1; its value an OCTET STRING of 1 to 32 octets, RFC 8954 §2.1).
const ID_PKIX_OCSP_NONCE: const_oid::ObjectIdentifier = const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");

fn nonce_extension(nonce: &[u8]) -> Result<x509_cert::ext::Extension, der::Error> {
    Ok(x509_cert::ext::Extension { extn_id: ID_PKIX_OCSP_NONCE, critical: false, extn_value: OctetString::new(OctetString::new(nonce)?.to_der()?)? })
}

/// The DER OCSP request for `cert`, with `nonce` when given.
pub fn request(cert: &ValidCertificate, nonce: Option<&[u8]>) -> Result<Vec<u8>, der::Error> {
    OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request { req_cert: cert_id(cert)?, single_request_extensions: None }],
            request_extensions: nonce.map(nonce_extension).transpose()?.map(|n| vec![n]),
        },
        optional_signature: None,
    }
    .to_der()
}

/// Checks an OCSP response for `cert` at `now`: signed by the issuing CA or by a responder it
/// delegated to (id-kp-OCSPSigning), about this certificate, and fresh: within its nextUpdate, and either
/// echoing `nonce` (the request's) or with a thisUpdate no older than `max_age` (and than [`CLOCK_SKEW`]
/// when `max_age` is less). A response carrying another nonce is refused.
pub fn check_response(
    cert: &ValidCertificate,
    der: &[u8],
    nonce: Option<&[u8]>,
    max_age: time::Duration,
    now: OffsetDateTime,
) -> Result<RevocationStatus, RevocationProblem> {
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
    if let Some(next) = next_update.filter(|n| *n < now) {
        return Err(RevocationProblem::Unavailable(format!("the response expired at {next}")));
    }
    let echoed = basic.tbs_response_data.response_extensions.iter().flatten().find(|e| e.extn_id == ID_PKIX_OCSP_NONCE);
    let echoed =
        echoed.map(|e| OctetString::from_der(e.extn_value.as_bytes()).map(|o| o.as_bytes().to_vec()).unwrap_or_else(|_| e.extn_value.as_bytes().to_vec()));
    match (nonce, echoed.as_deref()) {
        (Some(sent), Some(got)) if sent != got => return Err(bad("the response answers another request (its nonce differs)".into())),
        (Some(_), Some(_)) => {}
        _ if now - this_update > max_age.max(CLOCK_SKEW) => {
            return Err(bad(format!(
                "the response is too old: thisUpdate {this_update} and no nonce of this request, older than the {} s accepted",
                max_age.max(CLOCK_SKEW).whole_seconds()
            )));
        }
        _ => {}
    }
    let produced_at = time_of(&basic.tbs_response_data.produced_at);
    let (status, revoked_at, reason) = match &single.cert_status {
        CertStatus::Good(_) => (Status::Good, None, None),
        CertStatus::Unknown(_) => (Status::Unknown, None, None),
        CertStatus::Revoked(info) => {
            (Status::Revoked, Some(time_of(&info.revocation_time)), info.revocation_reason.map(|r| RevocationReason::from_code(i64::from(r as u32))))
        }
    };
    Ok(RevocationStatus {
        status,
        method: RevocationMethod::Ocsp,
        cached: false,
        checked_at: now,
        this_update,
        produced_at: Some(produced_at),
        crl_number: None,
        revoked_at,
        reason,
        next_update,
    })
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

    /// The status of `cert` at `now` from a cached response no older than `max_age` and within its
    /// nextUpdate, without asking anyone.
    pub fn cached(&self, cert: &ValidCertificate, max_age: time::Duration, now: OffsetDateTime) -> Option<RevocationStatus> {
        let cache = self.cache.lock().expect("cache lock");
        let cached = cache.get(&Self::cache_key(cert)).filter(|c| c.next_update.is_some_and(|n| n >= now) && now - c.this_update <= max_age)?;
        Some(RevocationStatus { method: RevocationMethod::OcspCached, cached: true, ..cached.clone() })
    }

    /// The status of `cert` at `now`, from the cache within `max_age`, else from the responder with a
    /// fresh nonce (which may block for up to the transport's timeout).
    pub fn status(&self, cert: &ValidCertificate, max_age: time::Duration, now: OffsetDateTime) -> Result<RevocationStatus, RevocationProblem> {
        if let Some(cached) = self.cached(cert, max_age, now) {
            return Ok(cached);
        }
        let key = Self::cache_key(cert);
        let nonce = jpki_crypto::random_bytes::<32>();
        let request = request(cert, Some(&nonce)).map_err(|e| RevocationProblem::Unavailable(e.to_string()))?;
        let response = self.transport.post(&self.url, &request).map_err(|e| RevocationProblem::Unavailable(e.to_string()))?;
        let status = check_response(cert, &response, Some(&nonce), max_age, now)?;
        let mut cache = self.cache.lock().expect("cache lock");
        // A newer answer replaces an older one; a "revoked" is kept over any later "good".
        let keep_old = cache.get(&key).is_some_and(|old| old.status == Status::Revoked && status.status != Status::Revoked);
        if status.next_update.is_some() && !keep_old {
            cache.insert(key, status.clone());
        }
        Ok(status)
    }
}

/// What the CRL generation held for a certificate's issuer says of it: the generation's times and
/// number, and the certificate's entry if it is listed. The in-memory [`CrlStore`] makes one; a platform
/// reads one from its database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlAnswer {
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
    /// The CRL number (lower-case hex; of a partitioned generation, the highest).
    pub number: Option<String>,
    /// The certificate's revocation time and reason, if the generation lists it.
    pub entry: Option<(OffsetDateTime, Option<RevocationReason>)>,
}

impl CrlAnswer {
    fn answer(&self, now: OffsetDateTime) -> RevocationStatus {
        let (status, revoked_at, reason) = match self.entry {
            Some((at, reason)) => (Status::Revoked, Some(at), reason),
            None => (Status::Good, None, None),
        };
        RevocationStatus {
            status,
            method: RevocationMethod::Crl,
            cached: false,
            checked_at: now,
            this_update: self.this_update,
            produced_at: None,
            crl_number: self.number.clone(),
            revoked_at,
            reason,
            next_update: self.next_update,
        }
    }

    /// The status this answer gives at `now`: none once the generation is past its nextUpdate (fail closed).
    pub fn current(&self, now: OffsetDateTime) -> Result<RevocationStatus, RevocationProblem> {
        if self.next_update.is_none_or(|n| n < now) {
            return Err(RevocationProblem::Unavailable("the CRL of the issuing CA is past its nextUpdate".into()));
        }
        Ok(self.answer(now))
    }

    /// The revocation this answer lists, whether or not its generation is still current: a revocation,
    /// once published, stands against any later "good".
    pub fn listed(&self, now: OffsetDateTime) -> Option<RevocationStatus> {
        self.entry.is_some().then(|| self.answer(now))
    }
}

/// The status from a CRL answer, or why there is none.
pub fn crl_status(answer: Option<&CrlAnswer>, now: OffsetDateTime) -> Result<RevocationStatus, RevocationProblem> {
    answer.ok_or_else(|| RevocationProblem::Unavailable("no CRL of the issuing CA".into()))?.current(now)
}

/// One ingested CRL: until when it is fresh, and what it revokes.
struct IngestedCrl {
    this_update: OffsetDateTime,
    number: Option<String>,
    next_update: Option<OffsetDateTime>,
    /// Serial (hex, as `JpkiCertificate::serial`) → (revocation time, reason).
    revoked: HashMap<String, (OffsetDateTime, Option<RevocationReason>)>,
}

/// The order of two CRL numbers (lower-case hex, as read); a list without a number precedes any with one.
pub fn crl_number_order(a: Option<&str>, b: Option<&str>) -> std::cmp::Ordering {
    let magnitude = |n: &str| n.trim_start_matches('0').to_owned();
    match (a.map(magnitude), b.map(magnitude)) {
        (Some(a), Some(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(&b)),
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
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

/// CRLs (J-LIS publishes one a day per CA and partition) verified against the trust anchors and held in
/// memory, the fallback when OCSP gives no answer; a CRL past its nextUpdate answers nothing (fail
/// closed).
#[derive(Default)]
pub struct CrlStore {
    lists: std::sync::RwLock<HashMap<(Vec<u8>, CrlScope), IngestedCrl>>,
}

impl CrlStore {
    /// Verifies `der` (signed by a trust anchor, already in force) and replaces that CA's list.
    pub fn ingest(&self, der: &[u8], trust: &crate::TrustStore, now: OffsetDateTime) -> Result<CrlSummary, RevocationProblem> {
        let (head, tail, entries) = crate::crl_stream::read_all(der, trust)?;
        check_times(head.this_update, head.next_update, now).map_err(RevocationProblem::BadCrl)?;
        let key = (head.issuer_der, tail.scope);
        if let Some(held) = self.lists.read().expect("CRL lock").get(&key) {
            check_number(tail.number.as_deref(), held.number.as_deref()).map_err(RevocationProblem::BadCrl)?;
        }
        let summary = CrlSummary { issuer: head.issuer.clone(), entries: entries.len(), this_update: head.this_update, next_update: head.next_update };
        let revoked = entries.into_iter().map(|e| (e.serial, (e.revoked_at, e.reason))).collect();
        let held = IngestedCrl { this_update: head.this_update, number: tail.number, next_update: head.next_update, revoked };
        self.lists.write().expect("CRL lock").insert(key, held);
        Ok(summary)
    }

    /// What the CRL held for `cert`'s issuer and distribution point (else for its whole issuer) says of it.
    pub fn answer(&self, cert: &ValidCertificate) -> Option<CrlAnswer> {
        let lists = self.lists.read().expect("CRL lock");
        let issuer = &cert.issuer.subject_der;
        let list = cert
            .jpki
            .crl_points
            .iter()
            .find_map(|p| lists.get(&(issuer.clone(), CrlScope::Point(p.clone()))))
            .or_else(|| lists.get(&(issuer.clone(), CrlScope::WholeCa)))?;
        Some(CrlAnswer {
            this_update: list.this_update,
            next_update: list.next_update,
            number: list.number.clone(),
            entry: list.revoked.get(&cert.jpki.serial).copied(),
        })
    }
}

/// Refuses a CRL dated in the future or already past its nextUpdate at `now`.
pub fn check_times(this_update: OffsetDateTime, next_update: Option<OffsetDateTime>, now: OffsetDateTime) -> Result<(), String> {
    if this_update > now + CLOCK_SKEW {
        return Err(format!("its thisUpdate {this_update} is in the future"));
    }
    match next_update {
        Some(next) if next < now => Err(format!("it is already past its nextUpdate {next}")),
        _ => Ok(()),
    }
}

/// Refuses a CRL whose number is lower than the one held (a rollback).
pub fn check_number(number: Option<&str>, held: Option<&str>) -> Result<(), String> {
    if crl_number_order(number, held) == std::cmp::Ordering::Less {
        return Err(format!("its number {} is lower than the {} held (a rollback)", number.unwrap_or("(none)"), held.unwrap_or("(none)")));
    }
    Ok(())
}
