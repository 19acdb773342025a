//! Sign transactions, as the Digital Authentication App runs them
//! (../shared/reference/relying-party-apis.md: PocketSign's docs `create-sign-data/start-sign`,
//! `get-sign`, `create-sign-with-digestinfo`): the RP, with a client-credentials token, hands in what
//! is to be signed (a SHA-256 hash, or a DER DigestInfo) and a purpose the user is shown; it then sends
//! the user to authorize with `scope=openid sign` and the transaction's id; the user signs it with the
//! signature certificate's key; the RP fetches the result with the user's access token.

use jpki_store::{sqlx, Database};
use jpki_verify::digest_info::DigestInfo;
use time::OffsetDateTime;

use super::clients::Client;
use super::error::{ErrorCode, OAuthError};
use super::tokens;
use crate::PlatformError;

/// How long a sign transaction waits to be signed and its result to be fetched.
pub const LIFETIME: time::Duration = time::Duration::minutes(30);
/// The purpose is a line the user reads on the page and in the app.
pub const PURPOSE_MAX_CHARS: usize = 200;

/// A sign transaction just created.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: String,
    pub expires_at: OffsetDateTime,
}

/// What the user is asked to sign, for whom.
#[derive(Debug, Clone)]
pub struct SignTransaction {
    pub id: String,
    pub purpose: String,
    pub to_sign: DigestInfo,
}

fn invalid(message: impl Into<String>) -> PlatformError {
    PlatformError::Invalid { code: "invalid_sign_transaction", message: message.into() }
}

/// A random (version 4) UUID, RFC 9562 §5.4: the Digital Authentication App's transaction ids are UUIDs.
fn uuid() -> String {
    let mut b = jpki_crypto::random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Creates a sign transaction of `client` over `to_sign`.
pub async fn create(db: &Database, client: &Client, purpose: &str, to_sign: &DigestInfo, now: OffsetDateTime) -> Result<Created, PlatformError> {
    let purpose = purpose.trim();
    if purpose.is_empty() || purpose.chars().count() > PURPOSE_MAX_CHARS || purpose.chars().any(char::is_control) {
        return Err(invalid(format!("purpose must be 1 to {PURPOSE_MAX_CHARS} characters on one line")));
    }
    let created = Created { id: uuid(), expires_at: now + LIFETIME };
    sqlx::query("INSERT INTO oidc_sign_transaction (id, client_id, tenant_id, purpose, to_sign, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&created.id)
        .bind(&client.client_id)
        .bind(&client.tenant_id)
        .bind(purpose)
        .bind(to_sign.to_der())
        .bind(now.unix_timestamp())
        .bind(created.expires_at.unix_timestamp())
        .execute(db.pool())
        .await?;
    Ok(created)
}

type Row = (String, String, Vec<u8>);

fn read((id, purpose, to_sign): Row) -> Result<SignTransaction, PlatformError> {
    let to_sign = DigestInfo::from_der(&to_sign).map_err(|e| PlatformError::Corrupt(format!("sign transaction {id}: {e}")))?;
    Ok(SignTransaction { id, purpose, to_sign })
}

/// Sends sign transaction `id` of `client_id` to authorization `authorization_id`, once: `None` if
/// there is no such transaction of the client waiting.
pub(crate) async fn bind(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    client_id: &str,
    authorization_id: &str,
    now: OffsetDateTime,
) -> Result<Option<SignTransaction>, PlatformError> {
    let taken = sqlx::query(
        "UPDATE oidc_sign_transaction SET authorization_id = $1 WHERE id = $2 AND client_id = $3 AND authorization_id IS NULL AND expires_at >= $4",
    )
    .bind(authorization_id)
    .bind(id)
    .bind(client_id)
    .bind(now.unix_timestamp())
    .execute(&mut **tx)
    .await?;
    if taken.rows_affected() != 1 {
        return Ok(None);
    }
    let row: Row = sqlx::query_as("SELECT id, purpose, to_sign FROM oidc_sign_transaction WHERE id = $1").bind(id).fetch_one(&mut **tx).await?;
    read(row).map(Some)
}

/// Sign transaction `id`, if it was sent to authorization `authorization_id` (and not swept).
pub(crate) async fn find(db: &Database, id: &str, authorization_id: &str) -> Result<Option<SignTransaction>, PlatformError> {
    let row: Option<Row> = sqlx::query_as("SELECT id, purpose, to_sign FROM oidc_sign_transaction WHERE id = $1 AND authorization_id = $2")
        .bind(id)
        .bind(authorization_id)
        .fetch_optional(db.pool())
        .await?;
    row.map(read).transpose()
}

/// Keeps the signature's `result` for the RP.
pub(crate) async fn record(tx: &mut sqlx::Transaction<'_, sqlx::Any>, id: &str, result: &serde_json::Value) -> Result<(), PlatformError> {
    sqlx::query("UPDATE oidc_sign_transaction SET result = $1 WHERE id = $2").bind(result.to_string()).bind(id).execute(&mut **tx).await?;
    Ok(())
}

/// The result of sign transaction `id`, for the holder of an access token of the authorization it
/// was signed in.
pub async fn result(db: &Database, id: &str, access_token: &str, now: OffsetDateTime) -> Result<Result<serde_json::Value, OAuthError>, PlatformError> {
    let access = match tokens::access(db, access_token, now).await? {
        Ok(a) => a,
        Err(e) => return Ok(Err(e)),
    };
    let row: Option<(Option<String>, i64)> = sqlx::query_as("SELECT result, expires_at FROM oidc_sign_transaction WHERE id = $1 AND authorization_id = $2")
        .bind(id)
        .bind(&access.authorization_id)
        .fetch_optional(db.pool())
        .await?;
    let refused = |why: &str| Ok(Err(OAuthError::new(ErrorCode::InvalidRequest, why)));
    match row {
        None => refused("the access token is not of the login this sign transaction was signed in"),
        Some((_, expires_at)) if expires_at < now.unix_timestamp() => refused("the sign transaction expired"),
        Some((None, _)) => refused("the sign transaction was not signed"),
        Some((Some(result), _)) => serde_json::from_str(&result).map(Ok).map_err(|_| PlatformError::Corrupt(format!("sign transaction {id}: result"))),
    }
}
