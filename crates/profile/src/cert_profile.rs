//! The JPKI certificate profile: how J-LIS's certificates say what they are and whom they name.
//!
//! - The signature certificate (署名用電子証明書) carries the holder's basic 4 information as
//!   subjectAltName `otherName` entries under 1.2.392.200149.8.5.5, each value an `[0] EXPLICIT
//!   UTF8String` (../shared/reference/jpki-card.md §13).
//! - The authentication certificate (利用者証明用電子証明書) carries no personal information.
//! - The certificate policy tells the two apart and, by its class, a card certificate from a smartphone
//!   one: 1.2.392.200149.8.5.1.1.20 signature (card), 1.2.392.200149.8.5.1.3.30 authentication (card);
//!   the test environment's signature policy is 1.2.392.200149.8.5.1.0.20. A secondary source reports
//!   class 40 (1.2.392.200149.8.5.1.1.40) for smartphone signature certificates; the smartphone
//!   authentication class is not public, and openjpki uses 1.2.392.200149.8.5.1.3.40. Decoding treats any
//!   class of 40 or more as a smartphone certificate. Confirm against J-LIS's profile specification
//!   (公的個人認証サービス プロファイル仕様書) when it can be read.
//! - CA certificates are self-signed roots, one per CA and generation (2015, 2023), with
//!   `OU=JPKI for digital signature` or `OU=JPKI for user authentication`.

use const_oid::db::rfc5280::{ID_CE_BASIC_CONSTRAINTS, ID_CE_CRL_DISTRIBUTION_POINTS, ID_KP_OCSP_SIGNING};
use const_oid::db::rfc5280::{ID_CE_CERTIFICATE_POLICIES, ID_CE_EXT_KEY_USAGE, ID_CE_KEY_USAGE, ID_CE_SUBJECT_ALT_NAME};
use const_oid::ObjectIdentifier;
use der::asn1::{Any, OctetString, Utf8StringRef};
use der::{Decode, Encode, Tag, Tagged};
use serde::Serialize;
use time::OffsetDateTime;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName, OtherName};
use x509_cert::ext::pkix::{BasicConstraints, CertificatePolicies, CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::Certificate;

use crate::four_info::{AltCharFlags, BirthDate, FourInfo, FourInfoError, Sex};

/// 1.2.392.200149.8.5.5.x: the basic 4 information in the signature certificate's subjectAltName.
pub mod oid {
    use const_oid::ObjectIdentifier as Oid;
    pub const NAME: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.1");
    pub const NAME_ALT_FLAGS: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.2");
    pub const SEX: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.3");
    pub const BIRTH_DATE: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.4");
    pub const ADDRESS: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.5");
    pub const ADDRESS_ALT_FLAGS: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.6");

    /// The JPKI certificate-policy arc; `.1.<purpose>.<class>`.
    pub const POLICY_ARC: Oid = Oid::new_unwrap("1.2.392.200149.8.5.1");
    pub const POLICY_SIGN_CARD: Oid = Oid::new_unwrap("1.2.392.200149.8.5.1.1.20");
    pub const POLICY_AUTH_CARD: Oid = Oid::new_unwrap("1.2.392.200149.8.5.1.3.30");
    pub const POLICY_SIGN_SMARTPHONE: Oid = Oid::new_unwrap("1.2.392.200149.8.5.1.1.40");
    pub const POLICY_AUTH_SMARTPHONE: Oid = Oid::new_unwrap("1.2.392.200149.8.5.1.3.40");
}

/// The first policy class used for smartphone certificates.
const SMARTPHONE_CLASS: u32 = 40;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("not a DER X.509 certificate: {0}")]
    Der(#[from] der::Error),
    #[error("certificate extension {oid} is malformed: {source}")]
    Extension { oid: ObjectIdentifier, source: der::Error },
    #[error("signature certificate's {field} attribute is missing")]
    MissingAttribute { field: &'static str },
    #[error("signature certificate's {field} attribute is not a UTF8String")]
    AttributeEncoding { field: &'static str },
    #[error("signature certificate's 4 information is invalid: {0}")]
    FourInfo(#[from] FourInfoError),
    #[error("the certificate's validity period is out of range")]
    Validity,
}

/// What a certificate is for, in JPKI's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertKind {
    /// 署名用電子証明書.
    Signature,
    /// 利用者証明用電子証明書.
    Authentication,
    /// The signature CA (署名用認証局).
    SignatureCa,
    /// The user-authentication CA (利用者証明用認証局).
    AuthenticationCa,
    /// A CA this profile does not name.
    OtherCa,
    /// A delegated OCSP responder.
    OcspResponder,
    /// None of the above.
    Other,
}

impl CertKind {
    /// The role of an end-entity certificate; `None` for CAs, responders and others.
    pub fn role(self) -> Option<KeyRole> {
        match self {
            CertKind::Signature => Some(KeyRole::Signature),
            CertKind::Authentication => Some(KeyRole::Authentication),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CertKind::Signature => "signature",
            CertKind::Authentication => "authentication",
            CertKind::SignatureCa => "signature_ca",
            CertKind::AuthenticationCa => "authentication_ca",
            CertKind::OtherCa => "other_ca",
            CertKind::OcspResponder => "ocsp_responder",
            CertKind::Other => "other",
        }
    }
}

/// Where the end-entity key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    Card,
    Smartphone,
}

impl Device {
    pub const ALL: [Device; 2] = [Device::Card, Device::Smartphone];

    pub fn as_str(self) -> &'static str {
        match self {
            Device::Card => "card",
            Device::Smartphone => "smartphone",
        }
    }

    /// The device named by [`Device::as_str`].
    pub fn parse(s: &str) -> Option<Device> {
        Device::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// The facts a relying party reads off a JPKI certificate.
#[derive(Debug, Clone, Serialize)]
pub struct JpkiCertificate {
    pub kind: CertKind,
    /// `None` for CA and responder certificates.
    pub device: Option<Device>,
    /// Issued under the JPKI test environment's policy (試験用).
    pub test_environment: bool,
    /// Lower-case hex of the serial number's magnitude.
    pub serial: String,
    pub subject: DistinguishedName,
    pub issuer: DistinguishedName,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// The holder's 4 information (signature certificates only).
    pub four_info: Option<FourInfo>,
    /// The keyUsage extension (RFC 5280 §4.2.1.3), when present.
    #[serde(skip)]
    pub key_usage: Option<KeyUsage>,
    /// The CRL distribution points it names (RFC 5280 §4.2.1.13): which partition of its issuer's CRL
    /// lists it.
    #[serde(skip)]
    pub crl_points: Vec<PointName>,
}

/// A certificate as a verifier reads it (RFC 5280 §4.1), borrowed from its DER: decoding one copies
/// only the serial number.
#[derive(Clone, Debug, der::Sequence)]
pub struct CertificateRef<'a> {
    pub tbs_certificate: TbsCertificateRef<'a>,
    pub signature_algorithm: x509_cert::spki::AlgorithmIdentifierRef<'a>,
    pub signature: der::asn1::BitStringRef<'a>,
}

/// TBSCertificate (RFC 5280 §4.1.2), borrowed.
#[derive(Clone, Debug, der::Sequence)]
pub struct TbsCertificateRef<'a> {
    #[asn1(context_specific = "0", default = "Default::default")]
    pub version: x509_cert::certificate::Version,
    pub serial_number: x509_cert::serial_number::SerialNumber,
    pub signature: x509_cert::spki::AlgorithmIdentifierRef<'a>,
    pub issuer: RawName<'a>,
    pub validity: x509_cert::time::Validity,
    pub subject: RawName<'a>,
    pub subject_public_key_info: x509_cert::spki::SubjectPublicKeyInfoRef<'a>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub issuer_unique_id: Option<der::asn1::BitStringRef<'a>>,
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT", optional = "true")]
    pub subject_unique_id: Option<der::asn1::BitStringRef<'a>>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    pub extensions: Option<Vec<ExtensionRef<'a>>>,
}

/// A Name's DER as received (RFC 5280 §4.1.2.4), checked only to be a SEQUENCE; read by
/// [`name_string_der`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawName<'a>(&'a [u8]);

impl<'a> RawName<'a> {
    /// The whole TLV.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl Encode for RawName<'_> {
    fn encoded_len(&self) -> der::Result<der::Length> {
        der::Length::try_from(self.0.len())
    }

    fn encode(&self, writer: &mut impl der::Writer) -> der::Result<()> {
        writer.write(self.0)
    }
}

impl<'a> Decode<'a> for RawName<'a> {
    fn decode<R: der::Reader<'a>>(reader: &mut R) -> der::Result<Self> {
        reader.peek_tag()?.assert_eq(Tag::Sequence)?;
        Ok(RawName(reader.tlv_bytes()?))
    }
}

/// An OBJECT IDENTIFIER's content octets as received (X.690 §8.19), compared with known OIDs byte for
/// byte. DER gives an OID exactly one encoding, so equal bytes are the same OID and a malformed one
/// equals none; [`OidBytes::to_oid`] checks it when it has to be named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OidBytes<'a>(&'a [u8]);

impl OidBytes<'_> {
    pub fn to_oid(self) -> Result<ObjectIdentifier, der::Error> {
        ObjectIdentifier::from_bytes(self.0).map_err(|_| Tag::ObjectIdentifier.value_error())
    }
}

impl PartialEq<ObjectIdentifier> for OidBytes<'_> {
    fn eq(&self, oid: &ObjectIdentifier) -> bool {
        self.0 == oid.as_bytes()
    }
}

impl der::FixedTag for OidBytes<'_> {
    const TAG: Tag = Tag::ObjectIdentifier;
}

impl<'a> der::DecodeValue<'a> for OidBytes<'a> {
    fn decode_value<R: der::Reader<'a>>(reader: &mut R, header: der::Header) -> der::Result<Self> {
        Ok(OidBytes(reader.read_slice(header.length)?))
    }
}

impl der::EncodeValue for OidBytes<'_> {
    fn value_len(&self) -> der::Result<der::Length> {
        der::Length::try_from(self.0.len())
    }

    fn encode_value(&self, writer: &mut impl der::Writer) -> der::Result<()> {
        writer.write(self.0)
    }
}

/// Extension (RFC 5280 §4.1.2.9), borrowed.
#[derive(Clone, Debug, der::Sequence)]
pub struct ExtensionRef<'a> {
    pub extn_id: OidBytes<'a>,
    #[asn1(default = "Default::default")]
    pub critical: bool,
    pub extn_value: der::asn1::OctetStringRef<'a>,
}

impl<'a> CertificateRef<'a> {
    /// The value of extension `oid`, if present.
    pub fn extension(&self, oid: ObjectIdentifier) -> Option<&'a [u8]> {
        self.tbs_certificate.extensions.iter().flatten().find(|e| e.extn_id == oid).map(|e| e.extn_value.as_bytes())
    }

    /// The subject's public key (the content of the SubjectPublicKeyInfo's BIT STRING).
    pub fn public_key(&self) -> &'a [u8] {
        self.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes()
    }
}

/// The certificate fields the profile reads.
struct Fields<'c> {
    extension: &'c dyn Fn(ObjectIdentifier) -> Option<&'c [u8]>,
    /// The names' DER.
    subject: &'c [u8],
    issuer: &'c [u8],
    serial: &'c [u8],
    validity: &'c x509_cert::time::Validity,
}

fn decode_ext<'a, T: Decode<'a>>(value: Option<&'a [u8]>, oid: ObjectIdentifier) -> Result<Option<T>, ProfileError> {
    value.map(|v| T::from_der(v).map_err(|source| ProfileError::Extension { oid, source })).transpose()
}

/// Serial number as lower-case hex without leading zero bytes.
pub fn serial_hex(bytes: &[u8]) -> String {
    let trimmed = match bytes.iter().position(|&b| b != 0) {
        Some(i) => &bytes[i..],
        None => &[0u8][..],
    };
    hex::encode(trimmed)
}

/// The time an ASN.1 time (UTCTime, GeneralizedTime) gives as its `to_unix_duration()`; `None` when
/// it is out of `OffsetDateTime`'s range.
pub fn unix_time(since_epoch: std::time::Duration) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(i64::try_from(since_epoch.as_secs()).ok()?).ok()
}

/// A certificate's or CRL's time (RFC 5280 §4.1.2.5: UTCTime or GeneralizedTime); `None` when it is
/// out of `OffsetDateTime`'s range.
pub fn x509_time(t: &x509_cert::time::Time) -> Option<OffsetDateTime> {
    unix_time(t.to_unix_duration())
}

fn to_time(t: &x509_cert::time::Time) -> Result<OffsetDateTime, ProfileError> {
    x509_time(t).ok_or(ProfileError::Validity)
}

/// Purpose and class of a JPKI policy OID: `(purpose, class)` for `1.2.392.200149.8.5.1.<purpose>.<class>`.
fn jpki_policy(oid: &ObjectIdentifier) -> Option<(u32, u32)> {
    let mut arcs = oid.arcs();
    if !oid::POLICY_ARC.arcs().all(|base| arcs.next() == Some(base)) {
        return None;
    }
    match (arcs.next(), arcs.next(), arcs.next()) {
        (Some(purpose), Some(class), None) => Some((purpose, class)),
        _ => None,
    }
}

/// The first JPKI policy in a certificatePolicies extension's value (RFC 5280 §4.2.1.4: a SEQUENCE OF
/// PolicyInformation, each a policy OID and optional qualifiers), read in place.
fn jpki_policy_in(policies: &[u8]) -> Result<Option<(u32, u32)>, der::Error> {
    use der::{Reader, SliceReader};
    let mut reader = SliceReader::new(policies)?;
    let found = reader.sequence(|list| {
        let mut found = None;
        while !list.is_finished() {
            let id = list.sequence(|info| {
                let id: OidBytes<'_> = info.decode()?;
                if !info.is_finished() {
                    info.peek_tag()?.assert_eq(Tag::Sequence)?;
                    info.tlv_bytes()?;
                }
                Ok(id)
            })?;
            if found.is_none() && id.0.starts_with(oid::POLICY_ARC.as_bytes()) {
                found = jpki_policy(&id.to_oid()?);
            }
        }
        Ok(found)
    })?;
    reader.finish(found)
}

impl JpkiCertificate {
    pub fn from_der(der: &[u8]) -> Result<Self, ProfileError> {
        Self::from_ref(&CertificateRef::from_der(der)?)
    }

    pub fn from_certificate(cert: &Certificate) -> Result<Self, ProfileError> {
        let tbs = &cert.tbs_certificate;
        let extension = |oid| tbs.extensions.iter().flatten().find(|e: &&Extension| e.extn_id == oid).map(|e| e.extn_value.as_bytes());
        let serial = tbs.serial_number.as_bytes();
        let (subject, issuer) = (tbs.subject.to_der()?, tbs.issuer.to_der()?);
        Self::read(Fields { extension: &extension, subject: &subject, issuer: &issuer, serial, validity: &tbs.validity })
    }

    pub fn from_ref(cert: &CertificateRef<'_>) -> Result<Self, ProfileError> {
        let tbs = &cert.tbs_certificate;
        let extension = |oid| cert.extension(oid);
        let serial = tbs.serial_number.as_bytes();
        Self::read(Fields { extension: &extension, subject: tbs.subject.as_bytes(), issuer: tbs.issuer.as_bytes(), serial, validity: &tbs.validity })
    }

    fn read(cert: Fields<'_>) -> Result<Self, ProfileError> {
        let ext = cert.extension;
        let basic: Option<BasicConstraints> = decode_ext(ext(ID_CE_BASIC_CONSTRAINTS), ID_CE_BASIC_CONSTRAINTS)?;
        let eku: Option<ExtendedKeyUsage> = decode_ext(ext(ID_CE_EXT_KEY_USAGE), ID_CE_EXT_KEY_USAGE)?;
        let ku: Option<KeyUsage> = decode_ext(ext(ID_CE_KEY_USAGE), ID_CE_KEY_USAGE)?;

        let jpki_policy = ext(ID_CE_CERTIFICATE_POLICIES)
            .map(|v| jpki_policy_in(v).map_err(|source| ProfileError::Extension { oid: ID_CE_CERTIFICATE_POLICIES, source }))
            .transpose()?
            .flatten();
        let four_info = ext(ID_CE_SUBJECT_ALT_NAME).map(four_info_from_san).transpose()?.flatten();
        let points: Option<CrlDistributionPoints> = decode_ext(ext(ID_CE_CRL_DISTRIBUTION_POINTS), ID_CE_CRL_DISTRIBUTION_POINTS)?;
        let crl_points = points.map(|p| PointName::of_points(&p)).unwrap_or_default();

        let (kind, device, test_environment) = if basic.is_some_and(|b| b.ca) {
            let lower = name_string_der(cert.subject)?.to_lowercase();
            let kind = if lower.contains("jpki for digital signature") {
                CertKind::SignatureCa
            } else if lower.contains("jpki for user authentication") {
                CertKind::AuthenticationCa
            } else {
                CertKind::OtherCa
            };
            (kind, None, false)
        } else if eku.as_ref().is_some_and(|e| e.0.contains(&ID_KP_OCSP_SIGNING)) {
            (CertKind::OcspResponder, None, false)
        } else if let Some((purpose, class)) = jpki_policy {
            let kind = match purpose {
                0 | 1 => CertKind::Signature,
                3 => CertKind::Authentication,
                _ => CertKind::Other,
            };
            let device = if class >= SMARTPHONE_CLASS { Device::Smartphone } else { Device::Card };
            (kind, Some(device), purpose == 0)
        } else if four_info.is_some() || ku.is_some_and(|k| k.0.contains(KeyUsages::NonRepudiation)) {
            (CertKind::Signature, Some(Device::Card), false)
        } else if eku.is_none() && ku.is_some_and(|k| k.0.contains(KeyUsages::DigitalSignature)) {
            // JPKI end entities carry no extendedKeyUsage: one that names other purposes (an mdoc
            // reader's, a TLS server's) is not an authentication certificate.
            (CertKind::Authentication, Some(Device::Card), false)
        } else {
            (CertKind::Other, None, false)
        };
        if kind == CertKind::Signature && four_info.is_none() {
            return Err(ProfileError::MissingAttribute { field: "name" });
        }

        Ok(JpkiCertificate {
            kind,
            device,
            test_environment,
            serial: serial_hex(cert.serial),
            subject: DistinguishedName(cert.subject.to_vec()),
            issuer: DistinguishedName(cert.issuer.to_vec()),
            not_before: to_time(&cert.validity.not_before)?,
            not_after: to_time(&cert.validity.not_after)?,
            four_info,
            key_usage: ku,
            crl_points,
        })
    }
}

/// A Name's DER as the certificate carries it (RFC 5280 §4.1.2.4), shown as RFC 4514 text. The text is
/// made when it is shown, not when the certificate is read: a verification names nobody by their DN.
#[derive(Clone, PartialEq, Eq)]
pub struct DistinguishedName(Vec<u8>);

impl DistinguishedName {
    pub fn der(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Display for DistinguishedName {
    /// RFC 4514 text, or `#` and the DER's hex when the name cannot be read.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match name_string_der(&self.0) {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "#{}", hex::encode(&self.0)),
        }
    }
}

impl std::fmt::Debug for DistinguishedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DistinguishedName({self})")
    }
}

impl Serialize for DistinguishedName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A distinguished name as RFC 4514 text (`CN=…,OU=…,O=JPKI,C=JP`). x509-cert's `Display` looks every
/// attribute type up in const-oid's whole OID database, which made naming the most expensive step of a
/// verification; JPKI names use a handful of types, named here, others by dotted OID.
pub fn name_string(name: &Name) -> String {
    name.to_der().ok().and_then(|der| name_string_der(&der).ok()).unwrap_or_default()
}

/// [`name_string`] of a Name's DER, read in place (RFC 5280 §4.1.2.4: a SEQUENCE of SETs of
/// attribute type and value).
pub fn name_string_der(der: &[u8]) -> Result<String, der::Error> {
    use const_oid::db::rfc4519::{C, CN, L, O, OU, ST};
    use der::asn1::AnyRef;
    use der::{Reader, SliceReader};
    let mut rdns = Vec::new();
    let mut reader = SliceReader::new(der)?;
    reader.sequence(|r| {
        while !r.is_finished() {
            let rdn: AnyRef<'_> = r.decode()?;
            rdn.tag().assert_eq(Tag::Set)?;
            rdns.push(rdn.value());
        }
        Ok(())
    })?;
    reader.finish(())?;
    let mut out = String::new();
    for rdn in rdns.iter().rev() {
        let mut atvs = SliceReader::new(rdn)?;
        let mut first = true;
        while !atvs.is_finished() {
            let (oid, value) = atvs.sequence(|a| Ok((a.decode::<ObjectIdentifier>()?, a.decode::<AnyRef<'_>>()?)))?;
            if !out.is_empty() {
                out.push(if first { ',' } else { '+' });
            }
            first = false;
            match oid {
                C => out.push('C'),
                CN => out.push_str("CN"),
                L => out.push('L'),
                O => out.push('O'),
                OU => out.push_str("OU"),
                ST => out.push_str("ST"),
                other => out.push_str(&other.to_string()),
            }
            out.push('=');
            let text = match value.tag() {
                Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString => String::from_utf8_lossy(value.value()),
                _ => format!("#{}", hex::encode(value.value())).into(),
            };
            for c in text.chars() {
                if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';') {
                    out.push('\\');
                }
                out.push(c);
            }
        }
    }
    Ok(out)
}

fn attribute_text<'a>(value: der::asn1::AnyRef<'a>, field: &'static str) -> Result<&'a str, ProfileError> {
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => std::str::from_utf8(value.value()).map_err(|_| ProfileError::AttributeEncoding { field }),
        _ => Err(ProfileError::AttributeEncoding { field }),
    }
}

/// The JPKI attributes in the order of `oid::NAME` … `oid::ADDRESS_ALT_FLAGS` (…5.5.1 to …5.5.6).
const JPKI_ATTRIBUTES: [(ObjectIdentifier, &str); 6] = [
    (oid::NAME, "name"),
    (oid::NAME_ALT_FLAGS, "name flags"),
    (oid::SEX, "sex"),
    (oid::BIRTH_DATE, "date of birth"),
    (oid::ADDRESS, "address"),
    (oid::ADDRESS_ALT_FLAGS, "address flags"),
];

/// Reads the 4 information from a subjectAltName extension's value; `None` when it carries no JPKI
/// attribute at all. GeneralNames (RFC 5280 §4.2.1.6) is walked in place: each otherName
/// (`[0] { type-id OID, [0] EXPLICIT value }`) with a JPKI type is read, every other name is skipped
/// whole, and the first of a repeated attribute counts.
///
/// Sources disagree on which of .5.5.5 and .5.5.6 holds the address and which its flags; the flags are
/// told from the address by their content (only `0` and `1`), so both orders decode.
pub fn four_info_from_san(san: &[u8]) -> Result<Option<FourInfo>, ProfileError> {
    use der::asn1::{AnyRef, ContextSpecific};
    use der::{Reader, SliceReader, TagNumber};
    const OTHER_NAME: Tag = Tag::ContextSpecific { constructed: true, number: TagNumber::N0 };
    let malformed = |source| ProfileError::Extension { oid: ID_CE_SUBJECT_ALT_NAME, source };
    let mut values: [Option<AnyRef<'_>>; 6] = [None; 6];
    let mut reader = SliceReader::new(san).map_err(malformed)?;
    reader
        .sequence(|names| {
            while !names.is_finished() {
                let name: AnyRef<'_> = names.decode()?;
                if name.tag() != OTHER_NAME {
                    continue;
                }
                let mut other = SliceReader::new(name.value())?;
                let type_id: OidBytes<'_> = other.decode()?;
                let value = ContextSpecific::<AnyRef<'_>>::decode_explicit(&mut other, TagNumber::N0)?
                    .ok_or_else(|| other.error(der::ErrorKind::TagUnexpected { expected: Some(OTHER_NAME), actual: Tag::Null }))?;
                other.finish(())?;
                if let Some(i) = JPKI_ATTRIBUTES.iter().position(|(oid, _)| type_id == *oid) {
                    values[i].get_or_insert(value.value);
                }
            }
            Ok(())
        })
        .map_err(malformed)?;
    reader.finish(()).map_err(malformed)?;
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut attrs: [Option<&str>; 6] = [None; 6];
    for ((text, value), (_, field)) in attrs.iter_mut().zip(values).zip(JPKI_ATTRIBUTES) {
        *text = value.map(|v| attribute_text(v, field)).transpose()?;
    }
    let [name, name_flags, sex, birth_date, five, six] = attrs;
    let missing = |field| ProfileError::MissingAttribute { field };
    let name = name.ok_or(missing("name"))?;
    let sex_text = sex.ok_or(missing("sex"))?;
    let sex = sex_text.parse::<u8>().ok().and_then(Sex::from_code).ok_or_else(|| FourInfoError::BadSex(sex_text.to_owned()))?;
    let birth_date = BirthDate::from_jpki(birth_date.ok_or(missing("date of birth"))?)?;
    let five = five.ok_or(missing("address"))?;
    let is_flags = |s: &str| !s.is_empty() && s.chars().all(|c| c == '0' || c == '1');
    let (address, address_flags) = match six {
        Some(six) if is_flags(five) && !is_flags(six) => (six, Some(five)),
        other => (five, other),
    };

    let mut info = FourInfo::new(name, address, birth_date, sex)?;
    if let Some(flags) = name_flags {
        info.name_alt = AltCharFlags::parse("name", &info.name, flags)?;
    }
    if let Some(flags) = address_flags {
        info.address_alt = AltCharFlags::parse("address", &info.address, flags)?;
    }
    Ok(Some(info))
}

fn other_name(type_id: ObjectIdentifier, text: &str) -> Result<GeneralName, der::Error> {
    let value = Any::from(Utf8StringRef::new(text)?);
    Ok(GeneralName::OtherName(OtherName { type_id, value }))
}

/// The signature certificate's subjectAltName for `info`.
pub fn four_info_san(info: &FourInfo) -> Result<SubjectAltName, der::Error> {
    Ok(SubjectAltName(vec![
        other_name(oid::NAME, &info.name)?,
        other_name(oid::NAME_ALT_FLAGS, &info.name_alt.to_string())?,
        other_name(oid::SEX, &info.sex.code().to_string())?,
        other_name(oid::BIRTH_DATE, &info.birth_date.to_jpki())?,
        other_name(oid::ADDRESS, &info.address)?,
        other_name(oid::ADDRESS_ALT_FLAGS, &info.address_alt.to_string())?,
    ]))
}

/// An X.509 extension holding the DER of `value`.
pub fn extension(oid: ObjectIdentifier, critical: bool, value: &impl Encode) -> Result<Extension, der::Error> {
    Ok(Extension { extn_id: oid, critical, extn_value: OctetString::new(value.to_der()?)? })
}

/// JPKI's two uses, each with its own certificate, key, PIN and CA: 署名用 (signature) and 利用者証明用
/// (user authentication). The one type for "which of the two" everywhere: profile, fees, card, issuer,
/// verification and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRole {
    /// 署名用電子証明書, its key and the signature CA (署名用認証局).
    Signature,
    /// 利用者証明用電子証明書, its key and the user-authentication CA (利用者証明用認証局).
    Authentication,
}

impl KeyRole {
    pub const ALL: [KeyRole; 2] = [KeyRole::Signature, KeyRole::Authentication];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Signature => "signature",
            KeyRole::Authentication => "authentication",
        }
    }

    /// The role named by [`KeyRole::as_str`] or by its [`KeyRole::file_stem`].
    pub fn parse(s: &str) -> Option<KeyRole> {
        KeyRole::ALL.into_iter().find(|r| r.as_str() == s || r.file_stem() == s)
    }

    /// File-name stem of exports and published lists: `sign-cert.pem`, `auth-ca.pem`, `sign.crl`, …
    pub fn file_stem(self) -> &'static str {
        match self {
            KeyRole::Signature => "sign",
            KeyRole::Authentication => "auth",
        }
    }

    /// The kind of an end-entity certificate of this role.
    pub fn end_entity(self) -> CertKind {
        match self {
            KeyRole::Signature => CertKind::Signature,
            KeyRole::Authentication => CertKind::Authentication,
        }
    }

    /// The kind of the CA certificate of this role.
    pub fn ca(self) -> CertKind {
        match self {
            KeyRole::Signature => CertKind::SignatureCa,
            KeyRole::Authentication => CertKind::AuthenticationCa,
        }
    }

    /// The certificate policy of this role's end-entity certificates on `device`.
    pub fn policy(self, device: Device) -> ObjectIdentifier {
        match (self, device) {
            (KeyRole::Signature, Device::Card) => oid::POLICY_SIGN_CARD,
            (KeyRole::Authentication, Device::Card) => oid::POLICY_AUTH_CARD,
            (KeyRole::Signature, Device::Smartphone) => oid::POLICY_SIGN_SMARTPHONE,
            (KeyRole::Authentication, Device::Smartphone) => oid::POLICY_AUTH_SMARTPHONE,
        }
    }
}

/// The CRL distribution point of an end-entity certificate: J-LIS names a directory name below the
/// issuing CA's, one per municipality for signature certificates,
/// `C=JP, O=JPKI, OU=JPKI for digital signature, OU=CRL Distribution Points, OU=<prefecture>, CN=<city>`
/// (../shared/reference/relying-party-apis.md, from the layout of real test-card certificates), and
/// the CA's own name for authentication certificates, whose CRL is not partitioned. A signature
/// certificate whose address names no municipality gets the CA's name too.
pub fn crl_point(which: KeyRole, issuer: &Name, info: Option<&FourInfo>) -> Result<Name, der::Error> {
    use const_oid::db::rfc4519::{COMMON_NAME, ORGANIZATIONAL_UNIT_NAME};
    use x509_cert::attr::AttributeTypeAndValue;
    use x509_cert::name::RelativeDistinguishedName;
    let municipality = info.filter(|_| which == KeyRole::Signature).and_then(|i| crate::municipality::Municipality::of_address(i.address.as_str()));
    let Some(m) = municipality else { return Ok(issuer.clone()) };
    let mut point = issuer.clone();
    for (oid, value) in [(ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"), (ORGANIZATIONAL_UNIT_NAME, m.prefecture), (COMMON_NAME, m.city.as_str())] {
        let atv = AttributeTypeAndValue { oid, value: Any::from(Utf8StringRef::new(value)?) };
        point.0.push(RelativeDistinguishedName(der::asn1::SetOfVec::try_from(vec![atv])?));
    }
    Ok(point)
}

/// The name of a CRL distribution point (RFC 5280 §4.2.1.13) as text: a directory name as
/// [`crate::cert_profile::name_string`] writes it, a URI as it is, several names joined by ` | `. J-LIS
/// names one directory name per distribution point, so names are compared whole.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PointName(pub(crate) String);

impl PointName {
    pub fn new(name: &DistributionPointName) -> PointName {
        use x509_cert::ext::pkix::name::GeneralName;
        match name {
            DistributionPointName::FullName(names) => PointName(
                names
                    .iter()
                    .map(|n| match n {
                        GeneralName::DirectoryName(name) => name_string(name),
                        GeneralName::UniformResourceIdentifier(uri) => uri.to_string(),
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join(" | "),
            ),
            DistributionPointName::NameRelativeToCRLIssuer(rdn) => PointName(rdn.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The distribution points a certificate's cRLDistributionPoints extension names.
    pub fn of_points(points: &x509_cert::ext::pkix::CrlDistributionPoints) -> Vec<PointName> {
        points.0.iter().filter_map(|p| p.distribution_point.as_ref()).map(PointName::new).collect()
    }
}

/// A cRLDistributionPoints extension's value naming one directory name, as J-LIS writes them.
pub fn directory_crl_dp(point: &Name) -> CrlDistributionPoints {
    CrlDistributionPoints(vec![DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(vec![GeneralName::DirectoryName(point.clone())])),
        reasons: None,
        crl_issuer: None,
    }])
}

/// Profile extensions of an end-entity certificate (key identifiers are added by the issuing CA):
/// critical key usage (signature: digitalSignature + nonRepudiation; authentication: digitalSignature),
/// the JPKI policy, the 4 information (signature only) and the CRL distribution point ([`crl_point`]).
pub fn end_entity_extensions(which: KeyRole, device: Device, info: Option<&FourInfo>, crl_point: &Name) -> Result<Vec<Extension>, der::Error> {
    let usage = match which {
        KeyRole::Signature => KeyUsages::DigitalSignature | KeyUsages::NonRepudiation,
        KeyRole::Authentication => KeyUsages::DigitalSignature.into(),
    };
    let policies = CertificatePolicies(vec![PolicyInformation { policy_identifier: which.policy(device), policy_qualifiers: None }]);
    let mut exts = vec![
        extension(ID_CE_KEY_USAGE, true, &KeyUsage(usage))?,
        extension(ID_CE_CERTIFICATE_POLICIES, true, &policies)?,
        extension(ID_CE_CRL_DISTRIBUTION_POINTS, false, &directory_crl_dp(crl_point))?,
    ];
    if let (KeyRole::Signature, Some(info)) = (which, info) {
        exts.push(extension(ID_CE_SUBJECT_ALT_NAME, false, &four_info_san(info)?)?);
    }
    Ok(exts)
}

/// Youngest age at which a signature certificate is issued: J-LIS issues none to people under 15 in
/// principle (総務省/J-LIS: 「15歳未満の方…には、原則として署名用電子証明書は発行されません」).
pub const SIGNATURE_CERT_MIN_AGE: i32 = 15;

/// Japan Standard Time, in which J-LIS counts validity days.
pub const JST: time::UtcOffset = match time::UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("JST"),
};

/// End of an end-entity certificate's validity: the end (23:59:59 JST) of the holder's fifth birthday
/// after issuance (電子証明書の有効期間は「発行の日後５回目の誕生日まで」; 公的個人認証法施行規則, as
/// explained by J-LIS and e.g. NTT East's column on JPKI certificate validity), and never after the
/// card or device carrying the key expires.
pub fn end_entity_not_after(birth: BirthDate, issued_at: OffsetDateTime, carrier_expires: OffsetDateTime) -> OffsetDateTime {
    let issued = issued_at.to_offset(JST).date();
    let fifth = nth_birthday_after(birth, issued, 5);
    let end = fifth.with_hms(23, 59, 59).expect("valid time").assume_offset(JST).to_offset(time::UtcOffset::UTC);
    end.min(carrier_expires)
}

/// The card's own validity (マイナンバーカードの有効期間, 番号法施行規則 第26条): the 10th birthday after
/// issuance for holders aged 18 or over at issuance, the 5th for younger holders; end of day JST.
pub fn card_not_after(birth: BirthDate, issued_at: OffsetDateTime) -> OffsetDateTime {
    let issued = issued_at.to_offset(JST).date();
    let years = if birth.age_on(issued) >= 18 { 10 } else { 5 };
    let day = nth_birthday_after(birth, issued, years);
    day.with_hms(23, 59, 59).expect("valid time").assume_offset(JST).to_offset(time::UtcOffset::UTC)
}

fn nth_birthday_after(birth: BirthDate, issued: time::Date, n: i32) -> time::Date {
    // The first birthday strictly after the issue date counts as the first.
    let this_year = birth.birthday_in(issued.year());
    let first = if this_year > issued { issued.year() } else { issued.year() + 1 };
    birth.birthday_in(first + n - 1)
}

#[cfg(test)]
mod validity_tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn fifth_birthday_rule() {
        let birth = BirthDate::parse_iso("1980-02-17").unwrap();
        let far = datetime!(2100-01-01 0:00 UTC);
        // Issued 2026-11-23: birthdays 2027..2031, the fifth is 2031-02-17.
        let end = end_entity_not_after(birth, datetime!(2026-11-23 01:00 UTC), far);
        assert_eq!(end, datetime!(2031-02-17 14:59:59 UTC));
        // Issued on the birthday itself: that day does not count.
        let end = end_entity_not_after(birth, datetime!(2026-02-17 03:00 UTC), far);
        assert_eq!(end, datetime!(2031-02-17 14:59:59 UTC));
        // Capped by the carrier.
        let card = datetime!(2029-01-01 0:00 UTC);
        assert_eq!(end_entity_not_after(birth, datetime!(2026-11-23 01:00 UTC), card), card);
        // Card: 10th birthday for adults, 5th for minors.
        assert_eq!(card_not_after(birth, datetime!(2026-11-23 01:00 UTC)), datetime!(2036-02-17 14:59:59 UTC));
        let child = BirthDate::parse_iso("2015-06-01").unwrap();
        assert_eq!(card_not_after(child, datetime!(2026-11-23 01:00 UTC)), datetime!(2031-06-01 14:59:59 UTC));
    }
}

#[cfg(test)]
mod san_tests {
    use super::*;
    use der::asn1::Ia5String;

    fn sample() -> FourInfo {
        FourInfo::new("山田　太郎", "東京都千代田区永田町一丁目", BirthDate::parse_iso("1980-02-17").unwrap(), Sex::Male).unwrap()
    }

    fn der(names: Vec<GeneralName>) -> Vec<u8> {
        SubjectAltName(names).to_der().unwrap()
    }

    #[test]
    fn the_four_info_written_into_a_san_reads_back_whatever_else_it_holds() {
        let info = sample();
        let written = four_info_san(&info).unwrap().0;
        assert_eq!(four_info_from_san(&der(written.clone())).unwrap(), Some(info.clone()));

        // Other names around the attributes are skipped; a repeated attribute counts once, the first.
        let mut mixed = vec![GeneralName::DnsName(Ia5String::new("example.jp").unwrap())];
        mixed.extend(written.clone());
        mixed.push(other_name(oid::NAME, "別人　次郎").unwrap());
        mixed.push(other_name(ObjectIdentifier::new_unwrap("1.2.3.4"), "unrelated").unwrap());
        assert_eq!(four_info_from_san(&der(mixed)).unwrap(), Some(info.clone()));

        // The address and its flags in either order.
        let mut swapped = written.clone();
        let position = |oid| swapped.iter().position(|n| matches!(n, GeneralName::OtherName(o) if o.type_id == oid)).unwrap();
        let (five, six) = (position(oid::ADDRESS), position(oid::ADDRESS_ALT_FLAGS));
        for (i, oid) in [(five, oid::ADDRESS_ALT_FLAGS), (six, oid::ADDRESS)] {
            if let GeneralName::OtherName(o) = &mut swapped[i] {
                o.type_id = oid;
            }
        }
        assert_eq!(four_info_from_san(&der(swapped)).unwrap(), Some(info));
    }

    #[test]
    fn a_san_without_jpki_attributes_has_no_four_info_and_a_partial_one_names_what_is_missing() {
        assert_eq!(four_info_from_san(&der(vec![GeneralName::DnsName(Ia5String::new("example.jp").unwrap())])).unwrap(), None);
        let without_sex: Vec<_> =
            four_info_san(&sample()).unwrap().0.into_iter().filter(|n| !matches!(n, GeneralName::OtherName(o) if o.type_id == oid::SEX)).collect();
        assert!(matches!(four_info_from_san(&der(without_sex)), Err(ProfileError::MissingAttribute { field: "sex" })));
    }

    #[test]
    fn a_malformed_san_is_an_extension_error_never_a_panic() {
        let good = der(four_info_san(&sample()).unwrap().0);
        for end in 0..good.len() {
            assert!(matches!(four_info_from_san(&good[..end]), Err(ProfileError::Extension { .. })), "truncated at {end}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(four_info_from_san(&trailing), Err(ProfileError::Extension { .. })));
        // An otherName whose value is not [0] EXPLICIT.
        let bad = [0x30, 0x0a, 0xa0, 0x08, 0x06, 0x03, 0x2a, 0x03, 0x04, 0x0c, 0x01, 0x41];
        assert!(matches!(four_info_from_san(&bad), Err(ProfileError::Extension { .. })));
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;
    use x509_cert::ext::pkix::certpolicy::PolicyQualifierInfo;

    fn der(policies: &[(ObjectIdentifier, bool)]) -> Vec<u8> {
        let info = |(oid, qualified): &(ObjectIdentifier, bool)| PolicyInformation {
            policy_identifier: *oid,
            policy_qualifiers: qualified.then(|| {
                vec![PolicyQualifierInfo {
                    policy_qualifier_id: const_oid::db::rfc5280::ID_QT_CPS,
                    qualifier: Some(Any::encode_from(&der::asn1::Ia5String::new("https://www.jpki.go.jp/").unwrap()).unwrap()),
                }]
            }),
        };
        CertificatePolicies(policies.iter().map(info).collect()).to_der().unwrap()
    }

    #[test]
    fn the_first_jpki_policy_is_found_among_others_with_or_without_qualifiers() {
        let other = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.9");
        assert_eq!(jpki_policy_in(&der(&[(other, true), (oid::POLICY_SIGN_SMARTPHONE, true), (oid::POLICY_AUTH_CARD, false)])).unwrap(), Some((1, 40)));
        assert_eq!(jpki_policy_in(&der(&[(oid::POLICY_AUTH_CARD, false)])).unwrap(), Some((3, 30)));
        assert_eq!(jpki_policy_in(&der(&[(oid::POLICY_ARC, false), (other, false)])).unwrap(), None);
    }

    #[test]
    fn malformed_policies_are_an_error() {
        let mut trailing = der(&[(oid::POLICY_AUTH_CARD, true)]);
        trailing.push(0);
        assert!(jpki_policy_in(&trailing).is_err());
        let good = der(&[(oid::POLICY_AUTH_CARD, true)]);
        // SEQUENCE { SEQUENCE { OID, qualifiers } }, all with one-byte lengths: the qualifiers' tag follows the OID.
        let qualifiers = 4 + 2 + oid::POLICY_AUTH_CARD.as_bytes().len();
        assert_eq!(good[qualifiers], 0x30);
        let mut not_a_sequence = good.clone();
        not_a_sequence[qualifiers] = 0x31;
        assert!(jpki_policy_in(&not_a_sequence).is_err());
        for cut in 1..good.len() {
            assert!(jpki_policy_in(&good[..cut]).is_err(), "cut at {cut}");
        }
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn a_name_shows_as_rfc4514_text_and_an_unreadable_one_as_its_hex() {
        let name = Name::from_str("CN=Test\\, Inc.,OU=JPKI for digital signature,O=JPKI,C=JP").unwrap();
        let shown = DistinguishedName(name.to_der().unwrap());
        assert_eq!(shown.to_string(), "CN=Test\\, Inc.,OU=JPKI for digital signature,O=JPKI,C=JP");
        assert_eq!(serde_json::to_string(&shown).unwrap(), "\"CN=Test\\\\, Inc.,OU=JPKI for digital signature,O=JPKI,C=JP\"");
        let truncated = DistinguishedName(name.to_der().unwrap()[..10].to_vec());
        assert!(truncated.to_string().starts_with('#'));
    }
}
