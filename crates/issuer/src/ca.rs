//! The sandbox CAs: a signature CA and an authentication CA, each a self-signed RSA-2048 root with the
//! profile of J-LIS's roots (../shared/reference/jlis-ca: C=JP, O=…, OU=JPKI for digital signature |
//! user authentication; critical keyUsage keyCertSign+cRLSign and basicConstraints CA:TRUE; SKI; a
//! directoryName SAN and CRL distribution point), each with a delegated OCSP responder certificate.
//! Sandbox names say `O=JPKI-SANDBOX` so that no one mistakes them for J-LIS's.

use const_oid::db::rfc4519::COUNTRY_NAME as ID_AT_COUNTRY_NAME;
use const_oid::db::rfc4519::LOCALITY_NAME;
use const_oid::db::rfc4519::{CN, O, OU};
use const_oid::db::rfc5280::{
    ID_CE_AUTHORITY_KEY_IDENTIFIER, ID_CE_BASIC_CONSTRAINTS, ID_CE_CRL_DISTRIBUTION_POINTS, ID_CE_EXT_KEY_USAGE, ID_CE_KEY_USAGE, ID_CE_SUBJECT_ALT_NAME,
    ID_CE_SUBJECT_KEY_IDENTIFIER, ID_KP_OCSP_SIGNING,
};
use const_oid::db::rfc5912::{ECDSA_WITH_SHA_256, SHA_256_WITH_RSA_ENCRYPTION};
use const_oid::ObjectIdentifier;
use der::asn1::{Any, BitString, GeneralizedTime, Null, OctetString, PrintableStringRef, SetOfVec, UtcTime, Utf8StringRef};
use der::{Decode, Encode};
use jpki_crypto::{EcKey, RsaKey};
pub(crate) use jpki_profile::cert_profile::extension;
use jpki_profile::KeyRole;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use time::OffsetDateTime;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName, SubjectKeyIdentifier};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::Certificate;

use crate::IssuerError;

/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): the responder certificate itself is not checked.
const ID_PKIX_OCSP_NOCHECK: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.5");

/// How long the sandbox roots are valid: ten years, as J-LIS's 2015 and 2023 generations.
const CA_LIFETIME_YEARS: i32 = 10;

/// The organizational unit naming `role`'s CA.
fn unit(role: KeyRole) -> &'static str {
    match role {
        KeyRole::Signature => "JPKI for digital signature",
        KeyRole::Authentication => "JPKI for user authentication",
    }
}

/// The Japanese organizational unit naming `role`'s CA.
fn japanese_unit(role: KeyRole) -> &'static str {
    match role {
        KeyRole::Signature => "公的個人認証サービス署名用",
        KeyRole::Authentication => "公的個人認証サービス利用者証明用",
    }
}

/// One attribute of a distinguished name, with the string type J-LIS uses for it.
pub(crate) enum Attr<'a> {
    Printable(ObjectIdentifier, &'a str),
    Utf8(ObjectIdentifier, &'a str),
}

/// A distinguished name, one attribute per RDN, in the order given.
pub(crate) fn name(attrs: &[Attr<'_>]) -> Result<Name, der::Error> {
    let rdns = attrs
        .iter()
        .map(|a| {
            let (oid, value) = match a {
                Attr::Printable(oid, v) => (*oid, Any::from(PrintableStringRef::new(v)?)),
                Attr::Utf8(oid, v) => (*oid, Any::from(Utf8StringRef::new(v)?)),
            };
            let atv = AttributeTypeAndValue { oid, value };
            Ok(RelativeDistinguishedName(SetOfVec::try_from(vec![atv])?))
        })
        .collect::<Result<Vec<_>, der::Error>>()?;
    Ok(RdnSequence(rdns))
}

/// `C=JP, O=JPKI-SANDBOX, OU=<the CA's unit>, <last>`: the names of a sandbox CA and of its responder.
fn sandbox_name(role: KeyRole, last: Attr<'_>) -> Result<Name, der::Error> {
    name(&[Attr::Printable(ID_AT_COUNTRY_NAME, "JP"), Attr::Utf8(O, "JPKI-SANDBOX"), Attr::Utf8(OU, unit(role)), last])
}

pub(crate) fn x509_time(t: OffsetDateTime) -> Result<Time, der::Error> {
    let secs = u64::try_from(t.unix_timestamp()).map_err(|_| der::ErrorKind::DateTime)?;
    let d = std::time::Duration::from_secs(secs);
    // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    if t.year() < 2050 {
        Ok(Time::UtcTime(UtcTime::from_unix_duration(d)?))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_unix_duration(d)?))
    }
}

pub(crate) fn generalized_time(t: OffsetDateTime) -> Result<GeneralizedTime, der::Error> {
    let secs = u64::try_from(t.unix_timestamp()).map_err(|_| der::ErrorKind::DateTime)?;
    GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(secs))
}

pub(crate) fn sha256_with_rsa() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid: SHA_256_WITH_RSA_ENCRYPTION, parameters: Some(Any::from(Null)) }
}

/// A random positive serial number of 8 bytes (RFC 5280 §4.1.2.2 allows up to 20).
pub(crate) fn random_serial() -> [u8; 8] {
    let mut s: [u8; 8] = jpki_crypto::random_bytes();
    s[0] = (s[0] & 0x7f).max(1);
    s
}

/// SHA-1 of the subjectPublicKey BIT STRING's bytes: RFC 5280 §4.2.1.2 method (1), and OCSP's key hash.
pub(crate) fn key_id(spki: &SubjectPublicKeyInfoOwned) -> [u8; 20] {
    jpki_crypto::sha1(spki.subject_public_key.raw_bytes())
}

/// A key a certificate is issued for, or signed with.
#[derive(Clone, Copy)]
pub(crate) enum CertKey<'a> {
    Rsa(&'a RsaKey),
    Ec(&'a EcKey),
}

impl CertKey<'_> {
    fn spki(self) -> Result<SubjectPublicKeyInfoOwned, der::Error> {
        match self {
            CertKey::Rsa(k) => SubjectPublicKeyInfoOwned::from_der(&k.public_key_spki_der()),
            CertKey::Ec(k) => SubjectPublicKeyInfoOwned::from_der(&k.public_key_spki_der()),
        }
    }

    /// sha256WithRSAEncryption (RFC 4055) or ecdsa-with-SHA256 (RFC 5758 §3.2, no parameters).
    fn signature_algorithm(self) -> AlgorithmIdentifierOwned {
        match self {
            CertKey::Rsa(_) => sha256_with_rsa(),
            CertKey::Ec(_) => AlgorithmIdentifierOwned { oid: ECDSA_WITH_SHA_256, parameters: None },
        }
    }

    fn sign(self, tbs: &[u8]) -> Result<Vec<u8>, jpki_crypto::CryptoError> {
        match self {
            CertKey::Rsa(k) => k.sign_sha256(tbs),
            CertKey::Ec(k) => k.sign_der(tbs),
        }
    }
}

/// What goes into one certificate.
pub(crate) struct CertSpec<'a> {
    pub serial: &'a [u8],
    pub subject: Name,
    pub subject_key: CertKey<'a>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub extensions: Vec<Extension>,
}

/// Signs `spec` with `issuer_key` under `issuer` (a self-signed certificate when they are the subject's).
pub(crate) fn sign_certificate(spec: CertSpec<'_>, issuer: &Name, issuer_key: CertKey<'_>) -> Result<Vec<u8>, IssuerError> {
    let spki = spec.subject_key.spki()?;
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(spec.serial)?,
        signature: issuer_key.signature_algorithm(),
        issuer: issuer.clone(),
        validity: Validity { not_before: x509_time(spec.not_before)?, not_after: x509_time(spec.not_after)? },
        subject: spec.subject,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(spec.extensions),
    };
    let signature = issuer_key.sign(&tbs.to_der()?)?;
    let cert = Certificate { tbs_certificate: tbs, signature_algorithm: issuer_key.signature_algorithm(), signature: BitString::from_bytes(&signature)? };
    Ok(cert.to_der()?)
}

/// A loaded CA: its certificate and key, and its OCSP responder's.
pub struct Ca {
    pub role: KeyRole,
    pub certificate: Certificate,
    pub certificate_der: Vec<u8>,
    pub key: RsaKey,
    pub key_id: [u8; 20],
    pub responder_certificate: Certificate,
    pub responder_certificate_der: Vec<u8>,
    pub responder_key: RsaKey,
}

impl Ca {
    pub fn name(&self) -> &Name {
        &self.certificate.tbs_certificate.subject
    }

    pub fn certificate_pem(&self) -> String {
        jpki_files::pem("CERTIFICATE", &self.certificate_der)
    }

    /// Creates a new CA of `role`, valid from `now` for ten years, with its responder.
    pub fn create(role: KeyRole, now: OffsetDateTime) -> Result<Ca, IssuerError> {
        let key = RsaKey::generate_2048()?;
        let subject = sandbox_name(role, Attr::Utf8(OU, "openjpki sandbox issuer (not J-LIS)"))?;
        let alt_name = name(&[
            Attr::Printable(ID_AT_COUNTRY_NAME, "JP"),
            Attr::Utf8(O, "公的個人認証サービス（サンドボックス）"),
            Attr::Utf8(OU, japanese_unit(role)),
            Attr::Utf8(OU, "openjpki"),
        ])?;
        let spki = SubjectPublicKeyInfoOwned::from_der(&key.public_key_spki_der())?;
        let key_id = key_id(&spki);
        let extensions = vec![
            extension(ID_CE_KEY_USAGE, true, &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))?,
            extension(ID_CE_BASIC_CONSTRAINTS, true, &BasicConstraints { ca: true, path_len_constraint: None })?,
            extension(ID_CE_SUBJECT_KEY_IDENTIFIER, false, &SubjectKeyIdentifier(OctetString::new(key_id)?))?,
            extension(ID_CE_SUBJECT_ALT_NAME, false, &SubjectAltName(vec![GeneralName::DirectoryName(alt_name)]))?,
            extension(ID_CE_CRL_DISTRIBUTION_POINTS, false, &jpki_profile::cert_profile::directory_crl_dp(&subject))?,
        ];
        let not_after = now.replace_year(now.year() + CA_LIFETIME_YEARS).map_err(|_| IssuerError::Time)?;
        let spec = CertSpec { serial: &random_serial(), subject: subject.clone(), subject_key: CertKey::Rsa(&key), not_before: now, not_after, extensions };
        let certificate_der = sign_certificate(spec, &subject, CertKey::Rsa(&key))?;

        let responder_key = RsaKey::generate_2048()?;
        let responder_subject = sandbox_name(role, Attr::Utf8(CN, "OCSP Responder"))?;
        let responder_spki = SubjectPublicKeyInfoOwned::from_der(&responder_key.public_key_spki_der())?;
        let responder_extensions = vec![
            extension(ID_CE_KEY_USAGE, true, &KeyUsage(KeyUsages::DigitalSignature.into()))?,
            extension(ID_CE_EXT_KEY_USAGE, false, &ExtendedKeyUsage(vec![ID_KP_OCSP_SIGNING]))?,
            extension(ID_PKIX_OCSP_NOCHECK, false, &Null)?,
            extension(ID_CE_SUBJECT_KEY_IDENTIFIER, false, &SubjectKeyIdentifier(OctetString::new(self::key_id(&responder_spki))?))?,
            authority_key_id(&key_id)?,
        ];
        let spec = CertSpec {
            serial: &random_serial(),
            subject: responder_subject,
            subject_key: CertKey::Rsa(&responder_key),
            not_before: now,
            not_after,
            extensions: responder_extensions,
        };
        let responder_certificate_der = sign_certificate(spec, &subject, CertKey::Rsa(&key))?;
        Ca::from_parts(role, &certificate_der, key, &responder_certificate_der, responder_key)
    }

    pub fn from_parts(role: KeyRole, certificate_der: &[u8], key: RsaKey, responder_certificate_der: &[u8], responder_key: RsaKey) -> Result<Ca, IssuerError> {
        let certificate = Certificate::from_der(certificate_der)?;
        let key_id = key_id(&certificate.tbs_certificate.subject_public_key_info);
        Ok(Ca {
            role,
            certificate,
            certificate_der: certificate_der.to_vec(),
            key,
            key_id,
            responder_certificate: Certificate::from_der(responder_certificate_der)?,
            responder_certificate_der: responder_certificate_der.to_vec(),
            responder_key,
        })
    }

    pub fn not_after(&self) -> OffsetDateTime {
        jpki_profile::cert_profile::x509_time(&self.certificate.tbs_certificate.validity.not_after).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The authority key identifier extension naming this CA's key.
    pub fn authority_key_id(&self) -> Result<Extension, der::Error> {
        authority_key_id(&self.key_id)
    }
}

pub(crate) fn authority_key_id(key_id: &[u8; 20]) -> Result<Extension, der::Error> {
    let aki =
        AuthorityKeyIdentifier { key_identifier: Some(OctetString::new(key_id.to_vec())?), authority_cert_issuer: None, authority_cert_serial_number: None };
    extension(ID_CE_AUTHORITY_KEY_IDENTIFIER, false, &aki)
}

/// The subject of an end-entity certificate: `C=JP, CN=<opaque id>` (J-LIS's subject CN is an opaque
/// identifier of about 23 characters, ../shared/reference/jpki-card.md §13), and for a signature
/// certificate the holder's municipality between them (soltia48/myna-card tests/certificates.rs: a real
/// test card's signature subject holds `Kiyose-shi`, its authentication subject does not; the attribute
/// type is not stated there, localityName is the one X.520 defines for it).
pub(crate) fn end_entity_subject(locality: Option<&str>) -> Result<Name, der::Error> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let random: [u8; 23] = jpki_crypto::random_bytes();
    let cn: String = random.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect();
    let mut attrs = vec![Attr::Printable(ID_AT_COUNTRY_NAME, "JP")];
    attrs.extend(locality.map(|l| Attr::Utf8(LOCALITY_NAME, l)));
    attrs.push(Attr::Printable(CN, &cn));
    name(&attrs)
}
