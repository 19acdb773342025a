//! The card directory: everything a virtual My Number card holds, as `jpki sandbox card issue` writes it
//! and the card emulator runs it.
//!
//! `card.json` is the card's memory and the only source of truth: identity data, PINs (salted SHA-256)
//! with their retry counters, keys and certificates. The PEM files beside it (`sign-cert.pem`,
//! `auth-cert.pem`, `sign-key.pem`, `auth-key.pem`, `sign-ca.pem`, `auth-ca.pem`) are sandbox-only
//! exports for test tools, rewritten from `card.json` on every change. Every file is replaced atomically
//! (write to a temporary file, fsync, rename), so a crash leaves either the old or the new card.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use jpki_profile::pin_policy::PinKind;
use jpki_profile::{Device, FourInfo};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ca::pem;
use crate::{CaRole, IssuerError};

pub const CARD_FORMAT: &str = "openjpki-card/1";
pub const STATE_FILE: &str = "card.json";

/// One PIN as the card stores it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PinState {
    pub salt: String,
    pub sha256: String,
    pub tries_left: u8,
}

impl PinState {
    pub fn new(kind: PinKind, pin: &str) -> PinState {
        let salt = hex::encode(jpki_crypto::random_bytes::<16>());
        PinState { sha256: pin_hash(&salt, pin), salt, tries_left: kind.rule().max_tries }
    }
}

fn pin_hash(salt: &str, pin: &str) -> String {
    hex::encode(jpki_crypto::sha256(format!("{salt}:{pin}").as_bytes()))
}

/// A key pair and certificate held by the card.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeySlot {
    /// PKCS#8 DER, base64.
    pub private_key: String,
    /// Certificate DER, base64.
    pub certificate: String,
    pub serial: String,
}

impl KeySlot {
    pub fn new(key: &jpki_crypto::RsaKey, certificate_der: &[u8], serial: &str) -> KeySlot {
        let b64 = base64::engine::general_purpose::STANDARD;
        KeySlot { private_key: b64.encode(key.pkcs8_der()), certificate: b64.encode(certificate_der), serial: serial.to_owned() }
    }

    fn decode(field: &str, value: &str) -> Result<Vec<u8>, String> {
        base64::engine::general_purpose::STANDARD.decode(value).map_err(|e| format!("{field} is not base64: {e}"))
    }

    pub fn certificate_der(&self) -> Result<Vec<u8>, String> {
        Self::decode("certificate", &self.certificate)
    }

    pub fn private_key_der(&self) -> Result<Vec<u8>, String> {
        Self::decode("private_key", &self.private_key)
    }
}

/// The whole state of one virtual card.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardState {
    pub format: String,
    pub card_id: String,
    pub person_id: String,
    pub device: Device,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub my_number: String,
    pub four_info: FourInfo,
    pub pins: BTreeMap<String, PinState>,
    /// `signature` is absent for holders under 15.
    pub keys: BTreeMap<String, KeySlot>,
    /// CA certificates (DER, base64) by role.
    pub ca_certificates: BTreeMap<String, String>,
}

pub fn pin_name(kind: PinKind) -> &'static str {
    match kind {
        PinKind::Signature => "signature",
        PinKind::Authentication => "authentication",
        PinKind::InputAssistance => "input_assistance",
        PinKind::ResidentRegistry => "resident_registry",
    }
}

impl CardState {
    pub fn load(dir: &Path) -> Result<CardState, IssuerError> {
        let path = dir.join(STATE_FILE);
        let bad = |reason: String| IssuerError::CardDirectory { path: dir.display().to_string(), reason };
        let text = std::fs::read_to_string(&path).map_err(|e| bad(format!("cannot read {STATE_FILE}: {e}")))?;
        let state: CardState =
            serde_json::from_str(&text).map_err(|e| bad(format!("{STATE_FILE} is not a card state: {e}")))?;
        if state.format != CARD_FORMAT {
            return Err(bad(format!("unsupported card format {:?}", state.format)));
        }
        Ok(state)
    }

    /// Writes `card.json` and the PEM exports into `dir`, each file atomically.
    pub fn save(&self, dir: &Path) -> Result<(), IssuerError> {
        let json = serde_json::to_vec_pretty(self).expect("card state serializes");
        for role in CaRole::ALL {
            let stem = role.file_stem();
            match self.keys.get(role.as_str()) {
                Some(slot) => {
                    let bad = |reason| IssuerError::CardDirectory { path: dir.display().to_string(), reason };
                    let cert = slot.certificate_der().map_err(bad)?;
                    let key = slot.private_key_der().map_err(bad)?;
                    write_atomic(&dir.join(format!("{stem}-cert.pem")), pem("CERTIFICATE", &cert).as_bytes())?;
                    write_atomic(&dir.join(format!("{stem}-key.pem")), pem("PRIVATE KEY", &key).as_bytes())?;
                }
                None => {
                    for file in [format!("{stem}-cert.pem"), format!("{stem}-key.pem")] {
                        let _ = std::fs::remove_file(dir.join(file));
                    }
                }
            }
            if let Some(ca) = self.ca_certificates.get(role.as_str()) {
                let der = base64::engine::general_purpose::STANDARD.decode(ca).map_err(|e| IssuerError::CardDirectory {
                    path: dir.display().to_string(),
                    reason: format!("CA certificate is not base64: {e}"),
                })?;
                write_atomic(&dir.join(format!("{stem}-ca.pem")), pem("CERTIFICATE", &der).as_bytes())?;
            }
        }
        write_atomic(&dir.join(STATE_FILE), &json)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, fsynced, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IssuerError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| IssuerError::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| IssuerError::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| IssuerError::io(path, e))?;
    tmp.persist(path).map_err(|e| IssuerError::io(path, e.error))?;
    sync_dir(dir);
    Ok(())
}

/// Makes a rename in `dir` durable (best effort: not every platform can fsync a directory).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
