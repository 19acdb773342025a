//! A customer's consent to the latest-4-info provision (最新の利用者情報の提供への同意, seed 001
//! §3-2-2): what was consented to, how (the customer's own signature over the text, with a signature
//! certificate the tenant watches for them), when, and its withdrawal. The caller forwards both to the
//! issuer, which provides nothing without it.

use jpki_profile::KeyRole;
use jpki_store::{sqlx, Database};
use serde::Serialize;
use time::OffsetDateTime;

use crate::{audit, stored_time, PlatformError};

/// The longest consent text accepted (characters).
pub const MAX_TEXT: usize = 10_000;

#[derive(Debug, Clone, Serialize)]
pub struct Consent {
    pub customer_id: String,
    pub text: String,
    /// The signature certificate the customer signed the text with.
    pub certificate_serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub withdrawn_at: Option<OffsetDateTime>,
}

/// Checks that `text` can be consented to and that `certificate_serial` is one of the customer's
/// signature certificates.
pub async fn check_signer(db: &Database, tenant_id: &str, customer_id: &str, text: &str, certificate_serial: &str) -> Result<(), PlatformError> {
    if text.trim().is_empty() || text.chars().count() > MAX_TEXT {
        return Err(PlatformError::Invalid { code: "invalid_consent_text", message: format!("text is 1 to {MAX_TEXT} characters") });
    }
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT w.serial FROM customer c JOIN customer_certificate w ON w.customer_id = c.id
         WHERE c.id = $1 AND c.tenant_id = $2 AND w.serial = $3 AND w.kind = $4",
    )
    .bind(customer_id)
    .bind(tenant_id)
    .bind(certificate_serial)
    .bind(KeyRole::Signature.as_str())
    .fetch_optional(db.pool())
    .await?;
    match row {
        Some(_) => Ok(()),
        None => Err(PlatformError::Invalid {
            code: "consent_signer_not_customer",
            message: format!("the consent is signed with certificate {certificate_serial}, which is not one of this customer's signature certificates"),
        }),
    }
}

/// Records the consent (replacing one withdrawn before), audited.
pub async fn grant(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant_id: &str,
    customer_id: &str,
    text: &str,
    certificate_serial: &str,
    signature_base64: &str,
    now: OffsetDateTime,
) -> Result<Consent, PlatformError> {
    sqlx::query(
        "INSERT INTO customer_consent (customer_id, text, certificate_serial, signature, granted_at, withdrawn_at) VALUES ($1, $2, $3, $4, $5, NULL)
         ON CONFLICT (customer_id) DO UPDATE SET text = $2, certificate_serial = $3, signature = $4, granted_at = $5, withdrawn_at = NULL",
    )
    .bind(customer_id)
    .bind(text)
    .bind(certificate_serial)
    .bind(signature_base64)
    .bind(now.unix_timestamp())
    .execute(&mut **tx)
    .await?;
    let detail = serde_json::json!({ "customer_id": customer_id, "certificate_serial": certificate_serial, "text_sha256": hex::encode(jpki_crypto::sha256(text.as_bytes())) });
    audit::append(
        tx,
        &audit::Entry {
            tenant_id: Some(tenant_id),
            action: "customer.consent.grant",
            purpose: None,
            result: "granted",
            detail: &detail,
            at: now.unix_timestamp(),
        },
    )
    .await?;
    Ok(Consent {
        customer_id: customer_id.to_owned(),
        text: text.to_owned(),
        certificate_serial: certificate_serial.to_owned(),
        granted_at: now,
        withdrawn_at: None,
    })
}

/// Withdraws the customer's consent in force, audited; not found if there is none.
pub async fn withdraw(tx: &mut sqlx::Transaction<'_, sqlx::Any>, tenant_id: &str, customer_id: &str, now: OffsetDateTime) -> Result<(), PlatformError> {
    let done = sqlx::query(
        "UPDATE customer_consent SET withdrawn_at = $1 WHERE customer_id = $2 AND withdrawn_at IS NULL
           AND customer_id IN (SELECT id FROM customer WHERE tenant_id = $3)",
    )
    .bind(now.unix_timestamp())
    .bind(customer_id)
    .bind(tenant_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(PlatformError::NotFound(format!("customer {customer_id} has no consent in force")));
    }
    let detail = serde_json::json!({ "customer_id": customer_id });
    audit::append(
        tx,
        &audit::Entry {
            tenant_id: Some(tenant_id),
            action: "customer.consent.withdraw",
            purpose: None,
            result: "withdrawn",
            detail: &detail,
            at: now.unix_timestamp(),
        },
    )
    .await?;
    Ok(())
}

/// The customer's consent, in force or withdrawn; `None` if never given.
pub async fn of(db: &Database, customer_id: &str) -> Result<Option<Consent>, PlatformError> {
    let row: Option<(String, String, i64, Option<i64>)> =
        sqlx::query_as("SELECT text, certificate_serial, granted_at, withdrawn_at FROM customer_consent WHERE customer_id = $1")
            .bind(customer_id)
            .fetch_optional(db.pool())
            .await?;
    row.map(|(text, certificate_serial, granted_at, withdrawn_at)| {
        Ok(Consent {
            customer_id: customer_id.to_owned(),
            text,
            certificate_serial,
            granted_at: stored_time(granted_at)?,
            withdrawn_at: withdrawn_at.map(stored_time).transpose()?,
        })
    })
    .transpose()
}
