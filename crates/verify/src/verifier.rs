//! One verification, start to end: the signature, the signer's certificate chain, and its revocation
//! status, with a result that says valid or exactly why not.

use jpki_profile::FourInfo;
use serde::Serialize;
use time::OffsetDateTime;

use crate::chain::{self, CertificateProblem, ValidCertificate};
use crate::revocation::{CrlStore, OcspChecker, RevocationProblem, RevocationStatus, Status};
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
    /// `signature` or `authentication`.
    pub certificate_kind: &'static str,
    /// `card` or `smartphone`.
    pub device: Option<&'static str>,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    #[serde(skip)]
    pub four_info: Option<FourInfo>,
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
            certificate_kind: cert.jpki.kind.as_str(),
            device: cert.jpki.device.map(|d| d.as_str()),
            not_after: cert.jpki.not_after,
            four_info: info,
        }
    }
}

/// Why a verification failed; `code` is stable for API clients.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub code: &'static str,
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

/// Trust anchors plus a revocation source: everything a verification needs.
pub struct Verifier {
    pub trust: TrustStore,
    /// `None` (and no fresh CRL) verifies offline and says so: the result is never valid without
    /// revocation information.
    pub ocsp: Option<OcspChecker>,
    /// Ingested CRLs, asked when OCSP gives no answer.
    pub crls: std::sync::Arc<CrlStore>,
}

impl Verifier {
    fn failed(code: &'static str, message: String, now: OffsetDateTime) -> Verification {
        Verification { valid: false, failure: Some(Failure { code, message }), signer: None, revocation: None, verified_at: now }
    }

    /// Verifies a CMS SignedData (DER), with detached `content` when it carries none. Malformed input is
    /// an `Err` (the caller's mistake); a readable signature that does not verify is an invalid result.
    pub fn verify_cms(&self, cms: &[u8], content: Option<&[u8]>, now: OffsetDateTime) -> Result<Verification, CmsProblem> {
        match signed_data::verify(cms, content) {
            Ok(signed) => Ok(self.check_certificate(chain::validate_ref(&signed.signer, signed.signer_certificate, &self.trust, now), now)),
            Err(problem) if problem.is_malformed_input() => Err(problem),
            Err(problem) => Ok(Self::failed(problem.code(), problem.to_string(), now)),
        }
    }

    /// Verifies a plain PKCS#1 signature (sha256WithRSAEncryption) over `message` by `certificate`.
    pub fn verify_pkcs1(&self, certificate: &[u8], message: &[u8], signature: &[u8], now: OffsetDateTime) -> Verification {
        match <jpki_profile::cert_profile::CertificateRef<'_> as der::Decode>::from_der(certificate) {
            Ok(cert) => {
                if !jpki_crypto::verify_rsa(jpki_crypto::RsaScheme::Pkcs1Sha256, cert.public_key(), message, signature) {
                    return Self::failed("signature_invalid", "the signature does not verify with the certificate".into(), now);
                }
                self.check_certificate(chain::validate_ref(&cert, certificate, &self.trust, now), now)
            }
            Err(e) => Self::failed("certificate_malformed", format!("the certificate is malformed: {e}"), now),
        }
    }

    /// The chain and revocation checks of a signer's certificate.
    pub fn verify_certificate(&self, certificate: &[u8], now: OffsetDateTime) -> Verification {
        self.check_certificate(chain::validate(certificate, &self.trust, now), now)
    }

    /// Revocation of a certificate that passed chain validation; the failure of one that did not.
    fn check_certificate(&self, validated: Result<chain::ValidCertificate, CertificateProblem>, now: OffsetDateTime) -> Verification {
        let valid = match validated {
            Ok(valid) => valid,
            Err(problem) => return self.certificate_failure(problem, now),
        };
        let ocsp = match &self.ocsp {
            Some(ocsp) => ocsp.status(&valid, now),
            None => Err(RevocationProblem::Unavailable("no OCSP responder is configured".into())),
        };
        // OCSP first; its failure falls back to a fresh CRL; with neither, the check fails closed.
        let revocation = ocsp.or_else(|ocsp_problem| {
            self.crls.status(&valid, now).map_err(|crl_problem| RevocationProblem::Unavailable(format!("{ocsp_problem}; {crl_problem}")))
        });
        let (failure, revocation) = match revocation {
            Ok(status) => {
                let failure = match status.status {
                    Status::Good => None,
                    Status::Revoked => Some(Failure {
                        code: "revoked",
                        message: format!(
                            "the certificate was revoked{}{}",
                            status.revoked_at.map(|t| format!(" at {t}")).unwrap_or_default(),
                            status.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
                        ),
                    }),
                    Status::Unknown => Some(Failure { code: "revocation_unknown", message: "the responder does not know the certificate".into() }),
                };
                (failure, Some(status))
            }
            Err(problem) => (Some(Failure { code: "revocation_unavailable", message: problem.to_string() }), None),
        };
        Verification { valid: failure.is_none(), failure, signer: Some(Signer::of(valid)), revocation, verified_at: now }
    }

    fn certificate_failure(&self, problem: CertificateProblem, now: OffsetDateTime) -> Verification {
        Self::failed(problem.code(), problem.to_string(), now)
    }
}
