//! The phone's directory:
//!
//! ```text
//! PHONE/phone.json             what was issued, when, to whom (no secrets)
//! PHONE/jpki/                  smartphone JPKI keys and certificates (card directory format)
//! PHONE/mnc/issuer-signed.cbor the record as issued: IssuerSigned, every element
//! PHONE/mnc/device-key.p8      the record's device key (PKCS#8, owner-only)
//! PHONE/reader-roots.pem       roots of the reader certificates the phone recognises
//! ```

use std::path::{Path, PathBuf};

use jpki_crypto::EcKey;
use jpki_mdoc::document::IssuerSigned;
use jpki_mdoc::trust::Roots;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::WalletError;

pub const PHONE_FORMAT: &str = "openjpki-phone/1";
pub const JPKI_DIR: &str = "jpki";
const META: &str = "phone.json";
const ISSUER_SIGNED: &str = "mnc/issuer-signed.cbor";
const DEVICE_KEY: &str = "mnc/device-key.p8";
const READER_ROOTS: &str = "reader-roots.pem";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhoneInfo {
    pub format: String,
    pub phone_id: String,
    pub person_id: String,
    pub record_id: String,
    pub doc_type: String,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub record_valid_until: OffsetDateTime,
}

/// A loaded phone.
pub struct Phone {
    pub dir: PathBuf,
    pub info: PhoneInfo,
    pub record: IssuerSigned,
    pub device_key: EcKey,
    pub reader_roots: Roots,
}

fn phone_error(dir: &Path, reason: impl std::fmt::Display) -> WalletError {
    WalletError::Phone { path: dir.display().to_string(), reason: reason.to_string() }
}

impl Phone {
    /// Writes a new phone into `dir` (a fresh staging directory; the JPKI store is written separately).
    pub fn write(dir: &Path, info: &PhoneInfo, record: &IssuerSigned, device_key: &EcKey, reader_roots_pem: &str) -> Result<(), WalletError> {
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            jpki_files::write_atomic(&path, bytes).map_err(|e| phone_error(dir, e))
        };
        write(ISSUER_SIGNED, &record.to_bytes())?;
        write(DEVICE_KEY, device_key.pkcs8_der())?;
        write(READER_ROOTS, reader_roots_pem.as_bytes())?;
        write(META, serde_json::to_string_pretty(info).expect("phone info serializes").as_bytes())
    }

    pub fn load(dir: &Path) -> Result<Phone, WalletError> {
        let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| phone_error(dir, format!("{name}: {e}")));
        let info: PhoneInfo = serde_json::from_slice(&read(META)?).map_err(|e| phone_error(dir, format!("{META}: {e}")))?;
        if info.format != PHONE_FORMAT {
            return Err(phone_error(dir, format!("format {:?}, expected {PHONE_FORMAT:?}", info.format)));
        }
        let record = IssuerSigned::from_bytes(&read(ISSUER_SIGNED)?).map_err(|e| phone_error(dir, format!("{ISSUER_SIGNED}: {e}")))?;
        let device_key = EcKey::from_pkcs8_der(&read(DEVICE_KEY)?).map_err(|e| phone_error(dir, format!("{DEVICE_KEY}: {e}")))?;
        let reader_roots = Roots::from_pem_or_der(&read(READER_ROOTS)?).map_err(|e| phone_error(dir, format!("{READER_ROOTS}: {e}")))?;
        Ok(Phone { dir: dir.to_path_buf(), info, record, device_key, reader_roots })
    }

    /// The smartphone JPKI store of the phone in `dir`, usable wherever a card directory is.
    pub fn jpki_dir_of(dir: &Path) -> PathBuf {
        dir.join(JPKI_DIR)
    }
}

impl Phone {
    /// A DeviceResponse disclosing exactly `approved` (namespace, element) of the record, signed with the
    /// device key over `transcript`.
    pub fn respond(&self, approved: &[(String, String)], transcript: &jpki_mdoc::transcript::SessionTranscript) -> Result<Vec<u8>, WalletError> {
        use jpki_mdoc::document::{DeviceResponse, Document};
        let disclosed = jpki_mdoc::issuance::disclose(&self.record, |ns, id| approved.iter().any(|(n, i)| n == ns && i == id));
        let device_signed = jpki_mdoc::device_auth::sign(&self.device_key, transcript, &self.info.doc_type)?;
        let document = Document { doc_type: self.info.doc_type.clone(), issuer_signed: disclosed, device_signed };
        Ok(DeviceResponse { version: "1.0".into(), documents: vec![document], status: 0 }.to_bytes())
    }
}
