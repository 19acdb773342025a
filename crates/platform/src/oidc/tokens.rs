//! The token endpoint's domain (RFC 6749 §4.1.3, §6; OpenID Connect Core §3.1.3): a code redeemed
//! once, by the client it was issued to, with its PKCE verifier, for an ID token (ES256), an access
//! token and a refresh token; refresh tokens rotate. Tokens are random and stored as their SHA-256.
//! A code or refresh token used twice means one of them leaked: the second use is refused and every
//! token issued from that authorization is revoked (RFC 6749 §4.1.2, OAuth 2.0 Security BCP,
//! RFC 9700 §4.14.2).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jpki_store::{sqlx, Database};
use serde::Serialize;
use time::OffsetDateTime;

use super::clients::Client;
use super::error::{ErrorCode, OAuthError};
use super::keys;
use super::scope::{Scope, Scopes};
use crate::PlatformError;

/// How long an access token is good for.
pub const ACCESS_LIFETIME: time::Duration = time::Duration::minutes(5);
/// How long a refresh token, and with it the authorization and the claims it holds, is kept: the
/// Digital Authentication App publishes no lifetimes; a day keeps personal data no longer than a
/// login session needs it.
pub const REFRESH_LIFETIME: time::Duration = time::Duration::days(1);
/// How long an ID token is good for.
pub const ID_TOKEN_LIFETIME: time::Duration = time::Duration::minutes(5);

/// What a token request answers (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub id_token: String,
    pub scope: Scopes,
}

fn secret() -> String {
    URL_SAFE_NO_PAD.encode(jpki_crypto::random_bytes::<32>())
}

fn hash(secret: &str) -> String {
    crate::tenants::key_hash(secret)
}

fn grant_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, description)
}

/// A redeemed authorization, as the tokens are made from it.
struct Granted {
    id: String,
    subject: String,
    scopes: Scopes,
    nonce: Option<String>,
    acr: String,
    amr: Vec<String>,
    auth_time: i64,
}

fn corrupt(id: &str, what: &str) -> PlatformError {
    PlatformError::Corrupt(format!("authorization {id}: {what}"))
}

impl Granted {
    /// An approved authorization's stored columns, read.
    fn read(
        id: String,
        subject: Option<String>,
        scopes: Scopes,
        nonce: Option<String>,
        acr: Option<String>,
        amr: Option<String>,
        auth_time: Option<i64>,
    ) -> Result<Granted, PlatformError> {
        Ok(Granted {
            subject: subject.ok_or_else(|| corrupt(&id, "no subject"))?,
            scopes,
            nonce,
            acr: acr.ok_or_else(|| corrupt(&id, "no acr"))?,
            amr: amr.map(|a| serde_json::from_str(&a)).transpose().map_err(|_| corrupt(&id, "amr"))?.unwrap_or_default(),
            auth_time: auth_time.ok_or_else(|| corrupt(&id, "no auth_time"))?,
            id,
        })
    }
}

type CodeRow = (String, String, String, String, String, String, Option<String>, Option<String>, Option<String>, Option<i64>, Option<i64>, Option<i64>, String);

/// RFC 7636 §4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge, the verifier 43–128 of
/// the unreserved characters (§4.1).
fn pkce_holds(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len()) && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed && jpki_crypto::constant_time_eq(URL_SAFE_NO_PAD.encode(jpki_crypto::sha256(verifier.as_bytes())).as_bytes(), challenge.as_bytes())
}

/// Redeems `code` for `client`. Any attempt uses the code up; a second one revokes what the first got.
pub async fn redeem_code(
    db: &Database,
    client: &Client,
    issuer: &str,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    now: OffsetDateTime,
) -> Result<Result<TokenResponse, OAuthError>, PlatformError> {
    let code_hash = hash(code);
    // Before the write transaction: on first use the key is made, which writes.
    let key = keys::current(db, now).await?;
    let mut tx = db.begin_write().await?;
    let row: Option<CodeRow> = sqlx::query_as(
        "SELECT id, client_id, redirect_uri, code_challenge, status, nonce, subject, acr, amr, auth_time, code_expires_at, revoked_at, scopes
         FROM oidc_authorization WHERE code_hash = $1",
    )
    .bind(&code_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, client_id, stored_redirect, challenge, status, nonce, subject, acr, amr, auth_time, code_expires_at, revoked_at, scopes)) = row else {
        return Ok(Err(grant_error("the code is unknown")));
    };
    if client_id != client.client_id {
        // RFC 6749 §4.1.3: "ensure that the authorization code was issued to the authenticated client".
        return Ok(Err(grant_error("the code was issued to another client")));
    }
    if status != "approved" {
        let revoked = revoke_in(&mut tx, &id, now).await?;
        tx.commit().await?;
        return Ok(Err(grant_error(if revoked == 0 && revoked_at.is_some() {
            "the code was already used; the tokens issued for it were revoked before"
        } else {
            "the code was already used: the tokens issued for it are revoked"
        })));
    }
    sqlx::query("UPDATE oidc_authorization SET status = 'redeemed', expires_at = $1 WHERE id = $2")
        .bind((now + REFRESH_LIFETIME).unix_timestamp())
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    let refusal = if code_expires_at.is_none_or(|t| t < now.unix_timestamp()) {
        Some("the code expired: start the login again")
    } else if redirect_uri != Some(stored_redirect.as_str()) {
        // RFC 6749 §4.1.3: required, and identical to the authorization request's.
        Some("redirect_uri is not the one of the authorization request")
    } else if !verifier.is_some_and(|v| pkce_holds(v, &challenge)) {
        Some("code_verifier does not match the code_challenge (PKCE S256)")
    } else {
        None
    };
    if let Some(why) = refusal {
        tx.commit().await?;
        return Ok(Err(grant_error(why)));
    }
    let scopes = Scopes::parse(&scopes, "corrupt").map_err(|_| corrupt(&id, "scopes"))?;
    let granted = Granted::read(id, subject, scopes, Some(nonce), acr, amr, auth_time)?;
    let response = issue(&mut tx, &key, client, issuer, &granted, now).await?;
    tx.commit().await?;
    Ok(Ok(response))
}

/// Revokes the authorization's tokens; how many were still good.
async fn revoke_in(tx: &mut sqlx::Transaction<'_, sqlx::Any>, authorization_id: &str, now: OffsetDateTime) -> Result<u64, PlatformError> {
    sqlx::query("UPDATE oidc_authorization SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now.unix_timestamp())
        .bind(authorization_id)
        .execute(&mut **tx)
        .await?;
    let n = sqlx::query("DELETE FROM oidc_token WHERE authorization_id = $1 AND (used_at IS NULL AND expires_at >= $2)")
        .bind(authorization_id)
        .bind(now.unix_timestamp())
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(n)
}

async fn issue(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key: &keys::SigningKey,
    client: &Client,
    issuer: &str,
    granted: &Granted,
    now: OffsetDateTime,
) -> Result<TokenResponse, PlatformError> {
    let (access, refresh) = (secret(), secret());
    for (token, kind, lifetime) in [(&access, "access", ACCESS_LIFETIME), (&refresh, "refresh", REFRESH_LIFETIME)] {
        sqlx::query("INSERT INTO oidc_token (token_hash, authorization_id, kind, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(hash(token))
            .bind(&granted.id)
            .bind(kind)
            .bind((now + lifetime).unix_timestamp())
            .execute(&mut **tx)
            .await?;
    }
    // OpenID Connect Core §3.1.3.6: at_hash, the left half of the access token's SHA-256.
    let at_hash = URL_SAFE_NO_PAD.encode(&jpki_crypto::sha256(access.as_bytes())[..16]);
    let mut claims = serde_json::json!({
        "iss": issuer,
        "sub": granted.subject,
        "aud": client.client_id,
        "azp": client.client_id,
        "exp": (now + ID_TOKEN_LIFETIME).unix_timestamp(),
        "iat": now.unix_timestamp(),
        "auth_time": granted.auth_time,
        "acr": granted.acr,
        "amr": granted.amr,
        "at_hash": at_hash,
    });
    if let Some(nonce) = &granted.nonce {
        claims["nonce"] = nonce.clone().into();
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    let id_token = jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ec_der(key.key.pkcs8_der()))
        .map_err(|e| PlatformError::Corrupt(format!("signing an ID token: {e}")))?;
    Ok(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in: ACCESS_LIFETIME.whole_seconds(),
        refresh_token: refresh,
        id_token,
        scope: granted.scopes.clone(),
    })
}

type RefreshRow = (String, String, Option<i64>, i64, String, Option<i64>, Option<String>, String, Option<String>, Option<String>, Option<i64>);

/// Exchanges `refresh_token` for new tokens (RFC 6749 §6), replacing it; a refresh token used a second
/// time revokes the authorization. The new ID token carries no `nonce` (OpenID Connect Core §12.2).
pub async fn refresh(
    db: &Database,
    client: &Client,
    issuer: &str,
    refresh_token: &str,
    scope: Option<&str>,
    now: OffsetDateTime,
) -> Result<Result<TokenResponse, OAuthError>, PlatformError> {
    let key = keys::current(db, now).await?;
    let mut tx = db.begin_write().await?;
    let row: Option<RefreshRow> = sqlx::query_as(
        "SELECT t.authorization_id, a.client_id, t.used_at, t.expires_at, a.status, a.revoked_at, a.subject, a.scopes, a.acr, a.amr, a.auth_time
         FROM oidc_token t JOIN oidc_authorization a ON a.id = t.authorization_id WHERE t.token_hash = $1 AND t.kind = 'refresh'",
    )
    .bind(hash(refresh_token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, client_id, used_at, expires_at, _status, revoked_at, subject, scopes, acr, amr, auth_time)) = row else {
        return Ok(Err(grant_error("the refresh token is unknown or revoked")));
    };
    if client_id != client.client_id {
        return Ok(Err(grant_error("the refresh token was issued to another client")));
    }
    if revoked_at.is_some() {
        return Ok(Err(grant_error("the refresh token is revoked")));
    }
    if used_at.is_some() {
        revoke_in(&mut tx, &id, now).await?;
        tx.commit().await?;
        return Ok(Err(grant_error("the refresh token was already used: every token of this login is revoked")));
    }
    if expires_at < now.unix_timestamp() {
        return Ok(Err(grant_error("the refresh token expired: log in again")));
    }
    let granted_scopes = Scopes::parse(&scopes, "corrupt").map_err(|_| corrupt(&id, "scopes"))?;
    // RFC 6749 §6: a narrower scope may be asked for, never a wider one.
    let scopes = match scope {
        None => granted_scopes,
        Some(asked) => match Scopes::parse(asked, "invalid_scope") {
            Ok(asked) if asked.is_subset(&granted_scopes) && asked.contains(Scope::Openid) => asked,
            Ok(_) => return Ok(Err(OAuthError::new(ErrorCode::InvalidScope, format!("a refresh may ask only for the scopes granted: {granted_scopes}")))),
            Err(e) => return Ok(Err(OAuthError::new(ErrorCode::InvalidScope, e.to_string()))),
        },
    };
    sqlx::query("UPDATE oidc_token SET used_at = $1 WHERE token_hash = $2").bind(now.unix_timestamp()).bind(hash(refresh_token)).execute(&mut *tx).await?;
    sqlx::query("UPDATE oidc_authorization SET expires_at = $1 WHERE id = $2")
        .bind((now + REFRESH_LIFETIME).unix_timestamp())
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    let granted = Granted::read(id, subject, scopes, None, acr, amr, auth_time)?;
    let response = issue(&mut tx, &key, client, issuer, &granted, now).await?;
    tx.commit().await?;
    Ok(Ok(response))
}

/// An access token's expiry, and its authorization's id, revocation, subject and claims.
type AccessRow = (i64, String, Option<i64>, Option<String>, Option<String>);

/// What a good access token gives access to.
pub struct Access {
    pub authorization_id: String,
    pub subject: String,
    /// The claims the user approved.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// The authorization of a good access token (RFC 6750 §3.1's `invalid_token` otherwise).
pub async fn access(db: &Database, access_token: &str, now: OffsetDateTime) -> Result<Result<Access, OAuthError>, PlatformError> {
    let row: Option<AccessRow> = sqlx::query_as(
        "SELECT t.expires_at, a.id, a.revoked_at, a.subject, a.claims FROM oidc_token t JOIN oidc_authorization a ON a.id = t.authorization_id
         WHERE t.token_hash = $1 AND t.kind = 'access'",
    )
    .bind(hash(access_token))
    .fetch_optional(db.pool())
    .await?;
    let invalid = |why: &str| Ok(Err(OAuthError::new(ErrorCode::InvalidToken, why)));
    match row {
        None => invalid("the access token is unknown"),
        Some((_, _, Some(_), _, _)) => invalid("the access token is revoked"),
        Some((expires_at, ..)) if expires_at < now.unix_timestamp() => invalid("the access token expired"),
        Some((_, id, None, Some(subject), claims)) => {
            let claims = claims.map(|c| serde_json::from_str(&c)).transpose().map_err(|_| corrupt(&id, "stored claims"))?.unwrap_or_default();
            Ok(Ok(Access { authorization_id: id, subject, claims }))
        }
        Some((_, id, ..)) => Err(corrupt(&id, "an access token of an authorization without subject")),
    }
}

/// The UserInfo response (OpenID Connect Core §5.3.2) for an access token: `sub` and the claims of
/// the scopes granted.
pub async fn userinfo(db: &Database, access_token: &str, now: OffsetDateTime) -> Result<Result<serde_json::Value, OAuthError>, PlatformError> {
    Ok(access(db, access_token, now).await?.map(|access| {
        let mut info = access.claims;
        info.insert("sub".into(), access.subject.into());
        serde_json::Value::Object(info)
    }))
}

/// A client-credentials grant's answer (RFC 6749 §4.4.3: no refresh token).
#[derive(Debug, Clone, Serialize)]
pub struct ClientTokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: Scopes,
}

/// RFC 6749 §4.4: a token for the client itself, for what only the client does (creating sign
/// transactions: `sign`, the one scope it may have).
pub async fn client_credentials(
    db: &Database,
    client: &Client,
    scope: Option<&str>,
    now: OffsetDateTime,
) -> Result<Result<ClientTokenResponse, OAuthError>, PlatformError> {
    let only_sign = Scopes::parse("sign", "corrupt").map_err(|_| PlatformError::Corrupt("the sign scope".into()))?;
    let scopes = match scope.map(|s| Scopes::parse(s, "invalid_scope")) {
        None => only_sign,
        Some(Ok(asked)) if asked == only_sign => asked,
        Some(Ok(_)) => return Ok(Err(OAuthError::new(ErrorCode::InvalidScope, "a client-credentials token is for sign transactions only: scope sign"))),
        Some(Err(e)) => return Ok(Err(OAuthError::new(ErrorCode::InvalidScope, e.to_string()))),
    };
    if !client.scope.contains(Scope::Sign) {
        return Ok(Err(OAuthError::new(ErrorCode::UnauthorizedClient, "this client may not ask for signatures (scope sign is not registered for it)")));
    }
    let token = secret();
    sqlx::query("INSERT INTO oidc_client_token (token_hash, client_id, scopes, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash(&token))
        .bind(&client.client_id)
        .bind(scopes.to_string())
        .bind((now + ACCESS_LIFETIME).unix_timestamp())
        .execute(db.pool())
        .await?;
    Ok(Ok(ClientTokenResponse { access_token: token, token_type: "Bearer", expires_in: ACCESS_LIFETIME.whole_seconds(), scope: scopes }))
}

/// The client a good client-credentials token was issued to.
pub async fn client_of(db: &Database, token: &str, now: OffsetDateTime) -> Result<Result<String, OAuthError>, PlatformError> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT client_id, expires_at FROM oidc_client_token WHERE token_hash = $1").bind(hash(token)).fetch_optional(db.pool()).await?;
    Ok(match row {
        Some((client_id, expires_at)) if expires_at >= now.unix_timestamp() => Ok(client_id),
        Some(_) => Err(OAuthError::new(ErrorCode::InvalidToken, "the client token expired")),
        None => Err(OAuthError::new(ErrorCode::InvalidToken, "the token is not a client-credentials token of this provider")),
    })
}

/// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): revokes the tokens `client_id` holds
/// for `subject`. How many authorizations were ended.
pub async fn end_session(db: &Database, client_id: &str, subject: &str, now: OffsetDateTime) -> Result<u64, PlatformError> {
    let mut tx = db.begin_write().await?;
    let ids: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM oidc_authorization WHERE client_id = $1 AND subject = $2 AND status = 'redeemed' AND revoked_at IS NULL")
            .bind(client_id)
            .bind(subject)
            .fetch_all(&mut *tx)
            .await?;
    for (id,) in &ids {
        revoke_in(&mut tx, id, now).await?;
    }
    tx.commit().await?;
    Ok(ids.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::pkce_holds;

    /// RFC 7636 Appendix B's example.
    #[test]
    fn pkce_s256_as_rfc_7636_appendix_b() {
        let (verifier, challenge) = ("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(pkce_holds(verifier, challenge));
        assert!(!pkce_holds("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj", challenge));
        assert!(!pkce_holds("short", challenge));
        assert!(!pkce_holds(&format!("{verifier}!"), challenge));
    }
}
