//! What a reader asks for (ISO/IEC 18013-5 §8.3.2.1.2.1) and how it proves who it is (§9.1.4).
//!
//! `DeviceRequest = {"version": "1.0", "docRequests": [+ {"itemsRequest": #6.24(ItemsRequest),
//! ? "readerAuth": COSE_Sign1}]}`; `ItemsRequest = {"docType", "nameSpaces": {ns: {element:
//! intentToRetain}}, ? "requestInfo"}`. `readerAuth` signs, detached,
//! `#6.24(["ReaderAuthentication", SessionTranscript, ItemsRequestBytes])`.

use coset::CoseSign1;
use jpki_crypto::EcKey;
use time::OffsetDateTime;

use crate::cbor::{self, as_array, as_bool, as_text, text, Map};
use crate::transcript::SessionTranscript;
use crate::trust::{validate_leaf, Roots, ValidLeaf, EKU_MDL_READER_AUTH};
use crate::{cose, MdocError, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedElement {
    pub namespace: String,
    pub identifier: String,
    pub intent_to_retain: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemsRequest {
    pub doc_type: String,
    pub elements: Vec<RequestedElement>,
}

impl ItemsRequest {
    pub fn to_value(&self) -> Value {
        let mut namespaces: Vec<(Value, Value)> = Vec::new();
        for e in &self.elements {
            let entry = (text(&e.identifier), Value::Bool(e.intent_to_retain));
            match namespaces.iter_mut().find(|(ns, _)| ns.as_text() == Some(&e.namespace)) {
                Some((_, Value::Map(m))) => m.push(entry),
                _ => namespaces.push((text(&e.namespace), Value::Map(vec![entry]))),
            }
        }
        Value::Map(vec![(text("docType"), text(&self.doc_type)), (text("nameSpaces"), Value::Map(namespaces))])
    }

    pub fn from_value(value: &Value) -> Result<Self, MdocError> {
        let map = Map::new(value, "ItemsRequest")?;
        let mut elements = Vec::new();
        for (ns, items) in Map::new(map.required("nameSpaces")?, "ItemsRequest.nameSpaces")?.entries() {
            let ns = as_text(ns, "namespace")?;
            for (id, retain) in Map::new(items, "DataElements")?.entries() {
                elements.push(RequestedElement {
                    namespace: ns.to_owned(),
                    identifier: as_text(id, "element identifier")?.to_owned(),
                    intent_to_retain: as_bool(retain, "IntentToRetain")?,
                });
            }
        }
        Ok(ItemsRequest { doc_type: map.text("docType")?.to_owned(), elements })
    }

    pub fn contains(&self, namespace: &str, identifier: &str) -> bool {
        self.elements.iter().any(|e| e.namespace == namespace && e.identifier == identifier)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DocRequest {
    /// The bytes inside `ItemsRequestBytes`' `#6.24`, as received: reader authentication covers them.
    pub items_request_bytes: Vec<u8>,
    pub items_request: ItemsRequest,
    pub reader_auth: Option<CoseSign1>,
}

fn reader_authentication_bytes(transcript: &SessionTranscript, items_request_bytes: &[u8]) -> Vec<u8> {
    let structure = Value::Array(vec![
        text("ReaderAuthentication"),
        transcript.value().clone(),
        Value::Tag(cbor::TAG_ENCODED_CBOR, Box::new(Value::Bytes(items_request_bytes.to_vec()))),
    ]);
    cbor::embedded_encoding(&cbor::encode(&structure))
}

impl DocRequest {
    /// A request, signed by the reader when `reader` (key and certificate chain, leaf first) is given.
    pub fn new(items_request: ItemsRequest, reader: Option<(&EcKey, &[Vec<u8>])>, transcript: &SessionTranscript) -> Result<Self, MdocError> {
        let items_request_bytes = cbor::encode(&items_request.to_value());
        let reader_auth =
            reader.map(|(key, chain)| cose::sign1(key, &reader_authentication_bytes(transcript, &items_request_bytes), true, chain)).transpose()?;
        Ok(DocRequest { items_request_bytes, items_request, reader_auth })
    }

    /// Checks `readerAuth` over `transcript` with a certificate chaining to `roots`; `None` if unsigned.
    pub fn verify_reader(&self, transcript: &SessionTranscript, roots: &Roots, at: OffsetDateTime) -> Result<Option<ValidLeaf>, MdocError> {
        let Some(auth) = &self.reader_auth else { return Ok(None) };
        let chain = cose::x5chain(auth).map_err(|e| MdocError::ReaderAuth(e.to_string()))?;
        let reader = validate_leaf(&chain, roots, at, EKU_MDL_READER_AUTH).map_err(|e| MdocError::ReaderAuth(e.to_string()))?;
        let payload = reader_authentication_bytes(transcript, &self.items_request_bytes);
        if !cose::verify_sign1(auth, &reader.key.point, Some(&payload))? {
            return Err(MdocError::ReaderAuth("the signature does not verify over this session".into()));
        }
        Ok(Some(reader))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRequest {
    pub doc_requests: Vec<DocRequest>,
}

impl DeviceRequest {
    pub fn to_bytes(&self) -> Vec<u8> {
        let docs = self
            .doc_requests
            .iter()
            .map(|d| {
                let mut m = vec![(text("itemsRequest"), Value::Tag(cbor::TAG_ENCODED_CBOR, Box::new(Value::Bytes(d.items_request_bytes.clone()))))];
                if let Some(auth) = &d.reader_auth {
                    m.push((text("readerAuth"), cose::sign1_to_value(auth)));
                }
                Value::Map(m)
            })
            .collect();
        cbor::encode(&Value::Map(vec![(text("version"), text("1.0")), (text("docRequests"), Value::Array(docs))]))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MdocError> {
        let value = cbor::decode(bytes, "DeviceRequest")?;
        let map = Map::new(&value, "DeviceRequest")?;
        let version = map.text("version")?;
        if !version.starts_with("1.") {
            return Err(MdocError::Unsupported { what: "DeviceRequest version", value: version.to_owned() });
        }
        let doc_requests = as_array(map.required("docRequests")?, "docRequests")?
            .iter()
            .map(|d| {
                let d = Map::new(d, "DocRequest")?;
                let items_request_bytes = cbor::unembed(d.required("itemsRequest")?, "ItemsRequestBytes")?.to_vec();
                let items_request = ItemsRequest::from_value(&cbor::decode(&items_request_bytes, "ItemsRequest")?)?;
                let reader_auth = d.get("readerAuth").map(|a| cose::sign1_from_value(a, "readerAuth")).transpose()?;
                Ok(DocRequest { items_request_bytes, items_request, reader_auth })
            })
            .collect::<Result<_, MdocError>>()?;
        Ok(DeviceRequest { doc_requests })
    }
}
