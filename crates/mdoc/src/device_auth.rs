//! mdoc authentication (ISO/IEC 18013-5 §9.1.3): the device key of the MSO signs (or MACs) the
//! DeviceAuthentication structure, which holds the session transcript. This is what proves the response
//! comes from the phone the record was issued to, in this session.
//!
//! `DeviceAuthentication = ["DeviceAuthentication", SessionTranscript, DocType, DeviceNameSpacesBytes]`,
//! signed or MACed as `#6.24(bstr .cbor DeviceAuthentication)` with a detached payload (§9.1.3.4).
//! The MAC key is `EMacKey = HKDF-SHA-256(ECDH(deviceKey, EReaderKey), SHA-256(SessionTranscriptBytes),
//! "EMacKey", 32)` (§9.1.3.5).

use coset::{iana, CoseMac0Builder, HeaderBuilder};
use jpki_crypto::EcKey;

use crate::cbor::{self, text};
use crate::document::{DeviceAuth, DeviceSigned};
use crate::session::derive_key;
use crate::transcript::SessionTranscript;
use crate::{cose, MdocError, Value};

/// `DeviceNameSpacesBytes` for no device-signed elements: the empty map.
pub const EMPTY_DEVICE_NAME_SPACES: [u8; 1] = [0xa0];

pub fn device_authentication_bytes(transcript: &SessionTranscript, doc_type: &str, name_spaces_bytes: &[u8]) -> Vec<u8> {
    let structure = Value::Array(vec![
        text("DeviceAuthentication"),
        transcript.value().clone(),
        text(doc_type),
        Value::Tag(cbor::TAG_ENCODED_CBOR, Box::new(Value::Bytes(name_spaces_bytes.to_vec()))),
    ]);
    cbor::embedded_encoding(&cbor::encode(&structure))
}

/// DeviceSigned with a device signature (ES256) by the key the record was issued to.
pub fn sign(device_key: &EcKey, transcript: &SessionTranscript, doc_type: &str) -> Result<DeviceSigned, MdocError> {
    let payload = device_authentication_bytes(transcript, doc_type, &EMPTY_DEVICE_NAME_SPACES);
    let signature = cose::sign1(device_key, &payload, true, &[])?;
    Ok(DeviceSigned { name_spaces_bytes: EMPTY_DEVICE_NAME_SPACES.to_vec(), device_auth: DeviceAuth::Signature(signature) })
}

/// DeviceSigned with a device MAC for a reader whose ephemeral public key is `e_reader_key`.
pub fn mac(device_key: &EcKey, e_reader_key: &[u8], transcript: &SessionTranscript, doc_type: &str) -> Result<DeviceSigned, MdocError> {
    let key = derive_key(device_key, e_reader_key, transcript, "EMacKey")?;
    let payload = device_authentication_bytes(transcript, doc_type, &EMPTY_DEVICE_NAME_SPACES);
    let protected = HeaderBuilder::new().algorithm(iana::Algorithm::HMAC_256_256).build();
    let mac0 = CoseMac0Builder::new().protected(protected).build();
    let tag = cose::mac0_tag(&key, &mac0.protected, &payload);
    let mac0 = coset::CoseMac0 { tag: tag.to_vec(), ..mac0 };
    Ok(DeviceSigned { name_spaces_bytes: EMPTY_DEVICE_NAME_SPACES.to_vec(), device_auth: DeviceAuth::Mac(mac0) })
}

/// Checks the device's signature or MAC over the verifier's own `transcript`. A MAC needs the reader's
/// ephemeral private key.
pub fn verify(signed: &DeviceSigned, device_key: &[u8], transcript: &SessionTranscript, doc_type: &str, e_reader_key: Option<&EcKey>) -> Result<(), MdocError> {
    let payload = device_authentication_bytes(transcript, doc_type, &signed.name_spaces_bytes);
    match &signed.device_auth {
        DeviceAuth::Signature(sig) => {
            if sig.payload.is_some() && sig.payload.as_deref() != Some(payload.as_slice()) {
                return Err(MdocError::DeviceSignature);
            }
            if cose::verify_sign1(sig, device_key, Some(&payload))? {
                Ok(())
            } else {
                Err(MdocError::DeviceSignature)
            }
        }
        DeviceAuth::Mac(mac0) => {
            use coset::RegisteredLabelWithPrivate::Assigned;
            if mac0.protected.header.alg != Some(Assigned(iana::Algorithm::HMAC_256_256)) {
                return Err(MdocError::Unsupported { what: "device MAC algorithm", value: format!("{:?}", mac0.protected.header.alg) });
            }
            let reader = e_reader_key.ok_or_else(|| MdocError::Unsupported {
                what: "device authentication",
                value: "deviceMac needs the reader's ephemeral key; this flow has none".into(),
            })?;
            let key = derive_key(reader, device_key, transcript, "EMacKey")?;
            let tag = cose::mac0_tag(&key, &mac0.protected, &payload);
            if jpki_crypto::constant_time_eq(&tag, &mac0.tag) {
                Ok(())
            } else {
                Err(MdocError::DeviceMac)
            }
        }
    }
}
