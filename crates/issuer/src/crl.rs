//! Full CRLs (RFC 5280 §5) with a CRL number, the authority key identifier, and per entry the reason
//! code (§5.3.1) and invalidity date (§5.3.2). The authentication CA publishes one CRL of all its
//! certificates; the signature CA one per distribution point its certificates name (one per
//! municipality, as J-LIS partitions it: [`jpki_profile::cert_profile::crl_point`]), each marked with an
//! issuingDistributionPoint (§5.2.5) naming that point.
//!
//! A CRL of J-LIS's size (millions of entries) is never held in memory: entries stream from the
//! database into a spool file while their DER length is counted; the final file is then written with
//! lengths known up front, hashed as it is written, signed over the digest, fsynced and renamed into
//! place. Memory use is independent of the number of entries; a crash leaves the previous CRL intact.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use const_oid::db::rfc5280::{ID_CE_CRL_NUMBER, ID_CE_CRL_REASONS, ID_CE_INVALIDITY_DATE, ID_CE_ISSUING_DISTRIBUTION_POINT};
use der::asn1::Uint;
use der::{Decode, Encode};
use futures_util::{Stream, StreamExt};
use jpki_crypto::{DigestContext, RsaKey, SHA256};
use jpki_profile::cert_profile::PointName;
use jpki_profile::revocation_list::CrlScope;
use jpki_profile::revocation_reason::RevocationReason;
use jpki_store::sqlx;
use serde::Serialize;
use time::OffsetDateTime;
use x509_cert::crl::RevokedCert;
use x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::CrlNumber;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;

use crate::ca::{extension, generalized_time, sha256_with_rsa, x509_time};
use crate::{from_unix, now, Issuer, IssuerError};
use jpki_profile::KeyRole;

/// How long a CRL is current: J-LIS publishes one a day (seed 001: 「毎日作成されるCRL」).
pub const CRL_LIFETIME: time::Duration = time::Duration::days(1);

/// One revoked certificate.
#[derive(Debug, Clone)]
pub struct RevokedEntry {
    /// Serial number magnitude, big-endian.
    pub serial: Vec<u8>,
    pub revoked_at: OffsetDateTime,
    pub reason: RevocationReason,
    pub invalidity_date: Option<OffsetDateTime>,
}

impl RevokedEntry {
    fn to_der(&self) -> Result<Vec<u8>, IssuerError> {
        let mut exts: Vec<Extension> = Vec::with_capacity(2);
        // RFC 5280 §5.3.1: the unspecified reason SHOULD be expressed by leaving the extension out.
        if self.reason != RevocationReason::Unspecified {
            exts.push(extension(ID_CE_CRL_REASONS, false, &self.reason)?);
        }
        if let Some(t) = self.invalidity_date {
            exts.push(extension(ID_CE_INVALIDITY_DATE, false, &generalized_time(t)?)?);
        }
        let entry = RevokedCert {
            serial_number: SerialNumber::new(&self.serial)?,
            revocation_date: x509_time(self.revoked_at)?,
            crl_entry_extensions: (!exts.is_empty()).then_some(exts),
        };
        Ok(entry.to_der()?)
    }
}

/// The header fields of one CRL.
pub struct CrlParams<'a> {
    pub issuer: &'a Name,
    pub issuer_key: &'a RsaKey,
    pub authority_key_id: Extension,
    pub number: u64,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    /// The distribution point a partitioned CRL covers; `None` for a CRL of all the CA's certificates.
    pub point: Option<&'a Name>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CrlSummary {
    pub path: PathBuf,
    /// Which of the CA's certificates it covers.
    pub scope: CrlScope,
    pub number: u64,
    pub entries: u64,
    pub bytes: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub this_update: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub next_update: OffsetDateTime,
}

/// DER tag and definite length. Written by hand because `der::Length` stops at 256 MiB and a CRL of
/// tens of millions of entries is larger.
fn header(tag: u8, len: u64) -> Vec<u8> {
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().position(|&b| b != 0).unwrap_or(7);
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out
}

/// Writes a signed CRL to `out` from a stream of entries; see the module documentation.
pub async fn write_crl<S>(params: CrlParams<'_>, entries: S, out: &Path) -> Result<CrlSummary, IssuerError>
where
    S: Stream<Item = Result<RevokedEntry, IssuerError>>,
{
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| IssuerError::io(dir, e))?;

    // Pass 1: entries to the spool, counting.
    let spool = tempfile::Builder::new().prefix(".crl-spool-").tempfile_in(dir).map_err(|e| IssuerError::io(dir, e))?;
    let mut spool_writer = BufWriter::with_capacity(1 << 20, spool.as_file().try_clone().map_err(|e| IssuerError::io(dir, e))?);
    let (mut count, mut spool_len) = (0u64, 0u64);
    futures_util::pin_mut!(entries);
    while let Some(entry) = entries.next().await {
        let der = entry?.to_der()?;
        spool_writer.write_all(&der).map_err(|e| IssuerError::io(spool.path(), e))?;
        count += 1;
        spool_len += der.len() as u64;
    }
    spool_writer.flush().map_err(|e| IssuerError::io(spool.path(), e))?;
    drop(spool_writer);

    // The TBSCertList around the spooled entries.
    let mut head = Vec::new();
    head.extend(1u8.to_der()?); // version v2
    head.extend(sha256_with_rsa().to_der()?);
    head.extend(params.issuer.to_der()?);
    head.extend(x509_time(params.this_update)?.to_der()?);
    head.extend(x509_time(params.next_update)?.to_der()?);
    let revoked_header = if count > 0 { header(0x30, spool_len) } else { Vec::new() };
    let number = CrlNumber(Uint::new(&params.number.to_be_bytes())?);
    let mut extensions = vec![params.authority_key_id, extension(ID_CE_CRL_NUMBER, false, &number)?];
    let scope = match params.point {
        Some(point) => {
            let full_name = DistributionPointName::FullName(vec![GeneralName::DirectoryName(point.clone())]);
            let idp = IssuingDistributionPoint {
                distribution_point: Some(full_name.clone()),
                only_contains_user_certs: false,
                only_contains_ca_certs: false,
                only_some_reasons: None,
                indirect_crl: false,
                only_contains_attribute_certs: false,
            };
            // §5.2.5: "this extension is critical".
            extensions.push(extension(ID_CE_ISSUING_DISTRIBUTION_POINT, true, &idp)?);
            CrlScope::Point(PointName::new(&full_name))
        }
        None => CrlScope::WholeCa,
    };
    let extensions = extensions.to_der()?;
    let mut tail = header(0xa0, extensions.len() as u64);
    tail.extend(extensions);
    let body_len = if count > 0 { revoked_header.len() as u64 + spool_len } else { 0 };
    let tbs_content_len = head.len() as u64 + body_len + tail.len() as u64;
    let tbs_header = header(0x30, tbs_content_len);
    let algorithm = sha256_with_rsa().to_der()?;
    let signature_len = params.issuer_key.signature_len() as u64;
    let bit_string_header = header(0x03, signature_len + 1);
    let outer_len = tbs_header.len() as u64 + tbs_content_len + algorithm.len() as u64 + bit_string_header.len() as u64 + 1 + signature_len;

    // Pass 2: the final file, hashing the TBSCertList as it goes.
    let tmp = tempfile::Builder::new().prefix(".crl-").tempfile_in(dir).map_err(|e| IssuerError::io(dir, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file().try_clone().map_err(|e| IssuerError::io(dir, e))?);
    let mut digest = DigestContext::new(&SHA256);
    let io = |e| IssuerError::io(out, e);
    w.write_all(&header(0x30, outer_len)).map_err(io)?;
    for part in [&tbs_header, &head, &revoked_header] {
        digest.update(part);
        w.write_all(part).map_err(io)?;
    }
    let mut reader = BufReader::with_capacity(1 << 20, File::open(spool.path()).map_err(|e| IssuerError::io(spool.path(), e))?);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf).map_err(|e| IssuerError::io(spool.path(), e))?;
        if n == 0 {
            break;
        }
        digest.update(&buf[..n]);
        w.write_all(&buf[..n]).map_err(io)?;
    }
    digest.update(&tail);
    w.write_all(&tail).map_err(io)?;
    let hash: [u8; 32] = digest.finish().as_ref().try_into().expect("SHA-256 is 32 bytes");
    let signature = params.issuer_key.sign_sha256_digest(&hash)?;
    w.write_all(&algorithm).map_err(io)?;
    w.write_all(&bit_string_header).map_err(io)?;
    w.write_all(&[0]).map_err(io)?;
    w.write_all(&signature).map_err(io)?;
    w.flush().map_err(io)?;
    drop(w);
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(out).map_err(|e| IssuerError::io(out, e.error))?;
    jpki_files::sync_dir(dir);
    let bytes = std::fs::metadata(out).map_err(io)?.len();
    Ok(CrlSummary {
        path: out.to_path_buf(),
        scope,
        number: params.number,
        entries: count,
        bytes,
        this_update: params.this_update,
        next_update: params.next_update,
    })
}

/// The file a CRL is published as in `dir`: `auth.crl`, and for the signature CA `sign-<id>.crl` per
/// distribution point, `<id>` the first 8 hex digits of the SHA-256 of the point's DER name.
pub fn crl_file_name(role: KeyRole, point: Option<&[u8]>) -> String {
    match point {
        Some(der) => format!("{}-{}.crl", role.file_stem(), &hex::encode(jpki_crypto::sha256(der))[..8]),
        None => format!("{}.crl", role.file_stem()),
    }
}

/// The role whose CRL a file of this name is, for names of the forms [`crl_file_name`] writes.
pub fn crl_file_role(name: &str) -> Option<KeyRole> {
    let stem = name.strip_suffix(".crl")?;
    KeyRole::ALL.into_iter().find(|role| match stem.strip_prefix(role.file_stem()) {
        Some("") => true,
        Some(id) => id.strip_prefix('-').is_some_and(|id| id.len() == 8 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))),
        None => false,
    })
}

/// Whether `dir` holds a published CRL of `role`.
pub fn is_published(dir: &Path, role: KeyRole) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| entries.filter_map(Result::ok).any(|e| crl_file_role(&e.file_name().to_string_lossy()) == Some(role)))
}

impl Issuer {
    /// Publishes the full CRLs of `role` into `dir` ([`crl_file_name`]), all with one CRL number.
    /// Certificates that have expired are left out (RFC 5280 §3.3), but a distribution point stays
    /// published while any certificate ever named it, so a partition never disappears. A published CRL
    /// that is no longer written (the signature CA's single CRL of earlier versions) is removed.
    pub async fn publish_crl(&self, role: KeyRole, dir: &Path) -> Result<Vec<CrlSummary>, IssuerError> {
        let ca = self.ca(role);
        let ca_name = ca.name().to_der()?;
        sqlx::query("UPDATE certificate SET crl_point = $1 WHERE ca_role = $2 AND crl_point IS NULL")
            .bind(ca_name.clone())
            .bind(role.as_str())
            .execute(self.db.pool())
            .await?;
        let points: Vec<Option<Vec<u8>>> = match role {
            KeyRole::Authentication => vec![None],
            KeyRole::Signature => {
                let rows: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT DISTINCT crl_point FROM certificate WHERE ca_role = $1 ORDER BY crl_point")
                    .bind(role.as_str())
                    .fetch_all(self.db.pool())
                    .await?;
                let mut points: Vec<Option<Vec<u8>>> = rows.into_iter().map(|(p,)| Some(p)).collect();
                if points.is_empty() {
                    // A new CA: the one point its certificates without a municipality name.
                    points.push(Some(ca_name.clone()));
                }
                points
            }
        };
        let (number,): (i64,) = sqlx::query_as("UPDATE issuer_ca SET next_crl_number = next_crl_number + 1 WHERE role = $1 RETURNING next_crl_number - 1")
            .bind(role.as_str())
            .fetch_one(self.db.pool())
            .await?;
        let this_update = now();
        let mut summaries = Vec::with_capacity(points.len());
        for point in &points {
            let point_name =
                point.as_deref().map(Name::from_der).transpose().map_err(|e| IssuerError::Corrupt(format!("a stored CRL distribution point: {e}")))?;
            let params = CrlParams {
                issuer: ca.name(),
                issuer_key: &ca.key,
                authority_key_id: ca.authority_key_id()?,
                number: number as u64,
                this_update,
                next_update: this_update + CRL_LIFETIME,
                point: point_name.as_ref(),
            };
            let rows = sqlx::query_as::<_, (String, i64, Option<i64>, Option<i64>)>(
                "SELECT serial, revoked_at, revocation_reason, invalidity_date FROM certificate
                 WHERE ca_role = $1 AND revoked_at IS NOT NULL AND not_after > $2 AND ($3 = 0 OR crl_point = $4)",
            )
            .bind(role.as_str())
            .bind(this_update.unix_timestamp())
            .bind(i64::from(point.is_some()))
            .bind(point.clone().unwrap_or_default())
            .fetch(self.db.pool());
            let entries = rows.map(|row| {
                let (serial, revoked_at, reason, invalidity) = row?;
                Ok(RevokedEntry {
                    serial: hex::decode(&serial).map_err(|_| IssuerError::Corrupt(format!("stored serial {serial:?} is not hex")))?,
                    revoked_at: from_unix(revoked_at),
                    reason: RevocationReason::from_code(reason.unwrap_or(0)),
                    invalidity_date: invalidity.map(from_unix),
                })
            });
            summaries.push(write_crl(params, entries, &dir.join(crl_file_name(role, point.as_deref()))).await?);
        }
        let written: Vec<&std::ffi::OsStr> = summaries.iter().filter_map(|s| s.path.file_name()).collect();
        let entries = std::fs::read_dir(dir).map_err(|e| IssuerError::io(dir, e))?;
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            if crl_file_role(&name.to_string_lossy()) == Some(role) && !written.contains(&name.as_os_str()) {
                std::fs::remove_file(entry.path()).map_err(|e| IssuerError::io(&entry.path(), e))?;
            }
        }
        Ok(summaries)
    }
}

#[cfg(test)]
mod tests {
    use super::header;

    #[test]
    fn der_headers() {
        assert_eq!(header(0x30, 5), vec![0x30, 5]);
        assert_eq!(header(0x30, 0x80), vec![0x30, 0x81, 0x80]);
        assert_eq!(header(0x30, 0x1234), vec![0x30, 0x82, 0x12, 0x34]);
        assert_eq!(header(0x30, 1_400_000_000), vec![0x30, 0x84, 0x53, 0x72, 0x4e, 0x00]);
    }
}
