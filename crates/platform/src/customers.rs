//! The customers a tenant watches for change confirmation (変更確認): each registered from one of the
//! tenant's valid verifications, under the tenant's own reference. The platform keeps the certificate;
//! the tenant sees its kind, serial and expiry, never the certificate or a revocation list.

use base64::Engine as _;
use jpki_profile::cert_profile::JpkiCertificate;
use jpki_profile::KeyRole;
use jpki_store::{sqlx, Database};
use serde::Serialize;
use time::OffsetDateTime;

use crate::{stored_time, PlatformError};

/// The longest reference a tenant may give.
pub const MAX_REFERENCE: usize = 200;
/// The most customers one page lists.
pub const MAX_PAGE: i64 = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct WatchedCertificate {
    pub kind: KeyRole,
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub id: String,
    pub reference: String,
    /// The tenant's account of this customer: its logins (authentication certificates) are theirs.
    pub account_id: Option<String>,
    pub verification_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub certificates: Vec<WatchedCertificate>,
}

fn invalid(code: &'static str, message: impl Into<String>) -> PlatformError {
    PlatformError::Invalid { code, message: message.into() }
}

/// Registers the signer of the tenant's valid verification `verification_id` as a customer under
/// `reference`. If the CRL generation in force already lists the certificate, the change event is made
/// at once.
pub async fn register(db: &Database, tenant_id: &str, verification_id: &str, reference: &str, account_id: Option<&str>) -> Result<Customer, PlatformError> {
    let reference = reference.trim();
    if reference.is_empty() || reference.chars().count() > MAX_REFERENCE || reference.chars().any(char::is_control) {
        return Err(invalid("invalid_reference", format!("reference must be 1 to {MAX_REFERENCE} characters, without control characters")));
    }
    if account_id.is_some_and(|a| a.is_empty() || a.chars().count() > MAX_REFERENCE || a.chars().any(char::is_control)) {
        return Err(invalid("invalid_account_id", format!("account_id must be 1 to {MAX_REFERENCE} characters, without control characters")));
    }
    let mut tx = db.begin_write().await?;
    let row: Option<(i32, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT valid, certificate, certificate_issuer FROM verification WHERE id = $1 AND tenant_id = $2")
            .bind(verification_id)
            .bind(tenant_id)
            .fetch_optional(&mut *tx)
            .await?;
    let (valid, certificate, issuer) = row.ok_or_else(|| PlatformError::NotFound(format!("no verification {verification_id}")))?;
    let (Some(certificate), Some(issuer), 1) = (certificate, issuer, valid) else {
        return Err(invalid("verification_not_valid", format!("verification {verification_id} did not succeed: only a valid signer can be watched")));
    };
    let der = base64::engine::general_purpose::STANDARD.decode(&certificate).map_err(|e| PlatformError::Corrupt(format!("stored certificate: {e}")))?;
    let cert = JpkiCertificate::from_der(&der).map_err(|e| PlatformError::Corrupt(format!("stored certificate: {e}")))?;
    let kind = cert.kind.role().ok_or_else(|| PlatformError::Corrupt("the stored certificate is not an end entity's".into()))?;
    // Orders this registration against a generation's switch of the same CA (see the migration).
    sqlx::query("UPDATE crl_issuer SET updated_at = updated_at WHERE issuer = $1").bind(&issuer).execute(&mut *tx).await?;
    let taken: Option<(String,)> =
        sqlx::query_as("SELECT id FROM customer WHERE tenant_id = $1 AND reference = $2").bind(tenant_id).bind(reference).fetch_optional(&mut *tx).await?;
    if let Some((id,)) = taken {
        return Err(PlatformError::Conflict(format!("reference {reference:?} is customer {id}")));
    }
    if let Some(account_id) = account_id {
        let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM customer WHERE tenant_id = $1 AND account_id = $2")
            .bind(tenant_id)
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((id,)) = taken {
            return Err(PlatformError::Conflict(format!("account {account_id:?} is customer {id}'s")));
        }
    }
    let now = OffsetDateTime::now_utc();
    let id = jpki_store::new_id("customer");
    sqlx::query("INSERT INTO customer (id, tenant_id, reference, verification_id, created_at, account_id) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(tenant_id)
        .bind(reference)
        .bind(verification_id)
        .bind(now.unix_timestamp())
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    watch(&mut tx, &id, &issuer, &certificate, &cert, kind, now).await?;
    tx.commit().await?;
    let certificates = vec![WatchedCertificate { kind, serial: cert.serial, not_after: cert.not_after }];
    let account_id = account_id.map(str::to_owned);
    Ok(Customer { id, reference: reference.to_owned(), account_id, verification_id: verification_id.to_owned(), created_at: now, certificates })
}

/// Adds `cert` (DER `certificate`, base64, of CA `issuer`) to the customer's watched certificates, and
/// makes its change event at once if the generation in force lists it.
async fn watch(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    customer_id: &str,
    issuer: &str,
    certificate: &str,
    cert: &JpkiCertificate,
    kind: KeyRole,
    now: OffsetDateTime,
) -> Result<(), PlatformError> {
    sqlx::query(
        "INSERT INTO customer_certificate (customer_id, issuer, serial, kind, certificate, not_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (customer_id, issuer, serial) DO NOTHING",
    )
    .bind(customer_id)
    .bind(issuer)
    .bind(&cert.serial)
    .bind(kind.as_str())
    .bind(certificate)
    .bind(cert.not_after.unix_timestamp())
    .bind(now.unix_timestamp())
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM customer_link WHERE customer_id = $1 AND serial = $2").bind(customer_id).bind(&cert.serial).execute(&mut **tx).await?;
    crate::changes::detect_for_customer(tx, customer_id, issuer, &cert.serial).await?;
    Ok(())
}

/// How a certificate was found to be a customer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkSource {
    /// The platform had seen it: a verification registered it.
    Certificate,
    /// The latest-4-info provision named it as the successor of the customer's certificate.
    #[serde(rename = "latest_4_info")]
    Latest4Info,
    /// The issuer's old → new link information.
    CertificateLink,
}

impl LinkSource {
    fn as_str(self) -> &'static str {
        match self {
            LinkSource::Certificate => "certificate",
            LinkSource::Latest4Info => "latest_4_info",
            LinkSource::CertificateLink => "certificate_link",
        }
    }

    fn parse(s: &str) -> Option<LinkSource> {
        [LinkSource::Certificate, LinkSource::Latest4Info, LinkSource::CertificateLink].into_iter().find(|l| l.as_str() == s)
    }
}

/// The tenant's user a certificate belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub customer_id: String,
    pub reference: String,
    pub account_id: Option<String>,
    pub linked_by: LinkSource,
}

/// The tenant's customer whose certificate (watched, or named by a link) has serial `serial`.
pub async fn user_of(db: &Database, tenant_id: &str, serial: &str) -> Result<Option<User>, PlatformError> {
    let row: Option<(String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT c.id, c.reference, c.account_id, 'certificate' FROM customer c JOIN customer_certificate w ON w.customer_id = c.id
          WHERE c.tenant_id = $1 AND w.serial = $2
         UNION ALL
         SELECT c.id, c.reference, c.account_id, l.source FROM customer c JOIN customer_link l ON l.customer_id = c.id
          WHERE c.tenant_id = $1 AND l.serial = $2",
    )
    .bind(tenant_id)
    .bind(serial)
    .fetch_optional(db.pool())
    .await?;
    row.map(|(customer_id, reference, account_id, source)| {
        let linked_by = LinkSource::parse(&source).ok_or_else(|| PlatformError::Corrupt(format!("link source {source:?}")))?;
        Ok(User { customer_id, reference, account_id, linked_by })
    })
    .transpose()
}

/// The user of the tenant holding the certificate a valid verification checked (`certificate`, DER
/// base64, of CA `issuer`): found by its serial, else by one of `predecessors` (the issuer's link
/// information), in which case the certificate joins the user. `None` if it is no user's.
pub async fn identify(
    db: &Database,
    tenant_id: &str,
    issuer: &str,
    certificate: &[u8],
    predecessors: &[String],
    now: OffsetDateTime,
) -> Result<Option<User>, PlatformError> {
    let cert = JpkiCertificate::from_der(certificate).map_err(|e| PlatformError::Corrupt(format!("verified certificate: {e}")))?;
    let kind = cert.kind.role().ok_or_else(|| PlatformError::Corrupt("the verified certificate is not an end entity's".into()))?;
    let found = match user_of(db, tenant_id, &cert.serial).await? {
        Some(user) => Some(user),
        None => {
            let mut found = None;
            for old in predecessors {
                if let Some(user) = user_of(db, tenant_id, old).await? {
                    found = Some(User { linked_by: LinkSource::CertificateLink, ..user });
                    break;
                }
            }
            found
        }
    };
    let Some(user) = found else { return Ok(None) };
    if user.linked_by != LinkSource::Certificate {
        let encoded = base64::engine::general_purpose::STANDARD.encode(certificate);
        let mut tx = db.begin_write().await?;
        sqlx::query("UPDATE crl_issuer SET updated_at = updated_at WHERE issuer = $1").bind(issuer).execute(&mut *tx).await?;
        watch(&mut tx, &user.customer_id, issuer, &encoded, &cert, kind, now).await?;
        let detail = serde_json::json!({ "customer_id": user.customer_id, "certificate_serial": cert.serial, "linked_by": user.linked_by });
        let entry = crate::audit::Entry {
            tenant_id: Some(tenant_id),
            action: "customer.certificate.link",
            purpose: None,
            result: "linked",
            detail: &detail,
            at: now.unix_timestamp(),
        };
        crate::audit::append(&mut tx, &entry).await?;
        tx.commit().await?;
    }
    Ok(Some(user))
}

/// Records that certificate `serial` of `kind` is the customer's before the platform has seen it.
pub async fn link_ahead(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    customer_id: &str,
    serial: &str,
    kind: KeyRole,
    source: LinkSource,
    now: OffsetDateTime,
) -> Result<(), PlatformError> {
    sqlx::query(
        "INSERT INTO customer_link (customer_id, serial, kind, source, linked_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (customer_id, serial) DO NOTHING",
    )
    .bind(customer_id)
    .bind(serial)
    .bind(kind.as_str())
    .bind(source.as_str())
    .bind(now.unix_timestamp())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The customer's newest watched certificate of `role` (the latest notBefore: a renewal keeps the
/// card's expiry, so notAfter can tie), with its DER.
pub async fn newest_certificate(db: &Database, customer_id: &str, role: KeyRole) -> Result<Option<(JpkiCertificate, Vec<u8>)>, PlatformError> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT certificate FROM customer_certificate WHERE customer_id = $1 AND kind = $2")
        .bind(customer_id)
        .bind(role.as_str())
        .fetch_all(db.pool())
        .await?;
    let mut newest: Option<(JpkiCertificate, Vec<u8>)> = None;
    for (encoded,) in rows {
        let der = base64::engine::general_purpose::STANDARD.decode(&encoded).map_err(|e| PlatformError::Corrupt(format!("stored certificate: {e}")))?;
        let cert = JpkiCertificate::from_der(&der).map_err(|e| PlatformError::Corrupt(format!("stored certificate: {e}")))?;
        if newest.as_ref().is_none_or(|(n, _)| (cert.not_before, cert.not_after, &cert.serial) > (n.not_before, n.not_after, &n.serial)) {
            newest = Some((cert, der));
        }
    }
    Ok(newest)
}

async fn certificates(db: &Database, customer_id: &str) -> Result<Vec<WatchedCertificate>, PlatformError> {
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT kind, serial, not_after FROM customer_certificate WHERE customer_id = $1 ORDER BY created_at, serial")
            .bind(customer_id)
            .fetch_all(db.pool())
            .await?;
    rows.into_iter()
        .map(|(kind, serial, not_after)| {
            Ok(WatchedCertificate {
                kind: KeyRole::parse(&kind).ok_or_else(|| PlatformError::Corrupt(format!("certificate kind {kind:?}")))?,
                serial,
                not_after: stored_time(not_after)?,
            })
        })
        .collect()
}

type CustomerRow = (String, String, Option<String>, String, i64);

fn customer((id, reference, account_id, verification_id, created_at): CustomerRow, certificates: Vec<WatchedCertificate>) -> Result<Customer, PlatformError> {
    Ok(Customer { id, reference, account_id, verification_id, created_at: stored_time(created_at)?, certificates })
}

/// The tenant's customer `id`; another tenant's is not found.
pub async fn get(db: &Database, tenant_id: &str, id: &str) -> Result<Customer, PlatformError> {
    let row: Option<CustomerRow> =
        sqlx::query_as("SELECT id, reference, account_id, verification_id, created_at FROM customer WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(db.pool())
            .await?;
    let row = row.ok_or_else(|| PlatformError::NotFound(format!("no customer {id}")))?;
    let certificates = certificates(db, id).await?;
    customer(row, certificates)
}

/// A page of the tenant's customers in id order, after the id `after`; the last id is the next cursor.
pub async fn list(db: &Database, tenant_id: &str, after: Option<&str>, limit: i64) -> Result<Vec<Customer>, PlatformError> {
    let rows: Vec<CustomerRow> =
        sqlx::query_as("SELECT id, reference, account_id, verification_id, created_at FROM customer WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(tenant_id)
            .bind(after.unwrap_or(""))
            .bind(limit.clamp(1, MAX_PAGE))
            .fetch_all(db.pool())
            .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let certificates = certificates(db, &row.0).await?;
        out.push(customer(row, certificates)?);
    }
    Ok(out)
}

/// The serials of customer `$1`'s certificates: those watched, and its account's login certificates.
const CUSTOMER_SERIALS: &str = "SELECT serial FROM customer_certificate WHERE customer_id = $1
     UNION SELECT l.auth_serial FROM account_link l JOIN customer c ON c.tenant_id = l.tenant_id AND c.account_id = l.account_id WHERE c.id = $1";

/// Deletes the tenant's customer `id` with its certificates (watched, linked ahead, and its account's
/// login links), the verifications of them, consent, qualifications, change events and their
/// deliveries: nothing of the platform's holds their 4 information or certificates after it (the audit
/// log holds identifiers only, and keeps its chain).
pub async fn delete(db: &Database, tenant_id: &str, id: &str) -> Result<(), PlatformError> {
    let deletes = [
        "DELETE FROM webhook_attempt WHERE event_id IN (SELECT id FROM change_event WHERE customer_id = $1)",
        "DELETE FROM webhook_delivery WHERE event_id IN (SELECT id FROM change_event WHERE customer_id = $1)",
        "DELETE FROM change_event WHERE customer_id = $1",
        "DELETE FROM qualification WHERE customer_id = $1",
        // The verifications of the customer's certificates: their results hold the 4 information.
        &format!("DELETE FROM verification WHERE tenant_id IN (SELECT tenant_id FROM customer WHERE id = $1) AND certificate_serial IN ({CUSTOMER_SERIALS})"),
        "DELETE FROM account_link WHERE (tenant_id, account_id) IN (SELECT tenant_id, account_id FROM customer WHERE id = $1)",
        "DELETE FROM customer_link WHERE customer_id = $1",
        "DELETE FROM customer_consent WHERE customer_id = $1",
        "DELETE FROM customer_certificate WHERE customer_id = $1",
        "DELETE FROM customer WHERE id = $1",
    ];
    crate::delete_owned(db, "SELECT id FROM customer WHERE id = $1 AND tenant_id = $2", "customer", id, tenant_id, &deletes).await
}

/// The tenant's customer whose account is `account_id`.
pub async fn of_account(db: &Database, tenant_id: &str, account_id: &str) -> Result<Option<String>, PlatformError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM customer WHERE tenant_id = $1 AND account_id = $2").bind(tenant_id).bind(account_id).fetch_optional(db.pool()).await?;
    Ok(row.map(|(id,)| id))
}

/// Everything the platform holds about the tenant's customer `id`, for a disclosure request under the
/// Act on the Protection of Personal Information (開示請求): the customer, its certificates (DER,
/// base64), the certificates linked ahead, the account's login links, the consent with its signature,
/// the qualifications, the change events and the verification results of its certificates. The export
/// is audited (by id).
pub async fn export(db: &Database, tenant_id: &str, id: &str, now: OffsetDateTime) -> Result<serde_json::Value, PlatformError> {
    use serde_json::json;
    let customer = get(db, tenant_id, id).await?;
    let time = |t: i64| stored_time(t).map(|t| t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default());
    let certificates: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT kind, serial, certificate, not_after FROM customer_certificate WHERE customer_id = $1 ORDER BY created_at, serial")
            .bind(id)
            .fetch_all(db.pool())
            .await?;
    let links: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT serial, kind, source, linked_at FROM customer_link WHERE customer_id = $1 ORDER BY linked_at, serial")
            .bind(id)
            .fetch_all(db.pool())
            .await?;
    let logins: Vec<(String, i64)> = sqlx::query_as(
        "SELECT l.auth_serial, l.linked_at FROM account_link l JOIN customer c ON c.tenant_id = l.tenant_id AND c.account_id = l.account_id
         WHERE c.id = $1 ORDER BY l.linked_at, l.auth_serial",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    let consent: Option<(String, String, String, i64, Option<i64>)> =
        sqlx::query_as("SELECT text, certificate_serial, signature, granted_at, withdrawn_at FROM customer_consent WHERE customer_id = $1")
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    let qualifications: Vec<(String, String, String, i64, Option<i64>, String)> =
        sqlx::query_as("SELECT id, kind, identifier, valid_from, valid_until, attributes FROM qualification WHERE customer_id = $1 ORDER BY created_at, id")
            .bind(id)
            .fetch_all(db.pool())
            .await?;
    let events: Vec<(String, String, String, Option<i32>, i64)> =
        sqlx::query_as("SELECT id, certificate_kind, serial, reason, revoked_at FROM change_event WHERE customer_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(db.pool())
            .await?;
    let verifications: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT id, result FROM verification WHERE tenant_id = $2 AND certificate_serial IN ({CUSTOMER_SERIALS}) ORDER BY created_at, id"
    ))
    .bind(id)
    .bind(tenant_id)
    .fetch_all(db.pool())
    .await?;
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).map_err(|e| PlatformError::Corrupt(format!("stored JSON: {e}")));
    let export = json!({
        "customer": customer,
        "certificates": certificates.iter().map(|(kind, serial, der, not_after)| Ok(json!({ "kind": kind, "serial": serial, "certificate": der, "not_after": time(*not_after)? }))).collect::<Result<Vec<_>, PlatformError>>()?,
        "linked_certificates": links.iter().map(|(serial, kind, source, at)| Ok(json!({ "serial": serial, "kind": kind, "linked_by": source, "linked_at": time(*at)? }))).collect::<Result<Vec<_>, PlatformError>>()?,
        "login_certificates": logins.iter().map(|(serial, at)| Ok(json!({ "serial": serial, "linked_at": time(*at)? }))).collect::<Result<Vec<_>, PlatformError>>()?,
        "consent": consent.map(|(text, serial, signature, granted, withdrawn)| -> Result<_, PlatformError> {
            Ok(json!({ "text": text, "certificate_serial": serial, "signature": signature, "granted_at": time(granted)?, "withdrawn_at": withdrawn.map(time).transpose()? }))
        }).transpose()?,
        "qualifications": qualifications.iter().map(|(qid, kind, identifier, from, until, attributes)| {
            Ok(json!({ "id": qid, "type": kind, "identifier": identifier, "valid_from": time(*from)?, "valid_until": until.map(time).transpose()?, "attributes": parse(attributes)? }))
        }).collect::<Result<Vec<_>, PlatformError>>()?,
        "change_events": events.iter().map(|(eid, kind, serial, reason, revoked)| {
            let reason = reason.map(|r| jpki_profile::revocation_reason::RevocationReason::from_code(i64::from(r)));
            Ok(json!({ "id": eid, "certificate_kind": kind, "certificate_serial": serial, "reason": reason, "revoked_at": time(*revoked)? }))
        }).collect::<Result<Vec<_>, PlatformError>>()?,
        "verifications": verifications.iter().map(|(_, result)| parse(result)).collect::<Result<Vec<_>, PlatformError>>()?,
        "exported_at": time(now.unix_timestamp())?,
    });
    let mut tx = db.begin_write().await?;
    let detail = json!({ "customer_id": id });
    let entry = crate::audit::Entry {
        tenant_id: Some(tenant_id),
        action: "customer.export",
        purpose: None,
        result: "exported",
        detail: &detail,
        at: now.unix_timestamp(),
    };
    crate::audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(export)
}
