//! 券面事項確認AP (券面AP): the card face as data, for checking a card against its holder
//! (../shared/reference/jpki-card.md §11).
//!
//! | EF | content | opened by |
//! |---|---|---|
//! | 0001 | age record `FF10 { DF11 birth date, DF12 key, DF13 signature }` | birth-date code |
//! | 0002 | card face `FF20 { DF21 offsets, DF22 birth date, DF23 sex, DF24 key, DF25 name image, DF26 address image, DF27 photo, DF28 signature, DF29 expiry date, DF2A security-code image }` | 照合番号A or B |
//! | 0003 | basic information `FF30 { DF31 layout, DF32 key id, DF33 version, DF34 municipality code }` | free |
//! | 0004 | the issuer's card-verifiable certificate | free |
//! | 0005 | `FF40 { DF41 My Number image, DF42 key, DF43 signature }` | 照合番号A only |
//! | 0011, 0012, 0013 | birth-date code, 照合番号B, 照合番号A | |
//!
//! DF28 is a PKCS#1 v1.5 signature over the 115-byte DigestInfo-like block `SHA-256 prefix ‖
//! SHA-256(DF22..DF24) ‖ SHA-256(DF25..DF26) ‖ SHA-256(DF27)`; DF29 and DF2A follow it and are not
//! covered (as reported for real cards). DF13 and DF43 sign SHA-256 of the objects before them.

use iso7816_tlv::ber::{Tlv, Value};
use serde::Serialize;

use super::card_data::CardPublicKey;
use super::images;
use crate::card_dir::CardState;
use crate::tlv::{self, TlvError};

pub const AGE_RECORD: u16 = 0x0001;
pub const FACE: u16 = 0x0002;
pub const BASIC_INFO: u16 = 0x0003;
pub const CV_CERTIFICATE: u16 = 0x0004;
pub const MY_NUMBER_IMAGE: u16 = 0x0005;

fn concat(tlvs: &[Tlv]) -> Vec<u8> {
    tlvs.iter().flat_map(Tlv::to_vec).collect()
}

fn age_fields(state: &CardState, signer: &CardPublicKey) -> Vec<Tlv> {
    vec![tlv::primitive(0xdf11, state.four_info.birth_date.to_compact().as_bytes()), tlv::primitive(0xdf12, &signer.encode())]
}

struct FaceFields {
    identity: Vec<Tlv>,
    text_images: Vec<Tlv>,
    photo: Tlv,
}

fn face_fields(state: &CardState, signer: &CardPublicKey) -> Result<FaceFields, String> {
    Ok(FaceFields {
        identity: vec![
            tlv::primitive(0xdf22, state.four_info.birth_date.to_compact().as_bytes()),
            tlv::primitive(0xdf23, &[b'0' + state.four_info.sex.code()]),
            tlv::primitive(0xdf24, &signer.encode()),
        ],
        text_images: vec![
            tlv::primitive(0xdf25, &images::text_image(&state.four_info.name)),
            tlv::primitive(0xdf26, &images::text_image(&state.four_info.address)),
        ],
        photo: tlv::primitive(0xdf27, &state.photo.bytes()?),
    })
}

fn face_digest_info(identity: &[u8], text_images: &[u8], photo: &[u8]) -> Vec<u8> {
    let mut out = jpki_crypto::SHA256_DIGEST_INFO_PREFIX.to_vec();
    for part in [identity, text_images, photo] {
        out.extend_from_slice(&jpki_crypto::sha256(part));
    }
    out
}

fn my_number_fields(state: &CardState, signer: &CardPublicKey) -> Vec<Tlv> {
    vec![tlv::primitive(0xdf41, &images::text_image(&state.my_number)), tlv::primitive(0xdf42, &signer.encode())]
}

/// What the issuer signs for this application.
pub struct ToBeSigned {
    /// Signed with SHA-256 (DF13).
    pub age_record: Vec<u8>,
    /// Signed as given (DF28).
    pub face_digest_info: Vec<u8>,
    /// Signed with SHA-256 (DF43).
    pub my_number_image: Vec<u8>,
}

pub fn to_be_signed(state: &CardState, signer: &CardPublicKey) -> Result<ToBeSigned, String> {
    let face = face_fields(state, signer)?;
    Ok(ToBeSigned {
        age_record: concat(&age_fields(state, signer)),
        face_digest_info: face_digest_info(&concat(&face.identity), &concat(&face.text_images), &face.photo.to_vec()),
        my_number_image: concat(&my_number_fields(state, signer)),
    })
}

pub fn age_record_ef(state: &CardState, signer: &CardPublicKey, signature: &[u8]) -> Vec<u8> {
    let mut fields = age_fields(state, signer);
    fields.push(tlv::primitive(0xdf13, signature));
    tlv::constructed(0xff10, fields).to_vec()
}

pub fn face_ef(state: &CardState, signer: &CardPublicKey, signature: &[u8]) -> Result<Vec<u8>, String> {
    let face = face_fields(state, signer)?;
    let mut fields = face.identity;
    fields.extend(face.text_images);
    fields.push(face.photo);
    fields.push(tlv::primitive(0xdf28, signature));
    fields.push(tlv::primitive(0xdf29, state.expiry_yyyymmdd().as_bytes()));
    fields.push(tlv::primitive(0xdf2a, &images::text_image(&state.security_code)));
    Ok(tlv::encode_with_offset_table(0xff20, 0xdf21, fields))
}

pub fn basic_info_ef(state: &CardState, signer: &CardPublicKey) -> Vec<u8> {
    tlv::constructed(
        0xff30,
        vec![
            tlv::primitive(0xdf31, &[0x06, 0x03, 0x0e, 0x01]),
            tlv::primitive(0xdf32, &signer.key_id()),
            tlv::primitive(0xdf33, &[0x01]),
            tlv::primitive(0xdf34, state.municipality_code.as_bytes()),
        ],
    )
    .to_vec()
}

pub fn my_number_image_ef(state: &CardState, signer: &CardPublicKey, signature: &[u8]) -> Vec<u8> {
    let mut fields = my_number_fields(state, signer);
    fields.push(tlv::primitive(0xdf43, signature));
    tlv::constructed(0xff40, fields).to_vec()
}

/// The card face as read from EF 0002.
#[derive(Debug, Clone, Serialize)]
pub struct CardFace {
    /// YYYYMMDD.
    pub birth_date: String,
    pub sex: String,
    /// YYYYMMDD.
    pub expires: String,
    #[serde(skip)]
    pub name_image: Vec<u8>,
    #[serde(skip)]
    pub address_image: Vec<u8>,
    #[serde(skip)]
    pub photo: Vec<u8>,
    #[serde(skip)]
    pub security_code_image: Vec<u8>,
    /// The signature over the birth date, sex, images and photo verifies with the key in DF24.
    pub intact: bool,
    /// Key id (hex) of the key in DF24.
    pub signer_key_id: String,
}

pub fn parse_face(ef: &[u8]) -> Result<CardFace, TlvError> {
    const WHAT: &str = "card face";
    let record = tlv::parse(WHAT, 0xff20, ef)?;
    let Value::Constructed(children) = record.value() else {
        return Err(TlvError::Malformed { what: WHAT, reason: "not constructed".into() });
    };
    let get = |tag| tlv::field(WHAT, &record, tag);
    let encoded = |tags: &[u32]| -> Vec<u8> {
        children.iter().filter(|c| tags.iter().any(|t| c.tag().to_bytes() == &t.to_be_bytes()[2..])).flat_map(Tlv::to_vec).collect()
    };
    let key = CardPublicKey::decode(WHAT, get(0xdf24)?)?;
    let digest_info = face_digest_info(&encoded(&[0xdf22, 0xdf23, 0xdf24]), &encoded(&[0xdf25, 0xdf26]), &encoded(&[0xdf27]));
    let text = |tag| get(tag).map(|v| String::from_utf8_lossy(v).into_owned());
    Ok(CardFace {
        birth_date: text(0xdf22)?,
        sex: text(0xdf23)?,
        expires: text(0xdf29)?,
        name_image: get(0xdf25)?.to_vec(),
        address_image: get(0xdf26)?.to_vec(),
        photo: get(0xdf27)?.to_vec(),
        security_code_image: get(0xdf2a)?.to_vec(),
        intact: key.verifies_digest_info(&digest_info, get(0xdf28)?),
        signer_key_id: hex::encode(key.key_id()),
    })
}
