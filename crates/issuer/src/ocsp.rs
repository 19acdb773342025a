//! The OCSP responder (RFC 6960).
//!
//! - Each CA has a delegated responder certificate (id-kp-OCSPSigning, id-pkix-ocsp-nocheck, §4.2.2.2);
//!   responses name it by key hash and carry it.
//! - A request without a nonce for one certificate is answered from a cache of pre-produced responses.
//!   When a certificate's status changes anywhere (the database's status epoch, polled), the cached
//!   responses are re-produced; an entry is also produced again once half its validity has passed.
//! - A request with a nonce (RFC 8954) gets a freshly signed response echoing it.
//! - A serial the CA never issued is `unknown`; a CertID naming neither CA is answered `unauthorized`
//!   (§2.3); anything that does not decode is `malformedRequest`. No input makes it fail otherwise.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use std::time::Duration;

use const_oid::db::rfc5912::{ID_SHA_1, ID_SHA_256};
use const_oid::ObjectIdentifier;
use der::asn1::{BitString, Null, OctetString};
use der::{Decode, Encode};
use jpki_profile::fees::ProvisionMethod;
use jpki_profile::revocation_reason::RevocationReason;
use jpki_store::sqlx;
use time::OffsetDateTime;
use x509_cert::ext::pkix::crl::CrlReason;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse, ResponderId, ResponseData, RevokedInfo, SingleResponse, Version,
};

use crate::ca::{generalized_time, key_id, sha256_with_rsa};
use crate::meter::{Meter, Provision};
use crate::{from_unix, now, Issuer, IssuerError};
use jpki_profile::KeyRole;

/// id-pkix-ocsp-nonce (RFC 6960 §4.4.1).
pub const ID_PKIX_OCSP_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");

/// How long a response is current (its nextUpdate − thisUpdate).
pub const RESPONSE_VALIDITY: time::Duration = time::Duration::hours(1);

/// Most responses re-produced after one status change (each costs one signature).
const MAX_REFRESH: usize = 10_000;

/// How often the responder looks for status changes made by other processes.
const EPOCH_POLL: Duration = Duration::from_millis(250);

/// The issuer name and key hashes by which requests name one CA.
struct CaIndex {
    role: KeyRole,
    hashes: Vec<(ObjectIdentifier, Vec<u8>, Vec<u8>)>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    role: KeyRole,
    hash_algorithm: ObjectIdentifier,
    serial: String,
}

struct Cached {
    cert_id: CertId,
    der: Bytes,
    produced_at: OffsetDateTime,
    /// Whether the answer is about a certificate the CA issued (and so is metered).
    known: bool,
}

/// What one answer said, for metering and callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Good,
    Revoked,
    Unknown,
}

pub struct OcspResponder {
    issuer: Issuer,
    index: Vec<CaIndex>,
    cache: RwLock<HashMap<CacheKey, Cached>>,
    epoch: AtomicI64,
    meter: Meter,
}

fn digest(alg: &ObjectIdentifier, data: &[u8]) -> Vec<u8> {
    if *alg == ID_SHA_1 {
        jpki_crypto::sha1(data).to_vec()
    } else {
        jpki_crypto::sha256(data).to_vec()
    }
}

impl OcspResponder {
    /// A responder for both CAs of `issuer`; starts watching the status epoch.
    pub async fn start(issuer: Issuer, meter: Meter) -> Result<Arc<OcspResponder>, IssuerError> {
        let mut index = Vec::new();
        for role in KeyRole::ALL {
            let ca = issuer.ca(role);
            let name = ca.name().to_der()?;
            let key = ca.certificate.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes();
            let hashes = [ID_SHA_1, ID_SHA_256].into_iter().map(|alg| (alg, digest(&alg, &name), digest(&alg, key))).collect();
            index.push(CaIndex { role, hashes });
        }
        let epoch = current_epoch(&issuer).await?;
        let responder = Arc::new(OcspResponder { issuer, index, cache: RwLock::new(HashMap::new()), epoch: AtomicI64::new(epoch), meter });
        let weak = Arc::downgrade(&responder);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(EPOCH_POLL).await;
                let Some(r) = weak.upgrade() else { break };
                match current_epoch(&r.issuer).await {
                    Ok(e) if e != r.epoch.load(Ordering::Acquire) => {
                        let stale = std::mem::take(&mut *r.cache.write().expect("cache lock"));
                        r.epoch.store(e, Ordering::Release);
                        r.refresh(stale).await;
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "cannot read the status epoch"),
                }
            }
        });
        Ok(responder)
    }

    /// Re-produces, after a status change, the responses that were being served, so that the certificates
    /// clients ask about keep being answered from pre-produced responses. The cache was emptied first:
    /// until a response is re-produced, requests produce it themselves.
    async fn refresh(&self, stale: HashMap<CacheKey, Cached>) {
        for (key, old) in stale.into_iter().take(MAX_REFRESH) {
            match self.produce_cached(key.role, &old.cert_id, now()).await {
                Ok(cached) => {
                    self.cache.write().expect("cache lock").entry(key).or_insert(cached);
                }
                Err(_) => tracing::warn!(serial = %key.serial, "could not re-produce an OCSP response"),
            }
        }
    }

    fn ca_for(&self, id: &CertId) -> Option<KeyRole> {
        let alg = id.hash_algorithm.oid;
        self.index.iter().find_map(|ca| {
            ca.hashes
                .iter()
                .any(|(a, n, k)| *a == alg && n.as_slice() == id.issuer_name_hash.as_bytes() && k.as_slice() == id.issuer_key_hash.as_bytes())
                .then_some(ca.role)
        })
    }

    /// Answers one DER OCSPRequest with a DER OCSPResponse. `operator_id` names the platform operator
    /// the answer is metered to (`None`: anonymous).
    pub async fn respond(&self, request: &[u8], operator_id: Option<&str>) -> Bytes {
        match self.try_respond(request, operator_id).await {
            Ok(der) => der,
            Err(Failure::Malformed) => status_only(OcspResponse::malformed_request()),
            Err(Failure::Unauthorized) => status_only(OcspResponse::unauthorized()),
            Err(Failure::Internal(e)) => {
                tracing::error!(error = %e, "OCSP responder failed");
                status_only(OcspResponse::internal_error())
            }
        }
    }

    async fn try_respond(&self, request: &[u8], operator_id: Option<&str>) -> Result<Bytes, Failure> {
        let request = parse_request(request)?;
        let roles: Vec<Option<KeyRole>> = request.cert_ids.iter().map(|id| self.ca_for(id)).collect();
        // One response is signed by one responder: the CA of the first certificate it can speak for.
        let Some(signer) = roles.iter().flatten().next().copied() else { return Err(Failure::Unauthorized) };

        let at = now();
        if let (None, [id]) = (&request.nonce, request.cert_ids.as_slice()) {
            let key = CacheKey { role: signer, hash_algorithm: id.hash_algorithm.oid, serial: serial_of(id) };
            let hit =
                self.cache.read().expect("cache lock").get(&key).and_then(|c| (at - c.produced_at < RESPONSE_VALIDITY / 2).then(|| (c.der.clone(), c.known)));
            let (der, known) = match hit {
                Some(hit) => hit,
                None => {
                    let cached = self.produce_cached(signer, id, at).await?;
                    let hit = (cached.der.clone(), cached.known);
                    self.cache.write().expect("cache lock").insert(key, cached);
                    hit
                }
            };
            if known {
                self.meter(operator_id, &[signer], at).await?;
            }
            return Ok(der);
        }

        let ids: Vec<(&CertId, Option<KeyRole>)> = request.cert_ids.iter().zip(roles.iter().map(|r| r.filter(|r| *r == signer))).collect();
        let (der, answers) = self.produce(signer, &ids, request.nonce, at).await?;
        let metered: Vec<KeyRole> = answers.iter().filter(|a| **a != Answer::Unknown).map(|_| signer).collect();
        self.meter(operator_id, &metered, at).await?;
        Ok(Bytes::from(der))
    }

    /// A signed response about one certificate without a nonce, ready to be cached.
    async fn produce_cached(&self, role: KeyRole, id: &CertId, at: OffsetDateTime) -> Result<Cached, Failure> {
        let (der, answers) = self.produce(role, &[(id, Some(role))], None, at).await?;
        Ok(Cached { cert_id: id.clone(), der: Bytes::from(der), produced_at: at, known: answers[0] != Answer::Unknown })
    }

    async fn meter(&self, operator_id: Option<&str>, roles: &[KeyRole], at: OffsetDateTime) -> Result<(), Failure> {
        let items = roles.iter().map(|role| Provision::revocation_info(operator_id.map(str::to_owned), *role, ProvisionMethod::Ocsp, at)).collect();
        self.meter.record(items).await.map_err(Failure::Internal)
    }

    /// Looks up and signs answers for `ids` (a `None` role: a CA this responder does not speak for).
    async fn produce(
        &self,
        signer: KeyRole,
        ids: &[(&CertId, Option<KeyRole>)],
        nonce: Option<x509_cert::ext::Extension>,
        at: OffsetDateTime,
    ) -> Result<(Vec<u8>, Vec<Answer>), Failure> {
        let mut responses = Vec::with_capacity(ids.len());
        let mut answers = Vec::with_capacity(ids.len());
        for (id, role) in ids {
            let (status, answer) = match role {
                Some(role) => self.status(*role, &serial_of(id)).await.map_err(Failure::Internal)?,
                None => (CertStatus::Unknown(Null), Answer::Unknown),
            };
            answers.push(answer);
            responses.push(SingleResponse {
                cert_id: (*id).clone(),
                cert_status: status,
                this_update: OcspGeneralizedTime(generalized_time(at).map_err(der_failure)?),
                next_update: Some(OcspGeneralizedTime(generalized_time(at + RESPONSE_VALIDITY).map_err(der_failure)?)),
                single_extensions: None,
            });
        }
        let ca = self.issuer.ca(signer);
        let data = ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByKey(
                OctetString::new(key_id(&ca.responder_certificate.tbs_certificate.subject_public_key_info).to_vec()).map_err(der_failure)?,
            ),
            produced_at: OcspGeneralizedTime(generalized_time(at).map_err(der_failure)?),
            responses,
            response_extensions: nonce.map(|n| vec![n]),
        };
        let signature = ca.responder_key.sign_sha256(&data.to_der().map_err(der_failure)?).map_err(|e| Failure::Internal(e.into()))?;
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: sha256_with_rsa(),
            signature: BitString::from_bytes(&signature).map_err(der_failure)?,
            certs: Some(vec![ca.responder_certificate.clone()]),
        };
        let response = OcspResponse::successful(basic).map_err(der_failure)?;
        Ok((response.to_der().map_err(der_failure)?, answers))
    }

    async fn status(&self, role: KeyRole, serial: &str) -> Result<(CertStatus, Answer), IssuerError> {
        let row: Option<(i64, Option<i64>, Option<i64>)> =
            sqlx::query_as("SELECT 1, revoked_at, revocation_reason FROM certificate WHERE serial = $1 AND ca_role = $2")
                .bind(serial)
                .bind(role.as_str())
                .fetch_optional(self.issuer.db().pool())
                .await?;
        Ok(match row {
            None => (CertStatus::Unknown(Null), Answer::Unknown),
            Some((_, None, _)) => (CertStatus::good(), Answer::Good),
            Some((_, Some(at), reason)) => {
                let reason = RevocationReason::from_code(reason.unwrap_or(0));
                // x509-ocsp's RevokedInfo carries x509-cert's CRLReason: the same enumeration, by its code.
                let reason = CrlReason::try_from(reason.code()).map_err(|_| der::Tag::Enumerated.value_error())?;
                let info = RevokedInfo { revocation_time: OcspGeneralizedTime(generalized_time(from_unix(at))?), revocation_reason: Some(reason) };
                (CertStatus::Revoked(info), Answer::Revoked)
            }
        })
    }
}

/// What the responder needs from an OCSPRequest.
#[derive(Debug)]
pub struct ParsedRequest {
    pub cert_ids: Vec<CertId>,
    /// The nonce extension, echoed as received.
    pub nonce: Option<x509_cert::ext::Extension>,
}

/// Decodes a DER OCSPRequest (RFC 6960 §4.1.1). Fails on anything that is not one, on an empty request
/// list, and on a nonce outside RFC 8954's 1..=32 octets.
pub fn parse_request(der: &[u8]) -> Result<ParsedRequest, Failure> {
    let request = OcspRequest::from_der(der).map_err(|_| Failure::Malformed)?;
    let tbs = request.tbs_request;
    if tbs.request_list.is_empty() {
        return Err(Failure::Malformed);
    }
    let nonce = tbs.request_extensions.into_iter().flatten().find(|e| e.extn_id == ID_PKIX_OCSP_NONCE);
    if let Some(n) = &nonce {
        let value = OctetString::from_der(n.extn_value.as_bytes()).map(|o| o.as_bytes().len()).unwrap_or(n.extn_value.as_bytes().len());
        if !(1..=32).contains(&value) {
            return Err(Failure::Malformed);
        }
    }
    Ok(ParsedRequest { cert_ids: tbs.request_list.into_iter().map(|r| r.req_cert).collect(), nonce })
}

/// Why a request got no successful response.
#[derive(Debug)]
pub enum Failure {
    Malformed,
    Unauthorized,
    Internal(IssuerError),
}

fn der_failure(e: der::Error) -> Failure {
    Failure::Internal(e.into())
}

fn serial_of(id: &CertId) -> String {
    jpki_profile::cert_profile::serial_hex(id.serial_number.as_bytes())
}

fn status_only(response: OcspResponse) -> Bytes {
    Bytes::from(response.to_der().expect("a status-only OCSPResponse encodes"))
}

async fn current_epoch(issuer: &Issuer) -> Result<i64, IssuerError> {
    let (epoch,): (i64,) = sqlx::query_as("SELECT status_epoch FROM issuer_state WHERE id = 1").fetch_one(issuer.db().pool()).await?;
    Ok(epoch)
}
