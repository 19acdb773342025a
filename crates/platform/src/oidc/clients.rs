//! The OpenID Connect clients (relying parties) a tenant registers: metadata as RFC 7591 §2 names it,
//! the secret shown once and stored as its SHA-256, and a client's logins and signatures accounted to
//! its tenant.

use jpki_store::{sqlx, Database};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::scope::{Scope, Scopes};
use crate::{stored_time, PlatformError};

/// How a client authenticates at the token endpoint (RFC 7591 §2 `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A JWT signed with a key of its registered JWK Set (OpenID Connect Core §9), as the Digital
    /// Authentication App requires.
    PrivateKeyJwt,
    /// HTTP Basic with its client secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
        }
    }

    fn parse(s: &str) -> Option<AuthMethod> {
        [AuthMethod::PrivateKeyJwt, AuthMethod::ClientSecretBasic].into_iter().find(|m| m.as_str() == s)
    }
}

/// A registration request (RFC 7591 §2's names).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientMetadata {
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    /// The scopes it may ask for, space-delimited; `openid` when left out.
    #[serde(default)]
    pub scope: Option<String>,
    pub token_endpoint_auth_method: AuthMethod,
    /// Its public keys, for `private_key_jwt`.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
}

/// A registered client as its tenant reads it (RFC 7591 §3.2.1), without its secret.
#[derive(Debug, Clone, Serialize)]
pub struct Client {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub scope: Scopes,
    pub token_endpoint_auth_method: AuthMethod,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// RFC 7591 §3.2.1: seconds since the epoch.
    pub client_id_issued_at: i64,
    #[serde(skip)]
    pub tenant_id: String,
}

/// A client just registered, with its secret (client_secret_basic): shown here once.
#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    #[serde(flatten)]
    pub client: Client,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// The Digital Authentication App's limit on `redirect_uri` (its authserver reference: ≤ 255).
const MAX_REDIRECT_URI: usize = 255;
const MAX_REDIRECT_URIS: usize = 10;
const MAX_NAME: usize = 200;
const MAX_KEYS: usize = 10;

fn invalid(code: &'static str, message: impl Into<String>) -> PlatformError {
    PlatformError::Invalid { code, message: message.into() }
}

/// A redirect URI a client may register (RFC 6749 §3.1.2: absolute, no fragment; matched exactly):
/// `https://`, or `http://` on a loopback address (RFC 8252 §7.3), or any `http://` in the sandbox.
fn check_redirect_uri(uri: &str, sandbox: bool) -> Result<(), PlatformError> {
    let bad = |why: &str| Err(invalid("invalid_redirect_uri", format!("redirect URI {uri:?} {why}")));
    if uri.len() > MAX_REDIRECT_URI {
        return bad(&format!("is longer than {MAX_REDIRECT_URI} bytes"));
    }
    if uri.chars().any(|c| c.is_control() || c.is_whitespace() || !c.is_ascii()) {
        return bad("holds a space, a control or a non-ASCII character (percent-encode it)");
    }
    if uri.contains('#') {
        return bad("has a fragment, which RFC 6749 §3.1.2 forbids");
    }
    let (https, rest) = match (uri.strip_prefix("https://"), uri.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        _ => return bad("is not an https:// URL"),
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(authority, |(host, _)| host);
    if host.is_empty() || authority.contains('@') {
        return bad("must name a host, without credentials");
    }
    let loopback = host == "127.0.0.1" || host == "[::1]" || host == "localhost";
    if !https && !loopback && !sandbox {
        return bad("must be https:// (http:// only on a loopback address, RFC 8252 §7.3, or in the sandbox)");
    }
    Ok(())
}

/// The client's key set: public keys that can verify a client assertion, none with private parts.
fn check_jwks(jwks: &serde_json::Value) -> Result<(), PlatformError> {
    let keys = jwks.get("keys").and_then(|k| k.as_array()).ok_or_else(|| invalid("invalid_client_metadata", "jwks must be a JWK Set: {\"keys\": [...]}"))?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(invalid("invalid_client_metadata", format!("jwks must hold 1 to {MAX_KEYS} keys")));
    }
    for (i, key) in keys.iter().enumerate() {
        // RFC 7518 §6.2.2, §6.3.2, §6.4: members only a private or symmetric key has.
        if let Some(private) = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"].into_iter().find(|m| key.get(m).is_some()) {
            return Err(invalid("invalid_client_metadata", format!("jwks key {i} holds the private member {private:?}: register public keys only")));
        }
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(key.clone()).map_err(|e| invalid("invalid_client_metadata", format!("jwks key {i} is not a JWK: {e}")))?;
        jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| invalid("invalid_client_metadata", format!("jwks key {i} cannot verify signatures: {e}")))?;
    }
    Ok(())
}

/// A new client id: 32 of `[0-9a-zA-Z]`, within the Digital Authentication App's 1–255.
fn new_client_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    jpki_crypto::random_bytes::<32>().iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}

/// Registration metadata that passed [`ClientMetadata::check`].
#[derive(Debug)]
pub struct CheckedMetadata {
    meta: ClientMetadata,
    scope: Scopes,
}

impl ClientMetadata {
    /// Checks everything a registration needs (redirect URIs as [`check_redirect_uri`] says) without
    /// touching the database.
    pub fn check(self, sandbox: bool) -> Result<CheckedMetadata, PlatformError> {
        let name = self.client_name.as_str();
        if name.trim().is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(invalid("invalid_client_metadata", format!("client_name must be 1 to {MAX_NAME} characters, not blank, without control characters")));
        }
        if self.redirect_uris.is_empty() || self.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(invalid("invalid_redirect_uri", format!("give 1 to {MAX_REDIRECT_URIS} redirect_uris")));
        }
        for uri in &self.redirect_uris {
            check_redirect_uri(uri, sandbox)?;
        }
        let scope = Scopes::parse(self.scope.as_deref().unwrap_or("openid"), "invalid_client_metadata")?;
        if !scope.contains(Scope::Openid) {
            return Err(invalid("invalid_client_metadata", "scope must include openid"));
        }
        match (self.token_endpoint_auth_method, &self.jwks) {
            (AuthMethod::PrivateKeyJwt, Some(jwks)) => check_jwks(jwks)?,
            (AuthMethod::PrivateKeyJwt, None) => return Err(invalid("invalid_client_metadata", "private_key_jwt needs jwks: the client's public keys")),
            (AuthMethod::ClientSecretBasic, None) => {}
            (AuthMethod::ClientSecretBasic, Some(_)) => return Err(invalid("invalid_client_metadata", "client_secret_basic takes no jwks")),
        }
        Ok(CheckedMetadata { meta: self, scope })
    }
}

/// Registers a client for the tenant.
pub async fn register(db: &Database, tenant_id: &str, checked: CheckedMetadata) -> Result<Registered, PlatformError> {
    let CheckedMetadata { meta, scope } = checked;
    let tenant: Option<(String,)> = sqlx::query_as("SELECT id FROM tenant WHERE id = $1").bind(tenant_id).fetch_optional(db.pool()).await?;
    if tenant.is_none() {
        return Err(PlatformError::NotFound(format!("no tenant {tenant_id}")));
    }
    let name = meta.client_name.as_str();
    let (jwks, secret) = match meta.token_endpoint_auth_method {
        AuthMethod::PrivateKeyJwt => (meta.jwks.clone(), None),
        AuthMethod::ClientSecretBasic => (None, Some(format!("jpkics_{}", hex::encode(jpki_crypto::random_bytes::<32>())))),
    };
    let (client_id, now) = (new_client_id(), OffsetDateTime::now_utc().unix_timestamp());
    sqlx::query(
        "INSERT INTO oidc_client (client_id, tenant_id, name, redirect_uris, scopes, auth_method, jwks, secret_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&client_id)
    .bind(tenant_id)
    .bind(name)
    .bind(serde_json::to_string(&meta.redirect_uris).expect("strings serialize"))
    .bind(scope.to_string())
    .bind(meta.token_endpoint_auth_method.as_str())
    .bind(jwks.as_ref().map(|j| j.to_string()))
    .bind(secret.as_deref().map(crate::tenants::key_hash))
    .bind(now)
    .execute(db.pool())
    .await?;
    let client = Client {
        client_id,
        client_name: meta.client_name.clone(),
        redirect_uris: meta.redirect_uris,
        scope,
        token_endpoint_auth_method: meta.token_endpoint_auth_method,
        jwks,
        client_id_issued_at: now,
        tenant_id: tenant_id.to_owned(),
    };
    Ok(Registered { client, client_secret: secret })
}

type Row = (String, String, String, String, String, String, Option<String>, i64);
const COLUMNS: &str = "client_id, tenant_id, name, redirect_uris, scopes, auth_method, jwks, created_at";

fn client((client_id, tenant_id, name, redirect_uris, scopes, auth_method, jwks, created_at): Row) -> Result<Client, PlatformError> {
    let corrupt = |what: &str| PlatformError::Corrupt(format!("client {client_id}: {what}"));
    stored_time(created_at)?;
    Ok(Client {
        redirect_uris: serde_json::from_str(&redirect_uris).map_err(|_| corrupt("redirect_uris"))?,
        scope: Scopes::parse(&scopes, "corrupt").map_err(|_| corrupt("scopes"))?,
        token_endpoint_auth_method: AuthMethod::parse(&auth_method).ok_or_else(|| corrupt("auth_method"))?,
        jwks: jwks.map(|j| serde_json::from_str(&j)).transpose().map_err(|_| corrupt("jwks"))?,
        client_name: name,
        client_id_issued_at: created_at,
        tenant_id,
        client_id,
    })
}

/// The tenant's clients.
pub async fn list(db: &Database, tenant_id: &str) -> Result<Vec<Client>, PlatformError> {
    let rows: Vec<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM oidc_client WHERE tenant_id = $1 ORDER BY client_id")).bind(tenant_id).fetch_all(db.pool()).await?;
    rows.into_iter().map(client).collect()
}

/// The client of `client_id`, whichever tenant's it is (the provider's endpoints know only the id).
pub async fn find(db: &Database, client_id: &str) -> Result<Option<Client>, PlatformError> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM oidc_client WHERE client_id = $1")).bind(client_id).fetch_optional(db.pool()).await?;
    row.map(client).transpose()
}

/// Whether `secret` is the client's (compared as SHA-256, in constant time).
pub async fn secret_matches(db: &Database, client_id: &str, secret: &str) -> Result<bool, PlatformError> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT secret_hash FROM oidc_client WHERE client_id = $1").bind(client_id).fetch_optional(db.pool()).await?;
    let given = crate::tenants::key_hash(secret);
    Ok(row.and_then(|(h,)| h).is_some_and(|stored| jpki_crypto::constant_time_eq(stored.as_bytes(), given.as_bytes())))
}

/// Removes the tenant's client `client_id`, with its authorizations and tokens.
pub async fn delete(db: &Database, tenant_id: &str, client_id: &str) -> Result<(), PlatformError> {
    crate::delete_owned(
        db,
        "SELECT client_id FROM oidc_client WHERE client_id = $1 AND tenant_id = $2",
        "client",
        client_id,
        tenant_id,
        &[
            "DELETE FROM oidc_token WHERE authorization_id IN (SELECT id FROM oidc_authorization WHERE client_id = $1)",
            "DELETE FROM oidc_authorization WHERE client_id = $1",
            "DELETE FROM oidc_client_assertion WHERE client_id = $1",
            "DELETE FROM oidc_client WHERE client_id = $1",
        ],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::check_redirect_uri;

    #[test]
    fn redirect_uris_are_absolute_https_or_loopback() {
        for ok in ["https://rp.example.jp/cb", "https://rp.example.jp:8443/cb?x=1", "http://127.0.0.1:3000/cb", "http://[::1]/cb", "http://localhost/cb"] {
            check_redirect_uri(ok, false).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for (bad, why) in [
            ("http://rp.example.jp/cb", "https"),
            ("https://rp.example.jp/cb#x", "fragment"),
            ("https://user@rp.example.jp/cb", "credentials"),
            ("https:///cb", "host"),
            ("/cb", "https"),
            ("javascript:alert(1)", "https"),
            ("https://rp.example.jp/a b", "space"),
            ("https://例え.jp/cb", "non-ASCII"),
        ] {
            let e = check_redirect_uri(bad, false).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        check_redirect_uri("http://rp.example.jp/cb", true).unwrap();
        assert!(check_redirect_uri(&format!("https://rp.example.jp/{}", "a".repeat(300)), false).unwrap_err().to_string().contains("255"));
    }
}
