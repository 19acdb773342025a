//! Web pages, in Japanese and English (`?lang=` or `Accept-Language`, with a switch on every page):
//! the landing page at `/` (what this server is and where its endpoints are) and the OpenID Connect
//! provider's pages ([`crate::oidc`]). Templates are minijinja with HTML auto-escaping; every page is
//! served with a strict Content-Security-Policy: nothing but this server's own stylesheet, no scripts,
//! forms posting only where the page says.

mod strings;

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use minijinja::{context, Environment, Value};

pub use strings::Lang;

const CSS: &str = include_str!("site.css");
/// Only this server's stylesheet loads; no script, frame, form target or base URI.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page templates, and whether this server runs the sandbox.
pub struct Pages {
    templates: Environment<'static>,
    pub sandbox: bool,
}

const TEMPLATES: [(&str, &str); 6] = [
    ("base.html", include_str!("base.html")),
    ("landing.html", include_str!("landing.html")),
    ("authorize.html", include_str!("authorize.html")),
    ("authorize_app.html", include_str!("authorize_app.html")),
    ("oidc_error.html", include_str!("oidc_error.html")),
    ("signed_out.html", include_str!("signed_out.html")),
];

impl Pages {
    pub fn new(sandbox: bool) -> Arc<Pages> {
        let mut templates = Environment::new();
        for (name, source) in TEMPLATES {
            templates.add_template(name, source).expect("the page templates parse");
        }
        Arc::new(Pages { templates, sandbox })
    }

    /// `template` in `lang`, with `page` (the page's own values) beside the strings, served with
    /// `status` and the strict [`CSP`].
    pub fn render(&self, template: &str, lang: Lang, status: StatusCode, page: Value) -> Response {
        let languages: Vec<_> = Lang::ALL.iter().map(|l| context! { code => l.code(), name => l.name() }).collect();
        let rendered = self
            .templates
            .get_template(template)
            .and_then(|t| t.render(context! { lang => lang.code(), t => lang.strings(), languages, sandbox => self.sandbox, page }));
        match rendered {
            Ok(html) => {
                let mut response = strict((status, Html(html)).into_response());
                response.headers_mut().insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang.code()));
                response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept-Language"));
                // A page may show personal data or a form token: never kept by a cache.
                response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            Err(e) => {
                tracing::error!("page {template}: {e}");
                strict((StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response())
            }
        }
    }
}

/// `/` and its stylesheet; with `sandbox`, the page lists the sandbox issuer's endpoints too.
pub fn router(pages: Arc<Pages>) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/static/site.css", get(|| async { strict(([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()) }))
        .with_state(pages)
}

/// The language asked for by `?lang=` and `Accept-Language`.
pub fn language(query: Option<&str>, headers: &HeaderMap) -> Lang {
    let asked = query.and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("lang=")));
    Lang::negotiate(asked, headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()))
}

async fn landing(State(pages): State<Arc<Pages>>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    pages.render("landing.html", language(query.as_deref(), &headers), StatusCode::OK, Value::UNDEFINED)
}

/// `response` with the security headers every page has.
pub fn strict(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
