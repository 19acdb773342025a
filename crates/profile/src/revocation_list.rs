//! Reading a CRL (RFC 5280 §5) as a relying party does: who issued it, when it is current, its number,
//! and each revoked serial with its reason code (§5.3.1) and invalidity date (§5.3.2).
//!
//! Platform operators learn of 4-info changes from J-LIS's daily CRL: an `affiliationChanged` entry on a
//! signature certificate means the holder moved or changed name (seed 001 §3-2-2).

use crate::revocation_reason::RevocationReason;
use const_oid::db::rfc5280::{ID_CE_CRL_NUMBER, ID_CE_CRL_REASONS, ID_CE_DELTA_CRL_INDICATOR, ID_CE_INVALIDITY_DATE, ID_CE_ISSUING_DISTRIBUTION_POINT};
use der::asn1::GeneralizedTime;
use der::Decode;
use serde::Serialize;

use crate::cert_profile::PointName;
use time::OffsetDateTime;
use x509_cert::crl::{CertificateList, RevokedCert};
use x509_cert::ext::pkix::CrlNumber;
use x509_cert::ext::Extension;

use crate::cert_profile::serial_hex;

#[derive(Debug, thiserror::Error)]
pub enum CrlError {
    #[error("not a DER CRL: {0}")]
    Der(#[from] der::Error),
    #[error("CRL extension {0} is malformed")]
    Extension(&'static str),
    #[error("a CRL date is out of range")]
    Time,
}

#[derive(Debug, Clone, Serialize)]
pub struct RevokedSerial {
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
    /// `None` when the entry has no reasonCode (unspecified).
    pub reason: Option<RevocationReason>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub invalidity_date: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RevocationList {
    pub issuer: String,
    #[serde(with = "time::serde::rfc3339")]
    pub this_update: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_update: Option<OffsetDateTime>,
    /// The CRL number, as lower-case hex.
    pub number: Option<String>,
    /// Which of the issuer's certificates it covers.
    pub scope: CrlScope,
    pub entries: Vec<RevokedSerial>,
}

pub fn time(t: &x509_cert::time::Time) -> Result<OffsetDateTime, CrlError> {
    crate::cert_profile::x509_time(t).ok_or(CrlError::Time)
}

fn find(exts: &Option<Vec<Extension>>, oid: const_oid::ObjectIdentifier) -> Option<&Extension> {
    exts.as_deref().unwrap_or_default().iter().find(|e| e.extn_id == oid)
}

/// An entry of a CRL's revokedCertificates, read.
pub fn revoked_serial(entry: &RevokedCert) -> Result<RevokedSerial, CrlError> {
    let reason = match find(&entry.crl_entry_extensions, ID_CE_CRL_REASONS) {
        Some(e) => Some(RevocationReason::from_der(e.extn_value.as_bytes()).map_err(|_| CrlError::Extension("reasonCode"))?),
        None => None,
    };
    let invalidity_date = match find(&entry.crl_entry_extensions, ID_CE_INVALIDITY_DATE) {
        Some(e) => {
            let t = GeneralizedTime::from_der(e.extn_value.as_bytes()).map_err(|_| CrlError::Extension("invalidityDate"))?;
            Some(crate::cert_profile::unix_time(t.to_unix_duration()).ok_or(CrlError::Time)?)
        }
        None => None,
    };
    Ok(RevokedSerial { serial: serial_hex(entry.serial_number.as_bytes()), revoked_at: time(&entry.revocation_date)?, reason, invalidity_date })
}

/// The cRLNumber (RFC 5280 §5.2.3) among a CRL's extensions, as lower-case hex.
pub fn crl_number(extensions: &Option<Vec<Extension>>) -> Result<Option<String>, CrlError> {
    find(extensions, ID_CE_CRL_NUMBER)
        .map(|e| CrlNumber::from_der(e.extn_value.as_bytes()).map(|n| serial_hex(n.0.as_bytes())).map_err(|_| CrlError::Extension("cRLNumber")))
        .transpose()
}

/// Which of its issuer's certificates a CRL covers (RFC 5280 §5.2.5): all of them, or those whose
/// distribution point is the one its issuingDistributionPoint names (§6.3.3 (b)(2)(i)). J-LIS
/// partitions the signature CA's CRL per municipality this way. Serialized as the point's name, or
/// `null` for the whole CA.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CrlScope {
    WholeCa,
    Point(PointName),
}

impl CrlScope {
    /// The scope of a CRL with these extensions.
    pub fn of_crl(extensions: &Option<Vec<Extension>>) -> Result<CrlScope, CrlError> {
        use x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint;
        let Some(e) = find(extensions, ID_CE_ISSUING_DISTRIBUTION_POINT) else { return Ok(CrlScope::WholeCa) };
        let idp = IssuingDistributionPoint::from_der(e.extn_value.as_bytes()).map_err(|_| CrlError::Extension("issuingDistributionPoint"))?;
        Ok(idp.distribution_point.as_ref().map_or(CrlScope::WholeCa, |p| CrlScope::Point(PointName::new(p))))
    }

    /// Whether a certificate naming `points` is within this scope.
    pub fn covers(&self, points: &[PointName]) -> bool {
        match self {
            CrlScope::WholeCa => true,
            CrlScope::Point(point) => points.contains(point),
        }
    }

    /// As stored: the point's name, or the empty string for the whole CA.
    pub fn as_stored(&self) -> &str {
        match self {
            CrlScope::WholeCa => "",
            CrlScope::Point(p) => p.as_str(),
        }
    }

    pub fn from_stored(stored: String) -> CrlScope {
        if stored.is_empty() {
            CrlScope::WholeCa
        } else {
            CrlScope::Point(PointName(stored))
        }
    }
}

impl Serialize for CrlScope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CrlScope::WholeCa => s.serialize_none(),
            CrlScope::Point(p) => s.serialize_some(p.as_str()),
        }
    }
}

impl std::fmt::Display for CrlScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CrlScope::WholeCa => f.write_str("the whole CA"),
            CrlScope::Point(p) => write!(f, "distribution point {}", p.as_str()),
        }
    }
}

/// Whether a CRL is a delta CRL (RFC 5280 §5.2.4), which lists only what changed since a base CRL.
pub fn is_delta(extensions: &Option<Vec<Extension>>) -> bool {
    find(extensions, ID_CE_DELTA_CRL_INDICATOR).is_some()
}

impl RevocationList {
    /// Decodes a DER CRL. The signature is not checked here: that is the verifier's job.
    pub fn from_der(der: &[u8]) -> Result<Self, CrlError> {
        let crl = CertificateList::from_der(der)?;
        let tbs = crl.tbs_cert_list;
        let entries = tbs.revoked_certificates.iter().flatten().map(revoked_serial).collect::<Result<_, _>>()?;
        Ok(RevocationList {
            issuer: crate::cert_profile::name_string(&tbs.issuer),
            this_update: time(&tbs.this_update)?,
            next_update: tbs.next_update.as_ref().map(time).transpose()?,
            number: crl_number(&tbs.crl_extensions)?,
            scope: CrlScope::of_crl(&tbs.crl_extensions)?,
            entries,
        })
    }
}
