//! Certificate paths of the mdoc PKI (ISO/IEC 18013-5 Annex B): a document signer (DS) certificate
//! issued directly by an issuing authority root (IACA), and a reader certificate issued by a reader
//! root. Verifiers configure the roots; the leaf comes in `x5chain`. ECDSA only, as Annex B requires.

use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use jpki_crypto::{EcdsaScheme, SignatureEncoding};
use jpki_profile::cert_profile::x509_time;
use time::OffsetDateTime;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::Certificate;

use crate::MdocError;

/// id-mdl-kp-mdlDS (Annex B.1.4): document signer.
pub const EKU_MDL_DS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.0.18013.5.1.2");
/// id-mdl-kp-mdlReaderAuth (Annex B.1.7): reader authentication.
pub const EKU_MDL_READER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.0.18013.5.1.6");

const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    /// The COSE scheme whose hash matches the curve (ES256, ES384, ES512).
    pub fn cose_scheme(self) -> EcdsaScheme {
        match self {
            Curve::P256 => EcdsaScheme::P256Sha256,
            Curve::P384 => EcdsaScheme::P384Sha384,
            Curve::P521 => EcdsaScheme::P521Sha512,
        }
    }
}

/// An EC public key from a certificate.
#[derive(Debug, Clone)]
pub struct EcPublicKey {
    pub curve: Curve,
    /// Uncompressed SEC 1 point.
    pub point: Vec<u8>,
}

fn ec_public_key(cert: &Certificate) -> Result<EcPublicKey, String> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid != ID_EC_PUBLIC_KEY {
        return Err(format!("key algorithm {} is not EC (Annex B requires ECDSA)", spki.algorithm.oid));
    }
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok()).ok_or("EC key without a named curve")?;
    let curve = match curve {
        PRIME256V1 => Curve::P256,
        SECP384R1 => Curve::P384,
        SECP521R1 => Curve::P521,
        other => return Err(format!("unsupported curve {other}")),
    };
    let point = spki.subject_public_key.as_bytes().ok_or("public key is not whole bytes")?.to_vec();
    Ok(EcPublicKey { curve, point })
}

fn signature_scheme(signer: Curve, alg: ObjectIdentifier) -> Result<EcdsaScheme, String> {
    Ok(match (signer, alg) {
        (Curve::P256, ECDSA_WITH_SHA256) => EcdsaScheme::P256Sha256,
        (Curve::P256, ECDSA_WITH_SHA384) => EcdsaScheme::P256Sha384,
        (Curve::P384, ECDSA_WITH_SHA384) => EcdsaScheme::P384Sha384,
        (Curve::P384, ECDSA_WITH_SHA256) => EcdsaScheme::P384Sha256,
        (Curve::P521, ECDSA_WITH_SHA512) => EcdsaScheme::P521Sha512,
        (curve, alg) => return Err(format!("signature algorithm {alg} with a {curve:?} key is not supported")),
    })
}

fn valid_at(cert: &Certificate, at: OffsetDateTime) -> Result<(), String> {
    let v = &cert.tbs_certificate.validity;
    let time = |t: x509_cert::time::Time| x509_time(&t).ok_or_else(|| format!("{}: validity {t} is out of range", subject(cert)));
    if at < time(v.not_before)? {
        return Err(format!("{} is not valid before {}", subject(cert), v.not_before));
    }
    if at > time(v.not_after)? {
        return Err(format!("{} expired at {}", subject(cert), v.not_after));
    }
    Ok(())
}

fn subject(cert: &Certificate) -> String {
    cert.tbs_certificate.subject.to_string()
}

fn extension<'a, T: Decode<'a>>(cert: &'a Certificate, oid: ObjectIdentifier) -> Result<Option<T>, String> {
    let Some(ext) = cert.tbs_certificate.extensions.as_deref().unwrap_or_default().iter().find(|e| e.extn_id == oid) else {
        return Ok(None);
    };
    T::from_der(ext.extn_value.as_bytes()).map(Some).map_err(|e| format!("extension {oid} is malformed: {e}"))
}

/// A configured root: an IACA, or a reader root.
#[derive(Debug, Clone)]
pub struct Root {
    pub certificate: Certificate,
    subject_der: Vec<u8>,
    key: EcPublicKey,
}

impl Root {
    pub fn from_der(der: &[u8]) -> Result<Root, String> {
        let certificate = Certificate::from_der(der).map_err(|e| format!("not a DER certificate: {e}"))?;
        let key = ec_public_key(&certificate)?;
        let ca = extension::<BasicConstraints>(&certificate, const_oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS)?.is_some_and(|b| b.ca);
        if !ca {
            return Err(format!("{} is not a CA certificate (basicConstraints cA)", subject(&certificate)));
        }
        let subject_der = certificate.tbs_certificate.subject.to_der().map_err(|e| e.to_string())?;
        Ok(Root { certificate, subject_der, key })
    }

    pub fn subject(&self) -> String {
        subject(&self.certificate)
    }
}

/// The roots one kind of certificate must chain to.
#[derive(Debug, Clone, Default)]
pub struct Roots(Vec<Root>);

impl Roots {
    pub fn new(roots: Vec<Root>) -> Self {
        Roots(roots)
    }

    /// Every certificate of a PEM bundle (or one DER certificate).
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Self, String> {
        certificates_from_pem_or_der(bytes)?.iter().map(|d| Root::from_der(d)).collect::<Result<Vec<_>, _>>().map(Roots)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Root> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The DER certificates of a PEM bundle, or `bytes` itself when it is one DER certificate.
pub fn certificates_from_pem_or_der(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if !bytes.starts_with(b"-----BEGIN") {
        return Ok(vec![bytes.to_vec()]);
    }
    Certificate::load_pem_chain(bytes).map_err(|e| format!("PEM: {e}"))?.iter().map(|c| c.to_der().map_err(|e| e.to_string())).collect()
}

/// A leaf certificate that chains to a root and is valid now.
#[derive(Debug, Clone)]
pub struct ValidLeaf {
    pub certificate: Certificate,
    pub key: EcPublicKey,
    pub root_subject: String,
}

impl ValidLeaf {
    pub fn subject(&self) -> String {
        subject(&self.certificate)
    }

    /// The subject's organization (O, RFC 5280 §4.1.2.6 with X.520 id-at-organizationName), as the
    /// certificate's issuer vouches for it.
    pub fn organization(&self) -> Option<String> {
        let value = self.certificate.tbs_certificate.subject.0.iter().flat_map(|rdn| rdn.0.iter()).find(|a| a.oid == const_oid::db::rfc4519::O)?;
        let any = der::asn1::AnyRef::from(&value.value);
        any.decode_as::<der::asn1::Utf8StringRef<'_>>()
            .map(|s| s.as_str().to_owned())
            .or_else(|_| any.decode_as::<der::asn1::PrintableStringRef<'_>>().map(|s| s.as_str().to_owned()))
            .ok()
    }

    /// Whether the leaf carries certificate policy `oid`.
    pub fn has_policy(&self, oid: ObjectIdentifier) -> bool {
        has_policy(&self.certificate, oid)
    }
}

/// Whether `cert` carries certificate policy `oid`.
pub fn has_policy(cert: &Certificate, oid: ObjectIdentifier) -> bool {
    matches!(
        extension::<x509_cert::ext::pkix::CertificatePolicies>(cert, const_oid::db::rfc5280::ID_CE_CERTIFICATE_POLICIES),
        Ok(Some(p)) if p.0.iter().any(|i| i.policy_identifier == oid)
    )
}

/// The DNS names of `cert`'s subjectAltName.
pub fn san_dns_names(cert: &Certificate) -> Vec<String> {
    use x509_cert::ext::pkix::name::GeneralName;
    match extension::<x509_cert::ext::pkix::SubjectAltName>(cert, const_oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME) {
        Ok(Some(san)) => san.0.iter().filter_map(|n| if let GeneralName::DnsName(d) = n { Some(d.to_string()) } else { None }).collect(),
        _ => vec![],
    }
}

/// Validates `chain[0]` against `roots` at `at`: issued and signed by a root, both valid at `at`, the leaf's
/// key usage allowing signatures and its extended key usage, when present, including `eku`.
pub fn validate_leaf(chain: &[Vec<u8>], roots: &Roots, at: OffsetDateTime, eku: ObjectIdentifier) -> Result<ValidLeaf, MdocError> {
    let bad = MdocError::IssuerCertificate;
    let leaf_der = chain.first().ok_or_else(|| bad("empty certificate chain".into()))?;
    let leaf = Certificate::from_der(leaf_der).map_err(|e| bad(format!("not a DER certificate: {e}")))?;
    let key = ec_public_key(&leaf).map_err(bad)?;
    let issuer_der = leaf.tbs_certificate.issuer.to_der().map_err(|e| bad(e.to_string()))?;
    let tbs = leaf.tbs_certificate.to_der().map_err(|e| bad(e.to_string()))?;
    let signature = leaf.signature.as_bytes().ok_or_else(|| bad("signature is not whole bytes".into()))?;
    let mut candidates = roots.iter().filter(|r| r.subject_der == issuer_der).peekable();
    if candidates.peek().is_none() {
        return Err(MdocError::UnknownIssuer(format!("no configured root is named {}", leaf.tbs_certificate.issuer)));
    }
    let root = candidates
        .find(|r| {
            signature_scheme(r.key.curve, leaf.signature_algorithm.oid)
                .is_ok_and(|s| jpki_crypto::ec::verify_ecdsa(s, SignatureEncoding::Der, &r.key.point, &tbs, signature))
        })
        .ok_or_else(|| {
            MdocError::UnknownIssuer(format!("{}'s signature does not verify with any root named {}", subject(&leaf), leaf.tbs_certificate.issuer))
        })?;
    valid_at(&root.certificate, at).map_err(bad)?;
    valid_at(&leaf, at).map_err(bad)?;
    if let Some(usage) = extension::<KeyUsage>(&leaf, const_oid::db::rfc5280::ID_CE_KEY_USAGE).map_err(bad)? {
        if !usage.0.contains(KeyUsages::DigitalSignature) {
            return Err(bad(format!("{}'s key usage does not allow signatures", subject(&leaf))));
        }
    }
    if let Some(usages) = extension::<ExtendedKeyUsage>(&leaf, const_oid::db::rfc5280::ID_CE_EXT_KEY_USAGE).map_err(bad)? {
        if !usages.0.contains(&eku) {
            return Err(bad(format!("{}'s extended key usage does not include {eku}", subject(&leaf))));
        }
    }
    Ok(ValidLeaf { certificate: leaf, key, root_subject: root.subject() })
}
