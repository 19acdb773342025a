//! CBOR through `ciborium`: encoding with definite lengths and shortest integers (ISO/IEC 18013-5
//! §8.1 asks for the RFC 8949 §4.2.1 core deterministic form for anything that is hashed), and typed
//! access to decoded values that names the element when it is not what the standard says.

use ciborium::Value;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::MdocError;

/// `#6.24`: an embedded CBOR data item (RFC 8949 §3.4.5.1).
pub const TAG_ENCODED_CBOR: u64 = 24;
/// `#6.0`: an RFC 3339 date-time (`tdate`).
pub const TAG_TDATE: u64 = 0;
/// `#6.1004`: an RFC 3339 full-date (RFC 8943).
pub const TAG_FULL_DATE: u64 = 1004;

pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("writing CBOR to memory");
    out
}

/// Decodes exactly one data item; trailing bytes are an error.
pub fn decode(bytes: &[u8], what: &'static str) -> Result<Value, MdocError> {
    let mut reader = bytes;
    let value: Value = ciborium::from_reader(&mut reader).map_err(|e| MdocError::Cbor { what, reason: e.to_string() })?;
    if !reader.is_empty() {
        return Err(MdocError::Cbor { what, reason: format!("{} bytes after the data item", reader.len()) });
    }
    Ok(value)
}

/// `#6.24(bstr .cbor value)`.
pub fn embed(value: &Value) -> Value {
    Value::Tag(TAG_ENCODED_CBOR, Box::new(Value::Bytes(encode(value))))
}

/// The bytes of `#6.24(bstr)` encoded, which is what ISO/IEC 18013-5 hashes and signs as `…Bytes`.
pub fn embedded_encoding(inner: &[u8]) -> Vec<u8> {
    encode(&Value::Tag(TAG_ENCODED_CBOR, Box::new(Value::Bytes(inner.to_vec()))))
}

/// The inner bytes of a `#6.24(bstr)`.
pub fn unembed<'a>(value: &'a Value, what: &'static str) -> Result<&'a [u8], MdocError> {
    match value {
        Value::Tag(TAG_ENCODED_CBOR, inner) => match inner.as_ref() {
            Value::Bytes(b) => Ok(b),
            _ => Err(MdocError::malformed(what, "tag 24 must hold a byte string")),
        },
        _ => Err(MdocError::malformed(what, "expected embedded CBOR (tag 24)")),
    }
}

pub fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// `tdate`: tag 0 with seconds precision and `Z` (ISO/IEC 18013-5 §9.1.2.4 forbids fractions).
pub fn tdate(t: OffsetDateTime) -> Value {
    let t = t.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).unwrap_or(t);
    let s = t.format(&Rfc3339).expect("RFC 3339 formats every UTC time");
    Value::Tag(TAG_TDATE, Box::new(Value::Text(s)))
}

pub fn full_date(d: Date) -> Value {
    let s = format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
    Value::Tag(TAG_FULL_DATE, Box::new(Value::Text(s)))
}

pub fn parse_tdate(value: &Value, what: &'static str) -> Result<OffsetDateTime, MdocError> {
    match value {
        Value::Tag(TAG_TDATE, inner) => match inner.as_ref() {
            Value::Text(s) => OffsetDateTime::parse(s, &Rfc3339).map_err(|e| MdocError::malformed(what, format!("{s:?}: {e}"))),
            _ => Err(MdocError::malformed(what, "tag 0 must hold a text string")),
        },
        _ => Err(MdocError::malformed(what, "expected a tdate (tag 0)")),
    }
}

/// A map of text keys, looked up by name.
pub struct Map<'a> {
    entries: &'a [(Value, Value)],
    what: &'static str,
}

impl<'a> Map<'a> {
    pub fn new(value: &'a Value, what: &'static str) -> Result<Self, MdocError> {
        match value {
            Value::Map(entries) => Ok(Map { entries, what }),
            _ => Err(MdocError::malformed(what, "expected a map")),
        }
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.entries.iter().find(|(k, _)| matches!(k, Value::Text(t) if t == key)).map(|(_, v)| v)
    }

    pub fn required(&self, key: &'static str) -> Result<&'a Value, MdocError> {
        self.get(key).ok_or(MdocError::Missing { what: self.what, field: key })
    }

    pub fn text(&self, key: &'static str) -> Result<&'a str, MdocError> {
        as_text(self.required(key)?, key)
    }

    pub fn entries(&self) -> &'a [(Value, Value)] {
        self.entries
    }
}

pub fn as_text<'a>(value: &'a Value, what: &'static str) -> Result<&'a str, MdocError> {
    value.as_text().ok_or_else(|| MdocError::malformed(what, "expected a text string"))
}

pub fn as_bytes<'a>(value: &'a Value, what: &'static str) -> Result<&'a [u8], MdocError> {
    value.as_bytes().map(Vec::as_slice).ok_or_else(|| MdocError::malformed(what, "expected a byte string"))
}

pub fn as_array<'a>(value: &'a Value, what: &'static str) -> Result<&'a [Value], MdocError> {
    value.as_array().map(Vec::as_slice).ok_or_else(|| MdocError::malformed(what, "expected an array"))
}

pub fn as_uint(value: &Value, what: &'static str) -> Result<u64, MdocError> {
    value.as_integer().and_then(|i| u64::try_from(i).ok()).ok_or_else(|| MdocError::malformed(what, "expected an unsigned integer"))
}

pub fn as_bool(value: &Value, what: &'static str) -> Result<bool, MdocError> {
    value.as_bool().ok_or_else(|| MdocError::malformed(what, "expected a boolean"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_embedding_round_trip() {
        let t = OffsetDateTime::from_unix_timestamp(1_601_559_002).unwrap();
        let v = tdate(t);
        assert_eq!(encode(&v)[..2], [0xc0, 0x74]);
        assert_eq!(parse_tdate(&v, "t").unwrap(), t);
        let inner = Value::Map(vec![]);
        let e = embed(&inner);
        assert_eq!(encode(&e), [0xd8, 0x18, 0x41, 0xa0]);
        assert_eq!(unembed(&e, "e").unwrap(), [0xa0]);
        assert!(decode(&[0xa0, 0x00], "x").is_err());
        assert!(decode(&[0x5f], "x").is_err());
    }
}
