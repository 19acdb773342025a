//! The verifier's checks of a DeviceResponse (ISO/IEC 18013-5 §9.3.1), in the standard's order:
//! 1. the document signer certificate chains to a configured IACA and is valid now;
//! 2. the issuer's signature over the MSO verifies with it;
//! 3. the MSO's document type is the document's (and the one expected), and it is valid now;
//! 4. every disclosed element matches its digest;
//! 5. the device signature or MAC verifies over the verifier's own session transcript;
//! 6. nothing was disclosed that was not asked for.
//!
//! The record's revocation status (the MSO's `status`) is checked by the caller, who can fetch.

use jpki_crypto::EcKey;
use time::OffsetDateTime;

use crate::document::{DeviceResponse, Document};
use crate::mso::ValidityInfo;
use crate::request::ItemsRequest;
use crate::status::StatusReference;
use crate::transcript::SessionTranscript;
use crate::trust::{validate_leaf, Roots, EKU_MDL_DS};
use crate::{cose, device_auth, MdocError, Value};

/// What the verifier knows from its own side of the session.
pub struct Expectations<'a> {
    pub iaca: &'a Roots,
    pub transcript: &'a SessionTranscript,
    /// The reader's ephemeral key, for responses authenticated by MAC (in person).
    pub e_reader_key: Option<&'a EcKey>,
    /// What was asked: the document type and elements; `None` accepts any document and element.
    pub request: Option<&'a ItemsRequest>,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DisclosedElement {
    pub namespace: String,
    pub identifier: String,
    pub value: Value,
}

impl DisclosedElement {
    /// `namespace/identifier`: how elements are named to relying parties.
    pub fn path(&self) -> String {
        format!("{}/{}", self.namespace, self.identifier)
    }
}

#[derive(Debug, Clone)]
pub struct VerifiedDocument {
    pub doc_type: String,
    /// The document signer's subject and the IACA it chains to.
    pub signer: String,
    pub iaca: String,
    pub validity: ValidityInfo,
    pub status: Option<StatusReference>,
    pub elements: Vec<DisclosedElement>,
}

impl VerifiedDocument {
    /// The disclosed elements as JSON, by [`DisclosedElement::path`].
    pub fn elements_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.elements.iter().map(|e| (e.path(), value_to_json(&e.value))).collect()
    }

    pub fn element(&self, namespace: &str, identifier: &str) -> Option<&Value> {
        self.elements.iter().find(|e| e.namespace == namespace && e.identifier == identifier).map(|e| &e.value)
    }
}

/// Verifies every document of a response; the first failure is the answer.
pub fn verify_response(bytes: &[u8], expect: &Expectations<'_>) -> Result<Vec<VerifiedDocument>, MdocError> {
    let response = DeviceResponse::from_bytes(bytes)?;
    if response.status != 0 {
        return Err(MdocError::ResponseStatus(response.status));
    }
    if response.documents.is_empty() {
        return Err(MdocError::Missing { what: "DeviceResponse", field: "documents" });
    }
    response.documents.iter().map(|d| verify_document(d, expect)).collect()
}

pub fn verify_document(doc: &Document, expect: &Expectations<'_>) -> Result<VerifiedDocument, MdocError> {
    if let Some(request) = expect.request {
        if doc.doc_type != request.doc_type {
            return Err(MdocError::DocType { expected: request.doc_type.clone(), found: doc.doc_type.clone() });
        }
    }
    let issuer_auth = &doc.issuer_signed.issuer_auth;
    let signer = validate_leaf(&cose::x5chain(issuer_auth)?, expect.iaca, expect.at, EKU_MDL_DS)?;
    if cose::scheme(issuer_auth)? != signer.key.curve.cose_scheme() {
        return Err(MdocError::IssuerCertificate("the COSE algorithm does not match the document signer's curve".into()));
    }
    if !cose::verify_sign1(issuer_auth, &signer.key.point, None)? {
        return Err(MdocError::IssuerSignature);
    }
    let mso = doc.issuer_signed.mso()?;
    if mso.doc_type != doc.doc_type {
        return Err(MdocError::DocType { expected: doc.doc_type.clone(), found: mso.doc_type });
    }
    let fmt = |t: OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    if expect.at < mso.validity.valid_from {
        return Err(MdocError::NotYetValid { valid_from: fmt(mso.validity.valid_from) });
    }
    if expect.at > mso.validity.valid_until {
        return Err(MdocError::Expired { valid_until: fmt(mso.validity.valid_until) });
    }
    let mut elements = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (ns, item) in doc.issuer_signed.items() {
        let (id, name) = (item.item.digest_id, &item.item.element_identifier);
        let expected = mso.value_digests.get(ns).and_then(|d| d.get(&id)).ok_or_else(|| MdocError::UnknownDigest {
            namespace: ns.to_owned(),
            element: name.clone(),
            digest_id: id,
        })?;
        if !jpki_crypto::constant_time_eq(&item.digest(mso.digest_algorithm), expected) || !seen.insert((ns, id)) {
            return Err(MdocError::DigestMismatch { namespace: ns.to_owned(), element: name.clone() });
        }
        if let Some(request) = expect.request {
            if !request.contains(ns, name) {
                return Err(MdocError::NotRequested { namespace: ns.to_owned(), element: name.clone() });
            }
        }
        elements.push(DisclosedElement { namespace: ns.to_owned(), identifier: name.clone(), value: item.item.element_value.clone() });
    }
    device_auth::verify(&doc.device_signed, &mso.device_key, expect.transcript, &doc.doc_type, expect.e_reader_key)?;
    Ok(VerifiedDocument {
        doc_type: doc.doc_type.clone(),
        signer: signer.subject(),
        iaca: signer.root_subject,
        validity: mso.validity,
        status: mso.status,
        elements,
    })
}

/// An element value as JSON: text and numbers as themselves, dates as their strings, bytes as base64.
pub fn value_to_json(value: &Value) -> serde_json::Value {
    use base64::Engine;
    use serde_json::Value as J;
    match value {
        Value::Text(s) => J::String(s.clone()),
        Value::Bool(b) => J::Bool(*b),
        Value::Integer(i) => i64::try_from(*i).map(J::from).unwrap_or_else(|_| J::String(format!("{:?}", i128::from(*i)))),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Bytes(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Tag(_, inner) => value_to_json(inner),
        Value::Array(items) => J::Array(items.iter().map(value_to_json).collect()),
        Value::Map(entries) => {
            J::Object(entries.iter().map(|(k, v)| (k.as_text().map_or_else(|| format!("{k:?}"), str::to_owned), value_to_json(v))).collect())
        }
        Value::Null => J::Null,
        _ => J::Null,
    }
}
