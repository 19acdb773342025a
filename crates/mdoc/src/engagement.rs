//! Device engagement (ISO/IEC 18013-5 §8.2.1.1): the mdoc's ephemeral key and how to reach it, shown
//! as a QR code `mdoc:` + base64url(DeviceEngagement) (§8.2.2.3).
//!
//! `DeviceEngagement = {0: "1.0", 1: Security, ? 2: DeviceRetrievalMethods}`,
//! `Security = [1 (cipher suite), #6.24(EDeviceKey COSE_Key)]`. The standard's retrieval methods are
//! NFC (1), BLE (2) and Wi-Fi Aware (3); a machine without radios carries the same session messages
//! over TCP, announced as [`TCP_RETRIEVAL`] with options `{"host": tstr, "port": uint}`. That method type
//! is openjpki's (a value ISO does not assign), so standard readers ignore it and use their own.

use base64::Engine;

use crate::cbor::{self, as_array, as_text, as_uint};
use crate::{cose, MdocError, Value};

/// openjpki's device retrieval method type for TCP; ISO/IEC 18013-5 assigns 1–3 only.
pub const TCP_RETRIEVAL: u64 = 0x4f4a;
const QR_PREFIX: &str = "mdoc:";

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceEngagement {
    /// The bytes inside `DeviceEngagementBytes`' `#6.24`, exactly as scanned.
    pub bytes: Vec<u8>,
    /// EDeviceKey, uncompressed P-256.
    pub e_device_key: Vec<u8>,
    /// The TCP endpoint, when offered.
    pub tcp: Option<(String, u16)>,
}

impl DeviceEngagement {
    pub fn new(e_device_key: &[u8], tcp: Option<(&str, u16)>) -> Self {
        let mut map =
            vec![(Value::from(0), cbor::text("1.0")), (Value::from(1), Value::Array(vec![Value::from(1), cbor::embed(&cose::ec2_key(e_device_key))]))];
        if let Some((host, port)) = tcp {
            let options = Value::Map(vec![(cbor::text("host"), cbor::text(host)), (cbor::text("port"), Value::from(port))]);
            map.push((Value::from(2), Value::Array(vec![Value::Array(vec![Value::from(TCP_RETRIEVAL), Value::from(1), options])])));
        }
        DeviceEngagement { bytes: cbor::encode(&Value::Map(map)), e_device_key: e_device_key.to_vec(), tcp: tcp.map(|(h, p)| (h.to_owned(), p)) }
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MdocError> {
        const WHAT: &str = "DeviceEngagement";
        let value = cbor::decode(bytes, WHAT)?;
        let Value::Map(entries) = &value else { return Err(MdocError::malformed(WHAT, "expected a map")) };
        let field = |k: u64| entries.iter().find(|(key, _)| key.as_integer() == Some(k.into())).map(|(_, v)| v);
        let version = as_text(field(0).ok_or(MdocError::Missing { what: WHAT, field: "version (0)" })?, "version")?;
        if !version.starts_with("1.") {
            return Err(MdocError::Unsupported { what: "DeviceEngagement version", value: version.to_owned() });
        }
        let security = as_array(field(1).ok_or(MdocError::Missing { what: WHAT, field: "Security (1)" })?, "Security")?;
        let [suite, key] = security else { return Err(MdocError::malformed("Security", "expected [cipher suite, EDeviceKeyBytes]")) };
        if as_uint(suite, "cipher suite")? != 1 {
            return Err(MdocError::Unsupported { what: "cipher suite", value: format!("{suite:?}") });
        }
        let key = cbor::decode(cbor::unembed(key, "EDeviceKeyBytes")?, "EDeviceKey")?;
        let e_device_key = cose::ec2_point(&key, "EDeviceKey")?;
        let mut tcp = None;
        if let Some(methods) = field(2) {
            for method in as_array(methods, "DeviceRetrievalMethods")? {
                let m = as_array(method, "DeviceRetrievalMethod")?;
                if m.first().and_then(|t| t.as_integer()) == Some(TCP_RETRIEVAL.into()) {
                    let options = cbor::Map::new(m.get(2).ok_or(MdocError::Missing { what: "TCP retrieval", field: "options" })?, "TCP options")?;
                    let port = u16::try_from(as_uint(options.required("port")?, "port")?).map_err(|_| MdocError::malformed("port", "out of range"))?;
                    tcp = Some((options.text("host")?.to_owned(), port));
                }
            }
        }
        Ok(DeviceEngagement { bytes: bytes.to_vec(), e_device_key, tcp })
    }

    /// The QR code's text.
    pub fn to_qr(&self) -> String {
        format!("{QR_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.bytes))
    }

    pub fn from_qr(qr: &str) -> Result<Self, MdocError> {
        let b64 = qr.trim().strip_prefix(QR_PREFIX).ok_or_else(|| MdocError::malformed("engagement QR", "must start with \"mdoc:\""))?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64.trim_end_matches('='))
            .map_err(|e| MdocError::malformed("engagement QR", format!("not base64url: {e}")))?;
        Self::from_bytes(&bytes)
    }
}
