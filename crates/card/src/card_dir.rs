//! The card directory: everything a virtual My Number card holds, as `jpki sandbox card issue` writes it
//! and the card emulator runs it.
//!
//! `card.json` is the card's memory and the only source of truth: identity data, PINs (salted SHA-256)
//! with their retry counters, keys and certificates, the issuer's seal over the card data, and the free
//! area. The PEM files beside it (`sign-cert.pem`, `auth-cert.pem`, `sign-key.pem`, `auth-key.pem`,
//! `sign-ca.pem`, `auth-ca.pem`) are sandbox-only exports for test tools, rewritten by the issuer.
//! Every file is replaced atomically (write to a temporary file, fsync, rename), so a crash leaves either
//! the old or the new card; changes the card makes itself (retry counters, PIN changes, free-area
//! writes) go through [`CardDir::update`], which holds an exclusive lock on `card.lock` so the emulator
//! and a sandbox command never lose each other's writes.

use jpki_files::{pem, write_atomic};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use jpki_profile::pin_policy::PinKind;
use jpki_profile::{Device, FourInfo, KeyRole};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::pins::PinSlot;

pub const CARD_FORMAT: &str = "openjpki-card/2";
pub const STATE_FILE: &str = "card.json";
const LOCK_FILE: &str = "card.lock";

#[derive(Debug, thiserror::Error)]
pub enum CardDirError {
    #[error("card directory {path}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("I/O on {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl From<jpki_files::FileError> for CardDirError {
    fn from(e: jpki_files::FileError) -> Self {
        CardDirError::Io { path: e.path, source: e.source }
    }
}

impl CardDirError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        CardDirError::Io { path: path.display().to_string(), source }
    }
}

/// One PIN or verification code as the card stores it.
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

    pub fn matches(&self, pin: &[u8]) -> bool {
        let mut salted = format!("{}:", self.salt).into_bytes();
        salted.extend_from_slice(pin);
        jpki_crypto::constant_time_eq(hex::encode(jpki_crypto::sha256(&salted)).as_bytes(), self.sha256.as_bytes())
    }
}

fn pin_hash(salt: &str, pin: &str) -> String {
    hex::encode(jpki_crypto::sha256(format!("{salt}:{pin}").as_bytes()))
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn decode(field: &str, value: &str) -> Result<Vec<u8>, String> {
    b64().decode(value).map_err(|e| format!("{field} is not base64: {e}"))
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
        KeySlot { private_key: b64().encode(key.pkcs8_der()), certificate: b64().encode(certificate_der), serial: serial.to_owned() }
    }

    pub fn certificate_der(&self) -> Result<Vec<u8>, String> {
        decode("certificate", &self.certificate)
    }

    pub fn private_key_der(&self) -> Result<Vec<u8>, String> {
        decode("private_key", &self.private_key)
    }
}

/// The issuer's seal over the card data: its card-verifiable certificate and its signatures over the
/// input-assistance and card-face records (see [`crate::applications::card_data`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CardDataSeal {
    /// Card-verifiable certificate of the issuer's card-data key (EF 0004), base64.
    pub cv_certificate: String,
    pub input_assistance_signature: String,
    pub card_face_signature: String,
    pub age_record_signature: String,
    pub my_number_image_signature: String,
}

impl CardDataSeal {
    pub fn field(&self, name: &str) -> Result<Vec<u8>, String> {
        let value = match name {
            "cv_certificate" => &self.cv_certificate,
            "input_assistance_signature" => &self.input_assistance_signature,
            "card_face_signature" => &self.card_face_signature,
            "age_record_signature" => &self.age_record_signature,
            "my_number_image_signature" => &self.my_number_image_signature,
            _ => return Err(format!("no seal field {name}")),
        };
        decode(name, value)
    }
}

/// One business's application in the free area (空き領域).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FreeAreaApp {
    pub business: String,
    /// Application identifier, hex.
    pub aid: String,
    /// The access key the business authenticates with (EXTERNAL AUTHENTICATE), base64.
    pub access_key: String,
    /// The business's record, base64; at most [`crate::applications::free_area::RECORD_SIZE`] bytes.
    pub record: String,
}

/// The face photo, as the holder supplied it at application.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Photo {
    pub media_type: String,
    pub data: String,
}

impl Photo {
    pub fn new(media_type: &str, bytes: &[u8]) -> Photo {
        Photo { media_type: media_type.to_owned(), data: b64().encode(bytes) }
    }

    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        decode("photo", &self.data)
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
    /// 住民票コード, 11 digits.
    pub resident_code: String,
    /// The card's own serial number (15 digits) and its issuing municipality's code (5 digits).
    pub card_serial: String,
    pub municipality_code: String,
    /// The 4-digit security code printed under the face photo.
    pub security_code: String,
    pub photo: Photo,
    /// PINs and verification codes by [`PinSlot::name`].
    pub pins: BTreeMap<String, PinState>,
    /// By [`KeyRole::as_str`]; `signature` is absent for holders under 15.
    pub keys: BTreeMap<String, KeySlot>,
    /// CA certificates (DER, base64) by [`KeyRole::as_str`].
    pub ca_certificates: BTreeMap<String, String>,
    pub seal: CardDataSeal,
    /// Free-area applications by business name.
    #[serde(default)]
    pub free_area: BTreeMap<String, FreeAreaApp>,
}

impl CardState {
    pub fn key(&self, role: KeyRole) -> Option<&KeySlot> {
        self.keys.get(role.as_str())
    }

    pub fn ca_certificate_der(&self, role: KeyRole) -> Result<Option<Vec<u8>>, String> {
        self.ca_certificates.get(role.as_str()).map(|c| decode("CA certificate", c)).transpose()
    }

    pub fn pin(&self, slot: PinSlot) -> Option<&PinState> {
        self.pins.get(slot.name())
    }

    pub fn pin_mut(&mut self, slot: PinSlot) -> Option<&mut PinState> {
        self.pins.get_mut(slot.name())
    }

    /// The card's expiry date in Japan, YYYYMMDD.
    pub fn expiry_yyyymmdd(&self) -> String {
        let d = self.expires_at.to_offset(jpki_profile::cert_profile::JST).date();
        format!("{:04}{:02}{:02}", d.year(), d.month() as u8, d.day())
    }

    /// 照合番号B: birth date in the era (YYMMDD) + expiry year + security code.
    pub fn card_face_code(&self) -> String {
        format!("{}{}{}", self.four_info.birth_date.era_yymmdd(), &self.expiry_yyyymmdd()[..4], self.security_code)
    }

    /// Sets every PIN slot: the chosen ones from `chosen`, the verification codes from the card data.
    pub fn set_pins(&mut self, chosen: &BTreeMap<PinKind, String>) {
        for slot in PinSlot::ALL {
            let value = match slot.kind() {
                PinKind::CardNumberCode => Some(self.my_number.clone()),
                PinKind::CardFaceCode => Some(self.card_face_code()),
                PinKind::BirthDateCode => Some(self.four_info.birth_date.era_yymmdd()),
                kind => chosen.get(&kind).cloned(),
            };
            if let Some(value) = value {
                self.pins.insert(slot.name().to_owned(), PinState::new(slot.kind(), &value));
            }
        }
    }
}

/// A card directory on disk.
#[derive(Debug, Clone)]
pub struct CardDir {
    path: PathBuf,
}

impl CardDir {
    pub fn new(path: impl Into<PathBuf>) -> CardDir {
        CardDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn invalid(&self, reason: String) -> CardDirError {
        CardDirError::Invalid { path: self.path.display().to_string(), reason }
    }

    pub fn load(&self) -> Result<CardState, CardDirError> {
        let text = std::fs::read_to_string(self.path.join(STATE_FILE)).map_err(|e| self.invalid(format!("cannot read {STATE_FILE}: {e}")))?;
        let state: CardState = serde_json::from_str(&text).map_err(|e| self.invalid(format!("{STATE_FILE} is not a card state: {e}")))?;
        if state.format != CARD_FORMAT {
            return Err(self.invalid(format!("unsupported card format {:?} (expected {CARD_FORMAT})", state.format)));
        }
        Ok(state)
    }

    /// Writes `card.json` atomically.
    pub fn save_state(&self, state: &CardState) -> Result<(), CardDirError> {
        let json = serde_json::to_vec_pretty(state).map_err(|e| self.invalid(format!("cannot encode the state: {e}")))?;
        Ok(write_atomic(&self.path.join(STATE_FILE), &json)?)
    }

    /// Writes `card.json` and the PEM exports, each file atomically.
    pub fn save(&self, state: &CardState) -> Result<(), CardDirError> {
        self.write_exports(state)?;
        self.save_state(state)
    }

    /// Writes the PEM exports of `state`'s certificates and keys.
    pub fn write_exports(&self, state: &CardState) -> Result<(), CardDirError> {
        for role in KeyRole::ALL {
            let stem = role.file_stem();
            match state.key(role) {
                Some(slot) => {
                    let cert = slot.certificate_der().map_err(|r| self.invalid(r))?;
                    let key = slot.private_key_der().map_err(|r| self.invalid(r))?;
                    write_atomic(&self.path.join(format!("{stem}-cert.pem")), pem("CERTIFICATE", &cert).as_bytes())?;
                    write_atomic(&self.path.join(format!("{stem}-key.pem")), pem("PRIVATE KEY", &key).as_bytes())?;
                }
                None => {
                    for file in [format!("{stem}-cert.pem"), format!("{stem}-key.pem")] {
                        let _ = std::fs::remove_file(self.path.join(file));
                    }
                }
            }
            if let Some(der) = state.ca_certificate_der(role).map_err(|r| self.invalid(r))? {
                write_atomic(&self.path.join(format!("{stem}-ca.pem")), pem("CERTIFICATE", &der).as_bytes())?;
            }
        }
        Ok(())
    }

    /// Loads the state under an exclusive lock, lets `change` modify it and writes it back before the
    /// lock is released. Nothing is written when `change` fails.
    pub fn update<T, E: From<CardDirError>>(&self, change: impl FnOnce(&mut CardState) -> Result<T, E>) -> Result<T, E> {
        let lock_path = self.path.join(LOCK_FILE);
        let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| CardDirError::io(&lock_path, e))?;
        lock.lock().map_err(|e| CardDirError::io(&lock_path, e))?;
        let mut state = self.load()?;
        let out = change(&mut state)?;
        self.save_state(&state)?;
        Ok(out)
    }
}
