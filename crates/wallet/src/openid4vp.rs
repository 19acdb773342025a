//! OpenID for Verifiable Presentations 1.0 (https://openid.net/specs/openid-4-verifiable-presentations-1_0.html)
//! for the `mso_mdoc` format, wallet side:
//! - §5: the authorization request, `response_type=vp_token`, `nonce`, a DCQL query (§6);
//! - §5.9: client identifier prefixes: `redirect_uri:` (unsigned; the response goes back to that very
//!   URI) and `x509_san_dns:` (a signed request object whose x5c leaf names the DNS name, §5.9.3);
//! - §8.2: `direct_post`: the wallet POSTs `vp_token` to `response_uri`; Appendix A.2: the DC API form
//!   (`response_mode=dc_api`), where the browser supplies the origin;
//! - Appendix B.2.6: the mdoc SessionTranscript binds client_id (or origin), nonce and response_uri.
//! The request object is a JWS (RFC 7515) signed ES256 with `x5c` (RFC 7515 §4.1.6).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use der::Decode;
use jpki_mdoc::mnc;
use jpki_mdoc::request::{ItemsRequest, RequestedElement};
use jpki_mdoc::transcript::SessionTranscript;
use jpki_mdoc::trust::{validate_leaf, Roots, EKU_MDL_READER_AUTH};
use serde_json::{json, Map, Value as Json};
use time::OffsetDateTime;
use x509_cert::ext::pkix::name::GeneralName;

use crate::consent::{plan, Approval, DisclosurePlan, Requester};
use crate::{Phone, WalletError};

/// How the response travels, and so what the transcript binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseMode {
    /// POST to `response_uri`.
    DirectPost { response_uri: String },
    /// Returned to the browser through the Digital Credentials API, for `origin`.
    DcApi { origin: String },
}

#[derive(Debug, Clone)]
pub struct CredentialQuery {
    pub id: String,
    pub items: ItemsRequest,
}

#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client_id: Option<String>,
    pub nonce: String,
    pub state: Option<String>,
    pub mode: ResponseMode,
    pub credential: CredentialQuery,
    pub requester: Requester,
}

fn bad(reason: impl Into<String>) -> WalletError {
    WalletError::Request(reason.into())
}

fn string<'a>(obj: &'a Map<String, Json>, key: &str) -> Result<&'a str, WalletError> {
    obj.get(key).and_then(Json::as_str).ok_or_else(|| bad(format!("{key} is missing or not a string")))
}

/// Parses and authenticates a request. `origin` is the browser-reported origin for `dc_api` requests.
pub fn parse_request(json: &str, origin: Option<&str>, roots: &Roots, at: OffsetDateTime) -> Result<AuthorizationRequest, WalletError> {
    let outer: Json = serde_json::from_str(json).map_err(|e| bad(format!("not JSON: {e}")))?;
    let outer = outer.as_object().ok_or_else(|| bad("the request must be a JSON object"))?;
    let (claims, signer) = match outer.get("request") {
        Some(Json::String(jws)) => {
            let (claims, signer) = verify_request_object(jws, roots, at)?;
            if let (Some(a), Some(b)) = (outer.get("client_id"), claims.get("client_id")) {
                if a != b {
                    return Err(bad("client_id outside the request object differs from the one inside"));
                }
            }
            (claims, Some(signer))
        }
        Some(_) => return Err(bad("request must be a compact JWS string")),
        None => (outer.clone(), None),
    };
    if string(&claims, "response_type")? != "vp_token" {
        return Err(bad("response_type must be vp_token"));
    }
    let nonce = string(&claims, "nonce")?.to_owned();
    if nonce.len() < 16 {
        return Err(bad("nonce must carry enough entropy (16 characters at least)"));
    }
    let client_id = claims.get("client_id").and_then(Json::as_str).map(str::to_owned);
    let mode = match claims.get("response_mode").and_then(Json::as_str).unwrap_or("fragment") {
        "direct_post" => ResponseMode::DirectPost { response_uri: string(&claims, "response_uri")?.to_owned() },
        "dc_api" => ResponseMode::DcApi { origin: origin.ok_or_else(|| bad("a dc_api request needs the caller's origin"))?.to_owned() },
        other => return Err(bad(format!("response_mode {other:?} is not supported (direct_post, dc_api)"))),
    };
    let requester = identify(client_id.as_deref(), &mode, signer)?;
    let credential = dcql_credential(claims.get("dcql_query").ok_or_else(|| bad("dcql_query is missing"))?)?;
    let state = claims.get("state").and_then(Json::as_str).map(str::to_owned);
    Ok(AuthorizationRequest { client_id, nonce, state, mode, credential, requester })
}

/// Who the verifier is, from its client identifier prefix (§5.9.3) and the request's signer.
fn identify(client_id: Option<&str>, mode: &ResponseMode, signer: Option<jpki_mdoc::trust::ValidLeaf>) -> Result<Requester, WalletError> {
    match (client_id, signer) {
        (Some(id), Some(leaf)) => {
            let dns = id.strip_prefix("x509_san_dns:").ok_or_else(|| bad(format!("a signed request's client_id must be x509_san_dns:, not {id:?}")))?;
            if !san_dns_names(&leaf.certificate).iter().any(|n| n.eq_ignore_ascii_case(dns)) {
                return Err(WalletError::Verifier(format!("the request's certificate does not name {dns}")));
            }
            if let ResponseMode::DirectPost { response_uri } = mode {
                if host_of(response_uri) != Some(dns.to_ascii_lowercase()) {
                    return Err(WalletError::Verifier(format!("response_uri {response_uri} is not on {dns}")));
                }
            }
            Ok(Requester { name: id.to_owned(), authenticated: true, number_act: leaf.has_policy(mnc::NUMBER_ACT_VERIFIER_POLICY) })
        }
        (Some(id), None) => {
            let uri = id.strip_prefix("redirect_uri:").ok_or_else(|| bad(format!("unsigned requests must use a redirect_uri: client_id, not {id:?}")))?;
            match mode {
                ResponseMode::DirectPost { response_uri } if response_uri == uri => {}
                ResponseMode::DirectPost { .. } => return Err(bad("with a redirect_uri: client_id the response_uri must be that URI")),
                ResponseMode::DcApi { .. } => return Err(bad("redirect_uri: client ids cannot be used over the DC API")),
            }
            Ok(Requester { name: id.to_owned(), authenticated: false, number_act: false })
        }
        (None, signer) => match mode {
            ResponseMode::DcApi { origin } => Ok(Requester {
                name: origin.clone(),
                authenticated: signer.is_some(),
                number_act: signer.is_some_and(|l| l.has_policy(mnc::NUMBER_ACT_VERIFIER_POLICY)),
            }),
            ResponseMode::DirectPost { .. } => Err(bad("client_id is missing")),
        },
    }
}

fn host_of(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("https://").or_else(|| uri.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(authority.rsplit_once(':').map_or(authority, |(h, _)| h).to_ascii_lowercase())
}

fn san_dns_names(cert: &x509_cert::Certificate) -> Vec<String> {
    let Some(ext) = cert.tbs_certificate.extensions.as_deref().unwrap_or_default().iter().find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME) else {
        return vec![];
    };
    x509_cert::ext::pkix::SubjectAltName::from_der(ext.extn_value.as_bytes())
        .map(|san| san.0.iter().filter_map(|n| if let GeneralName::DnsName(d) = n { Some(d.to_string()) } else { None }).collect())
        .unwrap_or_default()
}

/// Verifies a compact JWS request object signed ES256 with an `x5c` chaining to `roots`.
fn verify_request_object(jws: &str, roots: &Roots, at: OffsetDateTime) -> Result<(Map<String, Json>, jpki_mdoc::trust::ValidLeaf), WalletError> {
    let parts: Vec<&str> = jws.split('.').collect();
    let [header_b64, payload_b64, sig_b64] = parts[..] else { return Err(bad("the request object is not a compact JWS")) };
    let decode = |s: &str, what: &str| URL_SAFE_NO_PAD.decode(s).map_err(|e| bad(format!("request object {what} is not base64url: {e}")));
    let header: Json = serde_json::from_slice(&decode(header_b64, "header")?).map_err(|e| bad(format!("request object header: {e}")))?;
    if header.get("alg").and_then(Json::as_str) != Some("ES256") {
        return Err(bad("the request object must be signed ES256"));
    }
    let chain = header
        .get("x5c")
        .and_then(Json::as_array)
        .ok_or_else(|| bad("the request object has no x5c"))?
        .iter()
        .map(|c| c.as_str().and_then(|s| STANDARD.decode(s).ok()).ok_or_else(|| bad("x5c entries must be base64 DER")))
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = validate_leaf(&chain, roots, at, EKU_MDL_READER_AUTH).map_err(|e| WalletError::Verifier(e.to_string()))?;
    let signed = format!("{header_b64}.{payload_b64}");
    let sig = decode(sig_b64, "signature")?;
    if !jpki_crypto::ec::verify_ecdsa(leaf.key.curve.cose_scheme(), jpki_crypto::SignatureEncoding::Fixed, &leaf.key.point, signed.as_bytes(), &sig) {
        return Err(WalletError::Verifier("the request object's signature does not verify".into()));
    }
    let claims: Json = serde_json::from_slice(&decode(payload_b64, "payload")?).map_err(|e| bad(format!("request object payload: {e}")))?;
    match claims {
        Json::Object(map) => Ok((map, leaf)),
        _ => Err(bad("the request object payload must be a JSON object")),
    }
}

/// Signs request claims as a JWS request object (the verifier's side of [`verify_request_object`]).
pub fn sign_request_object(claims: &Json, key: &jpki_crypto::EcKey, chain: &[Vec<u8>]) -> Result<String, WalletError> {
    let header = json!({"alg": "ES256", "typ": "oauth-authz-req+jwt", "x5c": chain.iter().map(|c| STANDARD.encode(c)).collect::<Vec<_>>()});
    let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = key.sign_fixed(signed.as_bytes()).map_err(|e| WalletError::Verifier(e.to_string()))?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// The one `mso_mdoc` credential query of a DCQL query (§6).
pub fn dcql_credential(query: &Json) -> Result<CredentialQuery, WalletError> {
    let creds = query.get("credentials").and_then(Json::as_array).ok_or_else(|| bad("dcql_query.credentials must be an array"))?;
    let cred = creds
        .iter()
        .find(|c| c.get("format").and_then(Json::as_str) == Some("mso_mdoc"))
        .ok_or_else(|| bad("dcql_query asks for no mso_mdoc credential"))?;
    let id = cred.get("id").and_then(Json::as_str).ok_or_else(|| bad("credential query id is missing"))?;
    let doc_type = cred
        .pointer("/meta/doctype_value")
        .and_then(Json::as_str)
        .ok_or_else(|| bad("mso_mdoc credential query needs meta.doctype_value"))?;
    let claims = cred.get("claims").and_then(Json::as_array).ok_or_else(|| bad("credential query claims must be an array"))?;
    let elements = claims
        .iter()
        .map(|c| {
            let path = c.get("path").and_then(Json::as_array).ok_or_else(|| bad("claim path must be an array"))?;
            let [ns, id] = &path[..] else { return Err(bad("an mso_mdoc claim path is [namespace, element]")) };
            Ok(RequestedElement {
                namespace: ns.as_str().ok_or_else(|| bad("namespace must be a string"))?.to_owned(),
                identifier: id.as_str().ok_or_else(|| bad("element must be a string"))?.to_owned(),
                intent_to_retain: c.get("intent_to_retain").and_then(Json::as_bool).unwrap_or(false),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if elements.is_empty() {
        return Err(bad("the credential query asks for no claim"));
    }
    Ok(CredentialQuery { id: id.to_owned(), items: ItemsRequest { doc_type: doc_type.to_owned(), elements } })
}

impl AuthorizationRequest {
    pub fn transcript(&self) -> SessionTranscript {
        match &self.mode {
            ResponseMode::DirectPost { response_uri } => {
                SessionTranscript::openid4vp(self.client_id.as_deref().unwrap_or_default(), &self.nonce, None, response_uri)
            }
            ResponseMode::DcApi { origin } => SessionTranscript::dc_api(origin, &self.nonce, None),
        }
    }

    pub fn plan(&self, phone: &Phone) -> Result<DisclosurePlan, WalletError> {
        plan(&phone.record, &self.credential.items, self.requester.clone())
    }

    /// The response body: `{"vp_token": {id: [base64url(DeviceResponse)]}, "state"?}`.
    pub fn respond(&self, phone: &Phone, plan: &DisclosurePlan, approval: &Approval) -> Result<Json, WalletError> {
        let approved = plan.approved(approval)?;
        let response = phone.respond(&approved, &self.transcript())?;
        let mut body = json!({ "vp_token": { self.credential.id.clone(): [URL_SAFE_NO_PAD.encode(response)] } });
        if let Some(state) = &self.state {
            body["state"] = Json::String(state.clone());
        }
        Ok(body)
    }
}
