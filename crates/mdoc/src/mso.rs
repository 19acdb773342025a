//! The Mobile Security Object (ISO/IEC 18013-5 §9.1.2.4): the digests of every element, the device key
//! and the validity, signed once by the issuer.

use std::collections::BTreeMap;

use jpki_crypto::Digest;
use time::OffsetDateTime;

use crate::cbor::{self, as_bytes, as_uint, text, Map};
use crate::status::StatusReference;
use crate::{cose, MdocError, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidityInfo {
    pub signed: OffsetDateTime,
    pub valid_from: OffsetDateTime,
    pub valid_until: OffsetDateTime,
    pub expected_update: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MobileSecurityObject {
    pub digest_algorithm: Digest,
    /// namespace → digestID → digest.
    pub value_digests: BTreeMap<String, BTreeMap<u64, Vec<u8>>>,
    /// The device key as an uncompressed P-256 point.
    pub device_key: Vec<u8>,
    pub doc_type: String,
    pub validity: ValidityInfo,
    /// Where the record's revocation status is published (ISO/IEC 18013-5 2nd ed. `status`).
    pub status: Option<StatusReference>,
}

pub fn digest_algorithm_name(d: Digest) -> &'static str {
    match d {
        Digest::Sha256 => "SHA-256",
        Digest::Sha384 => "SHA-384",
        Digest::Sha512 => "SHA-512",
    }
}

impl MobileSecurityObject {
    pub fn to_value(&self) -> Value {
        let digests = self
            .value_digests
            .iter()
            .map(|(ns, ids)| (text(ns), Value::Map(ids.iter().map(|(id, d)| (Value::from(*id), Value::Bytes(d.clone()))).collect())))
            .collect();
        let mut validity = vec![
            (text("signed"), cbor::tdate(self.validity.signed)),
            (text("validFrom"), cbor::tdate(self.validity.valid_from)),
            (text("validUntil"), cbor::tdate(self.validity.valid_until)),
        ];
        if let Some(t) = self.validity.expected_update {
            validity.push((text("expectedUpdate"), cbor::tdate(t)));
        }
        let mut map = vec![
            (text("version"), text("1.0")),
            (text("digestAlgorithm"), text(digest_algorithm_name(self.digest_algorithm))),
            (text("valueDigests"), Value::Map(digests)),
            (text("deviceKeyInfo"), Value::Map(vec![(text("deviceKey"), cose::ec2_key(&self.device_key))])),
            (text("docType"), text(&self.doc_type)),
            (text("validityInfo"), Value::Map(validity)),
        ];
        if let Some(status) = &self.status {
            map.push((text("status"), status.to_value()));
        }
        Value::Map(map)
    }

    pub fn from_value(value: &Value) -> Result<Self, MdocError> {
        const WHAT: &str = "MobileSecurityObject";
        let map = Map::new(value, WHAT)?;
        let version = map.text("version")?;
        if !version.starts_with("1.") {
            return Err(MdocError::Unsupported { what: "MSO version", value: version.to_owned() });
        }
        let digest_algorithm = match map.text("digestAlgorithm")? {
            "SHA-256" => Digest::Sha256,
            "SHA-384" => Digest::Sha384,
            "SHA-512" => Digest::Sha512,
            other => return Err(MdocError::Unsupported { what: "digest algorithm", value: other.to_owned() }),
        };
        let mut value_digests = BTreeMap::new();
        for (ns, ids) in Map::new(map.required("valueDigests")?, "valueDigests")?.entries() {
            let ns = cbor::as_text(ns, "valueDigests namespace")?.to_owned();
            let mut digests = BTreeMap::new();
            for (id, digest) in Map::new(ids, "valueDigests")?.entries() {
                let id = as_uint(id, "digestID")?;
                let digest = as_bytes(digest, "digest")?.to_vec();
                if digests.insert(id, digest).is_some() {
                    return Err(MdocError::malformed(WHAT, format!("digestID {id} appears twice in {ns}")));
                }
            }
            value_digests.insert(ns, digests);
        }
        let key_info = Map::new(map.required("deviceKeyInfo")?, "deviceKeyInfo")?;
        let device_key = cose::ec2_point(key_info.required("deviceKey")?, "deviceKey")?;
        let validity = Map::new(map.required("validityInfo")?, "validityInfo")?;
        let validity = ValidityInfo {
            signed: cbor::parse_tdate(validity.required("signed")?, "validityInfo.signed")?,
            valid_from: cbor::parse_tdate(validity.required("validFrom")?, "validityInfo.validFrom")?,
            valid_until: cbor::parse_tdate(validity.required("validUntil")?, "validityInfo.validUntil")?,
            expected_update: validity.get("expectedUpdate").map(|v| cbor::parse_tdate(v, "validityInfo.expectedUpdate")).transpose()?,
        };
        let status = map.get("status").map(StatusReference::from_value).transpose()?;
        Ok(MobileSecurityObject { digest_algorithm, value_digests, device_key, doc_type: map.text("docType")?.to_owned(), validity, status })
    }
}
