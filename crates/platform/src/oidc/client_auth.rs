//! Client authentication at the token endpoint, by the method the client registered:
//! `private_key_jwt` (OpenID Connect Core §9, RFC 7523 §3: a JWT signed with a key of its JWK Set,
//! `iss` = `sub` = client_id, `aud` the token endpoint or the issuer, a `jti` used once) or
//! `client_secret_basic` (RFC 6749 §2.3.1).

use jpki_store::{sqlx, Database};
use time::OffsetDateTime;

use super::clients::{self, AuthMethod, Client};
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::PlatformError;

/// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest an assertion may live: its `jti` is remembered that long.
pub const MAX_ASSERTION_LIFETIME: time::Duration = time::Duration::minutes(10);
/// Clock skew allowed between client and provider.
const LEEWAY_SECONDS: u64 = 30;

/// What a token request presents to authenticate its client.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// HTTP Basic: `client_id` and secret, each form-urlencoded (RFC 6749 §2.3.1).
    Basic { client_id: String, secret: String },
    /// `client_assertion` with `client_assertion_type` jwt-bearer, and `client_id` if the request
    /// names it too.
    Assertion { client_id: Option<String>, assertion: String },
}

impl Credentials {
    /// The credentials of a token request: its `Authorization` header (HTTP Basic) or its
    /// `client_assertion`; never both (RFC 6749 §2.3: "MUST NOT use more than one authentication
    /// method in each request").
    pub fn from_request(authorization: Option<&str>, params: &Params) -> Result<Credentials, OAuthError> {
        use base64::Engine;
        let basic = authorization.and_then(|v| v.strip_prefix("Basic "));
        let assertion = params.one("client_assertion")?;
        match (basic, assertion) {
            (Some(_), Some(_)) => Err(OAuthError::new(ErrorCode::InvalidRequest, "authenticate the client one way: HTTP Basic or client_assertion, not both")),
            (Some(encoded), None) => {
                let bad = || invalid_client("the Authorization header is not Basic base64(client_id:secret)");
                let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
                let text = String::from_utf8(decoded).map_err(|_| bad())?;
                let (id, secret) = text.split_once(':').ok_or_else(bad)?;
                // RFC 6749 §2.3.1: each is form-urlencoded before they are joined.
                let unescape = |s: &str| Params::parse(&format!("v={s}")).ok().and_then(|p| p.one("v").ok().flatten().map(str::to_owned));
                Ok(Credentials::Basic { client_id: unescape(id).ok_or_else(bad)?, secret: unescape(secret).unwrap_or_default() })
            }
            (None, Some(assertion)) => {
                if params.one("client_assertion_type")? != Some(JWT_BEARER) {
                    return Err(OAuthError::new(ErrorCode::InvalidRequest, format!("client_assertion_type must be {JWT_BEARER}")));
                }
                Ok(Credentials::Assertion { client_id: params.one("client_id")?.map(str::to_owned), assertion: assertion.to_owned() })
            }
            (None, None) => Err(invalid_client("authenticate the client: private_key_jwt (client_assertion) or client_secret_basic")),
        }
    }
}

fn invalid_client(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, description)
}

/// The client the credentials authenticate, or why they do not. `audiences` are the values an
/// assertion's `aud` may name: the token endpoint's URL and the issuer.
pub async fn authenticate(
    db: &Database,
    credentials: &Credentials,
    audiences: &[&str],
    now: OffsetDateTime,
) -> Result<Result<Client, OAuthError>, PlatformError> {
    match credentials {
        Credentials::Basic { client_id, secret } => {
            let Some(client) = clients::find(db, client_id).await? else { return Ok(Err(invalid_client("unknown client or wrong secret"))) };
            if client.token_endpoint_auth_method != AuthMethod::ClientSecretBasic {
                return Ok(Err(invalid_client(format!("this client authenticates with {}", client.token_endpoint_auth_method.as_str()))));
            }
            if !clients::secret_matches(db, client_id, secret).await? {
                return Ok(Err(invalid_client("unknown client or wrong secret")));
            }
            Ok(Ok(client))
        }
        Credentials::Assertion { client_id, assertion } => {
            let Some(claimed) = assertion_issuer(assertion) else { return Ok(Err(invalid_client("client_assertion is not a JWT naming its client in iss"))) };
            if client_id.as_deref().is_some_and(|id| id != claimed) {
                return Ok(Err(invalid_client("client_id is not the client_assertion's iss")));
            }
            let Some(client) = clients::find(db, &claimed).await? else { return Ok(Err(invalid_client(format!("unknown client {claimed:?}")))) };
            if client.token_endpoint_auth_method != AuthMethod::PrivateKeyJwt {
                return Ok(Err(invalid_client(format!("this client authenticates with {}", client.token_endpoint_auth_method.as_str()))));
            }
            let (jti, expires) = match verify_assertion(&client, assertion, audiences, now) {
                Ok(checked) => checked,
                Err(e) => return Ok(Err(e)),
            };
            let fresh = sqlx::query("INSERT INTO oidc_client_assertion (client_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(&client.client_id)
                .bind(&jti)
                .bind(expires)
                .execute(db.pool())
                .await?;
            if fresh.rows_affected() != 1 {
                return Ok(Err(invalid_client("client_assertion's jti was used before: make a new assertion for each request")));
            }
            Ok(Ok(client))
        }
    }
}

/// The `iss` of an unverified JWT: which client's keys to verify it with.
fn assertion_issuer(assertion: &str) -> Option<String> {
    use base64::Engine;
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Checks the assertion's signature with the client's keys and its claims (RFC 7523 §3); its `jti`
/// and when it expires.
pub fn verify_assertion(client: &Client, assertion: &str, audiences: &[&str], now: OffsetDateTime) -> Result<(String, i64), OAuthError> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| invalid_client(format!("client_assertion's header: {e}")))?;
    let jwks: jsonwebtoken::jwk::JwkSet = client
        .jwks
        .clone()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|_| invalid_client("the client's registered jwks is unreadable"))?
        .ok_or_else(|| invalid_client("the client has no registered keys"))?;
    let candidates: Vec<_> = jwks.keys.iter().filter(|k| header.kid.is_none() || k.common.key_id == header.kid).collect();
    if candidates.is_empty() {
        return Err(invalid_client(format!("no registered key has kid {:?}", header.kid.unwrap_or_default())));
    }
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(audiences);
    validation.set_issuer(&[&client.client_id]);
    validation.sub = Some(client.client_id.clone());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.leeway = LEEWAY_SECONDS;
    validation.reject_tokens_expiring_in_less_than = 0;
    let mut last = None;
    for jwk in candidates {
        let Ok(key) = jsonwebtoken::DecodingKey::from_jwk(jwk) else { continue };
        match jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation) {
            Ok(data) => {
                let claims = data.claims;
                let jti = claims.get("jti").and_then(|j| j.as_str()).filter(|j| !j.is_empty() && j.len() <= 255);
                let jti = jti.ok_or_else(|| invalid_client("client_assertion needs a jti (1 to 255 characters)"))?;
                let exp = claims.get("exp").and_then(serde_json::Value::as_i64).unwrap_or(0);
                if exp > (now + MAX_ASSERTION_LIFETIME).unix_timestamp() {
                    return Err(invalid_client(format!(
                        "client_assertion lives too long: exp at most {} minutes ahead",
                        MAX_ASSERTION_LIFETIME.whole_minutes()
                    )));
                }
                return Ok((jti.to_owned(), exp));
            }
            Err(e) => last = Some(e),
        }
    }
    let why = last.map_or("no registered key can verify it".to_owned(), |e| describe(&e));
    Err(invalid_client(format!("client_assertion: {why}")))
}

fn describe(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::InvalidSignature => "the signature does not verify with the client's keys".into(),
        ErrorKind::ExpiredSignature => "it expired".into(),
        ErrorKind::InvalidAudience => "aud must be the token endpoint or the issuer".into(),
        ErrorKind::InvalidIssuer => "iss must be the client_id".into(),
        ErrorKind::InvalidSubject => "sub must be the client_id".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("it has no {c}"),
        ErrorKind::InvalidAlgorithm => "its alg is not the key's".into(),
        ErrorKind::ImmatureSignature => "it is not valid yet (nbf)".into(),
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => format!("it is not a well-formed JWT ({e})"),
        _ => e.to_string(),
    }
}

/// Forgets the `jti`s of assertions that expired (housekeeping).
pub async fn sweep(db: &Database, before: OffsetDateTime) -> Result<u64, PlatformError> {
    Ok(sqlx::query("DELETE FROM oidc_client_assertion WHERE expires_at < $1").bind(before.unix_timestamp()).execute(db.pool()).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::scope::Scopes;

    fn client(key: &jpki_crypto::EcKey) -> Client {
        use base64::Engine;
        let point = key.public_point();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwk = serde_json::json!({ "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "x": b64(&point[1..33]), "y": b64(&point[33..65]) });
        Client {
            client_id: "rp1".into(),
            client_name: "RP".into(),
            redirect_uris: vec![],
            scope: Scopes::parse("openid", "x").unwrap(),
            token_endpoint_auth_method: AuthMethod::PrivateKeyJwt,
            jwks: Some(serde_json::json!({ "keys": [jwk] })),
            client_id_issued_at: 0,
            tenant_id: "t".into(),
        }
    }

    /// Malformed client assertions: each refused as invalid_client, saying why, never a panic.
    #[test]
    fn malformed_assertions_are_refused() {
        let key = jpki_crypto::EcKey::generate_p256().unwrap();
        let client = client(&key);
        let now = OffsetDateTime::now_utc();
        let sign = |claims: &serde_json::Value| {
            let header = jsonwebtoken::Header { kid: Some("k1".into()), ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256) };
            jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ec_der(key.pkcs8_der())).unwrap()
        };
        let good = serde_json::json!({ "iss": "rp1", "sub": "rp1", "aud": "https://op/token", "jti": "j1", "exp": now.unix_timestamp() + 60 });
        let token = sign(&good);
        assert_eq!(verify_assertion(&client, &token, &["https://op/token"], now).unwrap().0, "j1");
        let unsigned = format!("{}.", token.rsplit_once('.').unwrap().0);
        let none_alg = {
            use base64::Engine;
            let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
            format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(&good.to_string()))
        };
        for (bad, why) in [
            ("".to_owned(), "header"),
            ("a.b.c".to_owned(), "header"),
            ("....".to_owned(), "header"),
            (unsigned, "client_assertion"),
            (none_alg, "header"),
            (format!("{token}.extra"), "client_assertion"),
            ("eyJhbGciOiJFUzI1NiIsImtpZCI6Im5vbmUifQ.e30.AAAA".to_owned(), "kid"),
        ] {
            let e = verify_assertion(&client, &bad, &["https://op/token"], now).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClient, "{bad}");
            assert!(e.description.contains(why), "{bad:?}: {e}");
        }
        for (changed, why) in [("iss", "iss"), ("sub", "sub"), ("aud", "aud")] {
            let mut claims = good.clone();
            claims[changed] = "other".into();
            let token = sign(&claims);
            let e = verify_assertion(&client, &token, &["https://op/token"], now).unwrap_err();
            assert!(e.description.contains(why), "{changed}: {e}");
        }
    }

    /// Malformed Basic credentials and mixed methods.
    #[test]
    fn credentials_are_read_from_one_method() {
        let params = |q: &str| Params::parse(q).unwrap();
        use base64::Engine;
        let basic = |s: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s));
        match Credentials::from_request(Some(&basic("rp%3A1:s%26cret")), &params("")).unwrap() {
            Credentials::Basic { client_id, secret } => assert_eq!((client_id.as_str(), secret.as_str()), ("rp:1", "s&cret")),
            other => panic!("{other:?}"),
        }
        for (header, query, code) in [
            (Some("Basic !!!".to_owned()), "", ErrorCode::InvalidClient),
            (Some(basic("no-colon")), "", ErrorCode::InvalidClient),
            (Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode([0xff, b':', 0xfe]))), "", ErrorCode::InvalidClient),
            (
                Some(basic("a:b")),
                "client_assertion=x&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer",
                ErrorCode::InvalidRequest,
            ),
            (None, "client_assertion=x", ErrorCode::InvalidRequest),
            (None, "client_assertion=x&client_assertion=y", ErrorCode::InvalidRequest),
            (None, "", ErrorCode::InvalidClient),
        ] {
            let e = Credentials::from_request(header.as_deref(), &params(query)).unwrap_err();
            assert_eq!(e.code, code, "{header:?} {query}: {e}");
        }
    }
}
