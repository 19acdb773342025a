//! CMS SignedData (RFC 5652 §5): the signer's certificate, the content digest against the
//! message-digest attribute (§5.4, §11.2), the content-type attribute (§11.1), and the signature over
//! the DER of the signed attributes (§5.4) or over the content when there are none. Attached and
//! detached content; RSA PKCS#1 v1.5 and PSS with SHA-256/384/512.

use std::borrow::Cow;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_TIME};
use der::asn1::{AnyRef, ContextSpecific, IntRef, ObjectIdentifier, OctetString, OctetStringRef};
use der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged};
use jpki_crypto::{Digest, RsaScheme};
use jpki_profile::cert_profile::CertificateRef;
use spki::AlgorithmIdentifierRef;
use time::OffsetDateTime;
use x509_cert::Certificate;

use crate::algorithms::{self, AlgorithmError};
use crate::failure::FailureCode;

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
    #[error("the {structure} version is {found}; RFC 5652 §5 requires {expected} for what it holds")]
    Version { structure: &'static str, found: u8, expected: u8 },
    #[error("the signer's digest algorithm is not among the SignedData's digestAlgorithms (RFC 5652 §5.1)")]
    DigestAlgorithmNotListed,
    #[error("{0}")]
    Algorithm(#[from] AlgorithmError),
}

impl CmsProblem {
    pub fn code(&self) -> FailureCode {
        match self {
            CmsProblem::Malformed(_) | CmsProblem::NotSignedData(_) | CmsProblem::SignerCount(_) => FailureCode::CmsMalformed,
            CmsProblem::SignerCertificateMissing => FailureCode::SignerCertificateMissing,
            CmsProblem::ContentMissing | CmsProblem::ContentTwice => FailureCode::ContentMismatch,
            CmsProblem::AttributeMissing(_) | CmsProblem::ContentTypeMismatch => FailureCode::CmsMalformed,
            CmsProblem::Version { .. } | CmsProblem::DigestAlgorithmNotListed | CmsProblem::Algorithm(AlgorithmError::Parameters(_)) => {
                FailureCode::CmsMalformed
            }
            CmsProblem::DigestMismatch | CmsProblem::BadSignature => FailureCode::SignatureInvalid,
            CmsProblem::Algorithm(_) => FailureCode::UnsupportedAlgorithm,
        }
    }

    /// Whether the input could not be read at all (an API answers 400), as opposed to a readable
    /// signature that does not verify.
    pub fn is_malformed_input(&self) -> bool {
        matches!(self, CmsProblem::Malformed(_) | CmsProblem::NotSignedData(_))
    }
}

/// A SignedData whose signature verifies with the certificate it names (not yet trusted), borrowed
/// from the input.
#[derive(Debug, Clone)]
pub struct SignedContent<'a> {
    /// The signer's certificate, read, and its DER.
    pub signer: CertificateRef<'a>,
    pub signer_certificate: &'a [u8],
    pub digest: Digest,
    pub scheme: RsaScheme,
    pub signing_time: Option<OffsetDateTime>,
    /// The content that was signed.
    pub content: &'a [u8],
}

fn malformed(e: impl std::fmt::Display) -> CmsProblem {
    CmsProblem::Malformed(e.to_string())
}

/// How a SignerInfo names its certificate (RFC 5652 §5.3): the certificate's issuer name and serial
/// number as DER, or its subject key identifier.
enum SignerId<'a> {
    IssuerAndSerial { issuer: &'a [u8], serial: &'a [u8] },
    KeyId(&'a [u8]),
}

/// The one SignerInfo a verification reads (RFC 5652 §5.3), borrowed from the input.
struct SignerInfoRef<'a> {
    version: u8,
    sid: SignerId<'a>,
    digest_alg: AlgorithmIdentifierRef<'a>,
    /// The whole `[0] IMPLICIT SET OF Attribute`, as received.
    signed_attrs: Option<&'a [u8]>,
    signature_algorithm: AlgorithmIdentifierRef<'a>,
    signature: &'a [u8],
}

/// What a verification reads of a SignedData (RFC 5652 §5.1, §5.2), borrowed from the input: nothing
/// is copied or re-encoded, and the signed bytes are exactly the bytes received.
struct SignedDataRef<'a> {
    version: u8,
    digest_algorithms: Vec<AlgorithmIdentifierRef<'a>>,
    econtent_type: ObjectIdentifier,
    econtent: Option<&'a [u8]>,
    /// The CertificateSet's contents: the certificates' DER, one after another.
    certificates: &'a [u8],
    /// The RevocationInfoChoices' contents.
    crls: &'a [u8],
    signers: Vec<SignerInfoRef<'a>>,
}

impl SignedDataRef<'_> {
    /// The version RFC 5652 §5.1 requires for what the SignedData holds. CertificateChoices (§10.2.2)
    /// other than a certificate are `[1]` v1AttrCert, `[2]` v2AttrCert, `[3]` other; a
    /// RevocationInfoChoice (§10.2.1) other than a CRL is `[1]` other.
    fn expected_version(&self) -> der::Result<u8> {
        let tags = |set: &[u8]| -> der::Result<Vec<u8>> {
            let mut reader = SliceReader::new(set)?;
            let mut tags = Vec::new();
            while !reader.is_finished() {
                tags.push(reader.tlv_bytes()?[0]);
            }
            Ok(tags)
        };
        let (certificates, crls) = (tags(self.certificates)?, tags(self.crls)?);
        Ok(if certificates.contains(&0xa3) || crls.contains(&0xa1) {
            5
        } else if certificates.contains(&0xa2) {
            4
        } else if certificates.contains(&0xa1) || self.signers.iter().any(|s| s.version == 3) || self.econtent_type != const_oid::db::rfc5911::ID_DATA {
            3
        } else {
            1
        })
    }
}

const IMPLICIT_0: Tag = Tag::ContextSpecific { constructed: true, number: TagNumber::N0 };
const IMPLICIT_0_PRIMITIVE: Tag = Tag::ContextSpecific { constructed: false, number: TagNumber::N0 };
const IMPLICIT_1: Tag = Tag::ContextSpecific { constructed: true, number: TagNumber::N1 };

/// The next element if it has `tag`, as its whole TLV.
fn optional_tlv<'a, R: Reader<'a>>(reader: &mut R, tag: Tag) -> der::Result<Option<&'a [u8]>> {
    if !reader.is_finished() && reader.peek_tag()? == tag {
        Ok(Some(reader.tlv_bytes()?))
    } else {
        Ok(None)
    }
}

/// The contents of a TLV whose header was already checked.
fn contents(tlv: &[u8]) -> der::Result<&[u8]> {
    let mut reader = SliceReader::new(tlv)?;
    let header = der::Header::decode(&mut reader)?;
    reader.read_slice(header.length)
}

fn signer_info<'a>(any: AnyRef<'a>) -> der::Result<SignerInfoRef<'a>> {
    any.sequence(|r| {
        let version: u8 = r.decode()?;
        let sid = if r.peek_tag()? == IMPLICIT_0_PRIMITIVE {
            SignerId::KeyId(contents(r.tlv_bytes()?)?)
        } else {
            r.sequence(|id| Ok(SignerId::IssuerAndSerial { issuer: id.tlv_bytes()?, serial: id.decode::<IntRef<'a>>()?.as_bytes() }))?
        };
        let digest_alg = r.decode()?;
        let signed_attrs = optional_tlv(r, IMPLICIT_0)?;
        let signature_algorithm = r.decode()?;
        let signature = r.decode::<OctetStringRef<'a>>()?.as_bytes();
        optional_tlv(r, IMPLICIT_1)?;
        Ok(SignerInfoRef { version, sid, digest_alg, signed_attrs, signature_algorithm, signature })
    })
}

/// Reads a DER ContentInfo (RFC 5652 §3) holding a SignedData.
fn signed_data_ref(der: &[u8]) -> Result<SignedDataRef<'_>, CmsProblem> {
    let mut reader = SliceReader::new(der).map_err(malformed)?;
    let (content_type, content) = reader
        .sequence(|r| {
            let content_type: ObjectIdentifier = r.decode()?;
            let content = ContextSpecific::<AnyRef<'_>>::decode_explicit(r, TagNumber::N0)?
                .ok_or_else(|| r.error(der::ErrorKind::TagUnexpected { expected: Some(IMPLICIT_0), actual: Tag::Null }))?;
            Ok((content_type, content.value))
        })
        .map_err(malformed)?;
    reader.finish(()).map_err(malformed)?;
    if content_type != ID_SIGNED_DATA {
        return Err(CmsProblem::NotSignedData(content_type.to_string()));
    }
    content
        .sequence(|r| {
            let version: u8 = r.decode()?;
            let digest_algorithms: AnyRef<'_> = r.decode()?;
            digest_algorithms.tag().assert_eq(Tag::Set)?;
            let digest_algorithms = {
                let mut set = SliceReader::new(digest_algorithms.value())?;
                let mut algorithms = Vec::new();
                while !set.is_finished() {
                    algorithms.push(set.decode()?);
                }
                algorithms
            };
            let (econtent_type, econtent) = r.sequence(|e| {
                let econtent_type: ObjectIdentifier = e.decode()?;
                let econtent = ContextSpecific::<OctetStringRef<'_>>::decode_explicit(e, TagNumber::N0)?.map(|c| c.value.as_bytes());
                Ok((econtent_type, econtent))
            })?;
            let certificates = optional_tlv(r, IMPLICIT_0)?.map(contents).transpose()?.unwrap_or_default();
            let crls = optional_tlv(r, IMPLICIT_1)?.map(contents).transpose()?.unwrap_or_default();
            let signer_infos: AnyRef<'_> = r.decode()?;
            signer_infos.tag().assert_eq(Tag::Set)?;
            let mut signers = Vec::new();
            let mut infos = SliceReader::new(signer_infos.value())?;
            while !infos.is_finished() {
                signers.push(signer_info(infos.decode()?)?);
            }
            Ok(SignedDataRef { version, digest_algorithms, econtent_type, econtent, certificates, crls, signers })
        })
        .map_err(malformed)
}

/// The certificate `sid` names among the SignedData's certificates, and its DER.
fn signer_certificate<'a>(certificates: &'a [u8], sid: &SignerId<'_>) -> Result<(&'a [u8], CertificateRef<'a>), CmsProblem> {
    let mut reader = SliceReader::new(certificates).map_err(malformed)?;
    while !reader.is_finished() {
        let der = reader.tlv_bytes().map_err(malformed)?;
        // Other certificate formats (RFC 5652 §10.2.2) are skipped.
        if der.first() != Some(&0x30) {
            continue;
        }
        let cert = CertificateRef::from_der(der).map_err(malformed)?;
        let named = match sid {
            SignerId::IssuerAndSerial { issuer, serial } => {
                cert.tbs_certificate.issuer.as_bytes() == *issuer && cert.tbs_certificate.serial_number.as_bytes() == *serial
            }
            SignerId::KeyId(ski) => cert.extension(const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER).is_some_and(|id| id.ends_with(ski)),
        };
        if named {
            return Ok((der, cert));
        }
    }
    Err(CmsProblem::SignerCertificateMissing)
}

/// The DER of the first value of each attribute in `oids` among signed attributes (the contents of
/// their SET), read in one pass.
fn attributes<'a, const N: usize>(attrs: &'a [u8], oids: [ObjectIdentifier; N]) -> Result<[Option<&'a [u8]>; N], CmsProblem> {
    let mut found = [None; N];
    let mut reader = SliceReader::new(attrs).map_err(malformed)?;
    while !reader.is_finished() {
        reader
            .sequence(|a| {
                let this: ObjectIdentifier = a.decode()?;
                let values: AnyRef<'a> = a.decode()?;
                values.tag().assert_eq(Tag::Set)?;
                if let Some(i) = oids.iter().position(|oid| *oid == this) {
                    if found[i].is_none() {
                        found[i] = Some(SliceReader::new(values.value())?.tlv_bytes()?);
                    }
                }
                Ok(())
            })
            .map_err(malformed)?;
    }
    Ok(found)
}

/// Checks the SignedData in `der` (with `detached` content when it carries none).
pub fn verify<'a>(der: &'a [u8], detached: Option<&'a [u8]>) -> Result<SignedContent<'a>, CmsProblem> {
    let signed = signed_data_ref(der)?;
    let [signer] = signed.signers.as_slice() else { return Err(CmsProblem::SignerCount(signed.signers.len())) };
    // The fields outside the signature, as RFC 5652 defines them (§5.1, §5.3).
    let signer_version = match signer.sid {
        SignerId::IssuerAndSerial { .. } => 1,
        SignerId::KeyId(_) => 3,
    };
    if signer.version != signer_version {
        return Err(CmsProblem::Version { structure: "SignerInfo", found: signer.version, expected: signer_version });
    }
    let expected = signed.expected_version().map_err(malformed)?;
    if signed.version != expected {
        return Err(CmsProblem::Version { structure: "SignedData", found: signed.version, expected });
    }
    if !signed.digest_algorithms.contains(&signer.digest_alg) {
        return Err(CmsProblem::DigestAlgorithmNotListed);
    }
    let content = match (signed.econtent, detached) {
        (Some(_), Some(_)) => return Err(CmsProblem::ContentTwice),
        (None, None) => return Err(CmsProblem::ContentMissing),
        (None, Some(content)) | (Some(content), None) => content,
    };
    let (certificate_der, certificate) = signer_certificate(signed.certificates, &signer.sid)?;
    let digest = algorithms::digest(signer.digest_alg)?;
    let scheme = algorithms::rsa_scheme(signer.signature_algorithm, Some(digest))?;
    let content_digest = digest.compute(content);

    let mut signing_time = None;
    let signed_bytes = match signer.signed_attrs {
        Some(tlv) => {
            let attrs = contents(tlv).map_err(malformed)?;
            let [message_digest, content_type, signing] = attributes(attrs, [ID_MESSAGE_DIGEST, ID_CONTENT_TYPE, ID_SIGNING_TIME])?;
            let message_digest = message_digest.ok_or(CmsProblem::AttributeMissing("message-digest"))?;
            let message_digest = OctetStringRef::from_der(message_digest).map_err(malformed)?;
            let content_type = content_type.ok_or(CmsProblem::AttributeMissing("content-type"))?;
            if ObjectIdentifier::from_der(content_type).map_err(malformed)? != signed.econtent_type {
                return Err(CmsProblem::ContentTypeMismatch);
            }
            if message_digest.as_bytes() != content_digest.as_slice() {
                return Err(CmsProblem::DigestMismatch);
            }
            signing_time = signing.and_then(|t| x509_cert::time::Time::from_der(t).ok()).and_then(|t| jpki_profile::cert_profile::x509_time(&t));
            // The signature covers the attributes' DER with the SET OF tag in place of [0] IMPLICIT (§5.4).
            let mut bytes = tlv.to_vec();
            bytes[0] = 0x31;
            Cow::Owned(bytes)
        }
        None => Cow::Borrowed(content),
    };
    if !jpki_crypto::verify_rsa(scheme, certificate.public_key(), &signed_bytes, signer.signature) {
        return Err(CmsProblem::BadSignature);
    }
    Ok(SignedContent { signer_certificate: certificate_der, signer: certificate, digest, scheme, signing_time, content })
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
    use const_oid::db::rfc5911::ID_DATA;
    use der::asn1::SetOfVec;
    use der::Any;
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
    let digest_info = jpki_crypto::sha256_digest_info(&attrs.to_der().map_err(BuildError::Der)?);
    let signature = sign(&digest_info).map_err(BuildError::Signer)?;

    let econtent = if attached { Some(Any::encode_from(&OctetString::new(content).map_err(BuildError::Der)?).map_err(BuildError::Der)?) } else { None };
    assemble(cert, Digest::Sha256, Some(attrs), signature, econtent).map_err(BuildError::Der)
}

/// A detached SignedData carrying a signature made elsewhere over `signed` (a DigestInfo of the
/// content), with no signed attributes: RFC 5652 §5.4, "only the octets comprising the value of the
/// eContent OCTET STRING are input to the message digest calculation", so the PKCS#1 signature over
/// the content's DigestInfo is the SignerInfo's signature as it is. `openssl cms -verify -binary
/// -content FILE` checks it against the document.
pub fn wrap(signed: &crate::digest_info::DigestInfo, certificate: &[u8], signature: &[u8]) -> Result<Vec<u8>, der::Error> {
    assemble(Certificate::from_der(certificate)?, signed.digest, None, signature.to_vec(), None)
}

/// The ContentInfo of a SignedData (version 1) with one signer, named by issuer and serial, whose
/// certificate it carries; the signature algorithm is the digest's with RSA (PKCS#1 v1.5).
fn assemble(
    cert: Certificate,
    digest: Digest,
    signed_attrs: Option<x509_cert::attr::Attributes>,
    signature: Vec<u8>,
    econtent: Option<der::Any>,
) -> Result<Vec<u8>, der::Error> {
    use cms::cert::IssuerAndSerialNumber;
    use cms::content_info::CmsVersion;
    use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignerInfos};
    use const_oid::db::rfc5911::ID_DATA;
    use der::asn1::SetOfVec;
    use der::Any;
    use spki::AlgorithmIdentifierOwned;

    let digest_alg = AlgorithmIdentifierOwned { oid: algorithms::digest_oid(digest), parameters: None };
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate.issuer.clone(),
            serial_number: cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: digest_alg.clone(),
        signed_attrs,
        signature_algorithm: AlgorithmIdentifierOwned { oid: algorithms::pkcs1_oid(digest), parameters: Some(Any::from(der::asn1::Null)) },
        signature: OctetString::new(signature)?,
        unsigned_attrs: None,
    };
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![digest_alg])?,
        encap_content_info: EncapsulatedContentInfo { econtent_type: ID_DATA, econtent },
        certificates: Some(CertificateSet(SetOfVec::try_from(vec![CertificateChoices::Certificate(cert)])?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer])?),
    };
    ContentInfo { content_type: ID_SIGNED_DATA, content: Any::encode_from(&signed)? }.to_der()
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError<E> {
    #[error("CMS encoding: {0}")]
    Der(der::Error),
    #[error("signing: {0}")]
    Signer(E),
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::SetOfVec;
    use der::Any;
    use x509_cert::attr::Attribute;

    fn attrs(list: Vec<(ObjectIdentifier, Vec<Any>)>) -> Vec<u8> {
        let set: x509_cert::attr::Attributes =
            SetOfVec::try_from(list.into_iter().map(|(oid, values)| Attribute { oid, values: SetOfVec::try_from(values).unwrap() }).collect::<Vec<_>>())
                .unwrap();
        contents(&set.to_der().unwrap()).unwrap().to_vec()
    }

    #[test]
    fn signed_attributes_are_found_in_one_pass_in_any_order_and_a_missing_one_is_none() {
        let digest = Any::encode_from(&OctetString::new([7u8; 32]).unwrap()).unwrap();
        let data = Any::encode_from(&const_oid::db::rfc5911::ID_DATA).unwrap();
        let der = attrs(vec![(ID_MESSAGE_DIGEST, vec![digest.clone()]), (ID_CONTENT_TYPE, vec![data.clone()])]);
        let [d, t, s] = attributes(&der, [ID_MESSAGE_DIGEST, ID_CONTENT_TYPE, ID_SIGNING_TIME]).unwrap();
        assert_eq!(d, Some(digest.to_der().unwrap().as_slice()));
        assert_eq!(t, Some(data.to_der().unwrap().as_slice()));
        assert_eq!(s, None);
        let [t, d] = attributes(&der, [ID_CONTENT_TYPE, ID_MESSAGE_DIGEST]).unwrap();
        assert!(t.is_some() && d.is_some());
    }

    #[test]
    fn an_attribute_whose_values_are_not_a_set_is_malformed() {
        let mut der = attrs(vec![(ID_CONTENT_TYPE, vec![Any::encode_from(&const_oid::db::rfc5911::ID_DATA).unwrap()])]);
        let set = der.iter().rposition(|b| *b == 0x31).unwrap();
        der[set] = 0x30;
        assert!(matches!(attributes(&der, [ID_CONTENT_TYPE]), Err(CmsProblem::Malformed(_))));
    }
}
