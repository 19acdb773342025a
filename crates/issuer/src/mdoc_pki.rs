//! The sandbox's mdoc PKI (ISO/IEC 18013-5 Annex B), P-256 throughout:
//! - the IACA root (`C=JP`), exported as `<data-dir>/trust/iaca.pem` for verifiers;
//! - a document signer it certifies (keyUsage digitalSignature, EKU 1.0.18013.5.1.2), which signs
//!   every record's MSO and the status list;
//! - a reader CA that certifies relying parties' readers (EKU 1.0.18013.5.1.6, a DNS name for
//!   OpenID4VP's `x509_san_dns:`), marking those entitled under the Number Act with
//!   [`jpki_mdoc::mnc::NUMBER_ACT_VERIFIER_POLICY`]. Phones trust this root for reader authentication.
//!
//! Who operates Japan's IACA is not public (../shared/reference/mdoc.md §9); names say `JPKI-SANDBOX`.

use const_oid::db::rfc4519::{CN, COUNTRY_NAME, O};
use const_oid::db::rfc5280::{
    ID_CE_BASIC_CONSTRAINTS, ID_CE_CERTIFICATE_POLICIES, ID_CE_EXT_KEY_USAGE, ID_CE_ISSUER_ALT_NAME, ID_CE_KEY_USAGE, ID_CE_SUBJECT_ALT_NAME,
    ID_CE_SUBJECT_KEY_IDENTIFIER,
};
use der::asn1::{Ia5String, OctetString};
use der::Decode;
use jpki_crypto::EcKey;
use jpki_mdoc::issuance::DocumentSigner;
use jpki_mdoc::trust::{EKU_MDL_DS, EKU_MDL_READER_AUTH};
use jpki_store::sqlx;
use spki::SubjectPublicKeyInfoOwned;
use time::{Duration, OffsetDateTime};
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, CertificatePolicies, ExtendedKeyUsage, IssuerAltName, KeyUsage, KeyUsages, SubjectAltName, SubjectKeyIdentifier};
use x509_cert::name::Name;
use x509_cert::Certificate;

use crate::ca::{extension, key_id, name, random_serial, sign_certificate, Attr, CertKey, CertSpec};
use crate::{now, Issuer, IssuerError};

/// Where the sandbox publishes the records' status list, under the URL it is reached at (served at
/// `/issuer/status/mnc`).
pub fn status_list_uri(base: &str) -> String {
    format!("{}{STATUS_LIST_PATH}", base.trim_end_matches('/'))
}

pub const STATUS_LIST_PATH: &str = "/issuer/status/mnc";
/// How long a status list token is good for: verifiers refetch after this.
pub const STATUS_LIST_TTL_SECONDS: i64 = 300;
const ISSUER_URI: &str = "https://issuer.sandbox.openjpki.invalid/";
const ROOT_YEARS: i32 = 10;
/// Annex B.1.4 caps a document signer's validity at 457 days.
const SIGNER_DAYS: i64 = 457;
/// How long a record (its MSO) is valid. A document signer signs records only while it has at least
/// this long to live, so every record expires before its signer's certificate; then a new signer
/// takes over (the IACA, which verifiers trust, stays).
pub const RECORD_DAYS: i64 = 365;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Iaca,
    DocumentSigner,
    ReaderCa,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Iaca => "iaca",
            Role::DocumentSigner => "document_signer",
            Role::ReaderCa => "reader_ca",
        }
    }
}

/// A certificate and its key.
pub struct Credential {
    pub certificate_der: Vec<u8>,
    pub key: EcKey,
}

impl Credential {
    pub fn certificate_pem(&self) -> String {
        jpki_files::pem("CERTIFICATE", &self.certificate_der)
    }

    fn not_after(&self) -> Result<OffsetDateTime, IssuerError> {
        let cert = Certificate::from_der(&self.certificate_der)?;
        jpki_profile::cert_profile::x509_time(&cert.tbs_certificate.validity.not_after).ok_or(IssuerError::Time)
    }

    fn subject(&self) -> Result<Name, IssuerError> {
        Ok(Certificate::from_der(&self.certificate_der)?.tbs_certificate.subject)
    }
}

pub struct MdocPki {
    pub iaca: Credential,
    pub document_signer: DocumentSigner,
    pub reader_ca: Credential,
}

fn sandbox_name(common_name: &str) -> Result<Name, der::Error> {
    name(&[Attr::Printable(COUNTRY_NAME, "JP"), Attr::Utf8(O, "JPKI-SANDBOX"), Attr::Utf8(CN, common_name)])
}

fn issuer_alt_name() -> Result<x509_cert::ext::Extension, der::Error> {
    extension(ID_CE_ISSUER_ALT_NAME, false, &IssuerAltName(vec![GeneralName::UniformResourceIdentifier(Ia5String::new(ISSUER_URI)?)]))
}

fn root(common_name: &str, at: OffsetDateTime) -> Result<Credential, IssuerError> {
    let key = EcKey::generate_p256()?;
    let subject = sandbox_name(common_name)?;
    let spki = SubjectPublicKeyInfoOwned::from_der(&key.public_key_spki_der())?;
    let extensions = vec![
        extension(ID_CE_KEY_USAGE, true, &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))?,
        extension(ID_CE_BASIC_CONSTRAINTS, true, &BasicConstraints { ca: true, path_len_constraint: Some(0) })?,
        extension(ID_CE_SUBJECT_KEY_IDENTIFIER, false, &SubjectKeyIdentifier(OctetString::new(key_id(&spki))?))?,
        issuer_alt_name()?,
    ];
    let not_after = at.replace_year(at.year() + ROOT_YEARS).map_err(|_| IssuerError::Time)?;
    let spec = CertSpec { serial: &random_serial(), subject: subject.clone(), subject_key: CertKey::Ec(&key), not_before: at, not_after, extensions };
    let certificate_der = sign_certificate(spec, &subject, CertKey::Ec(&key))?;
    Ok(Credential { certificate_der, key })
}

/// A leaf under `issuer` with extended key usage `eku`, and optionally a DNS name and policies.
fn leaf(
    issuer: &Credential,
    subject: Name,
    eku: const_oid::ObjectIdentifier,
    dns: Option<&str>,
    policies: &[const_oid::ObjectIdentifier],
    at: OffsetDateTime,
) -> Result<Credential, IssuerError> {
    let key = EcKey::generate_p256()?;
    let issuer_cert = Certificate::from_der(&issuer.certificate_der)?;
    let issuer_spki = &issuer_cert.tbs_certificate.subject_public_key_info;
    let spki = SubjectPublicKeyInfoOwned::from_der(&key.public_key_spki_der())?;
    let mut extensions = vec![
        extension(ID_CE_KEY_USAGE, true, &KeyUsage(KeyUsages::DigitalSignature.into()))?,
        extension(ID_CE_EXT_KEY_USAGE, true, &ExtendedKeyUsage(vec![eku]))?,
        extension(ID_CE_SUBJECT_KEY_IDENTIFIER, false, &SubjectKeyIdentifier(OctetString::new(key_id(&spki))?))?,
        crate::ca::authority_key_id(&key_id(issuer_spki))?,
        issuer_alt_name()?,
    ];
    if let Some(dns) = dns {
        extensions.push(extension(ID_CE_SUBJECT_ALT_NAME, false, &SubjectAltName(vec![GeneralName::DnsName(Ia5String::new(dns)?)]))?);
    }
    if !policies.is_empty() {
        let policies = policies.iter().map(|&p| PolicyInformation { policy_identifier: p, policy_qualifiers: None }).collect();
        extensions.push(extension(ID_CE_CERTIFICATE_POLICIES, false, &CertificatePolicies(policies))?);
    }
    let not_after = (at + Duration::days(SIGNER_DAYS)).min(issuer.not_after()?);
    let spec = CertSpec { serial: &random_serial(), subject, subject_key: CertKey::Ec(&key), not_before: at, not_after, extensions };
    let certificate_der = sign_certificate(spec, &issuer.subject()?, CertKey::Ec(&issuer.key))?;
    Ok(Credential { certificate_der, key })
}

impl Issuer {
    async fn mdoc_key(&self, role: Role) -> Result<Option<Credential>, IssuerError> {
        let row: Option<(Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT certificate, private_key FROM issuer_mdoc_key WHERE role = $1").bind(role.as_str()).fetch_optional(self.db.pool()).await?;
        row.map(|(certificate_der, key)| Ok(Credential { certificate_der, key: EcKey::from_pkcs8_der(&key)? })).transpose()
    }

    /// The stored credential of `role`, made by `create` on first use (the first writer wins a race).
    async fn mdoc_key_or_create(&self, role: Role, create: impl FnOnce() -> Result<Credential, IssuerError>) -> Result<Credential, IssuerError> {
        if let Some(found) = self.mdoc_key(role).await? {
            return Ok(found);
        }
        let made = create()?;
        sqlx::query("INSERT INTO issuer_mdoc_key (role, certificate, private_key, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (role) DO NOTHING")
            .bind(role.as_str())
            .bind(made.certificate_der.clone())
            .bind(made.key.pkcs8_der().to_vec())
            .bind(now().unix_timestamp())
            .execute(self.db.pool())
            .await?;
        self.mdoc_key(role).await?.ok_or(IssuerError::NotInitialized)
    }

    /// The IACA, document signer and reader CA, created on first use; the document signer is replaced
    /// when it has less than [`RECORD_DAYS`] left.
    pub async fn mdoc_pki(&self) -> Result<MdocPki, IssuerError> {
        let at = now();
        let iaca = self.mdoc_key_or_create(Role::Iaca, || root("openjpki sandbox IACA", at)).await?;
        let new_signer = || leaf(&iaca, sandbox_name("openjpki sandbox document signer")?, EKU_MDL_DS, None, &[], at);
        let mut signer = self.mdoc_key_or_create(Role::DocumentSigner, new_signer).await?;
        let old_end = signer.not_after()?;
        let made = if old_end < at + Duration::days(RECORD_DAYS) { Some(new_signer()?) } else { None };
        // (Near the IACA's own end a new signer would not live longer: keep the one there is.)
        if let Some(made) = made.filter(|m| m.not_after().is_ok_and(|n| n > old_end)) {
            // Compare and swap: of two processes renewing at once, one signer wins and both use it.
            sqlx::query("UPDATE issuer_mdoc_key SET certificate = $1, private_key = $2, created_at = $3 WHERE role = $4 AND certificate = $5")
                .bind(made.certificate_der.clone())
                .bind(made.key.pkcs8_der().to_vec())
                .bind(at.unix_timestamp())
                .bind(Role::DocumentSigner.as_str())
                .bind(signer.certificate_der.clone())
                .execute(self.db.pool())
                .await?;
            signer = self.mdoc_key(Role::DocumentSigner).await?.ok_or(IssuerError::NotInitialized)?;
        }
        let reader_ca = self.mdoc_key_or_create(Role::ReaderCa, || root("openjpki sandbox reader CA", at)).await?;
        Ok(MdocPki { iaca, document_signer: DocumentSigner { key: signer.key, chain: vec![signer.certificate_der] }, reader_ca })
    }

    /// A reader certificate for a relying party at `dns_name`, marked as entitled under the Number Act
    /// when `number_act`.
    pub async fn issue_reader_certificate(&self, organization: &str, dns_name: &str, number_act: bool) -> Result<Credential, IssuerError> {
        let pki = self.mdoc_pki().await?;
        let subject = name(&[Attr::Printable(COUNTRY_NAME, "JP"), Attr::Utf8(O, organization), Attr::Utf8(CN, dns_name)])?;
        let policies = if number_act { vec![jpki_mdoc::mnc::NUMBER_ACT_VERIFIER_POLICY] } else { vec![] };
        leaf(&pki.reader_ca, subject, EKU_MDL_READER_AUTH, Some(dns_name), &policies, now())
    }

    /// The records' status list as a signed token: lost phones suspended, retired phones and records
    /// whose 4 information changed (or whose holder died) invalid. Its subject is
    /// [`Issuer::status_list_uri`], as `GET /issuer/status/mnc` serves it.
    pub async fn status_list_token(&self) -> Result<Vec<u8>, IssuerError> {
        self.status_list_token_for(&self.status_list_uri.clone()).await
    }

    /// [`Issuer::status_list_token`] with `uri` as its subject: the list a record of this issuer
    /// names, whatever public URL it was issued under.
    pub async fn status_list_token_for(&self, uri: &str) -> Result<Vec<u8>, IssuerError> {
        use jpki_mdoc::status::{RecordStatus, StatusList};
        let rows: Vec<(i64, Option<i64>, String)> =
            sqlx::query_as("SELECT r.status_index, r.invalidated_at, c.status FROM mdoc_record r JOIN card c ON c.id = r.card_id")
                .fetch_all(self.db.pool())
                .await?;
        let (next,): (i64,) = sqlx::query_as("SELECT next_status_index FROM issuer_state WHERE id = 1").fetch_one(self.db.pool()).await?;
        let mut list = StatusList::with_len(next.max(0) as u64);
        for (idx, invalidated, card_status) in rows {
            let status = match (invalidated, card_status.as_str()) {
                (Some(_), _) | (None, "retired") => RecordStatus::Invalid,
                (None, "lost") => RecordStatus::Suspended,
                _ => RecordStatus::Valid,
            };
            list.set(idx.max(0) as u64, status);
        }
        let pki = self.mdoc_pki().await?;
        Ok(list.to_token(&pki.document_signer, uri, now(), STATUS_LIST_TTL_SECONDS)?)
    }
}

/// Marks the person's records invalid inside a life-event transaction (their 4 information changed).
pub(crate) async fn invalidate_records(tx: &mut sqlx::Transaction<'_, sqlx::Any>, person_id: &str, at: OffsetDateTime) -> Result<(), IssuerError> {
    sqlx::query("UPDATE mdoc_record SET invalidated_at = $1 WHERE person_id = $2 AND invalidated_at IS NULL")
        .bind(at.unix_timestamp())
        .bind(person_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_document_signer_with_less_than_a_record_lifetime_left_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let db = jpki_store::Database::open(&jpki_store::Database::sqlite_url(&dir.path().join("jpki.sqlite3"))).await.unwrap();
        let (issuer, _) = Issuer::init(db).await.unwrap();
        let first = issuer.mdoc_pki().await.unwrap();
        assert_eq!(issuer.mdoc_pki().await.unwrap().document_signer.chain, first.document_signer.chain, "a young signer is kept");

        // A signer made 200 days ago has 257 days left: less than a record's 365.
        let old = leaf(&first.iaca, sandbox_name("openjpki sandbox document signer").unwrap(), EKU_MDL_DS, None, &[], now() - Duration::days(200)).unwrap();
        sqlx::query("UPDATE issuer_mdoc_key SET certificate = $1, private_key = $2 WHERE role = 'document_signer'")
            .bind(old.certificate_der.clone())
            .bind(old.key.pkcs8_der().to_vec())
            .execute(issuer.db.pool())
            .await
            .unwrap();
        let renewed = issuer.mdoc_pki().await.unwrap();
        assert_ne!(renewed.document_signer.chain[0], old.certificate_der);
        let renewed = Credential { certificate_der: renewed.document_signer.chain[0].clone(), key: renewed.document_signer.key };
        assert!(renewed.not_after().unwrap() >= now() + Duration::days(RECORD_DAYS));
        assert_eq!(issuer.mdoc_pki().await.unwrap().document_signer.chain[0], renewed.certificate_der, "and kept from then on");
    }
}
