//! Session encryption for in-person presentation (ISO/IEC 18013-5 §9.1.1): ECDH between EReaderKey
//! and EDeviceKey, `SKReader`/`SKDevice = HKDF-SHA-256(Z, SHA-256(SessionTranscriptBytes), info, 32)`,
//! AES-256-GCM with IV = 8-byte identifier (reader 0, mdoc 1) ‖ 4-byte counter from 1 per direction; and
//! the messages that carry it (§9.1.1.4): SessionEstablishment and SessionData.

use std::io::{Read, Write};

use jpki_crypto::ec::{aes256gcm_open, aes256gcm_seal, hkdf_sha256};
use jpki_crypto::EcKey;

use crate::cbor::{self, as_bytes, as_uint, text, Map};
use crate::transcript::SessionTranscript;
use crate::{cose, MdocError, Value};

/// SessionData status 20: session termination (§9.1.1.4, Table 20).
pub const STATUS_SESSION_TERMINATION: u64 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Reader,
    Device,
}

/// One side's keys and counters.
pub struct SessionEncryption {
    send_key: [u8; 32],
    receive_key: [u8; 32],
    send_identifier: [u8; 8],
    receive_identifier: [u8; 8],
    sent: u32,
    received: u32,
}

fn iv(identifier: [u8; 8], counter: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(&identifier);
    iv[8..].copy_from_slice(&counter.to_be_bytes());
    iv
}

/// Derives a 32-byte key from the ECDH secret and the transcript (§9.1.1.5), for `info`.
pub fn derive_key(own: &EcKey, peer_point: &[u8], transcript: &SessionTranscript, info: &str) -> Result<[u8; 32], MdocError> {
    let z = own.ecdh(peer_point).map_err(|e| MdocError::Session(format!("key agreement: {e}")))?;
    let salt = jpki_crypto::sha256(&transcript.tagged_bytes());
    Ok(hkdf_sha256(&z, &salt, info.as_bytes()))
}

impl SessionEncryption {
    pub fn new(role: Role, own: &EcKey, peer_point: &[u8], transcript: &SessionTranscript) -> Result<Self, MdocError> {
        let reader = derive_key(own, peer_point, transcript, "SKReader")?;
        let device = derive_key(own, peer_point, transcript, "SKDevice")?;
        let (reader_id, device_id) = ([0u8; 8], [0, 0, 0, 0, 0, 0, 0, 1]);
        Ok(match role {
            Role::Reader => {
                SessionEncryption { send_key: reader, receive_key: device, send_identifier: reader_id, receive_identifier: device_id, sent: 0, received: 0 }
            }
            Role::Device => {
                SessionEncryption { send_key: device, receive_key: reader, send_identifier: device_id, receive_identifier: reader_id, sent: 0, received: 0 }
            }
        })
    }

    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, MdocError> {
        self.sent = self.sent.checked_add(1).ok_or_else(|| MdocError::Session("message counter exhausted".into()))?;
        Ok(aes256gcm_seal(&self.send_key, iv(self.send_identifier, self.sent), plaintext))
    }

    pub fn decrypt(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, MdocError> {
        let counter = self.received.checked_add(1).ok_or_else(|| MdocError::Session("message counter exhausted".into()))?;
        let plain = aes256gcm_open(&self.receive_key, iv(self.receive_identifier, counter), ciphertext)
            .ok_or_else(|| MdocError::Session("message does not decrypt (wrong key, replayed or altered)".into()))?;
        self.received = counter;
        Ok(plain)
    }
}

/// `SessionEstablishment = {"eReaderKey": EReaderKeyBytes, "data": bstr}`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEstablishment {
    /// The bytes inside `EReaderKeyBytes`' `#6.24`.
    pub e_reader_key_bytes: Vec<u8>,
    pub data: Vec<u8>,
}

impl SessionEstablishment {
    pub fn new(e_reader_key: &[u8], data: Vec<u8>) -> Self {
        SessionEstablishment { e_reader_key_bytes: cbor::encode(&cose::ec2_key(e_reader_key)), data }
    }

    pub fn e_reader_key(&self) -> Result<Vec<u8>, MdocError> {
        cose::ec2_point(&cbor::decode(&self.e_reader_key_bytes, "EReaderKey")?, "EReaderKey")
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        cbor::encode(&Value::Map(vec![
            (text("eReaderKey"), Value::Tag(cbor::TAG_ENCODED_CBOR, Box::new(Value::Bytes(self.e_reader_key_bytes.clone())))),
            (text("data"), Value::Bytes(self.data.clone())),
        ]))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MdocError> {
        let value = cbor::decode(bytes, "SessionEstablishment")?;
        let map = Map::new(&value, "SessionEstablishment")?;
        Ok(SessionEstablishment {
            e_reader_key_bytes: cbor::unembed(map.required("eReaderKey")?, "EReaderKeyBytes")?.to_vec(),
            data: as_bytes(map.required("data")?, "data")?.to_vec(),
        })
    }
}

/// `SessionData = {? "data": bstr, ? "status": uint}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionData {
    pub data: Option<Vec<u8>>,
    pub status: Option<u64>,
}

impl SessionData {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut map = Vec::new();
        if let Some(d) = &self.data {
            map.push((text("data"), Value::Bytes(d.clone())));
        }
        if let Some(s) = self.status {
            map.push((text("status"), Value::from(s)));
        }
        cbor::encode(&Value::Map(map))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MdocError> {
        let value = cbor::decode(bytes, "SessionData")?;
        let map = Map::new(&value, "SessionData")?;
        Ok(SessionData {
            data: map.get("data").map(|d| as_bytes(d, "data").map(<[u8]>::to_vec)).transpose()?,
            status: map.get("status").map(|s| as_uint(s, "status")).transpose()?,
        })
    }
}

/// The largest message either side accepts (a response with a portrait is well under this).
pub const MAX_MESSAGE: usize = 4 << 20;

/// Writes one message to a byte stream (TCP here), framed by a 4-byte big-endian length, as BLE and
/// NFC frame messages by their own means.
pub fn write_message(w: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(&(bytes.len() as u32).to_be_bytes())?;
    w.write_all(bytes)?;
    w.flush()
}

pub fn read_message(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("message of {len} bytes is larger than {MAX_MESSAGE}")));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    Ok(buf)
}
