//! Web pages: today the landing page at `/` (what this server is and where its endpoints are), served
//! with a strict Content-Security-Policy: nothing but this server's own stylesheet, no scripts.

use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const LANDING: &str = include_str!("web/landing.html");
const SANDBOX: &str = include_str!("web/sandbox.html");
const CSS: &str = include_str!("web/site.css");
/// Only this server's stylesheet loads; no script, frame, form target or base URI.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `/` and its stylesheet; with `sandbox`, the page lists the sandbox issuer's endpoints too.
pub fn router(sandbox: bool) -> Router {
    let page = LANDING.replace("{{sandbox}}", if sandbox { SANDBOX } else { "" });
    Router::new()
        .route("/", get(move || async move { strict(Html(page).into_response()) }))
        .route("/static/site.css", get(|| async { strict(([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()) }))
}

fn strict(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
