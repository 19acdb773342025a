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
