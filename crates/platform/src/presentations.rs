//! Presentations of the card-substitute record (use cases ①–⑤ online, seed 002) for tenants: the
//! platform writes the OpenID4VP request a tenant hands to the holder's wallet, keeps it until it is
//! answered once or expires, and checks the answer against it.
//!
//! - Direct post: the wallet posts to the tenant's `response_uri`; the request is unsigned
//!   (`redirect_uri:` client id), so the wallet knows nothing more of the verifier than that URI.
//! - Digital Credentials API: the tenant's page passes the request to the browser, which returns the
//!   answer for the page's origin; the request is signed with the platform's reader certificate
//!   (`x509_san_dns:`), which the wallet shows the holder.
//!
//! The My Number can be asked for only by a tenant authorized under the Number Act, only in a signed
//! request, and only when the platform's reader certificate carries the Number Act mark: the wallet
//! refuses any other request for it, and the platform does not write one.

use jpki_crypto::EcKey;
use jpki_mdoc::mnc;
use jpki_mdoc::openid4vp::{new_nonce, CredentialQuery, PresentationRequest, ResponseMode};
use jpki_mdoc::request::{ItemsRequest, RequestedElement};
use jpki_store::{sqlx, Database};
use jpki_verify::presentation::PresentationVerifier;
use time::OffsetDateTime;

use crate::PlatformError;

/// How long a request can be answered.
pub const REQUEST_LIFETIME: time::Duration = time::Duration::minutes(10);
/// Most elements one request asks for.
pub const MAX_ELEMENTS: usize = 32;
/// The credential query id of the record in every request (`vp_token.mnc`).
pub const CREDENTIAL_ID: &str = "mnc";

/// The platform's reader certificate (ISO/IEC 18013-5 reader authentication), which signs requests.
pub struct ReaderCredential {
    pub key: EcKey,
    /// The reader certificate first, then any intermediates.
    pub chain: Vec<Vec<u8>>,
    /// The DNS name in its subjectAltName: the `x509_san_dns:` client id.
    pub dns_name: String,
    /// Whether it carries the Number Act mark ([`mnc::NUMBER_ACT_VERIFIER_POLICY`]).
    pub number_act: bool,
}

/// What the platform needs to ask for and check presentations.
pub struct MdocService {
    pub verifier: PresentationVerifier,
    pub reader: Option<ReaderCredential>,
}

/// Where the answer goes.
pub enum Destination {
    ResponseUri(String),
    Origin(String),
}

/// Why a request cannot be written.
#[derive(Debug, PartialEq, Eq)]
pub enum RequestRefusal {
    UnknownElement(String),
    NoElements,
    /// The tenant may not receive the My Number.
    NumberLawNotAuthorized,
    /// The My Number needs a signed request with a Number Act reader certificate.
    NumberActReaderRequired,
    /// A Digital Credentials API request needs the platform's reader certificate.
    NoReaderCertificate,
    BadDestination(String),
}

impl RequestRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            RequestRefusal::UnknownElement(_) | RequestRefusal::NoElements => "invalid_elements",
            RequestRefusal::NumberLawNotAuthorized => "number_law_not_authorized",
            RequestRefusal::NumberActReaderRequired => "number_act_reader_required",
            RequestRefusal::NoReaderCertificate => "no_reader_certificate",
            RequestRefusal::BadDestination(_) => "invalid_destination",
        }
    }

    pub fn message(&self) -> String {
        match self {
            RequestRefusal::UnknownElement(why) => why.clone(),
            RequestRefusal::NoElements => format!("ask for 1 to {MAX_ELEMENTS} elements"),
            RequestRefusal::NumberLawNotAuthorized => "this tenant is not authorized under the Number Act to receive the My Number".into(),
            RequestRefusal::NumberActReaderRequired => {
                "the My Number can only be asked for in a signed request (give origin) with a Number Act reader certificate".into()
            }
            RequestRefusal::NoReaderCertificate => "the platform has no reader certificate to sign Digital Credentials API requests".into(),
            RequestRefusal::BadDestination(why) => why.clone(),
        }
    }
}

/// An `https://` URL with a host (or, for development, `http://localhost` or `http://127.0.0.1`), with no
/// fragment; with `origin_only`, nothing after the authority.
fn web_url(value: &str, what: &str, origin_only: bool) -> Result<(), RequestRefusal> {
    let bad = |why: &str| RequestRefusal::BadDestination(format!("{what} {value:?}: {why}"));
    if value.len() > 2000 || value.chars().any(|c| c.is_control() || c.is_whitespace()) || value.contains('#') {
        return Err(bad("not a URL (too long, spaces, or a fragment)"));
    }
    let (secure, rest) = match (value.strip_prefix("https://"), value.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        _ => return Err(bad("must be https://")),
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if host.is_empty() || authority.contains('@') {
        return Err(bad("no host"));
    }
    if !secure && !["localhost", "127.0.0.1"].contains(&host) {
        return Err(bad("must be https:// (http:// only for localhost)"));
    }
    if origin_only && authority.len() != rest.len() {
        return Err(bad("an origin is scheme://host[:port], with no path"));
    }
    Ok(())
}

impl MdocService {
    /// The request for `elements` (each `namespace/element` or an element of the record), answered to
    /// `destination`; returns it with the authorization request to hand the wallet.
    pub fn new_request(
        &self,
        elements: &[String],
        destination: Destination,
        tenant: &crate::tenants::Tenant,
    ) -> Result<(PresentationRequest, serde_json::Value), RequestRefusal> {
        let (tenant_name, number_law_authorized) = (tenant.name.as_str(), tenant.number_law_authorized);
        if elements.is_empty() || elements.len() > MAX_ELEMENTS {
            return Err(RequestRefusal::NoElements);
        }
        let mut wanted: Vec<RequestedElement> = Vec::new();
        for name in elements {
            let (namespace, identifier) = mnc::element_path(name).map_err(RequestRefusal::UnknownElement)?;
            if !wanted.iter().any(|e| e.namespace == namespace && e.identifier == identifier) {
                wanted.push(RequestedElement { namespace: namespace.to_owned(), identifier, intent_to_retain: false });
            }
        }
        let asks_number = wanted.iter().any(|e| mnc::requires_number_law(&e.namespace, &e.identifier));
        if asks_number && !number_law_authorized {
            return Err(RequestRefusal::NumberLawNotAuthorized);
        }
        let credential = CredentialQuery { id: CREDENTIAL_ID.into(), items: ItemsRequest { doc_type: mnc::DOC_TYPE.into(), elements: wanted } };
        let (client_id, mode, signer) = match destination {
            Destination::ResponseUri(uri) => {
                web_url(&uri, "response_uri", false)?;
                if asks_number {
                    return Err(RequestRefusal::NumberActReaderRequired);
                }
                (Some(format!("redirect_uri:{uri}")), ResponseMode::DirectPost { response_uri: uri }, None)
            }
            Destination::Origin(origin) => {
                web_url(&origin, "origin", true)?;
                let reader = self.reader.as_ref().ok_or(RequestRefusal::NoReaderCertificate)?;
                if asks_number && !reader.number_act {
                    return Err(RequestRefusal::NumberActReaderRequired);
                }
                (Some(format!("x509_san_dns:{}", reader.dns_name)), ResponseMode::DcApi { origin }, Some((&reader.key, reader.chain.as_slice())))
            }
        };
        let request = PresentationRequest { client_id, client_name: Some(tenant_name.to_owned()), nonce: new_nonce(), mode, credential };
        let authorization =
            request.authorization_request(signer).map_err(|e| RequestRefusal::BadDestination(format!("the request could not be signed: {e}")))?;
        Ok((request, authorization))
    }
}

/// Stores a request for `tenant_id`; returns its id and expiry.
pub async fn store(
    db: &Database,
    tenant_id: &str,
    purpose: &str,
    request: &PresentationRequest,
    now: OffsetDateTime,
) -> Result<(String, OffsetDateTime), PlatformError> {
    let id = jpki_store::new_id("mdocreq");
    let expires_at = now + REQUEST_LIFETIME;
    let origin = match &request.mode {
        ResponseMode::DcApi { origin } => Some(origin.as_str()),
        ResponseMode::DirectPost { .. } => None,
    };
    sqlx::query("INSERT INTO mdoc_request (id, tenant_id, purpose, claims, origin, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&id)
        .bind(tenant_id)
        .bind(purpose)
        .bind(request.claims().to_string())
        .bind(origin)
        .bind(now.unix_timestamp())
        .bind(expires_at.unix_timestamp())
        .execute(db.pool())
        .await?;
    Ok((id, expires_at))
}

/// Why a stored request cannot be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestProblem {
    Unknown,
    Expired,
    Answered,
}

/// A stored request, taken for its one answer.
pub struct Outstanding {
    pub request: PresentationRequest,
    pub purpose: String,
}

/// Marks the request answered (whatever the outcome: one answer per request, so a response cannot be
/// replayed) and returns it. Atomic across processes: of two concurrent answers, one gets it.
pub async fn take(db: &Database, tenant_id: &str, id: &str, now: OffsetDateTime) -> Result<Result<Outstanding, RequestProblem>, PlatformError> {
    let taken = sqlx::query("UPDATE mdoc_request SET answered_at = $1 WHERE id = $2 AND tenant_id = $3 AND answered_at IS NULL AND expires_at >= $1")
        .bind(now.unix_timestamp())
        .bind(id)
        .bind(tenant_id)
        .execute(db.pool())
        .await?;
    let row: Option<(String, String, Option<String>, i64)> =
        sqlx::query_as("SELECT purpose, claims, origin, expires_at FROM mdoc_request WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(db.pool())
            .await?;
    Ok(match (taken.rows_affected(), row) {
        (1, Some((purpose, claims, origin, _))) => {
            let claims: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&claims).map_err(|e| PlatformError::Corrupt(format!("request {id}: {e}")))?;
            let request = PresentationRequest::from_claims(&claims, origin.as_deref()).map_err(|e| PlatformError::Corrupt(format!("request {id}: {e}")))?;
            Ok(Outstanding { request, purpose })
        }
        (_, None) => Err(RequestProblem::Unknown),
        (_, Some((_, _, _, expires_at))) if expires_at < now.unix_timestamp() => Err(RequestProblem::Expired),
        (_, Some(_)) => Err(RequestProblem::Answered),
    })
}
