//! The authorization endpoint's domain (RFC 6749 §4.1, PKCE RFC 7636, OpenID Connect Core §3.1.2):
//! the request checked as the Digital Authentication App checks it, then kept as a transaction until
//! the user answers, bound to the browser that asked (a cookie secret, stored as its SHA-256) and to
//! the page it was shown (a form token derived from that secret, so no other site can make one). The user's approval becomes a single-use code.

use jpki_profile::fees::{FeeCertKind, ProvisionMethod};
use jpki_store::{sqlx, Database};
use jpki_verify::revocation::RequestedMethod;
use serde::Serialize;
use time::OffsetDateTime;

use super::clients::Client;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::scope::{Scope, Scopes};
use crate::{audit, usage, PlatformError};

/// How long the user has to answer an authorization request.
pub const REQUEST_LIFETIME: time::Duration = time::Duration::minutes(10);
/// How long a code can be redeemed (RFC 6749 §4.1.2: "a maximum authorization code lifetime of 10
/// minutes is RECOMMENDED"; the RP redeems it at once).
pub const CODE_LIFETIME: time::Duration = time::Duration::seconds(60);

/// Where a refused request's error goes (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The client or its redirect URI is missing, unknown or does not match: the error is shown to the
    /// user and not sent anywhere ("MUST NOT automatically redirect the user-agent to the invalid
    /// redirection URI").
    Page(OAuthError),
    /// Sent to the client's redirect URI with the request's `state`.
    Redirect { redirect_uri: String, state: Option<String>, error: OAuthError },
}

/// What the RP asks `acr_values` for (the Digital Authentication App takes e.g. `aal3 crl`: the
/// assurance level and the revocation check; ../shared/reference/relying-party-apis.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AcrValues {
    /// `crl` or `ocsp`: how the authentication certificate's revocation is checked; the tenant's
    /// default when not asked.
    pub revocation: Option<RequestedMethod>,
}

/// The one assurance level a JPKI login gives: a key on a hardware token (card or the phone's secure
/// element) unlocked by a PIN, NIST SP 800-63B's AAL3, which the Digital Authentication App names so.
pub const ACR_AAL3: &str = "aal3";

impl AcrValues {
    pub fn parse(text: &str) -> Result<AcrValues, OAuthError> {
        let mut acr = AcrValues::default();
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            match (word, RequestedMethod::parse(word)) {
                (ACR_AAL3, _) => {}
                (_, Some(method)) if acr.revocation.is_none_or(|m| m == method) => acr.revocation = Some(method),
                (_, Some(_)) => return Err(OAuthError::new(ErrorCode::InvalidRequest, "acr_values asks for both crl and ocsp")),
                _ => return Err(OAuthError::new(ErrorCode::InvalidRequest, format!("acr_values {word:?} is not one of aal3, crl, ocsp"))),
            }
        }
        Ok(acr)
    }

    fn to_text(self) -> Option<String> {
        self.revocation.map(|m| m.as_str().to_owned())
    }
}

/// An authorization request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Scopes,
    pub state: String,
    pub nonce: String,
    /// BASE64URL(SHA-256(code_verifier)), RFC 7636 §4.2.
    pub code_challenge: String,
    pub acr: AcrValues,
}

/// `state` and `nonce`: 1–255 printable ASCII characters (the Digital Authentication App's authserver
/// reference).
fn printable(name: &str, value: &str) -> Result<(), OAuthError> {
    if value.len() > 255 || !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(OAuthError::new(ErrorCode::InvalidRequest, format!("{name} must be 1 to 255 printable ASCII characters")));
    }
    Ok(())
}

/// The `client_id`, the first thing a request must name: without one the error can only be shown.
pub fn client_id(params: &Params) -> Result<&str, Refusal> {
    params.required("client_id").map_err(Refusal::Page)
}

/// Checks an authorization request from `client` (found by [`client_id`]) in the order RFC
/// 6749 §4.1.2.1 sets: the redirect URI first (an error about it is shown, not sent), then the rest
/// (sent to the redirect URI).
pub fn check(params: &Params, client: &Client) -> Result<Request, Refusal> {
    let redirect_uri = match params.one("redirect_uri").map_err(Refusal::Page)? {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_owned(),
        Some(uri) => return Err(Refusal::Page(OAuthError::new(ErrorCode::InvalidRequest, format!("redirect_uri {uri:?} is not registered for this client")))),
        // OpenID Connect Core §3.1.2.1: REQUIRED.
        None => return Err(Refusal::Page(OAuthError::new(ErrorCode::InvalidRequest, "redirect_uri is required"))),
    };
    // A `state` given once goes back with the error even when it is not acceptable otherwise.
    let state = params.one("state").ok().flatten().map(str::to_owned);
    let redirect = |error: OAuthError| Refusal::Redirect { redirect_uri: redirect_uri.clone(), state: state.clone(), error };
    check_rest(params, client).map_err(redirect).map(|(scopes, state, nonce, code_challenge, acr)| Request {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        scopes,
        state,
        nonce,
        code_challenge,
        acr,
    })
}

type Checked = (Scopes, String, String, String, AcrValues);

fn check_rest(params: &Params, client: &Client) -> Result<Checked, OAuthError> {
    fn err(code: ErrorCode, description: impl Into<String>) -> OAuthError {
        OAuthError::new(code, description)
    }
    if params.one("request")?.is_some() {
        return Err(err(ErrorCode::RequestNotSupported, "request objects are not supported: send the parameters themselves"));
    }
    if params.one("request_uri")?.is_some() {
        return Err(err(ErrorCode::RequestUriNotSupported, "request_uri is not supported: send the parameters themselves"));
    }
    match params.required("response_type") {
        Ok("code") => {}
        Ok(other) => {
            return Err(err(ErrorCode::UnsupportedResponseType, format!("response_type {other:?} is not supported: only code (the authorization code flow)")))
        }
        Err(e) => return Err(e),
    }
    if let Some(mode) = params.one("response_mode")?.filter(|m| *m != "query") {
        return Err(err(ErrorCode::InvalidRequest, format!("response_mode {mode:?} is not supported: only query")));
    }
    let scopes = Scopes::parse(params.required("scope")?, "invalid_scope").map_err(|e| err(ErrorCode::InvalidScope, e.to_string()))?;
    if !scopes.contains(Scope::Openid) {
        return Err(err(ErrorCode::InvalidScope, "scope must include openid"));
    }
    if !scopes.is_subset(&client.scope) {
        return Err(err(ErrorCode::InvalidScope, format!("this client may ask only for {}", client.scope)));
    }
    if scopes.contains(Scope::Sign) {
        let id = params.one("sign_transaction_id")?;
        return Err(err(
            ErrorCode::InvalidRequest,
            match id {
                None => "scope sign needs sign_transaction_id".to_owned(),
                Some(id) => format!("sign_transaction_id {id:?} names no sign transaction of this client"),
            },
        ));
    }
    let state = params.required("state")?;
    printable("state", state)?;
    let nonce = params.required("nonce")?;
    printable("nonce", nonce)?;
    let challenge = params.required("code_challenge")?;
    match params.required("code_challenge_method") {
        Ok("S256") => {}
        Ok(other) => return Err(err(ErrorCode::InvalidRequest, format!("code_challenge_method {other:?} is not supported: only S256"))),
        Err(_) => return Err(err(ErrorCode::InvalidRequest, "code_challenge_method is required: S256")),
    }
    // RFC 7636 §4.2: S256's challenge is BASE64URL-ENCODE(SHA256(...)): 43 characters.
    if challenge.len() != 43 || !challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(err(ErrorCode::InvalidRequest, "code_challenge must be the 43-character BASE64URL of the verifier's SHA-256"));
    }
    if params.one("prompt")?.is_some_and(|p| p.split(' ').any(|v| v == "none")) {
        return Err(err(ErrorCode::LoginRequired, "every login asks for the card or phone: prompt=none cannot be answered"));
    }
    let acr = params.one("acr_values")?.map(AcrValues::parse).transpose()?.unwrap_or_default();
    Ok((scopes, state.to_owned(), nonce.to_owned(), challenge.to_owned(), acr))
}

/// A transaction just begun: the browser keeps `browser_secret` in a cookie; the page's forms carry
/// [`csrf_token`].
#[derive(Debug, Clone)]
pub struct Begun {
    pub id: String,
    pub browser_secret: String,
    pub expires_at: OffsetDateTime,
}

/// The form token of transaction `id`'s page in the browser holding `browser_secret`: a page of
/// another origin can neither read the cookie nor compute it.
pub fn csrf_token(browser_secret: &str, id: &str) -> String {
    use base64::Engine;
    let input = [b"openjpki csrf\n".as_slice(), browser_secret.as_bytes(), b"\n", id.as_bytes()].concat();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jpki_crypto::sha256(&input))
}

fn secret() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jpki_crypto::random_bytes::<32>())
}

fn hash(secret: &str) -> String {
    crate::tenants::key_hash(secret)
}

/// Keeps a checked request as a pending transaction.
pub async fn begin(db: &Database, client: &Client, request: &Request, now: OffsetDateTime) -> Result<Begun, PlatformError> {
    let begun = Begun { id: jpki_store::new_id("authz"), browser_secret: secret(), expires_at: now + REQUEST_LIFETIME };
    sqlx::query(
        "INSERT INTO oidc_authorization (id, client_id, tenant_id, redirect_uri, scopes, state, nonce, code_challenge, acr_values,
             browser_hash, status, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12)",
    )
    .bind(&begun.id)
    .bind(&client.client_id)
    .bind(&client.tenant_id)
    .bind(&request.redirect_uri)
    .bind(request.scopes.to_string())
    .bind(&request.state)
    .bind(&request.nonce)
    .bind(&request.code_challenge)
    .bind(request.acr.to_text())
    .bind(hash(&begun.browser_secret))
    .bind(now.unix_timestamp())
    .bind(begun.expires_at.unix_timestamp())
    .execute(db.pool())
    .await?;
    Ok(begun)
}

/// A transaction waiting for the user's answer.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: String,
    pub client_id: String,
    pub tenant_id: String,
    pub redirect_uri: String,
    pub scopes: Scopes,
    pub state: String,
    pub acr: AcrValues,
    pub expires_at: OffsetDateTime,
}

/// Why an answer to a transaction is not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswerable {
    Unknown,
    /// The cookie or the form token is not the one the transaction was begun with: another browser,
    /// or a forged form.
    NotThisBrowser,
    Expired,
    /// Answered already (approved or declined).
    Answered,
}

impl Unanswerable {
    pub fn message(self) -> &'static str {
        match self {
            Unanswerable::Unknown => "there is no such login request: start again from the service you came from",
            Unanswerable::NotThisBrowser => {
                "this answer does not come from the page the login request was shown on: start again from the service you came from"
            }
            Unanswerable::Expired => "the login request expired: start again from the service you came from",
            Unanswerable::Answered => "the login request was already answered",
        }
    }
}

type PendingRow = (String, String, String, String, String, Option<String>, String, String, i64);

/// The pending transaction `id`, if this browser (`browser_secret`, from its cookie) may see it and,
/// with the page's `csrf_token` (for an answer), answer it.
pub async fn answerable(
    db: &Database,
    id: &str,
    browser_secret: Option<&str>,
    csrf: Option<&str>,
    now: OffsetDateTime,
) -> Result<Result<Pending, Unanswerable>, PlatformError> {
    let row: Option<PendingRow> = sqlx::query_as(
        "SELECT client_id, tenant_id, redirect_uri, scopes, state, acr_values, status, browser_hash, expires_at
         FROM oidc_authorization WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    let Some((client_id, tenant_id, redirect_uri, scopes, state, acr, status, browser_hash, expires_at)) = row else {
        return Ok(Err(Unanswerable::Unknown));
    };
    let Some(secret) = browser_secret.filter(|b| jpki_crypto::constant_time_eq(hash(b).as_bytes(), browser_hash.as_bytes())) else {
        return Ok(Err(Unanswerable::NotThisBrowser));
    };
    if csrf.is_some_and(|c| !jpki_crypto::constant_time_eq(c.as_bytes(), csrf_token(secret, id).as_bytes())) {
        return Ok(Err(Unanswerable::NotThisBrowser));
    }
    if status != "pending" {
        return Ok(Err(Unanswerable::Answered));
    }
    if expires_at < now.unix_timestamp() {
        return Ok(Err(Unanswerable::Expired));
    }
    let corrupt = |what: &str| PlatformError::Corrupt(format!("authorization {id}: {what}"));
    Ok(Ok(Pending {
        id: id.to_owned(),
        client_id,
        tenant_id,
        redirect_uri,
        scopes: Scopes::parse(&scopes, "corrupt").map_err(|_| corrupt("scopes"))?,
        state,
        acr: acr.as_deref().map(AcrValues::parse).transpose().map_err(|_| corrupt("acr_values"))?.unwrap_or_default(),
        expires_at: crate::stored_time(expires_at)?,
    }))
}

/// How the user was authenticated, as RFC 8176 names methods: `hwk` (a key in hardware), `pin`, and
/// `sc` (a smart card) or nothing more for the phone's secure element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Authenticator {
    Card,
    Phone,
    /// The sandbox's test-person picker: no key was used.
    SandboxPicker,
}

impl Authenticator {
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            Authenticator::Card => &["hwk", "pin", "sc"],
            Authenticator::Phone => &["hwk", "pin"],
            // RFC 8176 §2 lets other values be used; an RP can tell a sandbox login from a real one.
            Authenticator::SandboxPicker => &["sandbox"],
        }
    }
}

/// The user's approval, from a verified login.
#[derive(Debug, Clone)]
pub struct Approval {
    /// The ID token's `sub`: [`subject`] of the authentication certificate.
    pub subject: String,
    /// The claims the user approved (the 4 info from a verified signature certificate), by the names
    /// OpenID Connect Core §5.1 gives them.
    pub claims: serde_json::Map<String, serde_json::Value>,
    pub authenticator: Authenticator,
    /// The certificate checks made, metered to the tenant like the JSON API's.
    pub checks: Vec<(FeeCertKind, ProvisionMethod)>,
    /// For the audit entry: the certificates' serials, never their holder's data.
    pub certificate_serials: Vec<String>,
}

/// The `sub` a tenant's clients see for the holder of an authentication certificate: pairwise per
/// tenant (OpenID Connect Core §8.1), so two tenants cannot join their users by it, and stable for
/// the certificate (its issuer and serial).
pub fn subject(tenant_id: &str, issuer_name_der: &[u8], serial: &str) -> String {
    use base64::Engine;
    let input = [b"openjpki oidc sub\n".as_slice(), tenant_id.as_bytes(), b"\n", &jpki_crypto::sha256(issuer_name_der), b"\n", serial.as_bytes()].concat();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jpki_crypto::sha256(&input))
}

/// A code, as the RP receives it.
#[derive(Debug, Clone)]
pub struct Code(pub String);

/// Approves `pending`: the code, or `None` if it was answered or expired meanwhile (of two answers
/// at once, one wins). The metering and the audit entry are written with it.
pub async fn approve(db: &Database, pending: &Pending, approval: &Approval, now: OffsetDateTime) -> Result<Option<Code>, PlatformError> {
    let code = Code(secret());
    let mut tx = db.begin_write().await?;
    let taken = sqlx::query(
        "UPDATE oidc_authorization SET status = 'approved', subject = $1, claims = $2, acr = $3, amr = $4, auth_time = $5,
             code_hash = $6, code_expires_at = $7
         WHERE id = $8 AND status = 'pending' AND expires_at >= $5",
    )
    .bind(&approval.subject)
    .bind(serde_json::Value::Object(approval.claims.clone()).to_string())
    .bind(ACR_AAL3)
    .bind(serde_json::to_string(approval.authenticator.amr()).expect("strings serialize"))
    .bind(now.unix_timestamp())
    .bind(hash(&code.0))
    .bind((now + CODE_LIFETIME).unix_timestamp())
    .bind(&pending.id)
    .execute(&mut *tx)
    .await?;
    if taken.rows_affected() != 1 {
        return Ok(None);
    }
    for (kind, method) in &approval.checks {
        usage::record(&mut tx, &pending.tenant_id, *kind, *method, now).await?;
    }
    let detail = serde_json::json!({
        "client_id": pending.client_id,
        "authorization_id": pending.id,
        "scope": pending.scopes,
        "authenticator": approval.authenticator,
        "certificate_serials": approval.certificate_serials,
        "claims": approval.claims.keys().collect::<Vec<_>>(),
    });
    let entry = audit::Entry {
        tenant_id: Some(&pending.tenant_id),
        action: "oidc.login",
        purpose: None,
        result: "approved",
        detail: &detail,
        at: now.unix_timestamp(),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(Some(code))
}

/// Why a transaction ends without a code: the user declined, or the login failed (`reason`, a
/// verification failure code or the sandbox outcome) after the certificate `checks` it made, which are
/// metered all the same. Recorded in the audit log; `false` if it was answered meanwhile.
pub async fn deny(
    db: &Database,
    pending: &Pending,
    reason: &str,
    checks: &[(FeeCertKind, ProvisionMethod)],
    now: OffsetDateTime,
) -> Result<bool, PlatformError> {
    let mut tx = db.begin_write().await?;
    let taken = sqlx::query("UPDATE oidc_authorization SET status = 'denied' WHERE id = $1 AND status = 'pending'").bind(&pending.id).execute(&mut *tx).await?;
    if taken.rows_affected() != 1 {
        return Ok(false);
    }
    for (kind, method) in checks {
        usage::record(&mut tx, &pending.tenant_id, *kind, *method, now).await?;
    }
    let detail = serde_json::json!({ "client_id": pending.client_id, "authorization_id": pending.id, "scope": pending.scopes });
    let result = format!("denied:{reason}");
    let entry =
        audit::Entry { tenant_id: Some(&pending.tenant_id), action: "oidc.login", purpose: None, result: &result, detail: &detail, at: now.unix_timestamp() };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::clients::AuthMethod;

    fn client() -> Client {
        Client {
            client_id: "rp1".into(),
            client_name: "RP".into(),
            redirect_uris: vec!["https://rp.example/cb".into()],
            scope: Scopes::parse("openid name address", "x").unwrap(),
            token_endpoint_auth_method: AuthMethod::PrivateKeyJwt,
            jwks: None,
            client_id_issued_at: 0,
            tenant_id: "t".into(),
        }
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn params(overrides: &[(&str, Option<&str>)]) -> Params {
        let mut base: Vec<(&str, Option<&str>)> = vec![
            ("client_id", Some("rp1")),
            ("redirect_uri", Some("https://rp.example/cb")),
            ("response_type", Some("code")),
            ("scope", Some("openid name")),
            ("state", Some("s1")),
            ("nonce", Some("n1")),
            ("code_challenge", Some(CHALLENGE)),
            ("code_challenge_method", Some("S256")),
        ];
        for (name, value) in overrides {
            base.retain(|(n, _)| n != name);
            base.push((name, *value));
        }
        Params::from_pairs(base.into_iter().filter_map(|(n, v)| v.map(|v| (n.to_owned(), v.to_owned()))))
    }

    #[test]
    fn a_good_request_passes() {
        let request = check(&params(&[("acr_values", Some("aal3 crl"))]), &client()).unwrap();
        assert_eq!(request.scopes.to_string(), "openid name");
        assert_eq!(request.acr.revocation, Some(RequestedMethod::Crl));
        assert_eq!((request.state.as_str(), request.nonce.as_str()), ("s1", "n1"));
    }

    #[test]
    fn redirect_uri_errors_are_shown_not_sent() {
        for (value, why) in [(None, "required"), (Some("https://rp.example/cb/"), "not registered"), (Some("https://evil.example/cb"), "not registered")] {
            match check(&params(&[("redirect_uri", value)]), &client()) {
                Err(Refusal::Page(e)) => assert!(e.description.contains(why), "{value:?}: {e}"),
                other => panic!("{value:?}: {other:?}"),
            }
        }
        let twice = Params::from_pairs([("redirect_uri".to_owned(), "https://rp.example/cb".to_owned()), ("redirect_uri".to_owned(), "https://x/".to_owned())]);
        assert!(matches!(check(&twice, &client()), Err(Refusal::Page(e)) if e.description.contains("more than once")));
        assert!(matches!(client_id(&Params::default()), Err(Refusal::Page(e)) if e.code == ErrorCode::InvalidRequest));
    }

    #[test]
    fn other_errors_go_to_the_redirect_uri_with_state() {
        for (name, value, code, why) in [
            ("response_type", Some("token"), ErrorCode::UnsupportedResponseType, "only code"),
            ("response_type", None, ErrorCode::InvalidRequest, "response_type is required"),
            ("scope", Some("name"), ErrorCode::InvalidScope, "openid"),
            ("scope", Some("openid gender"), ErrorCode::InvalidScope, "may ask only"),
            ("scope", Some("openid email"), ErrorCode::InvalidScope, "unknown scope"),
            ("nonce", None, ErrorCode::InvalidRequest, "nonce is required"),
            ("nonce", Some("\u{7f}"), ErrorCode::InvalidRequest, "printable"),
            ("code_challenge", None, ErrorCode::InvalidRequest, "code_challenge is required"),
            ("code_challenge", Some("short"), ErrorCode::InvalidRequest, "43-character"),
            ("code_challenge_method", Some("plain"), ErrorCode::InvalidRequest, "only S256"),
            ("code_challenge_method", None, ErrorCode::InvalidRequest, "S256"),
            ("acr_values", Some("aal1"), ErrorCode::InvalidRequest, "aal3"),
            ("acr_values", Some("crl ocsp"), ErrorCode::InvalidRequest, "both"),
            ("prompt", Some("none"), ErrorCode::LoginRequired, "prompt=none"),
            ("request", Some("eyJ"), ErrorCode::RequestNotSupported, "request objects"),
            ("response_mode", Some("fragment"), ErrorCode::InvalidRequest, "only query"),
        ] {
            match check(&params(&[(name, value)]), &client()) {
                Err(Refusal::Redirect { redirect_uri, state, error }) => {
                    assert_eq!((redirect_uri.as_str(), state.as_deref()), ("https://rp.example/cb", Some("s1")), "{name}");
                    assert_eq!(error.code, code, "{name}={value:?}: {error}");
                    assert!(error.description.contains(why), "{name}={value:?}: {error}");
                }
                other => panic!("{name}={value:?}: {other:?}"),
            }
        }
        match check(&params(&[("state", None)]), &client()) {
            Err(Refusal::Redirect { state: None, error, .. }) => assert!(error.description.contains("state is required")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_subject_is_pairwise_per_tenant() {
        let a = subject("t1", b"issuer", "01");
        assert_eq!(a, subject("t1", b"issuer", "01"));
        assert_ne!(a, subject("t2", b"issuer", "01"));
        assert_ne!(a, subject("t1", b"issuer", "02"));
        assert_eq!(a.len(), 43);
    }
}
