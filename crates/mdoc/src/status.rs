//! The record's revocation status as an IETF Token Status List (draft-ietf-oauth-status-list §4.2,
//! §5.2; ISO/IEC 18013-5 2nd edition refers to it from the MSO's `status`): a compressed array of
//! 2-bit statuses, one per issued record, in a CWT signed by a document signer. A verifier fetches the
//! list named by the MSO, checks its signature to the same IACA, and reads the record's index.

use coset::{iana, CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder};
use std::io::{Read, Write};
use time::OffsetDateTime;

use crate::cbor::{self, as_bytes, as_uint, text, Map};
use crate::issuance::DocumentSigner;
use crate::trust::{validate_leaf, Roots, EKU_MDL_DS};
use crate::{cose, MdocError, Value};

/// Bits per status: VALID, INVALID, SUSPENDED and one application-specific value (§7.1).
pub const BITS: u8 = 2;
/// Refuse lists that inflate beyond this (a list for 32 million records at 2 bits).
const MAX_LIST_BYTES: u64 = 8 << 20;
/// CWT claim keys (RFC 8392 §4; draft §5.2).
const CWT_SUB: i64 = 2;
const CWT_EXP: i64 = 4;
const CWT_IAT: i64 = 6;
const CWT_TTL: i64 = 65534;
const CWT_STATUS_LIST: i64 = 65533;
const TYP: &str = "application/statuslist+cwt";

/// `status: {"status_list": {"idx", "uri"}}` in the MSO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReference {
    pub idx: u64,
    pub uri: String,
}

impl StatusReference {
    pub fn to_value(&self) -> Value {
        Value::Map(vec![(text("status_list"), Value::Map(vec![(text("idx"), Value::from(self.idx)), (text("uri"), text(&self.uri))]))])
    }

    pub fn from_value(value: &Value) -> Result<Self, MdocError> {
        let outer = Map::new(value, "MSO status")?;
        let list = Map::new(outer.required("status_list")?, "status_list")?;
        Ok(StatusReference { idx: as_uint(list.required("idx")?, "status_list.idx")?, uri: list.text("uri")?.to_owned() })
    }
}

/// A record's status (§7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStatus {
    Valid,
    Invalid,
    Suspended,
    Other(u8),
}

impl RecordStatus {
    fn from_bits(b: u8) -> Self {
        match b {
            0 => RecordStatus::Valid,
            1 => RecordStatus::Invalid,
            2 => RecordStatus::Suspended,
            other => RecordStatus::Other(other),
        }
    }

    fn bits(self) -> u8 {
        match self {
            RecordStatus::Valid => 0,
            RecordStatus::Invalid => 1,
            RecordStatus::Suspended => 2,
            RecordStatus::Other(b) => b & 3,
        }
    }
}

/// The uncompressed list: status `i` is in byte `i / 4`, bits `2 * (i % 4)` upward.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusList {
    bytes: Vec<u8>,
}

impl StatusList {
    /// A list of `len` records, all valid.
    pub fn with_len(len: u64) -> Self {
        StatusList { bytes: vec![0; len.div_ceil(4) as usize] }
    }

    pub fn set(&mut self, idx: u64, status: RecordStatus) {
        let byte = (idx / 4) as usize;
        if byte >= self.bytes.len() {
            self.bytes.resize(byte + 1, 0);
        }
        let shift = 2 * (idx % 4) as u32;
        self.bytes[byte] = (self.bytes[byte] & !(3 << shift)) | (status.bits() << shift);
    }

    /// The status at `idx`; `None` when the list does not reach it.
    pub fn get(&self, idx: u64) -> Option<RecordStatus> {
        let byte = *self.bytes.get(usize::try_from(idx / 4).ok()?)?;
        Some(RecordStatus::from_bits((byte >> (2 * (idx % 4))) & 3))
    }

    /// The list as a signed Status List Token (§5.2), valid for `ttl` seconds.
    pub fn to_token(&self, signer: &DocumentSigner, uri: &str, issued_at: OffsetDateTime, ttl: i64) -> Result<Vec<u8>, MdocError> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&self.bytes).expect("compressing to memory");
        let lst = z.finish().expect("compressing to memory");
        let iat = issued_at.unix_timestamp();
        let claims = Value::Map(vec![
            (Value::from(CWT_SUB), text(uri)),
            (Value::from(CWT_IAT), Value::from(iat)),
            (Value::from(CWT_EXP), Value::from(iat + ttl)),
            (Value::from(CWT_TTL), Value::from(ttl)),
            (Value::from(CWT_STATUS_LIST), Value::Map(vec![(text("bits"), Value::from(BITS)), (text("lst"), Value::Bytes(lst))])),
        ]);
        let protected = HeaderBuilder::new().algorithm(iana::Algorithm::ES256).value(16, text(TYP)).build();
        let chain = signer.chain.iter().cloned().map(Value::Bytes).collect();
        let unprotected = HeaderBuilder::new().value(cose::X5CHAIN, Value::Array(chain)).build();
        let token = CoseSign1Builder::new()
            .protected(protected)
            .unprotected(unprotected)
            .payload(cbor::encode(&claims))
            .try_create_signature(b"", |tbs| signer.key.sign_fixed(tbs).map_err(|e| MdocError::Session(e.to_string())))?
            .build();
        Ok(cose::sign1_to_vec(&token))
    }
}

/// A status list whose token verified.
#[derive(Debug, Clone)]
pub struct VerifiedStatusList {
    pub list: StatusList,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Verifies a Status List Token for `uri`: signature by a document signer of `roots`, subject equal
/// to `uri`, not expired at `at`.
pub fn verify_token(token: &[u8], uri: &str, roots: &Roots, at: OffsetDateTime) -> Result<VerifiedStatusList, MdocError> {
    let unavailable = |r: String| MdocError::StatusUnavailable(r);
    let sign1 = CoseSign1::from_slice(token).map_err(|e| unavailable(format!("status list token is not a COSE_Sign1: {e}")))?;
    let signer = validate_leaf(&cose::x5chain(&sign1)?, roots, at, EKU_MDL_DS).map_err(|e| unavailable(format!("status list signer: {e}")))?;
    if !cose::verify_sign1(&sign1, &signer.key.point, None)? {
        return Err(unavailable("status list token signature does not verify".into()));
    }
    let claims = cbor::decode(sign1.payload.as_deref().unwrap_or_default(), "status list claims")?;
    let Value::Map(entries) = &claims else { return Err(unavailable("status list claims are not a map".into())) };
    let claim = |key: i64| entries.iter().find(|(k, _)| k.as_integer().and_then(|i| i64::try_from(i).ok()) == Some(key)).map(|(_, v)| v);
    let int = |key: i64, name: &str| {
        claim(key).and_then(|v| v.as_integer()).and_then(|i| i64::try_from(i).ok()).ok_or_else(|| unavailable(format!("status list token has no {name}")))
    };
    if claim(CWT_SUB).and_then(Value::as_text) != Some(uri) {
        return Err(unavailable(format!("status list token is not the list at {uri}")));
    }
    let issued_at = OffsetDateTime::from_unix_timestamp(int(CWT_IAT, "iat")?).map_err(|e| unavailable(e.to_string()))?;
    let expires_at = OffsetDateTime::from_unix_timestamp(int(CWT_EXP, "exp")?).map_err(|e| unavailable(e.to_string()))?;
    if at > expires_at {
        return Err(unavailable(format!("status list expired at {expires_at}")));
    }
    let list = Map::new(claim(CWT_STATUS_LIST).ok_or_else(|| unavailable("no status_list claim".into()))?, "status_list")?;
    if as_uint(list.required("bits")?, "bits")? != u64::from(BITS) {
        return Err(MdocError::Unsupported { what: "status list bits", value: format!("{:?}", list.get("bits")) });
    }
    let mut bytes = Vec::new();
    flate2::read::ZlibDecoder::new(as_bytes(list.required("lst")?, "lst")?)
        .take(MAX_LIST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unavailable(format!("status list does not inflate: {e}")))?;
    if bytes.len() as u64 > MAX_LIST_BYTES {
        return Err(unavailable("status list is larger than any this verifier accepts".into()));
    }
    Ok(VerifiedStatusList { list: StatusList { bytes }, issued_at, expires_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_bits() {
        let mut l = StatusList::with_len(10);
        l.set(5, RecordStatus::Invalid);
        l.set(6, RecordStatus::Suspended);
        l.set(13, RecordStatus::Invalid);
        assert_eq!(l.get(4), Some(RecordStatus::Valid));
        assert_eq!(l.get(5), Some(RecordStatus::Invalid));
        assert_eq!(l.get(6), Some(RecordStatus::Suspended));
        assert_eq!(l.get(13), Some(RecordStatus::Invalid));
        assert_eq!(l.get(100), None);
        l.set(5, RecordStatus::Valid);
        assert_eq!(l.get(5), Some(RecordStatus::Valid));
    }
}
