//! OpenID for Verifiable Presentations 1.0 (https://openid.net/specs/openid-4-verifiable-presentations-1_0.html)
//! for the `mso_mdoc` format: what the verifier writes and the wallet reads, and how the answer comes back.
//! - §5: the authorization request, `response_type=vp_token`, `nonce`, a DCQL query (§6);
//! - §5.9.3: client identifier prefixes `redirect_uri:` (unsigned) and `x509_san_dns:` (a signed request
//!   object whose x5c leaf names the DNS name);
//! - §8.1: `vp_token` is a JSON object from credential query ids to arrays of presentations;
//! - §8.2: `direct_post` to `response_uri`; Appendix A.2: the Digital Credentials API form (`dc_api`),
//!   where the browser supplies the origin and a signed request lists `expected_origins`;
//! - Appendix B.2.6: the mdoc SessionTranscript binds client_id (or origin), nonce and response_uri.
//!
//! The request object is a JWS (RFC 7515) signed ES256 with `x5c` (RFC 7515 §4.1.6).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jpki_crypto::EcKey;
use serde_json::{json, Map, Value as Json};
use time::OffsetDateTime;

use crate::request::{ItemsRequest, RequestedElement};
use crate::transcript::SessionTranscript;
use crate::trust::{validate_leaf, Roots, ValidLeaf, EKU_MDL_READER_AUTH};
use crate::MdocError;

/// The shortest nonce a wallet accepts (§5.2: enough entropy to prevent replay).
pub const MIN_NONCE_LEN: usize = 16;

fn bad(reason: impl Into<String>) -> MdocError {
    MdocError::Malformed { what: "authorization request", reason: reason.into() }
}

/// A fresh nonce: 32 random bytes, base64url.
pub fn new_nonce() -> String {
    URL_SAFE_NO_PAD.encode(jpki_crypto::random_bytes::<32>())
}

/// How the response travels, and so what the transcript binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseMode {
    /// POST to `response_uri`.
    DirectPost { response_uri: String },
    /// Returned to the page through the Digital Credentials API, for `origin`.
    DcApi { origin: String },
}

/// The one `mso_mdoc` credential query of a DCQL query (§6).
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialQuery {
    pub id: String,
    pub items: ItemsRequest,
}

impl CredentialQuery {
    pub fn from_dcql(query: &Json) -> Result<CredentialQuery, MdocError> {
        let creds = query.get("credentials").and_then(Json::as_array).ok_or_else(|| bad("dcql_query.credentials must be an array"))?;
        let cred = creds
            .iter()
            .find(|c| c.get("format").and_then(Json::as_str) == Some("mso_mdoc"))
            .ok_or_else(|| bad("dcql_query asks for no mso_mdoc credential"))?;
        let id = cred.get("id").and_then(Json::as_str).ok_or_else(|| bad("credential query id is missing"))?;
        let doc_type = cred.pointer("/meta/doctype_value").and_then(Json::as_str).ok_or_else(|| bad("mso_mdoc credential query needs meta.doctype_value"))?;
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

    pub fn to_dcql(&self) -> Json {
        let claims: Vec<Json> =
            self.items.elements.iter().map(|e| json!({ "path": [e.namespace, e.identifier], "intent_to_retain": e.intent_to_retain })).collect();
        json!({ "credentials": [{ "id": self.id, "format": "mso_mdoc", "meta": { "doctype_value": self.items.doc_type }, "claims": claims }] })
    }
}

/// A request as its verifier made it: everything needed to write it and to check the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct PresentationRequest {
    /// With its prefix; `None` only for unsigned `dc_api` requests (Appendix A.2).
    pub client_id: Option<String>,
    /// The verifier's name for the holder to read (§5.1 `client_metadata`, RFC 7591 §2 `client_name`): on
    /// a platform, the tenant it asks for. Covered by the signature of a signed request.
    pub client_name: Option<String>,
    pub nonce: String,
    pub mode: ResponseMode,
    pub credential: CredentialQuery,
}

/// The longest `client_name` a holder is shown.
pub const MAX_CLIENT_NAME: usize = 100;

fn client_name_ok(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= MAX_CLIENT_NAME && !name.chars().any(char::is_control)
}

impl PresentationRequest {
    /// The SessionTranscript a response to this request is made under (Appendix B.2.6).
    pub fn transcript(&self) -> SessionTranscript {
        match &self.mode {
            ResponseMode::DirectPost { response_uri } => {
                SessionTranscript::openid4vp(self.client_id.as_deref().unwrap_or_default(), &self.nonce, None, response_uri)
            }
            ResponseMode::DcApi { origin } => SessionTranscript::dc_api(origin, &self.nonce, None),
        }
    }

    /// The request parameters (§5.1), as they appear unsigned or inside a request object.
    pub fn claims(&self) -> Json {
        let mut claims = json!({ "response_type": "vp_token", "nonce": self.nonce, "dcql_query": self.credential.to_dcql() });
        if let Some(id) = &self.client_id {
            claims["client_id"] = json!(id);
        }
        if let Some(name) = &self.client_name {
            claims["client_metadata"] = json!({ "client_name": name });
        }
        match &self.mode {
            ResponseMode::DirectPost { response_uri } => {
                claims["response_mode"] = json!("direct_post");
                claims["response_uri"] = json!(response_uri);
            }
            ResponseMode::DcApi { origin } => {
                claims["response_mode"] = json!("dc_api");
                if self.client_id.is_some() {
                    claims["expected_origins"] = json!([origin]);
                }
            }
        }
        claims
    }

    /// The authorization request to hand the wallet: the claims as they are, or, with a reader key and
    /// its chain, `{"client_id", "request": <JWS>}`.
    pub fn authorization_request(&self, signer: Option<(&EcKey, &[Vec<u8>])>) -> Result<Json, MdocError> {
        match signer {
            None => Ok(self.claims()),
            Some((key, chain)) => {
                let jws = sign_request_object(&self.claims(), key, chain)?;
                let mut outer = json!({ "request": jws });
                if let Some(id) = &self.client_id {
                    outer["client_id"] = json!(id);
                }
                Ok(outer)
            }
        }
    }

    /// Reads a request back (as written by [`authorization_request`](Self::authorization_request)); the
    /// request object's signature is not checked: this is the verifier reading its own request.
    /// `origin` is the page's origin for `dc_api` requests.
    pub fn from_own_request(request: &Json, origin: Option<&str>) -> Result<PresentationRequest, MdocError> {
        let claims = match request.get("request") {
            Some(Json::String(jws)) => {
                let payload = jws.split('.').nth(1).ok_or_else(|| bad("the request object is not a compact JWS"))?;
                let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|e| bad(format!("request object payload is not base64url: {e}")))?;
                serde_json::from_slice(&bytes).map_err(|e| bad(format!("request object payload: {e}")))?
            }
            Some(_) => return Err(bad("request must be a compact JWS string")),
            None => request.clone(),
        };
        let claims = claims.as_object().ok_or_else(|| bad("the request must be a JSON object"))?;
        Self::from_claims(claims, origin)
    }

    /// The request from its claims (§5.1); `origin` is the caller's origin for `dc_api` requests.
    pub fn from_claims(claims: &Map<String, Json>, origin: Option<&str>) -> Result<PresentationRequest, MdocError> {
        let string = |key: &str| claims.get(key).and_then(Json::as_str).ok_or_else(|| bad(format!("{key} is missing or not a string")));
        if string("response_type")? != "vp_token" {
            return Err(bad("response_type must be vp_token"));
        }
        let nonce = string("nonce")?.to_owned();
        if nonce.len() < MIN_NONCE_LEN {
            return Err(bad(format!("nonce must carry enough entropy ({MIN_NONCE_LEN} characters at least)")));
        }
        let mode = match claims.get("response_mode").and_then(Json::as_str).unwrap_or("fragment") {
            "direct_post" => ResponseMode::DirectPost { response_uri: string("response_uri")?.to_owned() },
            "dc_api" => ResponseMode::DcApi { origin: origin.ok_or_else(|| bad("a dc_api request needs the caller's origin"))?.to_owned() },
            other => return Err(bad(format!("response_mode {other:?} is not supported (direct_post, dc_api)"))),
        };
        let credential = CredentialQuery::from_dcql(claims.get("dcql_query").ok_or_else(|| bad("dcql_query is missing"))?)?;
        let client_id = claims.get("client_id").and_then(Json::as_str).map(str::to_owned);
        let client_name = match claims.get("client_metadata").map(|m| m.get("client_name")) {
            None | Some(None) => None,
            Some(Some(Json::String(name))) if client_name_ok(name) => Some(name.clone()),
            Some(Some(_)) => return Err(bad(format!("client_metadata.client_name must be 1 to {MAX_CLIENT_NAME} printable characters"))),
        };
        Ok(PresentationRequest { client_id, client_name, nonce, mode, credential })
    }

    /// The DeviceResponse the wallet sent for this request's credential query, from the response body
    /// (`{"vp_token": {id: [base64url]}}`, §8.1).
    pub fn device_response(&self, body: &Json) -> Result<Vec<u8>, MdocError> {
        let missing = |reason: String| MdocError::Malformed { what: "vp_token", reason };
        let token = body.get("vp_token").ok_or_else(|| missing("the response has no vp_token".into()))?;
        let presentation = match token.get(&self.credential.id) {
            Some(Json::Array(list)) if list.len() == 1 => list[0].as_str(),
            Some(Json::Array(list)) => return Err(missing(format!("{} presentations for {:?}; one was asked", list.len(), self.credential.id))),
            _ => None,
        }
        .ok_or_else(|| missing(format!("vp_token.{} must be an array of one base64url string", self.credential.id)))?;
        URL_SAFE_NO_PAD.decode(presentation.trim_end_matches('=')).map_err(|e| missing(format!("the presentation is not base64url: {e}")))
    }
}

/// Signs request claims as a JWS request object (`typ: oauth-authz-req+jwt`, RFC 9101).
pub fn sign_request_object(claims: &Json, key: &EcKey, chain: &[Vec<u8>]) -> Result<String, MdocError> {
    let header = json!({"alg": "ES256", "typ": "oauth-authz-req+jwt", "x5c": chain.iter().map(|c| STANDARD.encode(c)).collect::<Vec<_>>()});
    let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = key.sign_fixed(signed.as_bytes()).map_err(|e| MdocError::ReaderAuth(e.to_string()))?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// Verifies a compact JWS request object signed ES256 with an `x5c` chaining to `roots` (reader
/// certificates); returns its claims and the signer.
pub fn verify_request_object(jws: &str, roots: &Roots, at: OffsetDateTime) -> Result<(Map<String, Json>, ValidLeaf), MdocError> {
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
    let leaf = validate_leaf(&chain, roots, at, EKU_MDL_READER_AUTH).map_err(|e| MdocError::ReaderAuth(e.to_string()))?;
    let signed = format!("{header_b64}.{payload_b64}");
    let sig = decode(sig_b64, "signature")?;
    if !jpki_crypto::ec::verify_ecdsa(leaf.key.curve.cose_scheme(), jpki_crypto::SignatureEncoding::Fixed, &leaf.key.point, signed.as_bytes(), &sig) {
        return Err(MdocError::ReaderAuth("the request object's signature does not verify".into()));
    }
    let claims: Json = serde_json::from_slice(&decode(payload_b64, "payload")?).map_err(|e| bad(format!("request object payload: {e}")))?;
    match claims {
        Json::Object(map) => Ok((map, leaf)),
        _ => Err(bad("the request object payload must be a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mnc;

    fn request(mode: ResponseMode, client_id: Option<&str>) -> PresentationRequest {
        let items = ItemsRequest {
            doc_type: mnc::DOC_TYPE.into(),
            elements: vec![RequestedElement { namespace: mnc::NS_ISO.into(), identifier: "age_over_20".into(), intent_to_retain: false }],
        };
        let credential = CredentialQuery { id: "mnc".into(), items };
        PresentationRequest { client_id: client_id.map(str::to_owned), client_name: Some("Bank A".into()), nonce: new_nonce(), mode, credential }
    }

    #[test]
    fn a_request_reads_back_as_written() {
        let uri = "https://rp.example/cb";
        let direct = request(ResponseMode::DirectPost { response_uri: uri.into() }, Some(&format!("redirect_uri:{uri}")));
        let json = direct.authorization_request(None).unwrap();
        assert_eq!(PresentationRequest::from_own_request(&json, None).unwrap(), direct);

        let key = EcKey::generate_p256().unwrap();
        let dc = request(ResponseMode::DcApi { origin: "https://rp.example".into() }, Some("x509_san_dns:rp.example"));
        let chain: Vec<Vec<u8>> = vec![];
        let json = dc.authorization_request(Some((&key, chain.as_slice()))).unwrap();
        assert_eq!(json["client_id"], "x509_san_dns:rp.example");
        assert_eq!(PresentationRequest::from_own_request(&json, Some("https://rp.example")).unwrap(), dc);
        assert!(PresentationRequest::from_own_request(&json, None).is_err(), "dc_api needs the origin");
    }

    #[test]
    fn malformed_requests_are_refused_for_what_is_wrong() {
        let good = request(ResponseMode::DirectPost { response_uri: "https://rp.example/cb".into() }, Some("redirect_uri:https://rp.example/cb")).claims();
        let with = |key: &str, value: Json| {
            let mut c = good.clone();
            c[key] = value;
            c
        };
        let cases = [
            (json!([]), "JSON object"),
            (json!({ "request": 7 }), "compact JWS"),
            (json!({ "request": "a.b" }), "base64url"),
            (with("response_type", json!("code")), "response_type"),
            (with("nonce", json!("short")), "nonce"),
            (with("response_mode", json!("query")), "not supported"),
            (with("response_mode", json!("dc_api")), "origin"),
            (with("dcql_query", json!({ "credentials": [] })), "no mso_mdoc"),
            (with("dcql_query", json!({ "credentials": [{ "id": "x", "format": "mso_mdoc", "meta": {}, "claims": [] }] })), "doctype_value"),
            (
                with(
                    "dcql_query",
                    json!({ "credentials": [{ "id": "x", "format": "mso_mdoc", "meta": { "doctype_value": "d" }, "claims": [{ "path": ["only-one"] }] }] }),
                ),
                "[namespace, element]",
            ),
            (with("dcql_query", json!({ "credentials": [{ "id": "x", "format": "mso_mdoc", "meta": { "doctype_value": "d" }, "claims": [] }] })), "no claim"),
            (with("client_metadata", json!({ "client_name": "Bank\u{1b}[2J A" })), "client_name"),
            (with("client_metadata", json!({ "client_name": "x".repeat(MAX_CLIENT_NAME + 1) })), "client_name"),
            (with("client_metadata", json!({ "client_name": 5 })), "client_name"),
        ];
        for (json, why) in cases {
            let err = PresentationRequest::from_own_request(&json, None).unwrap_err();
            assert!(matches!(err, MdocError::Malformed { .. }) && err.to_string().contains(why), "{json} → {err}");
        }
        for jws in ["", "a.b", "e30.e30.AA", "eyJhbGciOiJub25lIn0.e30.AA"] {
            assert!(verify_request_object(jws, &Roots::default(), OffsetDateTime::UNIX_EPOCH).is_err(), "{jws}");
        }
    }

    #[test]
    fn the_vp_token_must_hold_one_presentation_for_the_query() {
        let r = request(ResponseMode::DcApi { origin: "https://rp.example".into() }, None);
        assert_eq!(r.device_response(&json!({ "vp_token": { "mnc": ["AQID"] } })).unwrap(), vec![1, 2, 3]);
        for body in [
            json!({}),
            json!({ "vp_token": { "other": ["AQID"] } }),
            json!({ "vp_token": { "mnc": ["AQID", "AQID"] } }),
            json!({ "vp_token": { "mnc": [7] } }),
            json!({ "vp_token": { "mnc": ["@@"] } }),
        ] {
            assert!(matches!(r.device_response(&body), Err(MdocError::Malformed { what: "vp_token", .. })), "{body}");
        }
    }
}
