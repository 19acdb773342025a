//! The provider's ID-token signing keys: ES256 (P-256), published as a JWK Set (RFC 7517) with each
//! key's RFC 7638 thumbprint as its `kid`. The newest key signs; [`rotate`] makes a new one and keeps
//! the others published for an overlap, so that tokens they signed, and RPs' cached key sets, stay good.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jpki_crypto::EcKey;
use jpki_store::{sqlx, Database};
use serde::Serialize;
use time::OffsetDateTime;

use crate::PlatformError;

/// A public key as the JWKS publishes it (RFC 7518 §6.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicJwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub y: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub usage: &'static str,
    pub alg: &'static str,
}

impl PublicJwk {
    fn of(key: &EcKey) -> PublicJwk {
        // SEC 1 §2.3.3: 0x04 ‖ x ‖ y, 32 bytes each for P-256.
        let point = key.public_point();
        let (x, y) = (URL_SAFE_NO_PAD.encode(&point[1..33]), URL_SAFE_NO_PAD.encode(&point[33..65]));
        // RFC 7638 §3.2: the required members, in lexicographic order, without whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(jpki_crypto::sha256(canonical.as_bytes()));
        PublicJwk { kty: "EC", crv: "P-256", x, y, kid, usage: "sig", alg: "ES256" }
    }
}

/// The key that signs now.
pub struct SigningKey {
    pub kid: String,
    pub key: EcKey,
}

/// How long a replaced key stays published: longer than any token it signed lives, and than an RP
/// caches a key set.
pub const ROTATION_OVERLAP: time::Duration = time::Duration::days(2);

async fn create(db: &Database, now: OffsetDateTime) -> Result<SigningKey, PlatformError> {
    let key = EcKey::generate_p256().map_err(|e| PlatformError::Corrupt(format!("generating a signing key: {e}")))?;
    let kid = PublicJwk::of(&key).kid;
    sqlx::query("INSERT INTO oidc_signing_key (kid, private_key, created_at) VALUES ($1, $2, $3)")
        .bind(&kid)
        .bind(key.pkcs8_der().to_vec())
        .bind(now.unix_timestamp())
        .execute(db.pool())
        .await?;
    Ok(SigningKey { kid, key })
}

fn load(kid: String, der: &[u8]) -> Result<SigningKey, PlatformError> {
    let key = EcKey::from_pkcs8_der(der).map_err(|e| PlatformError::Corrupt(format!("signing key {kid}: {e}")))?;
    Ok(SigningKey { kid, key })
}

/// The key that signs: the newest not retiring; one is made on first use.
pub async fn current(db: &Database, now: OffsetDateTime) -> Result<SigningKey, PlatformError> {
    let row: Option<(String, Vec<u8>)> =
        sqlx::query_as("SELECT kid, private_key FROM oidc_signing_key WHERE retires_at IS NULL ORDER BY created_at DESC, kid LIMIT 1")
            .fetch_optional(db.pool())
            .await?;
    match row {
        Some((kid, der)) => load(kid, &der),
        None => create(db, now).await,
    }
}

/// The keys an RP verifies ID tokens with: the current one first, then those still within their
/// overlap.
pub async fn published(db: &Database, now: OffsetDateTime) -> Result<Vec<PublicJwk>, PlatformError> {
    current(db, now).await?;
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT kid, private_key FROM oidc_signing_key WHERE retires_at IS NULL OR retires_at > $1
             ORDER BY CASE WHEN retires_at IS NULL THEN 0 ELSE 1 END, created_at DESC, kid",
    )
    .bind(now.unix_timestamp())
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(|(kid, der)| load(kid, &der).map(|k| PublicJwk::of(&k.key))).collect()
}

/// Makes a new signing key; the keys it replaces stay published for [`ROTATION_OVERLAP`].
pub async fn rotate(db: &Database, now: OffsetDateTime) -> Result<SigningKey, PlatformError> {
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE oidc_signing_key SET retires_at = $1 WHERE retires_at IS NULL")
        .bind((now + ROTATION_OVERLAP).unix_timestamp())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    create(db, now).await
}

#[cfg(test)]
mod tests {
    use super::PublicJwk;
    use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

    /// jsonwebtoken, an independent implementation, reads the published key: its RFC 7638 thumbprint
    /// is the kid, and a token signed with the private key verifies with it.
    #[test]
    fn the_published_key_is_read_by_another_implementation() {
        let key = jpki_crypto::EcKey::generate_p256().unwrap();
        let published = PublicJwk::of(&key);
        let jwk: Jwk = serde_json::from_value(serde_json::to_value(&published).unwrap()).unwrap();
        assert_eq!(jwk.thumbprint(ThumbprintHash::SHA256).unwrap(), published.kid);
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(published.kid.clone());
        let claims = serde_json::json!({ "sub": "x", "exp": 4_000_000_000u64 });
        let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(key.pkcs8_der())).unwrap();
        let decoded = jsonwebtoken::decode::<serde_json::Value>(&token, &DecodingKey::from_jwk(&jwk).unwrap(), &Validation::new(Algorithm::ES256)).unwrap();
        assert_eq!(decoded.claims["sub"], "x");
    }
}
