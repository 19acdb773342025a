//! CMS SignedData (RFC 5652 §5): the signer's certificate, the content digest against the
//! message-digest attribute (§5.4, §11.2), the content-type attribute (§11.1), and the signature over
//! the DER of the signed attributes (§5.4) or over the content when there are none. Attached and
//! detached content; RSA PKCS#1 v1.5 and PSS with SHA-256/384/512.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_TIME};
use der::asn1::OctetString;
use der::{Decode, Encode};
use jpki_crypto::{Digest, RsaScheme};
use time::OffsetDateTime;
use x509_cert::Certificate;

use crate::algorithms::{self, AlgorithmError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmsProblem {
    #[error("not a DER CMS ContentInfo: {0}")]
    Malformed(String),
    #[error("the CMS content is {0}, not SignedData")]
    NotSignedData(String),
    #[error("the SignedData has {0} signers; exactly one is supported")]
    SignerCount(usize),
    #[error("the signer's certificate is not in the SignedData")]
    SignerCertificateMissing,
    #[error("the content is detached and none was given")]
    ContentMissing,
    #[error("content was given but the SignedData already carries its own")]
    ContentTwice,
    #[error("signed attribute {0} is missing")]
    AttributeMissing(&'static str),
    #[error("the content-type attribute does not match the content type")]
    ContentTypeMismatch,
    #[error("the content does not match the signed digest (altered content)")]
    DigestMismatch,
    #[error("the signature does not verify with the signer's certificate")]
    BadSignature,
    #[error("{0}")]
    Algorithm(#[from] AlgorithmError),
}

impl CmsProblem {
    pub fn code(&self) -> &'static str {
        match self {
            CmsProblem::Malformed(_) | CmsProblem::NotSignedData(_) | CmsProblem::SignerCount(_) => "cms_malformed",
            CmsProblem::SignerCertificateMissing => "signer_certificate_missing",
            CmsProblem::ContentMissing | CmsProblem::ContentTwice => "content_mismatch",
            CmsProblem::AttributeMissing(_) | CmsProblem::ContentTypeMismatch => "cms_malformed",
            CmsProblem::DigestMismatch | CmsProblem::BadSignature => "signature_invalid",
            CmsProblem::Algorithm(_) => "unsupported_algorithm",
        }
    }

    /// Whether the input could not be read at all (an API answers 400), as opposed to a readable
    /// signature that does not verify.
    pub fn is_malformed_input(&self) -> bool {
        matches!(self, CmsProblem::Malformed(_) | CmsProblem::NotSignedData(_))
    }
}

/// A SignedData whose signature verifies with the certificate it names (not yet trusted).
#[derive(Debug, Clone)]
pub struct SignedContent {
    /// The signer's certificate, decoded, and its DER.
    pub signer: Certificate,
    pub signer_certificate: Vec<u8>,
    pub digest: Digest,
    pub scheme: RsaScheme,
    pub signing_time: Option<OffsetDateTime>,
    /// The content that was signed.
    pub content: Vec<u8>,
}

fn malformed(e: impl std::fmt::Display) -> CmsProblem {
    CmsProblem::Malformed(e.to_string())
}

fn signer_certificate<'a>(signed: &'a SignedData, signer: &SignerInfo) -> Result<&'a Certificate, CmsProblem> {
    let certs = signed.certificates.as_ref().ok_or(CmsProblem::SignerCertificateMissing)?;
    certs
        .0
        .iter()
        .filter_map(|c| match c {
            CertificateChoices::Certificate(cert) => Some(cert),
            CertificateChoices::Other(_) => None,
        })
        .find(|cert| match &signer.sid {
            SignerIdentifier::IssuerAndSerialNumber(id) => {
                cert.tbs_certificate.issuer == id.issuer && cert.tbs_certificate.serial_number == id.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => cert
                .tbs_certificate
                .extensions
                .iter()
                .flatten()
                .any(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER && e.extn_value.as_bytes().ends_with(ski.0.as_bytes())),
        })
        .ok_or(CmsProblem::SignerCertificateMissing)
}

/// Checks the SignedData in `der` (with `detached` content when it carries none).
pub fn verify(der: &[u8], detached: Option<&[u8]>) -> Result<SignedContent, CmsProblem> {
    let info = ContentInfo::from_der(der).map_err(malformed)?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(CmsProblem::NotSignedData(info.content_type.to_string()));
    }
    let signed: SignedData = info.content.decode_as().map_err(malformed)?;
    let signers = signed.signer_infos.0.as_slice();
    let [signer] = signers else { return Err(CmsProblem::SignerCount(signers.len())) };
    let content = match (&signed.encap_content_info.econtent, detached) {
        (Some(_), Some(_)) => return Err(CmsProblem::ContentTwice),
        (None, None) => return Err(CmsProblem::ContentMissing),
        (None, Some(content)) => content.to_vec(),
        (Some(any), None) => any.decode_as::<OctetString>().map_err(malformed)?.into_bytes(),
    };
    let certificate = signer_certificate(&signed, signer)?;
    let digest = algorithms::digest(&signer.digest_alg)?;
    let scheme = algorithms::rsa_scheme(&signer.signature_algorithm, Some(digest))?;
    let content_digest = digest.compute(&content);

    let mut signing_time = None;
    let signed_bytes = match &signer.signed_attrs {
        Some(attrs) => {
            let value = |oid| attrs.iter().find(|a| a.oid == oid).and_then(|a| a.values.get(0));
            let message_digest = value(ID_MESSAGE_DIGEST).ok_or(CmsProblem::AttributeMissing("message-digest"))?;
            let message_digest = message_digest.decode_as::<OctetString>().map_err(malformed)?;
            let content_type = value(ID_CONTENT_TYPE).ok_or(CmsProblem::AttributeMissing("content-type"))?;
            if content_type.decode_as::<der::asn1::ObjectIdentifier>().map_err(malformed)? != signed.encap_content_info.econtent_type {
                return Err(CmsProblem::ContentTypeMismatch);
            }
            if message_digest.as_bytes() != content_digest.as_slice() {
                return Err(CmsProblem::DigestMismatch);
            }
            signing_time = value(ID_SIGNING_TIME)
                .and_then(|t| t.to_der().ok())
                .and_then(|der| x509_cert::time::Time::from_der(&der).ok())
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t.to_unix_duration().as_secs() as i64).ok());
            attrs.to_der().map_err(malformed)?
        }
        None => content.clone(),
    };
    let public_key = certificate.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes();
    if !jpki_crypto::verify_rsa(scheme, public_key, &signed_bytes, signer.signature.as_bytes()) {
        return Err(CmsProblem::BadSignature);
    }
    Ok(SignedContent { signer_certificate: certificate.to_der().map_err(malformed)?, signer: certificate.clone(), digest, scheme, signing_time, content })
}

/// Builds a CMS SignedData (RFC 5652 §5) over `content` signed by the holder of `certificate` (DER):
/// SHA-256, sha256WithRSAEncryption (PKCS#1 v1.5), signed attributes content-type, message-digest and
/// signing-time, the certificate included, the content attached or detached. `sign` gets the
/// SHA-256 DigestInfo of the signed attributes and returns the signature: a card signs it as given.
pub fn build<E>(
    content: &[u8],
    certificate: &[u8],
    attached: bool,
    signing_time: OffsetDateTime,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, BuildError<E>> {
    use cms::cert::IssuerAndSerialNumber;
    use cms::content_info::CmsVersion;
    use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignerInfos};
    use const_oid::db::rfc5911::ID_DATA;
    use const_oid::db::rfc5912::{ID_SHA_256, SHA_256_WITH_RSA_ENCRYPTION};
    use der::asn1::SetOfVec;
    use der::Any;
    use spki::AlgorithmIdentifierOwned;
    use x509_cert::attr::Attribute;

    let cert = Certificate::from_der(certificate).map_err(BuildError::Der)?;
    let attribute = |oid, value: Any| -> Result<Attribute, der::Error> { Ok(Attribute { oid, values: SetOfVec::try_from(vec![value])? }) };
    let digest = Digest::Sha256.compute(content);
    let time = x509_cert::time::Time::try_from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(signing_time.unix_timestamp().max(0) as u64))
        .map_err(BuildError::Der)?;
    let attrs: x509_cert::attr::Attributes = SetOfVec::try_from(vec![
        attribute(ID_CONTENT_TYPE, Any::encode_from(&ID_DATA).map_err(BuildError::Der)?).map_err(BuildError::Der)?,
        attribute(ID_MESSAGE_DIGEST, Any::encode_from(&OctetString::new(digest).map_err(BuildError::Der)?).map_err(BuildError::Der)?)
            .map_err(BuildError::Der)?,
        attribute(ID_SIGNING_TIME, Any::encode_from(&time).map_err(BuildError::Der)?).map_err(BuildError::Der)?,
    ])
    .map_err(BuildError::Der)?;
    let mut digest_info = jpki_crypto::SHA256_DIGEST_INFO_PREFIX.to_vec();
    digest_info.extend(Digest::Sha256.compute(&attrs.to_der().map_err(BuildError::Der)?));
    let signature = sign(&digest_info).map_err(BuildError::Signer)?;

    let sha256 = AlgorithmIdentifierOwned { oid: ID_SHA_256, parameters: None };
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate.issuer.clone(),
            serial_number: cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: sha256.clone(),
        signed_attrs: Some(attrs),
        signature_algorithm: AlgorithmIdentifierOwned { oid: SHA_256_WITH_RSA_ENCRYPTION, parameters: Some(Any::from(der::asn1::Null)) },
        signature: OctetString::new(signature).map_err(BuildError::Der)?,
        unsigned_attrs: None,
    };
    let econtent = if attached { Some(Any::encode_from(&OctetString::new(content).map_err(BuildError::Der)?).map_err(BuildError::Der)?) } else { None };
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![sha256]).map_err(BuildError::Der)?,
        encap_content_info: EncapsulatedContentInfo { econtent_type: ID_DATA, econtent },
        certificates: Some(CertificateSet(SetOfVec::try_from(vec![CertificateChoices::Certificate(cert)]).map_err(BuildError::Der)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer]).map_err(BuildError::Der)?),
    };
    ContentInfo { content_type: ID_SIGNED_DATA, content: Any::encode_from(&signed).map_err(BuildError::Der)? }.to_der().map_err(BuildError::Der)
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError<E> {
    #[error("CMS encoding: {0}")]
    Der(der::Error),
    #[error("signing: {0}")]
    Signer(E),
}
