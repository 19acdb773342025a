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

/// Which part of its issuer's certificates a CRL covers: the distributionPoint of its
/// issuingDistributionPoint extension (RFC 5280 §5.2.5), as text (a directory name as
/// [`crate::cert_profile::name_string`] writes it, a URI as it is), or `None` for a CRL of them all.
/// J-LIS partitions the signature CA's CRL per municipality this way.
pub fn partition(extensions: &Option<Vec<Extension>>) -> Result<Option<String>, CrlError> {
    use x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint;
    use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
    let Some(e) = find(extensions, ID_CE_ISSUING_DISTRIBUTION_POINT) else { return Ok(None) };
    let idp = IssuingDistributionPoint::from_der(e.extn_value.as_bytes()).map_err(|_| CrlError::Extension("issuingDistributionPoint"))?;
    let names = match idp.distribution_point {
        Some(DistributionPointName::FullName(names)) => names,
        Some(DistributionPointName::NameRelativeToCRLIssuer(rdn)) => return Ok(Some(rdn.to_string())),
        None => return Ok(None),
    };
    let text: Vec<String> = names
        .iter()
        .map(|n| match n {
            GeneralName::DirectoryName(name) => crate::cert_profile::name_string(name),
            GeneralName::UniformResourceIdentifier(uri) => uri.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    Ok(Some(text.join(" | ")))
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
            entries,
        })
    }
}
