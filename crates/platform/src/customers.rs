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
pub async fn register(db: &Database, tenant_id: &str, verification_id: &str, reference: &str) -> Result<Customer, PlatformError> {
    let reference = reference.trim();
    if reference.is_empty() || reference.chars().count() > MAX_REFERENCE || reference.chars().any(char::is_control) {
        return Err(invalid("invalid_reference", format!("reference must be 1 to {MAX_REFERENCE} characters, without control characters")));
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
    let now = OffsetDateTime::now_utc();
    let id = jpki_store::new_id("customer");
    sqlx::query("INSERT INTO customer (id, tenant_id, reference, verification_id, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(tenant_id)
        .bind(reference)
        .bind(verification_id)
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO customer_certificate (customer_id, issuer, serial, kind, certificate, not_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&id)
        .bind(&issuer)
        .bind(&cert.serial)
        .bind(kind.as_str())
        .bind(&certificate)
        .bind(cert.not_after.unix_timestamp())
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?;
    crate::changes::detect_for_customer(&mut tx, &id, &issuer, &cert.serial).await?;
    tx.commit().await?;
    let certificates = vec![WatchedCertificate { kind, serial: cert.serial, not_after: cert.not_after }];
    Ok(Customer { id, reference: reference.to_owned(), verification_id: verification_id.to_owned(), created_at: now, certificates })
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

fn customer(
    (id, reference, verification_id, created_at): (String, String, String, i64),
    certificates: Vec<WatchedCertificate>,
) -> Result<Customer, PlatformError> {
    Ok(Customer { id, reference, verification_id, created_at: stored_time(created_at)?, certificates })
}

/// The tenant's customer `id`; another tenant's is not found.
pub async fn get(db: &Database, tenant_id: &str, id: &str) -> Result<Customer, PlatformError> {
    let row: Option<(String, String, String, i64)> =
        sqlx::query_as("SELECT id, reference, verification_id, created_at FROM customer WHERE id = $1 AND tenant_id = $2")
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
    let rows: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT id, reference, verification_id, created_at FROM customer WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3")
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

/// Deletes the tenant's customer `id` with its certificates, change events and their deliveries.
pub async fn delete(db: &Database, tenant_id: &str, id: &str) -> Result<(), PlatformError> {
    let deletes = [
        "DELETE FROM webhook_attempt WHERE event_id IN (SELECT id FROM change_event WHERE customer_id = $1)",
        "DELETE FROM webhook_delivery WHERE event_id IN (SELECT id FROM change_event WHERE customer_id = $1)",
        "DELETE FROM change_event WHERE customer_id = $1",
        "DELETE FROM qualification WHERE customer_id = $1",
        "DELETE FROM customer_certificate WHERE customer_id = $1",
        "DELETE FROM customer WHERE id = $1",
    ];
    crate::delete_owned(db, "SELECT id FROM customer WHERE id = $1 AND tenant_id = $2", "customer", id, tenant_id, &deletes).await
}
