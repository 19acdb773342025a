//! The authorization endpoint and the pages the user answers on. A request is checked, kept as a
//! transaction, and the browser sent on (303) to the transaction's page, which a language switch can
//! reload; the page's forms post back with its form token, and each answer ends in a 303 to the RP's
//! redirect URI with the code or the error, `state` and `iss` (RFC 9207).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use jpki_platform::oidc::authorization::{self, Approval, Authenticator, Pending, Refusal, Unanswerable};
use jpki_platform::oidc::clients;
use jpki_platform::oidc::error::{ErrorCode, OAuthError};
use jpki_platform::oidc::params::Params;
use jpki_platform::oidc::scope::Scope;
use jpki_platform::tenants;
use jpki_profile::fees::{FeeCertKind, ProvisionMethod};
use jpki_profile::{CertKind, KeyRole};
use jpki_verify::revocation::RevocationPolicy;
use minijinja::context;
use time::OffsetDateTime;

use super::{redirect, Provider, ProviderState, ENDPOINTS, ISSUER_PATH};
use crate::extract::PathParam;
use crate::web::{language, Lang};

/// The cookie that binds transaction `id` to the browser that began it.
fn cookie_name(id: &str) -> String {
    format!("jpki_authz_{id}")
}

fn cookie<'h>(headers: &'h HeaderMap, id: &str) -> Option<&'h str> {
    let name = cookie_name(id);
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (n, value) = pair.trim().split_once('=')?;
        (n == name).then_some(value)
    })
}

fn error_page(provider: &Provider, lang: Lang, status: StatusCode, code: &str, description: &str) -> Response {
    provider.pages.render("oidc_error.html", lang, status, context! { code, description })
}

/// The RP learns of a refused request at its redirect URI, or the user on a page.
fn refused(provider: &Provider, lang: Lang, refusal: Refusal) -> Response {
    match refusal {
        Refusal::Page(error) => error_page(provider, lang, StatusCode::BAD_REQUEST, error.code.as_str(), &error.description),
        Refusal::Redirect { redirect_uri, state, error } => error_redirect(provider, &redirect_uri, state.as_deref(), &error),
    }
}

fn error_redirect(provider: &Provider, redirect_uri: &str, state: Option<&str>, error: &OAuthError) -> Response {
    let mut params = vec![("error", error.code.as_str()), ("error_description", error.description.as_str())];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", provider.issuer.as_str()));
    redirect(redirect_uri, &params)
}

fn unavailable(provider: &Provider, lang: Lang) -> Response {
    error_page(provider, lang, StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "the server could not complete the request; try again")
}

pub(super) async fn begin_get(State(provider): ProviderState, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    begin(&provider, &headers, query.as_deref().unwrap_or("")).await
}

/// OpenID Connect Core §3.1.2.1: the endpoint takes the request as a form post too.
pub(super) async fn begin_post(State(provider): ProviderState, headers: HeaderMap, body: Bytes) -> Response {
    match std::str::from_utf8(&body) {
        Ok(text) if is_form(&headers) => begin(&provider, &headers, text).await,
        _ => error_page(
            &provider,
            language(None, &headers),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "a posted request must be application/x-www-form-urlencoded",
        ),
    }
}

pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

async fn begin(provider: &Provider, headers: &HeaderMap, query: &str) -> Response {
    let params = match Params::parse(query) {
        Ok(p) => p,
        Err(e) => return refused(provider, language(None, headers), Refusal::Page(e)),
    };
    // OpenID Connect Core §3.1.2.1 ui_locales: the languages the user prefers, in order.
    let asked_lang = params.one("ui_locales").ok().flatten().and_then(|l| l.split(' ').find_map(Lang::from_code));
    let lang = asked_lang.unwrap_or_else(|| language(None, headers));
    let client_id = match authorization::client_id(&params) {
        Ok(id) => id,
        Err(refusal) => return refused(provider, lang, refusal),
    };
    let db = &provider.platform.db;
    let client = match clients::find(db, client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            return refused(provider, lang, Refusal::Page(OAuthError::new(ErrorCode::InvalidRequest, format!("client_id {client_id:?} is not registered"))))
        }
        Err(_) => return unavailable(provider, lang),
    };
    let request = match authorization::check(&params, &client) {
        Ok(r) => r,
        Err(refusal) => return refused(provider, lang, refusal),
    };
    match tenants::get(db, &client.tenant_id).await {
        Ok(Some(tenant)) if !tenant.disabled => {}
        Ok(_) => {
            let error = OAuthError::new(ErrorCode::UnauthorizedClient, "the client's tenant is disabled by the platform operator");
            return error_redirect(provider, &request.redirect_uri, Some(&request.state), &error);
        }
        Err(_) => return unavailable(provider, lang),
    }
    let now = OffsetDateTime::now_utc();
    let begun = match authorization::begin(db, &client, &request, now).await {
        Ok(b) => b,
        Err(_) => return unavailable(provider, lang),
    };
    let mut response = redirect(&format!("{ISSUER_PATH}{ENDPOINTS}/auth/{}", begun.id), &[("lang", lang.code())]);
    let cookie = format!(
        "{}={}; Max-Age={}; Path={ISSUER_PATH}{ENDPOINTS}/auth/{}; HttpOnly; SameSite=Lax{}",
        cookie_name(&begun.id),
        begun.browser_secret,
        authorization::REQUEST_LIFETIME.whole_seconds(),
        begun.id,
        if provider.secure() { "; Secure" } else { "" }
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The transaction this browser may answer, or the page saying why not.
async fn pending_or_page(provider: &Provider, lang: Lang, id: &str, headers: &HeaderMap, csrf: Option<&str>) -> Result<Pending, Response> {
    match authorization::answerable(&provider.platform.db, id, cookie(headers, id), csrf, OffsetDateTime::now_utc()).await {
        Ok(Ok(pending)) => Ok(pending),
        Ok(Err(problem)) => {
            let status = match problem {
                Unanswerable::Unknown => StatusCode::NOT_FOUND,
                Unanswerable::NotThisBrowser => StatusCode::FORBIDDEN,
                Unanswerable::Expired | Unanswerable::Answered => StatusCode::GONE,
            };
            Err(error_page(provider, lang, status, "invalid_request", problem.message()))
        }
        Err(_) => Err(unavailable(provider, lang)),
    }
}

/// Only the form's own origin and the RP's redirect origin, where its answers lead (a browser applies
/// form-action to the redirect that follows a post).
fn page_csp(redirect_uri: &str) -> String {
    let origin = redirect_uri.split_once("://").map(|(scheme, rest)| (scheme, rest.split(['/', '?']).next().unwrap_or("")));
    let origin = origin
        .filter(|(_, authority)| !authority.is_empty() && authority.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
        .map(|(scheme, authority)| format!(" {scheme}://{authority}"))
        .unwrap_or_default();
    crate::web::CSP.replace("form-action 'none'", &format!("form-action 'self'{origin}"))
}

const PICKER_LIMIT: usize = 50;

/// The sandbox's test persons who hold an authentication certificate in use.
async fn sandbox_persons(provider: &Provider) -> Vec<minijinja::Value> {
    let Some(issuer) = &provider.sandbox else { return Vec::new() };
    let mut persons = Vec::new();
    for person in issuer.people().await.unwrap_or_default().into_iter().filter(|p| p.deceased_at.is_none()) {
        if persons.len() == PICKER_LIMIT {
            break;
        }
        if matches!(issuer.current_certificate(&person.id, KeyRole::Authentication).await, Ok(Some(_))) {
            let info = &person.four_info;
            persons.push(context! { id => person.id, name => info.name, birth_date => info.birth_date.to_string(), address => info.address });
        }
    }
    persons
}

pub(super) async fn page(State(provider): ProviderState, PathParam(id): PathParam<String>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let lang = language(query.as_deref(), &headers);
    let pending = match pending_or_page(&provider, lang, &id, &headers, None).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let client_name = match clients::find(&provider.platform.db, &pending.client_id).await {
        Ok(Some(c)) => c.client_name,
        _ => return unavailable(&provider, lang),
    };
    let secret = cookie(&headers, &id).unwrap_or_default();
    let jst = pending.expires_at.to_offset(jpki_profile::cert_profile::JST);
    let expires_at_text = jst.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] JST")).unwrap_or_default();
    let page = context! {
        client_name,
        scopes => pending.scopes.iter().map(Scope::as_str).collect::<Vec<_>>(),
        four_info => pending.scopes.iter().any(Scope::is_four_info),
        action => format!("{ISSUER_PATH}{ENDPOINTS}/auth/{id}"),
        csrf => authorization::csrf_token(secret, &id),
        expires_at => crate::v1::rfc3339(pending.expires_at),
        expires_at_text,
        persons => sandbox_persons(&provider).await,
    };
    let mut response = provider.pages.render("authorize.html", lang, StatusCode::OK, page);
    if let Ok(csp) = HeaderValue::from_str(&page_csp(&pending.redirect_uri)) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// A form the page posted: its fields, after the content type and the form token are checked.
fn form(headers: &HeaderMap, body: &Bytes) -> Result<Params, String> {
    if !is_form(headers) {
        return Err("the answer must be a form (application/x-www-form-urlencoded)".into());
    }
    Params::parse(std::str::from_utf8(body).map_err(|_| "the form is not UTF-8".to_owned())?).map_err(|e| e.description)
}

/// An answer the page posted: its fields, and the transaction if this browser's form may answer it.
async fn answer(provider: &Provider, lang: Lang, id: &str, headers: &HeaderMap, body: &Bytes) -> Result<(Params, Pending), Response> {
    let fields = form(headers, body).map_err(|why| error_page(provider, lang, StatusCode::BAD_REQUEST, "invalid_request", &why))?;
    let csrf = fields.one("csrf").ok().flatten().unwrap_or("").to_owned();
    let pending = pending_or_page(provider, lang, id, headers, Some(&csrf)).await?;
    Ok((fields, pending))
}

pub(super) async fn decline(
    State(provider): ProviderState,
    PathParam(id): PathParam<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let lang = language(query.as_deref(), &headers);
    let (_, pending) = match answer(&provider, lang, &id, &headers, &body).await {
        Ok(answer) => answer,
        Err(page) => return page,
    };
    let failure = LoginFailure { reason: "declined".into(), description: "the user declined".into(), checks: Vec::new() };
    denied(&provider, lang, &pending, &failure).await
}

/// Ends the transaction with access_denied at the RP.
async fn denied(provider: &Provider, lang: Lang, pending: &Pending, failure: &LoginFailure) -> Response {
    let error = OAuthError::new(ErrorCode::AccessDenied, failure.description.clone());
    match authorization::deny(&provider.platform.db, pending, &failure.reason, &failure.checks, OffsetDateTime::now_utc()).await {
        Ok(true) => error_redirect(provider, &pending.redirect_uri, Some(&pending.state), &error),
        Ok(false) => error_page(provider, lang, StatusCode::GONE, "invalid_request", Unanswerable::Answered.message()),
        Err(_) => unavailable(provider, lang),
    }
}

async fn approved(provider: &Provider, lang: Lang, pending: &Pending, approval: &Approval) -> Response {
    match authorization::approve(&provider.platform.db, pending, approval, OffsetDateTime::now_utc()).await {
        Ok(Some(code)) => redirect(&pending.redirect_uri, &[("code", &code.0), ("state", &pending.state), ("iss", &provider.issuer)]),
        Ok(None) => error_page(provider, lang, StatusCode::GONE, "invalid_request", Unanswerable::Answered.message()),
        Err(_) => unavailable(provider, lang),
    }
}

/// The sandbox's test-person picker: the chosen person's certificates in use, verified as a login's
/// would be (chain and revocation; only the holder's key takes no part), or the error outcome. Modeled
/// on the Digital Authentication App's test-card substitute, which answers as a chosen test person
/// with a normal or an error response
/// (developers.digital.go.jp/documents/auth-and-sign/testcard_alternative).
pub(super) async fn sandbox_answer(
    State(provider): ProviderState,
    PathParam(id): PathParam<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let lang = language(query.as_deref(), &headers);
    let Some(issuer) = provider.sandbox.clone() else {
        return error_page(&provider, lang, StatusCode::NOT_FOUND, "invalid_request", "this server is not a sandbox");
    };
    let (fields, pending) = match answer(&provider, lang, &id, &headers, &body).await {
        Ok(answer) => answer,
        Err(page) => return page,
    };
    let bad = |why: &str| error_page(&provider, lang, StatusCode::BAD_REQUEST, "invalid_request", why);
    let outcome = fields.one("outcome").ok().flatten();
    let Some(person_id) = fields.one("person").ok().flatten() else { return bad("choose a test person") };
    match outcome {
        Some("normal") => {}
        Some("error") => {
            let failure =
                LoginFailure { reason: "sandbox_error".into(), description: "the sandbox test person's login was set to fail".into(), checks: Vec::new() };
            return denied(&provider, lang, &pending, &failure).await;
        }
        _ => return bad("choose the outcome: normal or error"),
    }
    let Ok(person) = issuer.person(person_id).await else { return bad("there is no such test person") };
    match picker_login(&provider, &issuer, &pending, &person.id).await {
        Ok(Ok(approval)) => approved(&provider, lang, &pending, &approval).await,
        Ok(Err(failure)) => denied(&provider, lang, &pending, &failure).await,
        Err(()) => unavailable(&provider, lang),
    }
}

/// What ends a login without a code: the reason audited (a verification failure code, `declined`,
/// …), the RP's error description, and the certificate checks made before it, metered.
struct LoginFailure {
    reason: String,
    description: String,
    checks: Vec<(FeeCertKind, ProvisionMethod)>,
}

/// The check a verification made, as the fee table counts it.
fn check_of(kind: FeeCertKind, verification: &jpki_verify::Verification) -> Option<(FeeCertKind, ProvisionMethod)> {
    verification.revocation.as_ref().and_then(|r| r.method.provision()).map(|m| (kind, m))
}

/// The certificate of `role` of the person, verified under the transaction's revocation policy.
async fn verified(
    provider: &Provider,
    issuer: &jpki_issuer::Issuer,
    person_id: &str,
    role: KeyRole,
    policy: RevocationPolicy,
) -> Result<Result<jpki_verify::Verification, LoginFailure>, ()> {
    let what = match role {
        KeyRole::Signature => "signature certificate",
        KeyRole::Authentication => "authentication certificate",
    };
    let Some(der) = issuer.current_certificate(person_id, role).await.map_err(|_| ())? else {
        return Ok(Err(LoginFailure { reason: "no_certificate".into(), description: format!("the test person has no {what} in use"), checks: Vec::new() }));
    };
    let (kind, fee_kind) = match role {
        KeyRole::Signature => (CertKind::Signature, FeeCertKind::Signature),
        KeyRole::Authentication => (CertKind::Authentication, FeeCertKind::Authentication),
    };
    let platform = &provider.platform;
    let progress = platform.verifier.verify_certificate_without_waiting(kind, policy, &der, OffsetDateTime::now_utc());
    let verification = crate::v1::conclude(platform, progress).await.map_err(|_| ())?;
    Ok(match &verification.failure {
        None => Ok(verification),
        Some(failure) => Err(LoginFailure {
            reason: failure.code.as_str().to_owned(),
            description: format!("the {what} is not valid ({}): {}", failure.code, failure.message),
            checks: check_of(fee_kind, &verification).into_iter().collect(),
        }),
    })
}

async fn picker_login(provider: &Provider, issuer: &jpki_issuer::Issuer, pending: &Pending, person_id: &str) -> Result<Result<Approval, LoginFailure>, ()> {
    let tenant = tenants::get(&provider.platform.db, &pending.tenant_id).await.map_err(|_| ())?.ok_or(())?;
    let mut policy = tenant.revocation.unwrap_or_default();
    if let Some(method) = pending.acr.revocation {
        policy.method = method;
    }
    let login = match verified(provider, issuer, person_id, KeyRole::Authentication, policy).await? {
        Ok(v) => v,
        Err(failure) => return Ok(Err(failure)),
    };
    let signer = login.signer.as_ref().ok_or(())?;
    let mut approval = Approval {
        subject: authorization::subject(&pending.tenant_id, &signer.issuer_name, &signer.certificate_serial),
        claims: Default::default(),
        authenticator: Authenticator::SandboxPicker,
        checks: check_of(FeeCertKind::Authentication, &login).into_iter().collect(),
        certificate_serials: vec![signer.certificate_serial.clone()],
    };
    if pending.scopes.iter().any(Scope::is_four_info) {
        let signature = match verified(provider, issuer, person_id, KeyRole::Signature, policy).await? {
            Ok(v) => v,
            Err(mut failure) => {
                failure.checks.splice(0..0, approval.checks);
                return Ok(Err(failure));
            }
        };
        let signer = signature.signer.as_ref().ok_or(())?;
        let info = signer.four_info.as_ref().ok_or(())?;
        approval.claims = four_info_claims(&pending.scopes, info);
        approval.checks.extend(check_of(FeeCertKind::Signature, &signature));
        approval.certificate_serials.push(signer.certificate_serial.clone());
    }
    Ok(Ok(approval))
}

/// The claims of the 4 info the scopes ask for, by OpenID Connect Core §5.1's names: `address` is an
/// Address Claim (§5.1.1) with the whole address as `formatted`; `birthdate` is YYYY-MM-DD; `gender`
/// is `male`, `female`, or the ISO/IEC 5218 name of the other codes.
pub(crate) fn four_info_claims(scopes: &jpki_platform::oidc::scope::Scopes, info: &jpki_profile::FourInfo) -> serde_json::Map<String, serde_json::Value> {
    let mut claims = serde_json::Map::new();
    for scope in scopes.iter() {
        let value = match scope {
            Scope::Name => serde_json::Value::from(info.name.clone()),
            Scope::Address => serde_json::json!({ "formatted": info.address }),
            Scope::Birthdate => info.birth_date.to_string().into(),
            Scope::Gender => info.sex.as_str().into(),
            _ => continue,
        };
        claims.insert(scope.as_str().to_owned(), value);
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::page_csp;

    #[test]
    fn the_page_posts_only_to_itself_and_the_redirect_origin() {
        assert!(page_csp("https://rp.example:8443/cb?x=1").contains("form-action 'self' https://rp.example:8443;"));
        assert!(page_csp("http://127.0.0.1:3000/cb").contains("form-action 'self' http://127.0.0.1:3000;"));
        assert!(page_csp("https://rp.example;script-src *").contains("form-action 'self';"), "an origin that could break the policy is left out");
        assert!(page_csp("https://rp.example/cb").contains("default-src 'none'"));
    }
}
