//! The holder's consent: the wallet shows who asks for which elements, and discloses only what the
//! holder approves. The My Number (`individual_number_unicode`) may only be asked for by a verifier
//! whose certificate marks it as entitled under the Number Act (use case ①); a request from anyone
//! else is refused as a whole, before the holder is even asked.

use jpki_mdoc::document::IssuerSigned;
use jpki_mdoc::mnc;
use jpki_mdoc::request::ItemsRequest;
use serde::Serialize;

use crate::WalletError;

/// Who is asking, as far as the wallet could establish.
#[derive(Debug, Clone, Serialize)]
pub struct Requester {
    /// The client id, or the reader certificate's subject.
    pub name: String,
    /// Whether a certificate chaining to one of the phone's reader roots vouches for `name`.
    pub authenticated: bool,
    /// Whether that certificate marks the verifier as entitled under the Number Act.
    pub number_act: bool,
    /// The organization that certificate names (its subject's O).
    pub organization: Option<String>,
    /// Whom the verifier says it asks for (the request's `client_name`: a platform's tenant). A signed
    /// request vouches that the certified verifier said so, nothing more.
    pub on_behalf_of: Option<String>,
}

impl Requester {
    /// A requester known only by `name`, with no certificate.
    pub fn unauthenticated(name: impl Into<String>) -> Requester {
        Requester { name: name.into(), authenticated: false, number_act: false, organization: None, on_behalf_of: None }
    }
}

/// What the holder reads: who asks, through whom, and how far that is established, e.g. `Bank A, through
/// Example Platform (x509_san_dns:pf.example, certified)`.
impl std::fmt::Display for Requester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = if self.authenticated { "certified" } else { "NOT authenticated" };
        match (&self.on_behalf_of, &self.organization) {
            (Some(tenant), Some(org)) => write!(f, "{tenant}, through {org} ({}, {how})", self.name),
            (Some(tenant), None) => write!(f, "{tenant} ({}, {how})", self.name),
            (None, Some(org)) => write!(f, "{org} ({}, {how})", self.name),
            (None, None) => write!(f, "{} ({how})", self.name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// The element can be disclosed as issued.
    Available,
    /// An `age_over_NN` not issued, answered by the issued `age_over_NN'` (ISO/IEC 18013-5 §7.2.5).
    Substitute {
        identifier: String,
    },
    NotIssued,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedElement {
    pub namespace: String,
    pub identifier: String,
    pub intent_to_retain: bool,
    #[serde(flatten)]
    pub decision: Decision,
}

impl PlannedElement {
    /// `namespace/identifier`: how elements are named to the holder and on the command line.
    pub fn path(&self) -> String {
        format!("{}/{}", self.namespace, self.identifier)
    }

    /// The element as issued that answers this request, if any.
    fn issued(&self) -> Option<(String, String)> {
        match &self.decision {
            Decision::Available => Some((self.namespace.clone(), self.identifier.clone())),
            Decision::Substitute { identifier } => Some((self.namespace.clone(), identifier.clone())),
            Decision::NotIssued => None,
        }
    }
}

/// What the wallet shows the holder.
#[derive(Debug, Clone, Serialize)]
pub struct DisclosurePlan {
    pub requester: Requester,
    pub doc_type: String,
    pub elements: Vec<PlannedElement>,
}

/// The holder's answer.
#[derive(Debug, Clone)]
pub enum Approval {
    /// Everything available.
    All,
    /// Only these, named `namespace/identifier` or by identifier alone.
    Only(Vec<String>),
}

pub fn plan(record: &IssuerSigned, request: &ItemsRequest, requester: Requester) -> Result<DisclosurePlan, WalletError> {
    if let Some(e) = request.elements.iter().find(|e| mnc::requires_number_law(&e.namespace, &e.identifier)) {
        if !requester.number_act {
            return Err(WalletError::Verifier(format!(
                "{} asks for {} but is not certified as entitled under the Number Act; the request is refused",
                requester.name, e.identifier
            )));
        }
    }
    let issued = |ns: &str, id: &str| record.items().any(|(n, i)| n == ns && i.item.element_identifier == id);
    let issued_age_over: Vec<(u8, bool)> = record
        .items()
        .filter(|(ns, _)| *ns == mnc::NS_ISO)
        .filter_map(|(_, i)| Some((mnc::age_over_threshold(&i.item.element_identifier)?, i.item.element_value.as_bool()?)))
        .collect();
    let elements = request
        .elements
        .iter()
        .map(|e| {
            let decision = if request.doc_type != mnc::DOC_TYPE || !record_has_doc_type(record, &request.doc_type) {
                Decision::NotIssued
            } else if issued(&e.namespace, &e.identifier) {
                Decision::Available
            } else {
                match mnc::age_over_threshold(&e.identifier).filter(|_| e.namespace == mnc::NS_ISO) {
                    Some(nn) => mnc::age_over_answer(nn, &issued_age_over)
                        .map_or(Decision::NotIssued, |found| Decision::Substitute { identifier: mnc::age_over_identifier(found) }),
                    None => Decision::NotIssued,
                }
            };
            PlannedElement { namespace: e.namespace.clone(), identifier: e.identifier.clone(), intent_to_retain: e.intent_to_retain, decision }
        })
        .collect();
    Ok(DisclosurePlan { requester, doc_type: request.doc_type.clone(), elements })
}

fn record_has_doc_type(record: &IssuerSigned, doc_type: &str) -> bool {
    record.mso().is_ok_and(|m| m.doc_type == doc_type)
}

impl DisclosurePlan {
    /// The issued elements to disclose under `approval`; an approval naming an element that was not asked
    /// for, or cannot be disclosed, is an error (the holder meant something else).
    pub fn approved(&self, approval: &Approval) -> Result<Vec<(String, String)>, WalletError> {
        let chosen: Vec<&PlannedElement> = match approval {
            Approval::All => self.elements.iter().collect(),
            Approval::Only(names) => names
                .iter()
                .map(|name| {
                    self.elements
                        .iter()
                        .find(|e| e.path() == *name || e.identifier == *name)
                        .ok_or_else(|| WalletError::Request(format!("{name} was not requested")))
                })
                .collect::<Result<_, _>>()?,
        };
        let mut out: Vec<(String, String)> = chosen.iter().filter_map(|e| e.issued()).collect();
        out.dedup();
        if out.is_empty() {
            return Err(WalletError::NothingToDisclose);
        }
        Ok(out)
    }
}
