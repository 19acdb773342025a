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
    /// With scope `sign`: the sign transaction the user is asked to sign.
    pub sign_transaction_id: Option<String>,
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
    check_rest(params, client).map_err(redirect).map(|(scopes, state, nonce, code_challenge, acr, sign_transaction_id)| Request {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        scopes,
        state,
        nonce,
        code_challenge,
        acr,
        sign_transaction_id,
    })
}

type Checked = (Scopes, String, String, String, AcrValues, Option<String>);

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
    // The Digital Authentication App's sign_transaction_id: with scope sign, and only with it.
    let sign_transaction_id = match (scopes.contains(Scope::Sign), params.one("sign_transaction_id")?) {
        (true, Some(id)) if id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => Some(id.to_owned()),
        (true, Some(id)) => return Err(err(ErrorCode::InvalidRequest, format!("sign_transaction_id {id:?} is not a sign transaction id"))),
        (true, None) => return Err(err(ErrorCode::InvalidRequest, "scope sign needs sign_transaction_id")),
        (false, Some(_)) => return Err(err(ErrorCode::InvalidRequest, "sign_transaction_id needs scope sign")),
        (false, None) => None,
    };
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
    Ok((scopes, state.to_owned(), nonce.to_owned(), challenge.to_owned(), acr, sign_transaction_id))
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

/// The key the authorization page's QR code gives the companion app for transaction `id`, derived
/// like [`csrf_token`] from the browser's secret: only the page in that browser can show it.
pub fn app_key(browser_secret: &str, id: &str) -> String {
    use base64::Engine;
    let input = [b"openjpki app\n".as_slice(), browser_secret.as_bytes(), b"\n", id.as_bytes()].concat();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jpki_crypto::sha256(&input))
}

/// Keeps a checked request as a pending transaction; with scope `sign`, its sign transaction goes to
/// it (once: an unknown, expired or already sent one is an `invalid_request` for the RP).
pub async fn begin(db: &Database, client: &Client, request: &Request, now: OffsetDateTime) -> Result<Result<Begun, OAuthError>, PlatformError> {
    let begun = Begun { id: jpki_store::new_id("authz"), browser_secret: secret(), expires_at: now + REQUEST_LIFETIME };
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO oidc_authorization (id, client_id, tenant_id, redirect_uri, scopes, state, nonce, code_challenge, acr_values,
             browser_hash, app_key_hash, sign_transaction_id, status, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending', $13, $14)",
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
    .bind(hash(&app_key(&begun.browser_secret, &begun.id)))
    .bind(&request.sign_transaction_id)
    .bind(now.unix_timestamp())
    .bind(begun.expires_at.unix_timestamp())
    .execute(&mut *tx)
    .await?;
    if let Some(sign_id) = &request.sign_transaction_id {
        if super::sign::bind(&mut tx, sign_id, &client.client_id, &begun.id, now).await?.is_none() {
            return Ok(Err(OAuthError::new(
                ErrorCode::InvalidRequest,
                format!("sign_transaction_id {sign_id:?} names no sign transaction of this client waiting to be signed"),
            )));
        }
    }
    tx.commit().await?;
    Ok(Ok(begun))
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
    /// With scope `sign`: the sign transaction it asks the user to sign.
    pub sign_transaction_id: Option<String>,
}

impl Pending {
    /// The sign transaction it asks the user to sign, if it asks for one.
    pub async fn sign_transaction(&self, db: &Database) -> Result<Option<super::sign::SignTransaction>, PlatformError> {
        match &self.sign_transaction_id {
            Some(id) => super::sign::find(db, id, &self.id).await,
            None => Ok(None),
        }
    }
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

type Row = (String, String, String, String, String, Option<String>, String, String, Option<String>, i64, Option<String>, Option<String>);

/// Transaction `id` as stored: what [`Pending`] holds, its status, the hashes of the browser's and the
/// app's secrets, and the refusal the app's answer left.
struct Stored {
    pending: Pending,
    status: String,
    browser_hash: String,
    app_key_hash: Option<String>,
    refusal: Option<String>,
}

async fn load(db: &Database, id: &str) -> Result<Option<Stored>, PlatformError> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT client_id, tenant_id, redirect_uri, scopes, state, acr_values, status, browser_hash, app_key_hash, expires_at, sign_transaction_id, refusal
         FROM oidc_authorization WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    let Some((client_id, tenant_id, redirect_uri, scopes, state, acr, status, browser_hash, app_key_hash, expires_at, sign_transaction_id, refusal)) = row
    else {
        return Ok(None);
    };
    let corrupt = |what: &str| PlatformError::Corrupt(format!("authorization {id}: {what}"));
    let pending = Pending {
        id: id.to_owned(),
        client_id,
        tenant_id,
        redirect_uri,
        scopes: Scopes::parse(&scopes, "corrupt").map_err(|_| corrupt("scopes"))?,
        state,
        acr: acr.as_deref().map(AcrValues::parse).transpose().map_err(|_| corrupt("acr_values"))?.unwrap_or_default(),
        expires_at: crate::stored_time(expires_at)?,
        sign_transaction_id,
    };
    Ok(Some(Stored { pending, status, browser_hash, app_key_hash, refusal }))
}

fn matches(secret: Option<&str>, stored_hash: Option<&str>) -> bool {
    match (secret, stored_hash) {
        (Some(secret), Some(stored)) => jpki_crypto::constant_time_eq(hash(secret).as_bytes(), stored.as_bytes()),
        _ => false,
    }
}

impl Stored {
    fn answerable(self, now: OffsetDateTime) -> Result<Pending, Unanswerable> {
        if self.status != "pending" {
            return Err(Unanswerable::Answered);
        }
        if self.pending.expires_at < now {
            return Err(Unanswerable::Expired);
        }
        Ok(self.pending)
    }
}

/// The pending transaction `id`, if this browser (`browser_secret`, from its cookie) may see it and,
/// with the page's `csrf_token` (for an answer), answer it.
pub async fn answerable(
    db: &Database,
    id: &str,
    browser_secret: Option<&str>,
    csrf: Option<&str>,
    now: OffsetDateTime,
) -> Result<Result<Pending, Unanswerable>, PlatformError> {
    let Some(stored) = load(db, id).await? else { return Ok(Err(Unanswerable::Unknown)) };
    if !matches(browser_secret, Some(&stored.browser_hash)) {
        return Ok(Err(Unanswerable::NotThisBrowser));
    }
    let secret = browser_secret.unwrap_or_default();
    if csrf.is_some_and(|c| !jpki_crypto::constant_time_eq(c.as_bytes(), csrf_token(secret, id).as_bytes())) {
        return Ok(Err(Unanswerable::NotThisBrowser));
    }
    Ok(stored.answerable(now))
}

/// The pending transaction `id`, if `key` is the one its page's QR code gave the companion app.
pub async fn app_answerable(db: &Database, id: &str, key: &str, now: OffsetDateTime) -> Result<Result<Pending, Unanswerable>, PlatformError> {
    let Some(stored) = load(db, id).await? else { return Ok(Err(Unanswerable::Unknown)) };
    if !matches(Some(key), stored.app_key_hash.as_deref()) {
        return Ok(Err(Unanswerable::NotThisBrowser));
    }
    Ok(stored.answerable(now))
}

/// The challenge the companion app signs with the authentication key (and, for the 4 info, the
/// signature key): bound to the transaction and to the key only its page showed.
pub fn app_challenge(pending_id: &str, app_key: &str) -> [u8; 32] {
    jpki_crypto::sha256(&[b"openjpki app challenge\n".as_slice(), pending_id.as_bytes(), b"\n", hash(app_key).as_bytes()].concat())
}

/// What the page, polling, does once the app answered.
#[derive(Debug, Clone)]
pub enum Collected {
    /// Still waiting for the user: the transaction.
    Waiting(Pending),
    /// The app approved: the code goes to the RP.
    Code { redirect_uri: String, state: String, code: Code },
    /// The app declined, or its login failed: `access_denied` with the description.
    Refused { redirect_uri: String, state: String, description: String },
}

/// The answer the companion app gave transaction `id`, turned into what the browser that began it
/// takes to the RP (once); or the transaction still waiting, as [`answerable`] gives it to a page.
pub async fn collect(db: &Database, id: &str, browser_secret: Option<&str>, now: OffsetDateTime) -> Result<Result<Collected, Unanswerable>, PlatformError> {
    let Some(stored) = load(db, id).await? else { return Ok(Err(Unanswerable::Unknown)) };
    if !matches(browser_secret, Some(&stored.browser_hash)) {
        return Ok(Err(Unanswerable::NotThisBrowser));
    }
    if stored.status == "pending" {
        return Ok(stored.answerable(now).map(Collected::Waiting));
    }
    let Stored { pending, status, refusal, .. } = stored;
    let (redirect_uri, state) = (pending.redirect_uri, pending.state);
    match status.as_str() {
        "consented" => {
            let mut tx = db.begin_write().await?;
            let code = issue_code(&mut tx, id, "consented", now).await?;
            tx.commit().await?;
            Ok(match code {
                Some(code) => Ok(Collected::Code { redirect_uri, state, code }),
                None => Err(Unanswerable::Answered),
            })
        }
        "refused" => {
            let taken = sqlx::query("UPDATE oidc_authorization SET status = 'denied' WHERE id = $1 AND status = 'refused'").bind(id).execute(db.pool()).await?;
            Ok(if taken.rows_affected() == 1 {
                Ok(Collected::Refused { redirect_uri, state, description: refusal.unwrap_or_default() })
            } else {
                Err(Unanswerable::Answered)
            })
        }
        _ => Ok(Err(Unanswerable::Answered)),
    }
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

/// Approves `pending` in the browser (the sandbox's picker): the code, or `None` if it was answered or
/// expired meanwhile (of two answers at once, one wins). The metering and the audit entry are written
/// with it.
pub async fn approve(db: &Database, pending: &Pending, approval: &Approval, now: OffsetDateTime) -> Result<Option<Code>, PlatformError> {
    let mut tx = db.begin_write().await?;
    if !consent_in(&mut tx, pending, approval, None, now).await? {
        return Ok(None);
    }
    let code = issue_code(&mut tx, &pending.id, "consented", now).await?;
    tx.commit().await?;
    Ok(code)
}

/// The companion app's approval of `pending`, with the result of its sign transaction (`signed`):
/// the page, polling, turns it into a code. `false` if it was answered or expired meanwhile.
pub async fn consent(
    db: &Database,
    pending: &Pending,
    approval: &Approval,
    signed: Option<&serde_json::Value>,
    now: OffsetDateTime,
) -> Result<bool, PlatformError> {
    let mut tx = db.begin_write().await?;
    if !consent_in(&mut tx, pending, approval, signed, now).await? {
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

async fn consent_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    pending: &Pending,
    approval: &Approval,
    signed: Option<&serde_json::Value>,
    now: OffsetDateTime,
) -> Result<bool, PlatformError> {
    let taken = sqlx::query(
        "UPDATE oidc_authorization SET status = 'consented', subject = $1, claims = $2, acr = $3, amr = $4, auth_time = $5
         WHERE id = $6 AND status = 'pending' AND expires_at >= $5",
    )
    .bind(&approval.subject)
    .bind(serde_json::Value::Object(approval.claims.clone()).to_string())
    .bind(ACR_AAL3)
    .bind(serde_json::to_string(approval.authenticator.amr()).expect("strings serialize"))
    .bind(now.unix_timestamp())
    .bind(&pending.id)
    .execute(&mut **tx)
    .await?;
    if taken.rows_affected() != 1 {
        return Ok(false);
    }
    if let (Some(result), Some(sign_id)) = (signed, &pending.sign_transaction_id) {
        super::sign::record(tx, sign_id, result).await?;
    }
    for (kind, method) in &approval.checks {
        usage::record(tx, &pending.tenant_id, *kind, *method, now).await?;
    }
    let detail = serde_json::json!({
        "client_id": pending.client_id,
        "authorization_id": pending.id,
        "scope": pending.scopes,
        "authenticator": approval.authenticator,
        "certificate_serials": approval.certificate_serials,
        "claims": approval.claims.keys().collect::<Vec<_>>(),
        "sign_transaction_id": signed.and(pending.sign_transaction_id.as_ref()),
    });
    let entry = audit::Entry {
        tenant_id: Some(&pending.tenant_id),
        action: "oidc.login",
        purpose: None,
        result: "approved",
        detail: &detail,
        at: now.unix_timestamp(),
    };
    audit::append(tx, &entry).await?;
    Ok(true)
}

/// The single-use code of a consented authorization.
async fn issue_code(tx: &mut sqlx::Transaction<'_, sqlx::Any>, id: &str, from: &str, now: OffsetDateTime) -> Result<Option<Code>, PlatformError> {
    let code = Code(secret());
    let taken = sqlx::query("UPDATE oidc_authorization SET status = 'approved', code_hash = $1, code_expires_at = $2 WHERE id = $3 AND status = $4")
        .bind(hash(&code.0))
        .bind((now + CODE_LIFETIME).unix_timestamp())
        .bind(id)
        .bind(from)
        .execute(&mut **tx)
        .await?;
    Ok((taken.rows_affected() == 1).then_some(code))
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
    end_without_code(db, pending, reason, None, checks, now).await
}

/// [`deny`] from the companion app: the page, polling, sends the RP `access_denied` with `description`.
pub async fn refuse(
    db: &Database,
    pending: &Pending,
    reason: &str,
    description: &str,
    checks: &[(FeeCertKind, ProvisionMethod)],
    now: OffsetDateTime,
) -> Result<bool, PlatformError> {
    end_without_code(db, pending, reason, Some(description), checks, now).await
}

async fn end_without_code(
    db: &Database,
    pending: &Pending,
    reason: &str,
    refusal: Option<&str>,
    checks: &[(FeeCertKind, ProvisionMethod)],
    now: OffsetDateTime,
) -> Result<bool, PlatformError> {
    let mut tx = db.begin_write().await?;
    let status = if refusal.is_some() { "refused" } else { "denied" };
    let taken = sqlx::query("UPDATE oidc_authorization SET status = $1, refusal = $2 WHERE id = $3 AND status = 'pending'")
        .bind(status)
        .bind(refusal)
        .bind(&pending.id)
        .execute(&mut *tx)
        .await?;
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
