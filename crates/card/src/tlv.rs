//! The BER-TLV data objects of the card's JICSAP applications (ISO/IEC 7816-4 §6.3), through the
//! `iso7816-tlv` crate: building records from tagged fields and finding fields in what a card returns.

use iso7816_tlv::ber::{Tag, Tlv, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("{what}: not a BER-TLV object ({reason})")]
    Malformed { what: &'static str, reason: String },
    #[error("{what}: expected tag {expected:X}, found {found}")]
    UnexpectedTag { what: &'static str, expected: u32, found: String },
    #[error("{what}: field {tag:X} is missing")]
    Missing { what: &'static str, tag: u32 },
}

fn tag(number: u32) -> Tag {
    Tag::try_from(number).expect("the card's tags are valid BER tags")
}

/// A primitive data object.
pub fn primitive(number: u32, value: &[u8]) -> Tlv {
    Tlv::new(tag(number), Value::Primitive(value.to_vec())).expect("a primitive tag with a primitive value")
}

/// A constructed data object holding `children` in order.
pub fn constructed(number: u32, children: Vec<Tlv>) -> Tlv {
    Tlv::new(tag(number), Value::Constructed(children)).expect("a constructed tag with a constructed value")
}

/// Parses one object with tag `expected` at the start of `bytes`; bytes after it (filler) are ignored.
pub fn parse(what: &'static str, expected: u32, bytes: &[u8]) -> Result<Tlv, TlvError> {
    let (parsed, _rest) = Tlv::parse(bytes);
    let tlv = parsed.map_err(|e| TlvError::Malformed { what, reason: format!("{e:?}") })?;
    if *tlv.tag() != tag(expected) {
        return Err(TlvError::UnexpectedTag { what, expected, found: hex::encode_upper(tlv.tag().to_bytes()) });
    }
    Ok(tlv)
}

/// The value of the primitive child `number` of a constructed object.
pub fn field<'a>(what: &'static str, parent: &'a Tlv, number: u32) -> Result<&'a [u8], TlvError> {
    let Value::Constructed(children) = parent.value() else {
        return Err(TlvError::Malformed { what, reason: "not a constructed object".into() });
    };
    children
        .iter()
        .find(|c| *c.tag() == tag(number))
        .and_then(|c| match c.value() {
            Value::Primitive(v) => Some(v.as_slice()),
            Value::Constructed(_) => None,
        })
        .ok_or(TlvError::Missing { what, tag: number })
}

/// The value bytes of a primitive object.
pub fn value(tlv: &Tlv) -> &[u8] {
    match tlv.value() {
        Value::Primitive(v) => v,
        Value::Constructed(_) => &[],
    }
}

/// Encodes `parent`, whose first child is an offset table with `table_tag`, filled with the absolute
/// offset (big-endian u16) in the encoding of every later child's tag: the layout of the card's
/// attribute records (input-assistance EF 0002, card-face EF 0002).
pub fn encode_with_offset_table(parent_tag: u32, table_tag: u32, fields: Vec<Tlv>) -> Vec<u8> {
    let table_len = 2 * fields.len();
    let placeholder = primitive(table_tag, &vec![0; table_len]);
    let inner: usize = placeholder.to_vec().len() + fields.iter().map(|f| f.to_vec().len()).sum::<usize>();
    let header = tag(parent_tag).len_as_bytes() + length_of_length(inner);
    let mut offsets = Vec::with_capacity(table_len);
    let mut at = header + placeholder.to_vec().len();
    for f in &fields {
        offsets.extend_from_slice(&(at as u16).to_be_bytes());
        at += f.to_vec().len();
    }
    let mut children = vec![primitive(table_tag, &offsets)];
    children.extend(fields);
    constructed(parent_tag, children).to_vec()
}

fn length_of_length(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=255 => 2,
        256..=65535 => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_table_points_at_each_tag() {
        for value_len in [3usize, 60, 130, 300] {
            let fields = vec![primitive(0xdf22, &vec![b'a'; value_len]), primitive(0xdf23, b"xyz")];
            let bytes = encode_with_offset_table(0xff20, 0xdf21, fields);
            let parsed = parse("record", 0xff20, &bytes).unwrap();
            let table = field("record", &parsed, 0xdf21).unwrap();
            let first = usize::from(u16::from_be_bytes([table[0], table[1]]));
            let second = usize::from(u16::from_be_bytes([table[2], table[3]]));
            assert_eq!(&bytes[first..first + 2], &[0xdf, 0x22], "value length {value_len}");
            assert_eq!(&bytes[second..second + 2], &[0xdf, 0x23], "value length {value_len}");
            assert_eq!(field("record", &parsed, 0xdf23).unwrap(), b"xyz");
        }
        assert!(matches!(parse("x", 0xff20, &[0xff]), Err(TlvError::Malformed { .. })));
        assert!(matches!(parse("x", 0xff20, &[0xff, 0x10, 0x00]), Err(TlvError::UnexpectedTag { .. })));
    }
}
