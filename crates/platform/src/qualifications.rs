//! Qualification confirmation (資格確認; seed 004's cases 7, 11, 15, 19: a bank account, a credit card,
//! health insurance, an employee ID): a tenant records what a customer holds, and later asks whether
//! the person behind a fresh verification of one of the customer's certificates (a login with the
//! authentication certificate, card or phone, or a signature) holds an unexpired one of a type, and
//! why not.

use jpki_store::{sqlx, Database};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{audit, stored_time, PlatformError};

/// How old a verification may be for a check: a check is about who is there now.
pub const FRESHNESS: time::Duration = time::Duration::minutes(10);
const MAX_TEXT: usize = 200;
const MAX_ATTRIBUTES_BYTES: usize = 4096;

fn invalid(message: impl Into<String>) -> PlatformError {
    PlatformError::Invalid { code: "invalid_qualification", message: message.into() }
}

/// What a tenant sends to attach or update a qualification.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualificationInput {
    /// The tenant's type name, e.g. `employee`, `membership`, `health_insurance`.
    #[serde(rename = "type")]
    pub kind: String,
    pub identifier: String,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub valid_from: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub valid_until: Option<OffsetDateTime>,
    #[serde(default)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Qualification {
    pub id: String,
    pub customer_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub identifier: String,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub valid_until: Option<OffsetDateTime>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

fn text(field: &str, value: &str) -> Result<(), PlatformError> {
    if value.trim().is_empty() || value.chars().count() > MAX_TEXT || value.chars().any(char::is_control) {
        return Err(invalid(format!("{field} must be 1 to {MAX_TEXT} characters without control characters")));
    }
    Ok(())
}

impl QualificationInput {
    fn check(&self, now: OffsetDateTime) -> Result<(OffsetDateTime, String), PlatformError> {
        text("type", &self.kind)?;
        text("identifier", &self.identifier)?;
        let from = self.valid_from.unwrap_or(now);
        if self.valid_until.is_some_and(|until| until <= from) {
            return Err(invalid("valid_until must be after valid_from"));
        }
        let attributes = serde_json::Value::Object(self.attributes.clone().unwrap_or_default()).to_string();
        if attributes.len() > MAX_ATTRIBUTES_BYTES {
            return Err(invalid(format!("attributes must be at most {MAX_ATTRIBUTES_BYTES} bytes of JSON")));
        }
        Ok((from, attributes))
    }
}

type Row = (String, String, String, String, i64, Option<i64>, String);
const COLUMNS: &str = "id, customer_id, kind, identifier, valid_from, valid_until, attributes";

fn read((id, customer_id, kind, identifier, valid_from, valid_until, attributes): Row) -> Result<Qualification, PlatformError> {
    Ok(Qualification {
        attributes: serde_json::from_str(&attributes).map_err(|e| PlatformError::Corrupt(format!("qualification {id}: {e}")))?,
        valid_from: stored_time(valid_from)?,
        valid_until: valid_until.map(stored_time).transpose()?,
        id,
        customer_id,
        kind,
        identifier,
    })
}

async fn owned_customer(db: &Database, tenant_id: &str, customer_id: &str) -> Result<(), PlatformError> {
    let found: Option<(String,)> =
        sqlx::query_as("SELECT id FROM customer WHERE id = $1 AND tenant_id = $2").bind(customer_id).bind(tenant_id).fetch_optional(db.pool()).await?;
    found.map(|_| ()).ok_or_else(|| PlatformError::NotFound(format!("no customer {customer_id}")))
}

fn taken(e: jpki_store::sqlx::Error, input: &QualificationInput) -> PlatformError {
    match &e {
        jpki_store::sqlx::Error::Database(d) if d.is_unique_violation() => {
            PlatformError::Conflict(format!("the tenant already has a {} qualification {:?}", input.kind, input.identifier))
        }
        _ => PlatformError::from(jpki_store::StoreError::from(e)),
    }
}

/// Attaches a qualification to the tenant's customer.
pub async fn create(
    db: &Database,
    tenant_id: &str,
    customer_id: &str,
    input: &QualificationInput,
    now: OffsetDateTime,
) -> Result<Qualification, PlatformError> {
    let (from, attributes) = input.check(now)?;
    owned_customer(db, tenant_id, customer_id).await?;
    let id = jpki_store::new_id("qual");
    sqlx::query(
        "INSERT INTO qualification (id, tenant_id, customer_id, kind, identifier, valid_from, valid_until, attributes, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(&id)
    .bind(tenant_id)
    .bind(customer_id)
    .bind(input.kind.trim())
    .bind(input.identifier.trim())
    .bind(from.unix_timestamp())
    .bind(input.valid_until.map(OffsetDateTime::unix_timestamp))
    .bind(&attributes)
    .bind(now.unix_timestamp())
    .execute(db.pool())
    .await
    .map_err(|e| taken(e, input))?;
    audited(db, tenant_id, "qualification.create", "created", &id, now).await?;
    get(db, tenant_id, &id).await
}

/// An audit entry naming the qualification (its id only).
async fn audited(db: &Database, tenant_id: &str, action: &str, result: &str, id: &str, now: OffsetDateTime) -> Result<(), PlatformError> {
    let detail = serde_json::json!({ "id": id });
    audit::append_alone(db, &audit::Entry { tenant_id: Some(tenant_id), action, purpose: None, result, detail: &detail, at: now.unix_timestamp() }).await
}

/// The tenant's qualification `id`.
pub async fn get(db: &Database, tenant_id: &str, id: &str) -> Result<Qualification, PlatformError> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM qualification WHERE id = $1 AND tenant_id = $2"))
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(db.pool())
        .await?;
    read(row.ok_or_else(|| PlatformError::NotFound(format!("no qualification {id}")))?)
}

/// The qualifications of the tenant's customer.
pub async fn of_customer(db: &Database, tenant_id: &str, customer_id: &str) -> Result<Vec<Qualification>, PlatformError> {
    owned_customer(db, tenant_id, customer_id).await?;
    let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM qualification WHERE customer_id = $1 AND tenant_id = $2 ORDER BY kind, id"))
        .bind(customer_id)
        .bind(tenant_id)
        .fetch_all(db.pool())
        .await?;
    rows.into_iter().map(read).collect()
}

/// Replaces qualification `id`'s fields.
pub async fn update(db: &Database, tenant_id: &str, id: &str, input: &QualificationInput, now: OffsetDateTime) -> Result<Qualification, PlatformError> {
    let (from, attributes) = input.check(now)?;
    let done = sqlx::query(
        "UPDATE qualification SET kind = $1, identifier = $2, valid_from = $3, valid_until = $4, attributes = $5, updated_at = $6 WHERE id = $7 AND tenant_id = $8",
    )
    .bind(input.kind.trim())
    .bind(input.identifier.trim())
    .bind(from.unix_timestamp())
    .bind(input.valid_until.map(OffsetDateTime::unix_timestamp))
    .bind(&attributes)
    .bind(now.unix_timestamp())
    .bind(id)
    .bind(tenant_id)
    .execute(db.pool())
    .await
    .map_err(|e| taken(e, input))?;
    if done.rows_affected() == 0 {
        return Err(PlatformError::NotFound(format!("no qualification {id}")));
    }
    audited(db, tenant_id, "qualification.update", "updated", id, now).await?;
    get(db, tenant_id, id).await
}

pub async fn delete(db: &Database, tenant_id: &str, id: &str) -> Result<(), PlatformError> {
    crate::delete_owned(
        db,
        "SELECT id FROM qualification WHERE id = $1 AND tenant_id = $2",
        "qualification",
        id,
        tenant_id,
        &["DELETE FROM qualification WHERE id = $1"],
    )
    .await
}

/// Why a check is not qualified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NotQualified {
    /// The verification found the certificate revoked (or on hold).
    CertificateRevoked,
    /// The verification failed for another reason (its code says which).
    VerificationFailed,
    /// Older than [`FRESHNESS`]: verify again.
    VerificationStale,
    /// No customer of the tenant holds the verified certificate.
    UnknownPerson,
    NoQualification,
    Expired,
    NotYetValid,
}

/// A check's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub qualified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<NotQualified>,
    /// The verification's failure code, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualification: Option<Qualification>,
}

impl Check {
    fn not(reason: NotQualified) -> Check {
        Check { qualified: false, reason: Some(reason), failure_code: None, customer_id: None, qualification: None }
    }
}

/// A verification's validity, failure code, certificate issuer and serial, and time.
type VerificationRow = (i32, Option<String>, Option<String>, Option<String>, i64);

/// Whether the person of the tenant's verification `verification_id` holds a qualification of `kind`
/// valid at `now`, audited with the verification, the type and the answer. The verification must be
/// the tenant's, at most [`FRESHNESS`] old.
pub async fn check(db: &Database, tenant_id: &str, verification_id: &str, kind: &str, now: OffsetDateTime) -> Result<Check, PlatformError> {
    let answer = answer(db, tenant_id, verification_id, kind, now).await?;
    let result = match answer.reason {
        None => "qualified".to_owned(),
        // The reason as the API writes it (its serde name).
        Some(reason) => format!("not_qualified:{}", serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()),
    };
    let detail = serde_json::json!({ "verification_id": verification_id, "type": kind, "customer_id": answer.customer_id });
    let entry =
        audit::Entry { tenant_id: Some(tenant_id), action: "qualification.check", purpose: None, result: &result, detail: &detail, at: now.unix_timestamp() };
    audit::append_alone(db, &entry).await?;
    Ok(answer)
}

async fn answer(db: &Database, tenant_id: &str, verification_id: &str, kind: &str, now: OffsetDateTime) -> Result<Check, PlatformError> {
    text("type", kind)?;
    let row: Option<VerificationRow> =
        sqlx::query_as("SELECT valid, failure_code, certificate_issuer, certificate_serial, created_at FROM verification WHERE id = $1 AND tenant_id = $2")
            .bind(verification_id)
            .bind(tenant_id)
            .fetch_optional(db.pool())
            .await?;
    let (valid, failure_code, issuer, serial, created_at) = row.ok_or_else(|| PlatformError::NotFound(format!("no verification {verification_id}")))?;
    if created_at < (now - FRESHNESS).unix_timestamp() {
        return Ok(Check::not(NotQualified::VerificationStale));
    }
    if valid != 1 {
        let reason = if failure_code.as_deref() == Some("revoked") { NotQualified::CertificateRevoked } else { NotQualified::VerificationFailed };
        return Ok(Check { failure_code, ..Check::not(reason) });
    }
    let (Some(issuer), Some(serial)) = (issuer, serial) else { return Ok(Check::not(NotQualified::UnknownPerson)) };
    let customer: Option<(String,)> = sqlx::query_as(
        "SELECT c.id FROM customer_certificate cc JOIN customer c ON c.id = cc.customer_id WHERE cc.issuer = $1 AND cc.serial = $2 AND c.tenant_id = $3",
    )
    .bind(&issuer)
    .bind(&serial)
    .bind(tenant_id)
    .fetch_optional(db.pool())
    .await?;
    // A login's authentication certificate is the customer's through their account's login links.
    let customer = match customer {
        Some(found) => Some(found),
        None => {
            sqlx::query_as(
                "SELECT c.id FROM account_link l JOIN customer c ON c.tenant_id = l.tenant_id AND c.account_id = l.account_id
             WHERE l.tenant_id = $1 AND l.auth_serial = $2",
            )
            .bind(tenant_id)
            .bind(&serial)
            .fetch_optional(db.pool())
            .await?
        }
    };
    let Some((customer_id,)) = customer else { return Ok(Check::not(NotQualified::UnknownPerson)) };
    let held: Vec<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM qualification WHERE customer_id = $1 AND tenant_id = $2 AND kind = $3 ORDER BY valid_until DESC"))
            .bind(&customer_id)
            .bind(tenant_id)
            .bind(kind.trim())
            .fetch_all(db.pool())
            .await?;
    let held: Vec<Qualification> = held.into_iter().map(read).collect::<Result<_, _>>()?;
    let current = held.iter().find(|q| q.valid_from <= now && q.valid_until.is_none_or(|u| now < u));
    let answer = match current {
        Some(q) => Check { qualified: true, reason: None, failure_code: None, customer_id: None, qualification: Some(q.clone()) },
        None if held.is_empty() => Check::not(NotQualified::NoQualification),
        None if held.iter().all(|q| q.valid_from > now) => Check::not(NotQualified::NotYetValid),
        None => Check::not(NotQualified::Expired),
    };
    Ok(Check { customer_id: Some(customer_id), ..answer })
}
