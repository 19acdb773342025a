//! The wallet's side of OpenID for Verifiable Presentations 1.0 (the protocol objects are in
//! [`jpki_mdoc::openid4vp`]): authenticate the request, find out who the verifier is from its client
//! identifier prefix (§5.9.3) and request object, plan the disclosure with the holder, answer with a
//! `vp_token` bound to the request's transcript (Appendix B.2.6).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jpki_mdoc::mnc;
use jpki_mdoc::openid4vp::{verify_request_object, PresentationRequest, ResponseMode};
use jpki_mdoc::transcript::SessionTranscript;
use jpki_mdoc::trust::{san_dns_names, Roots};
use serde_json::{json, Value as Json};
use time::OffsetDateTime;

use crate::consent::{plan, Approval, DisclosurePlan, Requester};
use crate::{Phone, WalletError};

#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub request: PresentationRequest,
    pub state: Option<String>,
    pub requester: Requester,
}

fn bad(reason: impl Into<String>) -> WalletError {
    WalletError::Request(reason.into())
}

/// Parses and authenticates a request. `origin` is the browser-reported origin for `dc_api` requests.
pub fn parse_request(json: &str, origin: Option<&str>, roots: &Roots, at: OffsetDateTime) -> Result<AuthorizationRequest, WalletError> {
    let outer: Json = serde_json::from_str(json).map_err(|e| bad(format!("not JSON: {e}")))?;
    let outer = outer.as_object().ok_or_else(|| bad("the request must be a JSON object"))?;
    let (claims, signer) = match outer.get("request") {
        Some(Json::String(jws)) => {
            let (claims, signer) = verify_request_object(jws, roots, at).map_err(|e| match e {
                jpki_mdoc::MdocError::ReaderAuth(why) => WalletError::Verifier(why),
                other => other.into(),
            })?;
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
    let request = PresentationRequest::from_claims(&claims, origin)?;
    if let (ResponseMode::DcApi { origin }, Some(_)) = (&request.mode, &signer) {
        let expected = claims.get("expected_origins").and_then(Json::as_array);
        if expected.is_some_and(|list| !list.iter().any(|o| o.as_str() == Some(origin))) {
            return Err(WalletError::Verifier(format!("the request is not meant for {origin} (expected_origins)")));
        }
    }
    let mut requester = identify(request.client_id.as_deref(), &request.mode, signer)?;
    requester.on_behalf_of.clone_from(&request.client_name);
    let state = claims.get("state").and_then(Json::as_str).map(str::to_owned);
    Ok(AuthorizationRequest { request, state, requester })
}

fn certified(name: String, leaf: &jpki_mdoc::trust::ValidLeaf) -> Requester {
    Requester { name, authenticated: true, number_act: leaf.has_policy(mnc::NUMBER_ACT_VERIFIER_POLICY), organization: leaf.organization(), on_behalf_of: None }
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
            Ok(certified(id.to_owned(), &leaf))
        }
        (Some(id), None) => {
            let uri = id.strip_prefix("redirect_uri:").ok_or_else(|| bad(format!("unsigned requests must use a redirect_uri: client_id, not {id:?}")))?;
            match mode {
                ResponseMode::DirectPost { response_uri } if response_uri == uri => {}
                ResponseMode::DirectPost { .. } => return Err(bad("with a redirect_uri: client_id the response_uri must be that URI")),
                ResponseMode::DcApi { .. } => return Err(bad("redirect_uri: client ids cannot be used over the DC API")),
            }
            Ok(Requester::unauthenticated(id))
        }
        (None, signer) => match mode {
            ResponseMode::DcApi { origin } => Ok(match signer {
                Some(leaf) => certified(origin.clone(), &leaf),
                None => Requester::unauthenticated(origin.clone()),
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

impl AuthorizationRequest {
    pub fn transcript(&self) -> SessionTranscript {
        self.request.transcript()
    }

    pub fn plan(&self, phone: &Phone) -> Result<DisclosurePlan, WalletError> {
        plan(&phone.record, &self.request.credential.items, self.requester.clone())
    }

    /// The response body: `{"vp_token": {id: [base64url(DeviceResponse)]}, "state"?}`.
    pub fn respond(&self, phone: &Phone, plan: &DisclosurePlan, approval: &Approval) -> Result<Json, WalletError> {
        let approved = plan.approved(approval)?;
        let response = phone.respond(&approved, &self.transcript())?;
        let mut body = json!({ "vp_token": { self.request.credential.id.clone(): [URL_SAFE_NO_PAD.encode(response)] } });
        if let Some(state) = &self.state {
            body["state"] = Json::String(state.clone());
        }
        Ok(body)
    }
}
