//! Trust anchors: the CA certificates a verifier accepts as roots. In production these are J-LIS's
//! real CA certificates (`trust-anchors/jlis/`); in the sandbox, the sandbox issuer's
//! (`<data-dir>/trust/`). The code path is the same.

use std::path::Path;
use std::sync::Arc;

use der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read trust anchors from {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a certificate (PEM or DER): {reason}")]
    NotCertificate { path: String, reason: String },
    #[error("no JPKI CA certificates (signature or user-authentication CA) in {0}")]
    Empty(String),
}

/// A trust anchor and what chain building needs of it.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub certificate: Certificate,
    pub der: Vec<u8>,
    /// DER of the subject name.
    pub subject_der: Vec<u8>,
    /// The RSAPublicKey (content of the SPKI bit string).
    pub public_key: Vec<u8>,
    /// What the anchor is for (signature CA, authentication CA, …), read once.
    pub kind: jpki_profile::CertKind,
    /// The anchor's validity period, read once.
    pub not_before: time::OffsetDateTime,
    pub not_after: time::OffsetDateTime,
    /// The key parsed once for sha256WithRSAEncryption, J-LIS's signature algorithm (`None` if it is not
    /// a usable RSA key: certificates it issued are then checked with [`Anchor::public_key`]).
    pub sha256_key: Option<jpki_crypto::RsaSha256Key>,
    /// SHA-1 of the subject name and of the key: the issuer half of an OCSP CertID (RFC 6960 §4.1.1).
    pub name_hash: [u8; 20],
    pub key_hash: [u8; 20],
}

impl Anchor {
    /// Whether the anchor's key made `sig` over `message` under `scheme`.
    pub fn verifies(&self, scheme: jpki_crypto::RsaScheme, message: &[u8], sig: &[u8]) -> bool {
        match (&self.sha256_key, scheme) {
            (Some(key), jpki_crypto::RsaScheme::Pkcs1Sha256) => key.verify(message, sig),
            _ => jpki_crypto::verify_rsa(scheme, &self.public_key, message, sig),
        }
    }

    pub fn new(certificate: Certificate) -> Result<Anchor, der::Error> {
        let public_key = certificate.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes().to_vec();
        let subject_der = certificate.tbs_certificate.subject.to_der()?;
        let validity = &certificate.tbs_certificate.validity;
        let time = |t: &x509_cert::time::Time| jpki_profile::cert_profile::x509_time(t).ok_or_else(|| der::Tag::GeneralizedTime.value_error());
        Ok(Anchor {
            not_before: time(&validity.not_before)?,
            not_after: time(&validity.not_after)?,
            sha256_key: jpki_crypto::RsaSha256Key::new(&public_key).ok(),
            name_hash: jpki_crypto::sha1(&subject_der),
            key_hash: jpki_crypto::sha1(&public_key),
            subject_der,
            public_key,
            der: certificate.to_der()?,
            kind: jpki_profile::JpkiCertificate::from_certificate(&certificate).map(|c| c.kind).unwrap_or(jpki_profile::CertKind::Other),
            certificate,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    anchors: Vec<Arc<Anchor>>,
    /// Certificates [`TrustStore::from_dir`] found but left out, being no JPKI CA.
    skipped: Vec<std::path::PathBuf>,
}

impl TrustStore {
    pub fn new(anchors: Vec<Anchor>) -> TrustStore {
        TrustStore { anchors: anchors.into_iter().map(Arc::new).collect(), skipped: Vec::new() }
    }

    /// The JPKI CA certificates among the `.pem`, `.crt`, `.cer` and `.der` files in `dir`, PEM or DER.
    /// Other certificates there (the sandbox's mdoc roots share its `trust/` directory) can never anchor
    /// a JPKI chain and are left out; [`TrustStore::skipped`] names them.
    pub fn from_dir(dir: &Path) -> Result<TrustStore, TrustError> {
        let read = |reason: String| TrustError::Read { path: dir.display().to_string(), reason };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| read(e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().and_then(|e| e.to_str()).is_some_and(|e| ["pem", "crt", "cer", "der"].contains(&e)))
            .collect();
        paths.sort();
        let (mut anchors, mut skipped) = (Vec::new(), Vec::new());
        for path in paths {
            let bytes = std::fs::read(&path).map_err(|e| read(e.to_string()))?;
            let not_cert = |reason: String| TrustError::NotCertificate { path: path.display().to_string(), reason };
            let cert = if bytes.starts_with(b"-----BEGIN") {
                Certificate::from_pem(&bytes).map_err(|e| not_cert(e.to_string()))?
            } else {
                Certificate::from_der(&bytes).map_err(|e| not_cert(e.to_string()))?
            };
            let anchor = Anchor::new(cert).map_err(|e| not_cert(e.to_string()))?;
            if matches!(anchor.kind, jpki_profile::CertKind::SignatureCa | jpki_profile::CertKind::AuthenticationCa) {
                anchors.push(Arc::new(anchor));
            } else {
                skipped.push(path);
            }
        }
        if anchors.is_empty() {
            return Err(TrustError::Empty(dir.display().to_string()));
        }
        Ok(TrustStore { anchors, skipped })
    }

    pub fn skipped(&self) -> &[std::path::PathBuf] {
        &self.skipped
    }

    pub fn anchors(&self) -> &[Arc<Anchor>] {
        &self.anchors
    }

    /// Anchors whose subject is `issuer_der` (a certificate's issuer name, DER).
    pub fn named<'a>(&'a self, issuer_der: &'a [u8]) -> impl Iterator<Item = &'a Arc<Anchor>> + 'a {
        self.anchors.iter().filter(move |a| a.subject_der == issuer_der)
    }
}
