//! SessionTranscript (ISO/IEC 18013-5 §9.1.5.1): what binds a response to one session. Both sides build
//! it from their own state; a response made under one transcript does not verify under another.
//!
//! `SessionTranscript = [DeviceEngagementBytes, EReaderKeyBytes, Handover]`:
//! - in person with QR engagement: the two `#6.24` byte strings and `null` (§9.1.5.1);
//! - OpenID4VP 1.0 redirect flows (Appendix B.2.6.1): `null, null, ["OpenID4VPHandover",
//!   SHA-256(cbor([client_id, nonce, jwkThumbprint / null, response_uri]))]`;
//! - OpenID4VP over the Digital Credentials API (B.2.6.2): `["OpenID4VPDCAPIHandover",
//!   SHA-256(cbor([origin, nonce, jwkThumbprint / null]))]`.

use crate::cbor::{self, text};
use crate::{MdocError, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct SessionTranscript {
    value: Value,
}

fn thumbprint(t: Option<&[u8]>) -> Value {
    t.map_or(Value::Null, |t| Value::Bytes(t.to_vec()))
}

fn handover(name: &str, info: Vec<Value>) -> Value {
    let hash = jpki_crypto::sha256(&cbor::encode(&Value::Array(info)));
    Value::Array(vec![text(name), Value::Bytes(hash.to_vec())])
}

impl SessionTranscript {
    /// In person after QR engagement: `device_engagement` and `ereader_key` are the bytes inside their `#6.24`.
    pub fn in_person(device_engagement: &[u8], ereader_key: &[u8]) -> Self {
        let tagged = |b: &[u8]| Value::Tag(cbor::TAG_ENCODED_CBOR, Box::new(Value::Bytes(b.to_vec())));
        SessionTranscript { value: Value::Array(vec![tagged(device_engagement), tagged(ereader_key), Value::Null]) }
    }

    /// OpenID4VP with `direct_post` or `direct_post.jwt`; `client_id` with its prefix.
    pub fn openid4vp(client_id: &str, nonce: &str, jwk_thumbprint: Option<&[u8]>, response_uri: &str) -> Self {
        let info = vec![text(client_id), text(nonce), thumbprint(jwk_thumbprint), text(response_uri)];
        SessionTranscript { value: Value::Array(vec![Value::Null, Value::Null, handover("OpenID4VPHandover", info)]) }
    }

    /// OpenID4VP over the Digital Credentials API; `origin` as the browser reports it.
    pub fn dc_api(origin: &str, nonce: &str, jwk_thumbprint: Option<&[u8]>) -> Self {
        let info = vec![text(origin), text(nonce), thumbprint(jwk_thumbprint)];
        SessionTranscript { value: Value::Array(vec![Value::Null, Value::Null, handover("OpenID4VPDCAPIHandover", info)]) }
    }

    /// From `SessionTranscriptBytes` (`#6.24(bstr .cbor SessionTranscript)`), as test vectors give it.
    pub fn from_tagged_bytes(bytes: &[u8]) -> Result<Self, MdocError> {
        let outer = cbor::decode(bytes, "SessionTranscriptBytes")?;
        let value = cbor::decode(cbor::unembed(&outer, "SessionTranscriptBytes")?, "SessionTranscript")?;
        match &value {
            Value::Array(items) if items.len() == 3 => Ok(SessionTranscript { value }),
            _ => Err(MdocError::malformed("SessionTranscript", "expected an array of three")),
        }
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The transcript encoded as a plain array.
    pub fn encoded(&self) -> Vec<u8> {
        cbor::encode(&self.value)
    }

    /// `SessionTranscriptBytes`: the salt of every session key (§9.1.1.5).
    pub fn tagged_bytes(&self) -> Vec<u8> {
        cbor::embedded_encoding(&self.encoded())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &str = "exc7gBkxjx1rdc9udRrveKvSsJIq80avlXeLHhGwqtA";
    const THUMBPRINT: &str = "4283ec927ae0f208daaa2d026a814f2b22dca52cf85ffa8f3f8626c6bd669047";

    /// OpenID4VP 1.0 Appendix B.2.6.1 example.
    #[test]
    fn openid4vp_redirect_matches_the_specification() {
        let t = SessionTranscript::openid4vp("x509_san_dns:example.com", NONCE, Some(&hex::decode(THUMBPRINT).unwrap()), "https://example.com/response");
        assert_eq!(
            hex::encode(t.encoded()),
            "83f6f682714f70656e494434565048616e646f7665725820048bc053c00442af9b8eed494cefdd9d95240d254b046b11b68013722aad38ac"
        );
    }

    /// OpenID4VP 1.0 Appendix B.2.6.2 example.
    #[test]
    fn openid4vp_dc_api_matches_the_specification() {
        let t = SessionTranscript::dc_api("https://example.com", NONCE, Some(&hex::decode(THUMBPRINT).unwrap()));
        assert_eq!(
            hex::encode(t.encoded()),
            "83f6f682764f70656e4944345650444341504948616e646f7665725820fbece366f4212f9762c74cfdbf83b8c69e371d5d68cea09cb4c48ca6daab761a"
        );
    }
}
