//! A tenant's stored verification results: read back as they were answered, or deleted (a customer
//! registered from one keeps its certificate).

use jpki_store::{sqlx, Database};

use crate::PlatformError;

/// The JSON answered for the tenant's verification `id`.
pub async fn get(db: &Database, tenant_id: &str, id: &str) -> Result<String, PlatformError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT result FROM verification WHERE id = $1 AND tenant_id = $2").bind(id).bind(tenant_id).fetch_optional(db.pool()).await?;
    row.map(|(result,)| result).ok_or_else(|| PlatformError::NotFound(format!("no verification {id}")))
}

/// Stores a login's result as the tenant's verification `id` (inside the login's transaction), so
/// that a fresh login can answer a qualification check like a fresh signature.
#[allow(clippy::too_many_arguments)]
pub async fn record_login(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    tenant_id: &str,
    login: &jpki_verify::Verification,
    result: &str,
    at: time::OffsetDateTime,
) -> Result<(), PlatformError> {
    let signer = login.signer.as_ref();
    let checked = signer.filter(|_| login.valid).map(crate::recorder::CheckedCertificate::of);
    sqlx::query(
        "INSERT INTO verification (id, tenant_id, kind, valid, failure_code, certificate_serial, certificate_kind, revocation_method, created_at, result, certificate, certificate_issuer)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id)
    .bind(tenant_id)
    .bind(crate::recorder::CheckKind::Login.as_str())
    .bind(i32::from(login.valid))
    .bind(login.failure.as_ref().map(|f| f.code.as_str()))
    .bind(signer.map(|s| s.certificate_serial.as_str()))
    .bind(signer.and_then(|s| jpki_profile::fees::FeeCertKind::of(s.certificate_kind)).map(|k| k.as_str()))
    .bind(login.revocation.as_ref().map(|r| r.method.as_str()))
    .bind(at.unix_timestamp())
    .bind(result)
    .bind(checked.as_ref().map(|c| c.der_base64.as_str()))
    .bind(checked.as_ref().map(|c| c.issuer.as_str()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes the tenant's verification `id`, with the signer's certificate and data it holds; audited.
pub async fn delete(db: &Database, tenant_id: &str, id: &str) -> Result<(), PlatformError> {
    crate::delete_owned(
        db,
        "SELECT id FROM verification WHERE id = $1 AND tenant_id = $2",
        "verification",
        id,
        tenant_id,
        &["DELETE FROM verification WHERE id = $1"],
    )
    .await
}

/// The 4 information of the signature certificate the tenant's verification `id` found valid at most
/// [`crate::qualifications::FRESHNESS`] before `now` (the same session's signature, for the number check).
pub async fn fresh_signer(db: &Database, tenant_id: &str, id: &str, now: time::OffsetDateTime) -> Result<jpki_profile::FourInfo, PlatformError> {
    use base64::Engine as _;
    let row: Option<(i32, Option<String>, i64)> = sqlx::query_as("SELECT valid, certificate, created_at FROM verification WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(db.pool())
        .await?;
    let (valid, certificate, created_at) = row.ok_or_else(|| PlatformError::NotFound(format!("no verification {id}")))?;
    let invalid = |code, message: String| PlatformError::Invalid { code, message };
    if created_at < (now - crate::qualifications::FRESHNESS).unix_timestamp() {
        return Err(invalid(
            "verification_stale",
            format!("verification {id} is older than {} minutes: verify again", crate::qualifications::FRESHNESS.whole_minutes()),
        ));
    }
    let (1, Some(certificate)) = (valid, certificate) else {
        return Err(invalid("verification_not_valid", format!("verification {id} did not succeed")));
    };
    let der = base64::engine::general_purpose::STANDARD.decode(&certificate).map_err(|e| PlatformError::Corrupt(format!("stored certificate: {e}")))?;
    let cert = jpki_profile::cert_profile::JpkiCertificate::from_der(&der).map_err(|e| PlatformError::Corrupt(format!("stored certificate: {e}")))?;
    cert.four_info.ok_or_else(|| invalid("not_a_signature", format!("verification {id} is not of a signature certificate, which holds the 4 information")))
}
