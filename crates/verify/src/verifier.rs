//! One verification, start to end: the signature, the signer's certificate chain, and its revocation
//! status, with a result that says valid or exactly why not.

use jpki_profile::cert_profile::Device;
use jpki_profile::{CertKind, FourInfo};
use serde::Serialize;
use time::OffsetDateTime;

use crate::chain::{self, CertificateProblem, ValidCertificate};
use crate::failure::FailureCode;
use crate::revocation::{crl_status, CrlAnswer, CrlStore, OcspChecker, RequestedMethod, RevocationPolicy, RevocationProblem, RevocationStatus, Status};
use crate::signed_data::{self, CmsProblem};
use crate::trust::TrustStore;

/// The signer as a relying party sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Signer {
    pub name: Option<String>,
    pub address: Option<String>,
    /// YYYY-MM-DD.
    pub birth_date: Option<String>,
    pub sex: Option<String>,
    pub certificate_serial: String,
    pub certificate_kind: CertKind,
    pub device: Option<Device>,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    #[serde(skip)]
    pub four_info: Option<FourInfo>,
    /// The certificate's DER: kept by the platform, never sent to a tenant.
    #[serde(skip)]
    pub certificate: Vec<u8>,
    /// The DER of the issuer's name, under which its CRLs are held.
    #[serde(skip)]
    pub issuer_name: Vec<u8>,
}

impl Signer {
    fn of(cert: ValidCertificate) -> Signer {
        let info = cert.jpki.four_info;
        Signer {
            name: info.as_ref().map(|i| i.name.clone()),
            address: info.as_ref().map(|i| i.address.clone()),
            birth_date: info.as_ref().map(|i| i.birth_date.to_string()),
            sex: info.as_ref().map(|i| i.sex.as_str().to_owned()),
            certificate_serial: cert.jpki.serial,
            certificate_kind: cert.jpki.kind,
            device: cert.jpki.device,
            not_after: cert.jpki.not_after,
            four_info: info,
            certificate: cert.der,
            issuer_name: cert.issuer.subject_der.clone(),
        }
    }
}

/// Why a verification failed: its code, stable for API clients, and what happened.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub code: FailureCode,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub valid: bool,
    pub failure: Option<Failure>,
    pub signer: Option<Signer>,
    pub revocation: Option<RevocationStatus>,
    #[serde(with = "time::serde::rfc3339")]
    pub verified_at: OffsetDateTime,
}

/// `valid` if it is a certificate of `kind`.
fn of_kind(valid: ValidCertificate, kind: CertKind) -> Result<ValidCertificate, CertificateProblem> {
    if valid.jpki.kind == kind {
        Ok(valid)
    } else {
        Err(CertificateProblem::WrongKind { expected: kind.as_str(), found: valid.jpki.kind.as_str() })
    }
}

/// Trust anchors plus a revocation source: everything a verification needs.
pub struct Verifier {
    pub trust: TrustStore,
    /// `None` (and no fresh CRL) verifies offline and says so: the result is never valid without
    /// revocation information.
    pub ocsp: Option<OcspChecker>,
    /// CRLs held in memory, asked by [`Progress::finish`] (a platform looks its generations up itself).
    pub crls: std::sync::Arc<CrlStore>,
}

/// How far a verification got without waiting on anything outside the process.
pub enum Progress {
    Done(Verification),
    /// The signer's certificate chains to a trust anchor: what the CRL generation held for its issuer
    /// says of it is needed next (a platform looks it up in its database).
    AwaitingCrl(AwaitingCrl),
    /// No fresh OCSP answer is cached: the responder has to be asked, which may block.
    AwaitingResponder(AwaitingResponder),
}

impl Progress {
    /// The verification, with the verifier's in-memory CRLs, asking the OCSP responder if it has to
    /// (blocking).
    pub fn finish(self, verifier: &Verifier) -> Verification {
        match self {
            Progress::Done(verification) => verification,
            Progress::AwaitingCrl(pending) => {
                let crl = verifier.crls.answer(&pending.certificate);
                pending.with_crl(verifier, crl).finish(verifier)
            }
            Progress::AwaitingResponder(pending) => pending.ask(verifier),
        }
    }
}

/// A verification waiting for what the CRL says of its certificate.
pub struct AwaitingCrl {
    certificate: ValidCertificate,
    policy: RevocationPolicy,
    now: OffsetDateTime,
}

impl AwaitingCrl {
    /// The certificate to look up (its issuer's name is `issuer.subject_der`, its serial `jpki.serial`).
    pub fn certificate(&self) -> &ValidCertificate {
        &self.certificate
    }

    /// Goes on with `crl`, the answer of the CRL generation held for the certificate's issuer (`None`
    /// when none is held): to the end when it or a cached OCSP answer decides, else up to asking the
    /// responder.
    pub fn with_crl(self, verifier: &Verifier, crl: Option<CrlAnswer>) -> Progress {
        let AwaitingCrl { certificate, policy, now } = self;
        if policy.method == RequestedMethod::Crl {
            let status = crl_status(crl.as_ref(), now);
            return Progress::Done(verifier.concluded(certificate, status, crl.as_ref(), now));
        }
        // OCSP, from the cache when the policy accepts its age; with no responder configured the CRL
        // answers at once.
        let pending = AwaitingResponder { certificate, policy, now, crl };
        let Some(ocsp) = &verifier.ocsp else {
            return Progress::Done(pending.ask(verifier));
        };
        match ocsp.cached(&pending.certificate, policy.max_age, now) {
            Some(status) => Progress::Done(verifier.concluded(pending.certificate, Ok(status), pending.crl.as_ref(), now)),
            None => Progress::AwaitingResponder(pending),
        }
    }
}

/// A verification waiting for its revocation status.
pub struct AwaitingResponder {
    certificate: ValidCertificate,
    policy: RevocationPolicy,
    now: OffsetDateTime,
    crl: Option<CrlAnswer>,
}

impl AwaitingResponder {
    /// Asks the OCSP responder (blocking up to its transport's timeout) and concludes. On its failure the
    /// CRL answers if it is current and no older than the policy accepts (or when no responder is
    /// configured at all, the CRL being then the deployment's method); with neither the check fails closed.
    pub fn ask(self, verifier: &Verifier) -> Verification {
        let (now, max_age) = (self.now, self.policy.max_age);
        let ocsp = match &verifier.ocsp {
            Some(ocsp) => ocsp.status(&self.certificate, max_age, now),
            None => Err(RevocationProblem::Unavailable("no OCSP responder is configured".into())),
        };
        let revocation = ocsp.or_else(|ocsp_problem| {
            let crl = crl_status(self.crl.as_ref(), now).and_then(|status| {
                if verifier.ocsp.is_some() && now - status.this_update > max_age {
                    Err(RevocationProblem::Unavailable(format!(
                        "the CRL's thisUpdate {} is older than the {} s accepted",
                        status.this_update,
                        max_age.whole_seconds()
                    )))
                } else {
                    Ok(status)
                }
            });
            crl.map_err(|crl_problem| RevocationProblem::Unavailable(format!("OCSP: {}; CRL: {}", ocsp_problem.detail(), crl_problem.detail())))
        });
        verifier.concluded(self.certificate, revocation, self.crl.as_ref(), now)
    }
}

impl Verifier {
    fn failed(code: FailureCode, message: String, now: OffsetDateTime) -> Verification {
        Verification { valid: false, failure: Some(Failure { code, message }), signer: None, revocation: None, verified_at: now }
    }

    /// Verifies a CMS SignedData (DER) as a document signature (電子署名): it must be made with a
    /// signature certificate. Detached `content` when it carries none. Malformed input is an `Err` (the
    /// caller's mistake); a readable signature that does not verify is an invalid result. May block on
    /// the OCSP responder.
    pub fn verify_cms(&self, cms: &[u8], content: Option<&[u8]>, now: OffsetDateTime) -> Result<Verification, CmsProblem> {
        self.verify_cms_by(CertKind::Signature, RevocationPolicy::default(), cms, content, now)
    }

    /// [`Verifier::verify_cms`] for a CMS that must be made with a certificate of `kind`: an
    /// authentication certificate (電子利用者証明) proves who is present, and a CMS made with it is
    /// taken only when the caller asks for that kind.
    pub fn verify_cms_by(
        &self,
        kind: CertKind,
        policy: RevocationPolicy,
        cms: &[u8],
        content: Option<&[u8]>,
        now: OffsetDateTime,
    ) -> Result<Verification, CmsProblem> {
        self.verify_cms_without_waiting_by(kind, policy, cms, content, now).map(|progress| progress.finish(self))
    }

    /// [`Verifier::verify_cms`] as far as it goes without blocking: to the end when the revocation
    /// status is cached (or there is no responder to ask), else up to asking the responder.
    pub fn verify_cms_without_waiting(&self, cms: &[u8], content: Option<&[u8]>, now: OffsetDateTime) -> Result<Progress, CmsProblem> {
        self.verify_cms_without_waiting_by(CertKind::Signature, RevocationPolicy::default(), cms, content, now)
    }

    /// [`Verifier::verify_cms_without_waiting`] for a CMS made with a certificate of `kind`, its revocation
    /// checked as `policy` asks.
    pub fn verify_cms_without_waiting_by(
        &self,
        kind: CertKind,
        policy: RevocationPolicy,
        cms: &[u8],
        content: Option<&[u8]>,
        now: OffsetDateTime,
    ) -> Result<Progress, CmsProblem> {
        match signed_data::verify(cms, content) {
            Ok(signed) => {
                let validated = chain::validate_ref(&signed.signer, signed.signer_certificate, &self.trust, now).and_then(|valid| of_kind(valid, kind));
                Ok(self.check_certificate(validated, policy, now))
            }
            Err(problem) if problem.is_malformed_input() => Err(problem),
            Err(problem) => Ok(Progress::Done(Self::failed(problem.code(), problem.to_string(), now))),
        }
    }

    /// Verifies a plain PKCS#1 signature (sha256WithRSAEncryption) over `message` by `certificate`,
    /// which must be a certificate of `kind` (a login's challenge is signed with the authentication
    /// certificate). May block on the OCSP responder.
    pub fn verify_pkcs1(
        &self,
        kind: CertKind,
        policy: RevocationPolicy,
        certificate: &[u8],
        message: &[u8],
        signature: &[u8],
        now: OffsetDateTime,
    ) -> Verification {
        self.verify_pkcs1_without_waiting(kind, policy, certificate, message, signature, now).finish(self)
    }

    /// [`Verifier::verify_pkcs1`] as far as it goes without looking anything up.
    pub fn verify_pkcs1_without_waiting(
        &self,
        kind: CertKind,
        policy: RevocationPolicy,
        certificate: &[u8],
        message: &[u8],
        signature: &[u8],
        now: OffsetDateTime,
    ) -> Progress {
        self.pkcs1_by(kind, policy, certificate, now, |key| jpki_crypto::verify_rsa(jpki_crypto::RsaScheme::Pkcs1Sha256, key, message, signature))
    }

    /// [`Verifier::verify_pkcs1_without_waiting`] of a signature over a hash made elsewhere (a sign
    /// transaction's DigestInfo).
    pub fn verify_pkcs1_digest_without_waiting(
        &self,
        kind: CertKind,
        policy: RevocationPolicy,
        certificate: &[u8],
        signed: &crate::digest_info::DigestInfo,
        signature: &[u8],
        now: OffsetDateTime,
    ) -> Progress {
        self.pkcs1_by(kind, policy, certificate, now, |key| jpki_crypto::verify_rsa_digest(signed.scheme(), key, &signed.hash, signature))
    }

    /// A signature `holds` with the certificate's RSAPublicKey, then the certificate's checks.
    fn pkcs1_by(&self, kind: CertKind, policy: RevocationPolicy, certificate: &[u8], now: OffsetDateTime, holds: impl FnOnce(&[u8]) -> bool) -> Progress {
        match <jpki_profile::cert_profile::CertificateRef<'_> as der::Decode>::from_der(certificate) {
            Ok(cert) => {
                if !holds(cert.public_key()) {
                    return Progress::Done(Self::failed(FailureCode::SignatureInvalid, "the signature does not verify with the certificate".into(), now));
                }
                let validated = chain::validate_ref(&cert, certificate, &self.trust, now).and_then(|valid| of_kind(valid, kind));
                self.check_certificate(validated, policy, now)
            }
            Err(e) => Progress::Done(Self::failed(FailureCode::CertificateMalformed, format!("the certificate is malformed: {e}"), now)),
        }
    }

    /// The chain and revocation checks of a signer's certificate. May block on the OCSP responder.
    pub fn verify_certificate(&self, certificate: &[u8], now: OffsetDateTime) -> Verification {
        self.check_certificate(chain::validate(certificate, &self.trust, now), RevocationPolicy::default(), now).finish(self)
    }

    /// [`Verifier::verify_certificate`] of a certificate of `kind`, under `policy`, as far as it goes
    /// without looking anything up: a login the holder's key took no part in (the sandbox's
    /// test-person picker) is checked as far as its certificate can be.
    pub fn verify_certificate_without_waiting(&self, kind: CertKind, policy: RevocationPolicy, certificate: &[u8], now: OffsetDateTime) -> Progress {
        self.check_certificate(chain::validate(certificate, &self.trust, now).and_then(|valid| of_kind(valid, kind)), policy, now)
    }

    /// The failure of a certificate that did not pass chain validation; the CRL lookup next for one that did.
    fn check_certificate(&self, validated: Result<chain::ValidCertificate, CertificateProblem>, policy: RevocationPolicy, now: OffsetDateTime) -> Progress {
        match validated {
            Ok(certificate) => Progress::AwaitingCrl(AwaitingCrl { certificate, policy, now }),
            Err(problem) => Progress::Done(Self::failed(problem.code(), problem.to_string(), now)),
        }
    }

    /// The verification of a chained certificate, given its revocation status or why there is none. A
    /// revocation that a held CRL lists outweighs any "good", and stands when no other answer is had.
    fn concluded(
        &self,
        certificate: ValidCertificate,
        revocation: Result<RevocationStatus, RevocationProblem>,
        crl: Option<&CrlAnswer>,
        now: OffsetDateTime,
    ) -> Verification {
        let revocation = match revocation {
            Ok(status) if status.status == Status::Revoked => Ok(status),
            other => crl.and_then(|crl| crl.listed(now)).map_or(other, Ok),
        };
        let (failure, revocation) = match revocation {
            Ok(status) => {
                let failure = match status.status {
                    Status::Good => None,
                    Status::Revoked => Some(Failure {
                        code: FailureCode::Revoked,
                        message: format!(
                            "the certificate was revoked{}{}",
                            status.revoked_at.map(|t| format!(" at {t}")).unwrap_or_default(),
                            status.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
                        ),
                    }),
                    Status::Unknown => Some(Failure { code: FailureCode::RevocationUnknown, message: "the responder does not know the certificate".into() }),
                };
                (failure, Some(status))
            }
            Err(problem) => (Some(Failure { code: FailureCode::RevocationUnavailable, message: problem.to_string() }), None),
        };
        Verification { valid: failure.is_none(), failure, signer: Some(Signer::of(certificate)), revocation, verified_at: now }
    }
}
