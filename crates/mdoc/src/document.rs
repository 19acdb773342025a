//! What an mdoc carries and sends (ISO/IEC 18013-5 §8.3.2.1.2.2): IssuerSigned (the elements, each as
//! `IssuerSignedItemBytes`, and the issuer's COSE_Sign1 over the MSO), DeviceSigned, Document and
//! DeviceResponse. Items keep the exact bytes they were issued with: the MSO digests are over them.

use coset::CoseSign1;
use jpki_crypto::Digest;

use crate::cbor::{self, as_array, as_text, as_uint, text, Map};
use crate::mso::MobileSecurityObject;
use crate::{cose, MdocError, Value};

/// `IssuerSignedItem`.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuerSignedItem {
    pub digest_id: u64,
    pub random: Vec<u8>,
    pub element_identifier: String,
    pub element_value: Value,
}

impl IssuerSignedItem {
    pub fn to_value(&self) -> Value {
        Value::Map(vec![
            (text("digestID"), Value::from(self.digest_id)),
            (text("random"), Value::Bytes(self.random.clone())),
            (text("elementIdentifier"), text(&self.element_identifier)),
            (text("elementValue"), self.element_value.clone()),
        ])
    }
}

/// One element as issued: the item and the bytes inside its `#6.24`.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedItem {
    pub bytes: Vec<u8>,
    pub item: IssuerSignedItem,
}

impl IssuedItem {
    pub fn new(item: IssuerSignedItem) -> Self {
        IssuedItem { bytes: cbor::encode(&item.to_value()), item }
    }

    pub fn from_value(value: &Value) -> Result<Self, MdocError> {
        const WHAT: &str = "IssuerSignedItem";
        let bytes = cbor::unembed(value, WHAT)?.to_vec();
        let decoded = cbor::decode(&bytes, WHAT)?;
        let map = Map::new(&decoded, WHAT)?;
        let item = IssuerSignedItem {
            digest_id: as_uint(map.required("digestID")?, "digestID")?,
            random: cbor::as_bytes(map.required("random")?, "random")?.to_vec(),
            element_identifier: map.text("elementIdentifier")?.to_owned(),
            element_value: map.required("elementValue")?.clone(),
        };
        Ok(IssuedItem { bytes, item })
    }

    /// The digest the MSO holds for this item: over the whole `#6.24(bstr)` encoding (§9.1.2.5).
    pub fn digest(&self, algorithm: Digest) -> Vec<u8> {
        algorithm.compute(&cbor::embedded_encoding(&self.bytes))
    }

    pub fn to_value(&self) -> Value {
        Value::Tag(cbor::TAG_ENCODED_CBOR, Box::new(Value::Bytes(self.bytes.clone())))
    }
}

/// `IssuerSigned`: namespaces in the order they came, items in theirs.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuerSigned {
    pub name_spaces: Vec<(String, Vec<IssuedItem>)>,
    pub issuer_auth: CoseSign1,
}

impl IssuerSigned {
    pub fn to_value(&self) -> Value {
        let mut map = Vec::new();
        if !self.name_spaces.is_empty() {
            let ns = self.name_spaces.iter().map(|(ns, items)| (text(ns), Value::Array(items.iter().map(IssuedItem::to_value).collect())));
            map.push((text("nameSpaces"), Value::Map(ns.collect())));
        }
        map.push((text("issuerAuth"), cose::sign1_to_value(&self.issuer_auth)));
        Value::Map(map)
    }

    pub fn from_value(value: &Value) -> Result<Self, MdocError> {
        let map = Map::new(value, "IssuerSigned")?;
        let mut name_spaces = Vec::new();
        if let Some(ns) = map.get("nameSpaces") {
            for (name, items) in Map::new(ns, "IssuerSigned.nameSpaces")?.entries() {
                let name = as_text(name, "namespace")?.to_owned();
                let items = as_array(items, "IssuerSignedItemBytes list")?.iter().map(IssuedItem::from_value).collect::<Result<_, _>>()?;
                name_spaces.push((name, items));
            }
        }
        let issuer_auth = cose::sign1_from_value(map.required("issuerAuth")?, "issuerAuth")?;
        Ok(IssuerSigned { name_spaces, issuer_auth })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        cbor::encode(&self.to_value())
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MdocError> {
        Self::from_value(&cbor::decode(bytes, "IssuerSigned")?)
    }

    /// The MSO inside `issuerAuth` (not yet verified).
    pub fn mso(&self) -> Result<MobileSecurityObject, MdocError> {
        let payload = self.issuer_auth.payload.as_deref().ok_or(MdocError::Missing { what: "issuerAuth", field: "payload" })?;
        let outer = cbor::decode(payload, "MobileSecurityObjectBytes")?;
        let inner = cbor::unembed(&outer, "MobileSecurityObjectBytes")?;
        MobileSecurityObject::from_value(&cbor::decode(inner, "MobileSecurityObject")?)
    }

    pub fn items(&self) -> impl Iterator<Item = (&str, &IssuedItem)> {
        self.name_spaces.iter().flat_map(|(ns, items)| items.iter().map(move |i| (ns.as_str(), i)))
    }
}

/// How the device authenticated the response.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceAuth {
    Signature(CoseSign1),
    Mac(coset::CoseMac0),
}

/// `DeviceSigned`: device-signed elements (`DeviceNameSpacesBytes`, usually an empty map) and the auth.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSigned {
    /// The bytes inside `DeviceNameSpacesBytes`' `#6.24`.
    pub name_spaces_bytes: Vec<u8>,
    pub device_auth: DeviceAuth,
}

impl DeviceSigned {
    pub fn to_value(&self) -> Value {
        use coset::AsCborValue;
        let auth = match &self.device_auth {
            DeviceAuth::Signature(s) => (text("deviceSignature"), cose::sign1_to_value(s)),
            DeviceAuth::Mac(m) => (text("deviceMac"), m.clone().to_cbor_value().expect("a COSE_Mac0 encodes")),
        };
        Value::Map(vec![
            (text("nameSpaces"), Value::Tag(cbor::TAG_ENCODED_CBOR, Box::new(Value::Bytes(self.name_spaces_bytes.clone())))),
            (text("deviceAuth"), Value::Map(vec![auth])),
        ])
    }

    pub fn from_value(value: &Value) -> Result<Self, MdocError> {
        use coset::AsCborValue;
        let map = Map::new(value, "DeviceSigned")?;
        let name_spaces_bytes = cbor::unembed(map.required("nameSpaces")?, "DeviceNameSpacesBytes")?.to_vec();
        let auth = Map::new(map.required("deviceAuth")?, "deviceAuth")?;
        let device_auth = match (auth.get("deviceSignature"), auth.get("deviceMac")) {
            (Some(sig), None) => DeviceAuth::Signature(cose::sign1_from_value(sig, "deviceSignature")?),
            (None, Some(mac)) => {
                DeviceAuth::Mac(coset::CoseMac0::from_cbor_value(mac.clone()).map_err(|e| MdocError::malformed("deviceMac", format!("not a COSE_Mac0: {e}")))?)
            }
            _ => return Err(MdocError::malformed("deviceAuth", "must hold exactly one of deviceSignature and deviceMac")),
        };
        Ok(DeviceSigned { name_spaces_bytes, device_auth })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub doc_type: String,
    pub issuer_signed: IssuerSigned,
    pub device_signed: DeviceSigned,
}

/// `DeviceResponse`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceResponse {
    pub version: String,
    pub documents: Vec<Document>,
    pub status: u64,
}

impl DeviceResponse {
    pub fn to_bytes(&self) -> Vec<u8> {
        let docs = self
            .documents
            .iter()
            .map(|d| {
                Value::Map(vec![
                    (text("docType"), text(&d.doc_type)),
                    (text("issuerSigned"), d.issuer_signed.to_value()),
                    (text("deviceSigned"), d.device_signed.to_value()),
                ])
            })
            .collect();
        let mut map = vec![(text("version"), text(&self.version))];
        if !self.documents.is_empty() {
            map.push((text("documents"), Value::Array(docs)));
        }
        map.push((text("status"), Value::from(self.status)));
        cbor::encode(&Value::Map(map))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MdocError> {
        let value = cbor::decode(bytes, "DeviceResponse")?;
        let map = Map::new(&value, "DeviceResponse")?;
        let version = map.text("version")?.to_owned();
        if !version.starts_with("1.") {
            return Err(MdocError::Unsupported { what: "DeviceResponse version", value: version });
        }
        let mut documents = Vec::new();
        if let Some(docs) = map.get("documents") {
            for doc in as_array(docs, "documents")? {
                let doc = Map::new(doc, "Document")?;
                documents.push(Document {
                    doc_type: doc.text("docType")?.to_owned(),
                    issuer_signed: IssuerSigned::from_value(doc.required("issuerSigned")?)?,
                    device_signed: DeviceSigned::from_value(doc.required("deviceSigned")?)?,
                });
            }
        }
        Ok(DeviceResponse { version, documents, status: as_uint(map.required("status")?, "status")? })
    }
}
