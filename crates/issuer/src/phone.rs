//! Issuing to a smartphone (スマホ用電子証明書 and the card-substitute record), as the real flow does it:
//! the holder first proves the card (a signature by its authentication key, which needs the card's
//! authentication PIN, and the input-assistance data read with its PIN); the issuer checks both
//! against its records, then issues the phone's own signature and authentication certificates
//! (smartphone policy, own PINs) and the record as an mdoc bound to a device key of the phone.
//! The phone is a device of its own: losing it holds its certificates and suspends its record, not
//! the card's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use der::Decode;
use jpki_card::card_dir::{CardDir, Photo};
use jpki_crypto::EcKey;
use jpki_mdoc::document::IssuerSigned;
use jpki_mdoc::issuance::{issue, IssueParams};
use jpki_mdoc::mnc::{self, RecordContents};
use jpki_mdoc::mso::ValidityInfo;
use jpki_mdoc::status::StatusReference;
use jpki_profile::cert_profile::{card_not_after, JST};
use jpki_profile::pin_policy::PinKind;
use jpki_profile::{Device, FourInfo};
use jpki_store::sqlx;
use serde::Serialize;
use time::OffsetDateTime;

use crate::cards::{check_output_dir, insert_device, lock_person, publish_dir, staging_dir, IssuedCertificate};
use crate::{now, Issuer, IssuerError};
use jpki_profile::KeyRole;

/// What the holder's card showed.
pub struct CardProof {
    /// The card's authentication certificate (DER).
    pub authentication_certificate: Vec<u8>,
    /// The issuer's challenge and the card's sha256WithRSAEncryption signature over it.
    pub challenge: Vec<u8>,
    pub signature: Vec<u8>,
    /// Read from the input-assistance application.
    pub my_number: String,
    pub four_info: FourInfo,
    /// The face photo from the card-face application.
    pub photo: Photo,
}

/// The smartphone JPKI PINs the holder chooses (the phone's own, not the card's).
pub struct PhonePins {
    pub signature: String,
    pub authentication: String,
}

/// Where an issued phone is written: the wallet's phone directory, whose format the issuer leaves to
/// the wallet (the caller passes the wallet's writer).
pub trait PhoneWriter {
    /// The directory inside a phone directory that holds its smartphone JPKI, as a card directory.
    fn jpki_dir(&self, phone_dir: &Path) -> PathBuf;
    /// Writes the rest of a new phone into `phone_dir`: its description, the record, the device key
    /// and the reader roots it trusts.
    fn write(&self, phone_dir: &Path, phone: &NewPhone<'_>) -> Result<(), String>;
}

/// What a new phone holds besides its smartphone JPKI.
pub struct NewPhone<'a> {
    pub phone_id: &'a str,
    pub person_id: &'a str,
    pub record_id: &'a str,
    pub doc_type: &'a str,
    pub issued_at: OffsetDateTime,
    pub record_valid_until: OffsetDateTime,
    pub record: &'a IssuerSigned,
    pub device_key: &'a EcKey,
    pub reader_roots_pem: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct IssuedPhone {
    pub phone_id: String,
    pub person_id: String,
    pub record_id: String,
    pub directory: PathBuf,
    pub certificates: Vec<IssuedCertificate>,
    #[serde(with = "time::serde::rfc3339")]
    pub record_valid_until: OffsetDateTime,
    pub notes: Vec<String>,
}

/// A fresh challenge for the card to sign.
pub fn challenge() -> Vec<u8> {
    jpki_crypto::random_bytes::<32>().to_vec()
}

/// A certificate joined with its card: person id, CA role, DER, revocation time, card status, device.
type CardCertificateRow = (String, String, Vec<u8>, Option<i64>, String, String);

impl Issuer {
    /// Checks the proof: the certificate is this sandbox's, for authentication, on a card in use and not
    /// revoked; its key signed the challenge; the input-assistance data is the registry's.
    async fn check_card_proof(&self, proof: &CardProof) -> Result<crate::registry::Person, IssuerError> {
        let refused = |r: &str| IssuerError::Refused(format!("card check failed: {r}"));
        let cert = x509_cert::Certificate::from_der(&proof.authentication_certificate).map_err(|e| refused(&format!("not a certificate: {e}")))?;
        let serial = jpki_profile::cert_profile::serial_hex(cert.tbs_certificate.serial_number.as_bytes());
        let row: Option<CardCertificateRow> = sqlx::query_as(
            "SELECT c.person_id, c.ca_role, c.der, c.revoked_at, k.status, k.device FROM certificate c JOIN card k ON k.id = c.card_id WHERE c.serial = $1",
        )
        .bind(&serial)
        .fetch_optional(self.db.pool())
        .await?;
        let Some((person_id, role, der, revoked_at, card_status, device)) = row else {
            return Err(refused("the authentication certificate was not issued by this sandbox"));
        };
        let is_card_authentication = KeyRole::parse(&role) == Some(KeyRole::Authentication) && Device::parse(&device) == Some(Device::Card);
        if der != proof.authentication_certificate || !is_card_authentication {
            return Err(refused("the certificate is not a card's authentication certificate"));
        }
        if revoked_at.is_some() || !matches!(card_status.as_str(), "active" | "found") {
            return Err(refused("the card's authentication certificate is revoked or the card is not in use"));
        }
        let spki = cert.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes();
        if !jpki_crypto::verify_rsa_sha256(spki, &proof.challenge, &proof.signature) {
            return Err(refused("the card's signature over the challenge does not verify"));
        }
        let person = self.person(&person_id).await?;
        if person.deceased_at.is_some() {
            return Err(IssuerError::Deceased(person.id));
        }
        if person.my_number.as_digits() != proof.my_number || person.four_info != proof.four_info {
            return Err(refused("the card's input-assistance data is not the registry's current record"));
        }
        Ok(person)
    }

    /// Issues a phone into `out` after checking `proof`. A phone issued earlier to the same person is
    /// retired (its certificates superseded, its record invalid).
    pub async fn issue_phone(&self, proof: &CardProof, pins: &PhonePins, out: &Path, writer: &dyn PhoneWriter) -> Result<IssuedPhone, IssuerError> {
        PinKind::Signature.validate_new(&pins.signature)?;
        PinKind::Authentication.validate_new(&pins.authentication)?;
        check_output_dir(out)?;
        let person = self.check_card_proof(proof).await?;
        let at = now();
        let expires_at = card_not_after(person.four_info.birth_date, at);
        let mut notes = Vec::new();
        let certs = self.new_certificates(&person, Device::Smartphone, at, expires_at, &mut notes)?;
        let phone_id = jpki_store::new_id("phone");
        let record_id = jpki_store::new_id("mnc");
        let pki = self.mdoc_pki().await?;
        let device_key = EcKey::generate_p256()?;
        let record_valid_until = expires_at.min(at + time::Duration::days(crate::mdoc_pki::RECORD_DAYS));

        let pins = BTreeMap::from([(PinKind::Signature, pins.signature.clone()), (PinKind::Authentication, pins.authentication.clone())]);
        let state = self.device_state(&phone_id, Device::Smartphone, &person, (at, expires_at), &certs, proof.photo.clone(), &pins)?;

        let staging = staging_dir(out, ".phone-")?;
        let jpki_dir = writer.jpki_dir(staging.path());
        std::fs::create_dir_all(&jpki_dir).map_err(|e| IssuerError::io(&jpki_dir, e))?;
        CardDir::new(&jpki_dir).save(&state)?;

        let mut tx = self.db.begin_write().await?;
        lock_person(&mut tx, &person.id, at).await?;
        let (status_index,): (i64,) = sqlx::query_as("SELECT next_status_index FROM issuer_state WHERE id = 1").fetch_one(&mut *tx).await?;
        sqlx::query("UPDATE issuer_state SET next_status_index = next_status_index + 1 WHERE id = 1").execute(&mut *tx).await?;
        insert_device(&mut tx, &phone_id, &person.id, Device::Smartphone, (at, expires_at), &certs).await?;
        sqlx::query("INSERT INTO mdoc_record (id, card_id, person_id, status_index, issued_at, valid_until) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&record_id)
            .bind(&phone_id)
            .bind(&person.id)
            .bind(status_index)
            .bind(at.unix_timestamp())
            .bind(record_valid_until.unix_timestamp())
            .execute(&mut *tx)
            .await?;

        let portrait = proof.photo.bytes().map_err(|e| IssuerError::Refused(format!("the card's photo: {e}")))?;
        let contents = RecordContents {
            four_info: &person.four_info,
            my_number: &person.my_number.as_digits(),
            local_gov_code: crate::cards::SANDBOX_MUNICIPALITY_CODE,
            portrait: &portrait,
            issued_on: at.to_offset(JST).date(),
        };
        let validity = ValidityInfo { signed: at, valid_from: at, valid_until: record_valid_until, expected_update: None };
        let params = IssueParams {
            doc_type: mnc::DOC_TYPE,
            device_key: &device_key.public_point(),
            validity,
            status: Some(StatusReference { idx: status_index as u64, uri: self.status_list_uri().to_owned() }),
        };
        let record = issue(&pki.document_signer, params, mnc::elements(&contents))?;
        let phone = NewPhone {
            phone_id: &phone_id,
            person_id: &person.id,
            record_id: &record_id,
            doc_type: mnc::DOC_TYPE,
            issued_at: at,
            record_valid_until,
            record: &record,
            device_key: &device_key,
            reader_roots_pem: &pki.reader_ca.certificate_pem(),
        };
        writer.write(staging.path(), &phone).map_err(|reason| IssuerError::PhoneDirectory { path: out.display().to_string(), reason })?;
        tx.commit().await?;

        publish_dir(staging, out)?;
        Ok(IssuedPhone {
            phone_id,
            person_id: person.id,
            record_id,
            directory: out.to_path_buf(),
            certificates: certs.iter().map(|c| c.issued()).collect(),
            record_valid_until,
            notes,
        })
    }
}
