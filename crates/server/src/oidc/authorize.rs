//! The authorization endpoint and the pages the user answers on. A request is checked, kept as a
//! transaction, and the browser sent on (303) to the transaction's page, which a language switch can
//! reload; the page's forms post back with its form token, and each answer ends in a 303 to the RP's
//! redirect URI with the code or the error, `state` and `iss` (RFC 9207).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jpki_platform::oidc::authorization::{self, Approval, Authenticator, Collected, Pending, Refusal, Unanswerable};
use jpki_platform::oidc::clients;
use jpki_platform::oidc::error::{ErrorCode, OAuthError};
use jpki_platform::oidc::params::Params;
use jpki_platform::oidc::scope::Scope;
use jpki_platform::tenants;
use jpki_profile::fees::{FeeCertKind, ProvisionMethod};
use jpki_profile::KeyRole;
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
        Ok(Ok(b)) => b,
        Ok(Err(error)) => return error_redirect(provider, &request.redirect_uri, Some(&request.state), &error),
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
        Ok(Err(problem)) => Err(unanswerable_page(provider, lang, problem)),
        Err(_) => Err(unavailable(provider, lang)),
    }
}

/// The page saying why a transaction cannot be seen or answered.
fn unanswerable_page(provider: &Provider, lang: Lang, problem: Unanswerable) -> Response {
    let status = match problem {
        Unanswerable::Unknown => StatusCode::NOT_FOUND,
        Unanswerable::NotThisBrowser => StatusCode::FORBIDDEN,
        Unanswerable::Expired | Unanswerable::Answered => StatusCode::GONE,
    };
    error_page(provider, lang, status, "invalid_request", problem.message())
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

/// How often the page, waiting for the companion app, reloads.
const POLL_SECONDS: u32 = 2;

/// The QR code's payload: the companion app's endpoint, the transaction and its key, in the fragment.
fn app_payload(provider: &Provider, id: &str, secret: &str) -> String {
    let fragment = serde_urlencoded::to_string([("transaction", id), ("key", &authorization::app_key(secret, id))]).unwrap_or_default();
    format!("{}#{fragment}", provider.endpoint("app"))
}

/// The page's QR code, an SVG only the browser that began the transaction gets.
pub(super) async fn qr(State(provider): ProviderState, PathParam(id): PathParam<String>, headers: HeaderMap) -> Response {
    let lang = language(None, &headers);
    if let Err(page) = pending_or_page(&provider, lang, &id, &headers, None).await {
        return page;
    }
    let payload = app_payload(&provider, &id, cookie(&headers, &id).unwrap_or_default());
    let Ok(code) = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M) else { return unavailable(&provider, lang) };
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(240, 240).quiet_zone(true).build();
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-store")], svg).into_response()
}

pub(super) async fn page(State(provider): ProviderState, PathParam(id): PathParam<String>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    render(&provider, &id, &headers, language(query.as_deref(), &headers), false).await
}

/// The page's companion-app view: the QR code and its payload, reloading itself (no scripts) until the
/// app has answered, then on to the RP.
pub(super) async fn app_page(State(provider): ProviderState, PathParam(id): PathParam<String>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    render(&provider, &id, &headers, language(query.as_deref(), &headers), true).await
}

async fn render(provider: &Provider, id: &str, headers: &HeaderMap, lang: Lang, app_view: bool) -> Response {
    let db = &provider.platform.db;
    // The companion app's answer, once given, takes the browser on to the RP.
    let pending = match authorization::collect(db, id, cookie(headers, id), OffsetDateTime::now_utc()).await {
        Ok(Ok(Collected::Code { redirect_uri, state, code })) => {
            return redirect(&redirect_uri, &[("code", &code.0), ("state", &state), ("iss", &provider.issuer)]);
        }
        Ok(Ok(Collected::Refused { redirect_uri, state, description })) => {
            return error_redirect(provider, &redirect_uri, Some(&state), &OAuthError::new(ErrorCode::AccessDenied, description));
        }
        Ok(Ok(Collected::Waiting(pending))) => pending,
        Ok(Err(problem)) => return unanswerable_page(provider, lang, problem),
        Err(_) => return unavailable(provider, lang),
    };
    let client_name = match clients::find(db, &pending.client_id).await {
        Ok(Some(c)) => c.client_name,
        _ => return unavailable(provider, lang),
    };
    let purpose = match pending.sign_transaction(db).await {
        Ok(signing) => signing.map(|s| s.purpose),
        Err(_) => return unavailable(provider, lang),
    };
    let secret = cookie(headers, id).unwrap_or_default();
    let jst = pending.expires_at.to_offset(jpki_profile::cert_profile::JST);
    let expires_at_text = jst.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] JST")).unwrap_or_default();
    let page = context! {
        client_name,
        scopes => pending.scopes.iter().map(Scope::as_str).collect::<Vec<_>>(),
        four_info => pending.scopes.iter().any(Scope::is_four_info),
        action => format!("{ISSUER_PATH}{ENDPOINTS}/auth/{id}"),
        csrf => authorization::csrf_token(secret, id),
        expires_at => crate::v1::rfc3339(pending.expires_at),
        expires_at_text,
        // The test-card substitute answers logins only (relying-party-apis.md: "for the
        // authentication API only"); a signature needs a key.
        persons => if purpose.is_some() || app_view { Vec::new() } else { sandbox_persons(provider).await },
        purpose,
        signature_key => pending.scopes.need_signature_key(),
        qr => format!("{ISSUER_PATH}{ENDPOINTS}/auth/{id}/qr.svg"),
        payload => app_payload(provider, id, secret),
                app_view,
    };
    let mut response = provider.pages.render(if app_view { "authorize_app.html" } else { "authorize.html" }, lang, StatusCode::OK, page);
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&page_csp(&pending.redirect_uri)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    // The app view reloads itself (no scripts) until the app has answered.
    if app_view {
        headers.insert(header::REFRESH, HeaderValue::from(POLL_SECONDS));
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
    if pending.sign_transaction_id.is_some() {
        return bad("a sign transaction is signed with a key: answer it with the companion app");
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
pub(super) struct LoginFailure {
    pub(super) reason: String,
    pub(super) description: String,
    pub(super) checks: Vec<(FeeCertKind, ProvisionMethod)>,
}

/// The check a verification made, as the fee table counts it.
fn check_of(kind: FeeCertKind, verification: &jpki_verify::Verification) -> Option<(FeeCertKind, ProvisionMethod)> {
    verification.revocation.as_ref().and_then(|r| r.method.provision()).map(|m| (kind, m))
}

fn certificate_name(role: KeyRole) -> &'static str {
    match role {
        KeyRole::Signature => "signature certificate",
        KeyRole::Authentication => "authentication certificate",
    }
}

/// A verification of the certificate of `role` carried to its end (the revocation lookup), valid or
/// the failure a login ends in.
pub(super) async fn concluded(
    provider: &Provider,
    role: KeyRole,
    progress: jpki_verify::Progress,
) -> Result<Result<jpki_verify::Verification, LoginFailure>, ()> {
    let verification = crate::v1::conclude(&provider.platform, progress).await.map_err(|_| ())?;
    Ok(match &verification.failure {
        None => Ok(verification),
        Some(failure) => Err(LoginFailure {
            reason: failure.code.as_str().to_owned(),
            description: format!("the {} is not valid ({}): {}", certificate_name(role), failure.code, failure.message),
            checks: check_of(FeeCertKind::from(role), &verification).into_iter().collect(),
        }),
    })
}

/// The revocation policy of a transaction: its tenant's, with the method `acr_values` asked for.
pub(super) async fn policy_of(provider: &Provider, pending: &Pending) -> Result<RevocationPolicy, ()> {
    let tenant = tenants::get(&provider.platform.db, &pending.tenant_id).await.map_err(|_| ())?.ok_or(())?;
    let mut policy = tenant.revocation.unwrap_or_default();
    if let Some(method) = pending.acr.revocation {
        policy.method = method;
    }
    Ok(policy)
}

/// The certificate of `role` of the person, verified under the transaction's revocation policy.
async fn verified(
    provider: &Provider,
    issuer: &jpki_issuer::Issuer,
    person_id: &str,
    role: KeyRole,
    policy: RevocationPolicy,
) -> Result<Result<jpki_verify::Verification, LoginFailure>, ()> {
    let Some(der) = issuer.current_certificate(person_id, role).await.map_err(|_| ())? else {
        let description = format!("the test person has no {} in use", certificate_name(role));
        return Ok(Err(LoginFailure { reason: "no_certificate".into(), description, checks: Vec::new() }));
    };
    let progress = provider.platform.verifier.verify_certificate_without_waiting(role.end_entity(), policy, &der, OffsetDateTime::now_utc());
    concluded(provider, role, progress).await
}

async fn picker_login(provider: &Provider, issuer: &jpki_issuer::Issuer, pending: &Pending, person_id: &str) -> Result<Result<Approval, LoginFailure>, ()> {
    let policy = policy_of(provider, pending).await?;
    let login = match verified(provider, issuer, person_id, KeyRole::Authentication, policy).await? {
        Ok(v) => v,
        Err(failure) => return Ok(Err(failure)),
    };
    let approval = login_approval(pending, &login, Authenticator::SandboxPicker)?;
    if pending.scopes.iter().any(Scope::is_four_info) {
        let signature = verified(provider, issuer, person_id, KeyRole::Signature, policy).await?;
        return with_signature(approval, &pending.scopes, signature);
    }
    Ok(Ok(approval))
}

/// The approval of a verified login, by `authenticator`: the pairwise subject of its authentication
/// certificate, its check and its serial.
pub(super) fn login_approval(pending: &Pending, login: &jpki_verify::Verification, authenticator: Authenticator) -> Result<Approval, ()> {
    let signer = login.signer.as_ref().ok_or(())?;
    Ok(Approval {
        subject: authorization::subject(&pending.tenant_id, &signer.issuer_name, &signer.certificate_serial),
        claims: Default::default(),
        authenticator,
        checks: check_of(FeeCertKind::Authentication, login).into_iter().collect(),
        certificate_serials: vec![signer.certificate_serial.clone()],
    })
}

/// `approval` with the signature certificate's part once it verified: the 4 info the scopes ask for,
/// its check and its serial; or the failure, metered with the checks made before it.
pub(super) fn with_signature(
    mut approval: Approval,
    scopes: &jpki_platform::oidc::scope::Scopes,
    signature: Result<jpki_verify::Verification, LoginFailure>,
) -> Result<Result<Approval, LoginFailure>, ()> {
    let signature = match signature {
        Ok(v) => v,
        Err(mut failure) => {
            failure.checks.splice(0..0, approval.checks);
            return Ok(Err(failure));
        }
    };
    let signer = signature.signer.as_ref().ok_or(())?;
    approval.claims = four_info_claims(scopes, signer.four_info.as_ref().ok_or(())?);
    approval.checks.extend(check_of(FeeCertKind::Signature, &signature));
    approval.certificate_serials.push(signer.certificate_serial.clone());
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
