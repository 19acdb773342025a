//! Tenants and their API keys. A key is 32 random bytes shown once as `jpk_<hex>`; the store keeps its
//! SHA-256 (a random 256-bit key needs no slow hash), so a leaked database gives no usable key.

use jpki_store::{sqlx, Database};
use serde::Serialize;
use time::OffsetDateTime;

use jpki_verify::revocation::{RequestedMethod, RevocationPolicy};

use crate::PlatformError;

const KEY_PREFIX: &str = "jpk_";

#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    /// Authorized to receive My Number under the number law.
    pub number_law_authorized: bool,
    /// Disabled by the operator: its keys are refused until it is enabled again.
    pub disabled: bool,
    /// The revocation policy of its verifications that state none; `None` for the platform's default.
    #[serde(skip)]
    pub revocation: Option<RevocationPolicy>,
}

/// The longest retention a tenant may set for its verification results (days): ten years.
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// A tenant's stored revocation default, read.
fn revocation(method: Option<String>, max_age: Option<i64>) -> Option<RevocationPolicy> {
    Some(RevocationPolicy { method: RequestedMethod::parse(method.as_deref()?)?, max_age: time::Duration::seconds(max_age.unwrap_or(0)) })
}

/// A tenant as the operator's admin API lists it.
#[derive(Debug, Clone)]
pub struct TenantRecord {
    pub tenant: Tenant,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
    /// Keys not revoked.
    pub active_keys: i64,
    /// How long its verification results are kept; `None`: until deleted.
    pub verification_retention_days: Option<i64>,
}

/// A new key: the secret is in `api_key`, here and nowhere else.
#[derive(Debug, Clone, Serialize)]
pub struct NewKey {
    pub key_id: String,
    pub api_key: String,
}

pub fn key_hash(api_key: &str) -> String {
    hex::encode(jpki_crypto::sha256(api_key.as_bytes()))
}

async fn insert_key(tx: &mut sqlx::Transaction<'_, sqlx::Any>, tenant_id: &str, now: i64) -> Result<NewKey, PlatformError> {
    let api_key = format!("{KEY_PREFIX}{}", hex::encode(jpki_crypto::random_bytes::<32>()));
    let key_id = jpki_store::new_id("key");
    sqlx::query("INSERT INTO tenant_key (id, tenant_id, key_hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&key_id)
        .bind(tenant_id)
        .bind(key_hash(&api_key))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(NewKey { key_id, api_key })
}

/// Creates a tenant with its first API key.
pub async fn create(db: &Database, name: &str, number_law_authorized: bool) -> Result<(Tenant, NewKey), PlatformError> {
    let mut tx = db.begin_write().await?;
    let created = create_in(&mut tx, name, number_law_authorized).await?;
    tx.commit().await?;
    Ok(created)
}

/// [`create`] inside the caller's write transaction (to audit it in the same commit).
pub async fn create_in(tx: &mut sqlx::Transaction<'_, sqlx::Any>, name: &str, number_law_authorized: bool) -> Result<(Tenant, NewKey), PlatformError> {
    let name = name.trim();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let id = jpki_store::new_id("tenant");
    let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM tenant WHERE name = $1").bind(name).fetch_optional(&mut **tx).await?;
    if taken.is_some() {
        return Err(PlatformError::Conflict(format!("a tenant named {name:?} exists")));
    }
    sqlx::query("INSERT INTO tenant (id, name, number_law_authorized, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(name)
        .bind(i32::from(number_law_authorized))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let key = insert_key(tx, &id, now).await?;
    Ok((Tenant { id, name: name.to_owned(), number_law_authorized, disabled: false, revocation: None }, key))
}

const RECORD_COLUMNS: &str = "SELECT t.id, t.name, t.number_law_authorized, t.created_at, t.disabled_at,
     (SELECT COUNT(*) FROM tenant_key k WHERE k.tenant_id = t.id AND k.revoked_at IS NULL), t.revocation_method, t.revocation_max_age,
     t.verification_retention_days FROM tenant t";

type RecordRow = (String, String, i32, i64, Option<i64>, i64, Option<String>, Option<i64>, Option<i64>);

fn record((id, name, law, created_at, disabled_at, active_keys, method, max_age, retention): RecordRow) -> TenantRecord {
    let tenant = Tenant { id, name, number_law_authorized: law != 0, disabled: disabled_at.is_some(), revocation: revocation(method, max_age) };
    TenantRecord { tenant, created_at, disabled_at, active_keys, verification_retention_days: retention }
}

/// The tenant `tenant_id`, if there is one.
pub async fn get(db: &Database, tenant_id: &str) -> Result<Option<Tenant>, PlatformError> {
    let row: Option<RecordRow> = sqlx::query_as(&format!("{RECORD_COLUMNS} WHERE t.id = $1")).bind(tenant_id).fetch_optional(db.pool()).await?;
    Ok(row.map(|r| record(r).tenant))
}

/// Every tenant, oldest first.
pub async fn list(db: &Database) -> Result<Vec<TenantRecord>, PlatformError> {
    let rows: Vec<RecordRow> = sqlx::query_as(&format!("{RECORD_COLUMNS} ORDER BY t.created_at, t.id")).fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(record).collect())
}

/// Disables a tenant (its keys are refused from then on) or enables it again, inside the caller's write
/// transaction; disabling a disabled tenant keeps the time it was first disabled.
pub async fn set_disabled_in(tx: &mut sqlx::Transaction<'_, sqlx::Any>, tenant_id: &str, disabled: bool) -> Result<TenantRecord, PlatformError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let update = match disabled {
        true => sqlx::query("UPDATE tenant SET disabled_at = COALESCE(disabled_at, $1) WHERE id = $2").bind(now),
        false => sqlx::query("UPDATE tenant SET disabled_at = NULL WHERE id = $1"),
    };
    let done = update.bind(tenant_id).execute(&mut **tx).await?;
    if done.rows_affected() == 0 {
        return Err(PlatformError::NotFound(format!("no tenant {tenant_id}")));
    }
    let row: RecordRow = sqlx::query_as(&format!("{RECORD_COLUMNS} WHERE t.id = $1")).bind(tenant_id).fetch_one(&mut **tx).await?;
    Ok(record(row))
}

/// Sets the revocation policy of the tenant's verifications that state none (`None`: the platform's
/// default), inside the caller's write transaction.
pub async fn set_revocation_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant_id: &str,
    policy: Option<RevocationPolicy>,
) -> Result<TenantRecord, PlatformError> {
    let done = sqlx::query("UPDATE tenant SET revocation_method = $1, revocation_max_age = $2 WHERE id = $3")
        .bind(policy.map(|p| p.method.as_str()))
        .bind(policy.map(|p| p.max_age.whole_seconds()))
        .bind(tenant_id)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(PlatformError::NotFound(format!("no tenant {tenant_id}")));
    }
    let row: RecordRow = sqlx::query_as(&format!("{RECORD_COLUMNS} WHERE t.id = $1")).bind(tenant_id).fetch_one(&mut **tx).await?;
    Ok(record(row))
}

/// Sets how long the tenant's verification results are kept (`None`: until deleted), inside the
/// caller's write transaction.
pub async fn set_retention_in(tx: &mut sqlx::Transaction<'_, sqlx::Any>, tenant_id: &str, days: Option<u32>) -> Result<TenantRecord, PlatformError> {
    let done =
        sqlx::query("UPDATE tenant SET verification_retention_days = $1 WHERE id = $2").bind(days.map(i64::from)).bind(tenant_id).execute(&mut **tx).await?;
    if done.rows_affected() == 0 {
        return Err(PlatformError::NotFound(format!("no tenant {tenant_id}")));
    }
    let row: RecordRow = sqlx::query_as(&format!("{RECORD_COLUMNS} WHERE t.id = $1")).bind(tenant_id).fetch_one(&mut **tx).await?;
    Ok(record(row))
}

/// Another key for a tenant (to rotate without downtime).
pub async fn add_key(db: &Database, tenant_id: &str) -> Result<NewKey, PlatformError> {
    let mut tx = db.begin_write().await?;
    let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM tenant WHERE id = $1").bind(tenant_id).fetch_optional(&mut *tx).await?;
    if exists.is_none() {
        return Err(PlatformError::NotFound(format!("no tenant {tenant_id}")));
    }
    let key = insert_key(&mut tx, tenant_id, OffsetDateTime::now_utc().unix_timestamp()).await?;
    tx.commit().await?;
    Ok(key)
}

pub async fn revoke_key(db: &Database, key_id: &str) -> Result<(), PlatformError> {
    let done = sqlx::query("UPDATE tenant_key SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(OffsetDateTime::now_utc().unix_timestamp())
        .bind(key_id)
        .execute(db.pool())
        .await?;
    if done.rows_affected() == 0 {
        return Err(PlatformError::NotFound(format!("no active key {key_id}")));
    }
    Ok(())
}

/// The tenant of the key whose hash is `hash` (disabled or not), if the key is known and not revoked.
async fn lookup(db: &Database, hash: &str) -> Result<Option<Tenant>, PlatformError> {
    type Row = (String, String, i32, Option<i64>, Option<String>, Option<i64>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT t.id, t.name, t.number_law_authorized, t.disabled_at, t.revocation_method, t.revocation_max_age FROM tenant_key k JOIN tenant t ON t.id = k.tenant_id
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|(id, name, law, disabled_at, method, max_age)| Tenant {
        id,
        name,
        number_law_authorized: law != 0,
        disabled: disabled_at.is_some(),
        revocation: revocation(method, max_age),
    }))
}

/// Keys that authenticated recently, so a busy tenant's requests do not each query the database. An entry
/// is trusted for [`KeyCache::TTL`]: a key revoked through this process stops working at once (the cache
/// is emptied), one revoked through another process sharing the database within that time. Unknown keys
/// are never cached.
#[derive(Default)]
pub struct KeyCache {
    entries: std::sync::RwLock<std::collections::HashMap<String, (Tenant, std::time::Instant)>>,
}

impl KeyCache {
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(5);
    /// Most keys held; beyond this the cache starts over (a bound on memory, not a policy).
    const MAX_ENTRIES: usize = 10_000;

    /// The tenant an API key belongs to (disabled or not), if the key is known and not revoked.
    pub async fn authenticate(&self, db: &Database, api_key: &str) -> Result<Option<Tenant>, PlatformError> {
        if !api_key.starts_with(KEY_PREFIX) {
            return Ok(None);
        }
        let hash = key_hash(api_key);
        let fresh = |at: &std::time::Instant| at.elapsed() < Self::TTL;
        if let Some((tenant, _)) = self.entries.read().unwrap_or_else(|p| p.into_inner()).get(&hash).filter(|(_, at)| fresh(at)) {
            return Ok(Some(tenant.clone()));
        }
        let found = lookup(db, &hash).await?;
        if let Some(tenant) = &found {
            let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
            if entries.len() >= Self::MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(hash, (tenant.clone(), std::time::Instant::now()));
        }
        Ok(found)
    }

    /// Forgets every key (after a key's revocation or a tenant's change).
    pub fn clear(&self) {
        self.entries.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
