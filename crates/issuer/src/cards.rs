//! Issuing cards and their certificates.
//!
//! A card carries a signature certificate (not for holders under 15) and an authentication certificate,
//! each valid until the holder's fifth birthday after issuance and never beyond the card
//! ([`jpki_profile::cert_profile::end_entity_not_after`]). Issuing a new card to someone who has one
//! retires the old card and supersedes its certificates (card re-issue); [`Issuer::reissue_certificates`]
//! puts new certificates on an existing card (renewal, after a 4-info change or a found card).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use der::Encode;
use jpki_crypto::RsaKey;
use jpki_profile::cert_profile::{card_not_after, crl_point, end_entity_extensions, end_entity_not_after, SIGNATURE_CERT_MIN_AGE};
use jpki_profile::municipality::Municipality;
use jpki_profile::pin_policy::PinKind;
use jpki_profile::revocation_reason::RevocationReason;
use jpki_profile::Device;
use jpki_store::sqlx;
use serde::Serialize;
use time::OffsetDateTime;

use crate::ca::{end_entity_subject, random_serial, sign_certificate, CertKey, CertSpec};
use crate::lifecycle::revoke;
use crate::registry::{random_digits, Person};
use crate::{now, Issuer, IssuerError};
use jpki_card::applications::{card_data, images};
use jpki_card::card_dir::{CardDir, CardState, KeySlot, Photo, CARD_FORMAT};
use jpki_profile::KeyRole;

/// The PINs a holder chooses at issuance.
pub struct CardPins {
    pub signature: String,
    pub authentication: String,
    pub input_assistance: String,
    pub resident_registry: String,
}

impl CardPins {
    fn by_kind(&self) -> Result<BTreeMap<PinKind, String>, IssuerError> {
        let pins = BTreeMap::from([
            (PinKind::Signature, self.signature.clone()),
            (PinKind::Authentication, self.authentication.clone()),
            (PinKind::InputAssistance, self.input_assistance.clone()),
            (PinKind::ResidentRegistry, self.resident_registry.clone()),
        ]);
        for (kind, pin) in &pins {
            kind.validate_new(pin)?;
        }
        Ok(pins)
    }
}

/// The issuing municipality code the sandbox writes into cards: 99999 is no real municipality's
/// (全国地方公共団体コード are 5 digits; real ones would make sandbox cards look like real ones).
pub(crate) const SANDBOX_MUNICIPALITY_CODE: &str = "99999";

#[derive(Debug, Clone, Serialize)]
pub struct IssuedCertificate {
    pub role: KeyRole,
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct IssuedCard {
    pub card_id: String,
    pub person_id: String,
    pub directory: PathBuf,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub certificates: Vec<IssuedCertificate>,
    /// Why a certificate was not issued, if one was not.
    pub notes: Vec<String>,
    /// What is printed on the card's face, which a tester needs to open the card-face and
    /// input-assistance applications without a PIN.
    pub card_face: CardFaceCodes,
}

/// The verification codes a holder reads off the card (照合番号); 照合番号A is the My Number itself.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CardFaceCodes {
    /// セキュリティコード: the 4 digits printed on the front.
    pub security_code: String,
    /// 照合番号B: birth date (YYMMDD in the Japanese era) + expiry year + security code.
    pub code_b: String,
}

/// A certificate made but not yet recorded.
pub(crate) struct NewCertificate {
    role: KeyRole,
    key: RsaKey,
    der: Vec<u8>,
    serial: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    /// The DER of its CRL distribution point's directory name.
    crl_point: Vec<u8>,
}

impl NewCertificate {
    /// The certificates' key slots on a card or phone.
    fn key_slots(certs: &[NewCertificate]) -> BTreeMap<String, KeySlot> {
        certs.iter().map(|c| (c.role.as_str().to_owned(), KeySlot::new(&c.key, &c.der, &c.serial))).collect()
    }

    pub(crate) fn issued(&self) -> IssuedCertificate {
        IssuedCertificate { role: self.role, serial: self.serial.clone(), not_after: self.not_after }
    }
}

impl Issuer {
    pub(crate) fn make_certificate(
        &self,
        role: KeyRole,
        device: Device,
        person: &Person,
        at: OffsetDateTime,
        carrier_expires: OffsetDateTime,
    ) -> Result<NewCertificate, IssuerError> {
        let ca = self.ca(role);
        let key = RsaKey::generate_2048()?;
        let serial = random_serial();
        let not_after = end_entity_not_after(person.four_info.birth_date, at, carrier_expires).min(ca.not_after());
        let info = (role == KeyRole::Signature).then_some(&person.four_info);
        let crl_point = crl_point(role, ca.name(), info)?;
        let mut extensions = end_entity_extensions(role, device, info, &crl_point)?;
        extensions.push(ca.authority_key_id()?);
        let locality = info.and_then(|i| Municipality::of_address(&i.address)).map(|m| m.city);
        let subject = end_entity_subject(locality.as_deref())?;
        let spec = CertSpec { serial: &serial, subject, subject_key: CertKey::Rsa(&key), not_before: at, not_after, extensions };
        let der = sign_certificate(spec, ca.name(), CertKey::Rsa(&ca.key))?;
        Ok(NewCertificate {
            role,
            key,
            der,
            serial: jpki_profile::cert_profile::serial_hex(&serial),
            not_before: at,
            not_after,
            crl_point: crl_point.to_der()?,
        })
    }

    /// The certificates a new card or phone of `device` gets (no signature certificate under 15).
    pub(crate) fn new_certificates(
        &self,
        person: &Person,
        device: Device,
        at: OffsetDateTime,
        carrier_expires: OffsetDateTime,
        notes: &mut Vec<String>,
    ) -> Result<Vec<NewCertificate>, IssuerError> {
        Self::roles_for(person, at, notes).into_iter().map(|role| self.make_certificate(role, device, person, at, carrier_expires)).collect()
    }

    /// The whole sealed state of a new card or phone `id` of `device`, valid `(issued, expires)`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn device_state(
        &self,
        id: &str,
        device: Device,
        person: &Person,
        (issued_at, expires_at): (OffsetDateTime, OffsetDateTime),
        certs: &[NewCertificate],
        photo: Photo,
        pins: &BTreeMap<PinKind, String>,
    ) -> Result<CardState, IssuerError> {
        let mut state = CardState {
            format: CARD_FORMAT.to_owned(),
            card_id: id.to_owned(),
            person_id: person.id.clone(),
            device,
            issued_at,
            expires_at,
            my_number: person.my_number.as_digits(),
            four_info: person.four_info.clone(),
            resident_code: person.resident_code.clone(),
            card_serial: random_digits(15),
            municipality_code: SANDBOX_MUNICIPALITY_CODE.to_owned(),
            security_code: random_digits(4),
            photo,
            pins: BTreeMap::new(),
            keys: NewCertificate::key_slots(certs),
            ca_certificates: self.ca_certificates_b64(),
            seal: Default::default(),
            free_area: BTreeMap::new(),
        };
        state.set_pins(pins);
        state.seal = self.seal(&state)?;
        Ok(state)
    }

    fn roles_for(person: &Person, at: OffsetDateTime, notes: &mut Vec<String>) -> Vec<KeyRole> {
        let age = person.four_info.birth_date.age_on(at.to_offset(jpki_profile::cert_profile::JST).date());
        if age < SIGNATURE_CERT_MIN_AGE {
            notes.push(format!("no signature certificate: the holder is {age}, under {SIGNATURE_CERT_MIN_AGE}"));
            vec![KeyRole::Authentication]
        } else {
            KeyRole::ALL.to_vec()
        }
    }

    /// Issues a new card to `person_id` into the directory `out`, which must not exist or be empty. The
    /// face photo is the one given (any image format), or a generated one.
    pub async fn issue_card(&self, person_id: &str, pins: &CardPins, photo: Option<Photo>, out: &Path) -> Result<IssuedCard, IssuerError> {
        let pins = pins.by_kind()?;
        check_output_dir(out)?;
        let person = self.person(person_id).await?;
        if person.deceased_at.is_some() {
            return Err(IssuerError::Deceased(person.id));
        }
        let at = now();
        let expires_at = card_not_after(person.four_info.birth_date, at);
        let mut notes = Vec::new();
        let certs = self.new_certificates(&person, Device::Card, at, expires_at, &mut notes)?;
        let card_id = jpki_store::new_id("card");

        let photo = photo.unwrap_or_else(|| Photo::new("image/png", &images::generated_photo(person.id.as_bytes())));
        let state = self.device_state(&card_id, Device::Card, &person, (at, expires_at), &certs, photo, &pins)?;

        // The card is written completely beside its destination first; the database then records it;
        // the rename publishes it. A crash before the commit leaves only a hidden temporary directory.
        let staging = staging_dir(out, ".card-")?;
        CardDir::new(staging.path()).save(&state)?;

        let mut tx = self.db.begin_write().await?;
        lock_person(&mut tx, &person.id, at).await?;
        insert_device(&mut tx, &card_id, &person.id, Device::Card, (at, expires_at), &certs).await?;
        tx.commit().await?;

        publish_dir(staging, out)?;
        let card_face = CardFaceCodes { security_code: state.security_code.clone(), code_b: state.card_face_code() };
        Ok(IssuedCard {
            card_face,
            card_id,
            person_id: person.id,
            directory: out.to_path_buf(),
            expires_at,
            certificates: certs.iter().map(NewCertificate::issued).collect(),
            notes,
        })
    }

    pub(crate) fn seal(&self, state: &CardState) -> Result<jpki_card::card_dir::CardDataSeal, IssuerError> {
        card_data::seal(state, &self.card_data_key).map_err(IssuerError::Refused)
    }

    pub(crate) fn ca_certificates_b64(&self) -> BTreeMap<String, String> {
        KeyRole::ALL.iter().map(|r| (r.as_str().to_owned(), base64::engine::general_purpose::STANDARD.encode(&self.ca(*r).certificate_der))).collect()
    }

    /// Puts new certificates of `roles` on the card in `card_dir`: a renewal when the old certificate is
    /// still good (the old one is superseded), a replacement after a revocation or hold (the old one
    /// keeps its reason). The new certificates carry the person's current 4 information.
    pub async fn reissue_certificates(&self, card_dir: &Path, roles: &[KeyRole]) -> Result<Vec<IssuedCertificate>, IssuerError> {
        let dir = CardDir::new(card_dir);
        let state = dir.load()?;
        let person = self.person(&state.person_id).await?;
        if person.deceased_at.is_some() {
            return Err(IssuerError::Deceased(person.id));
        }
        let status: Option<(String,)> = sqlx::query_as("SELECT status FROM card WHERE id = $1").bind(&state.card_id).fetch_optional(self.db.pool()).await?;
        match status.as_ref().map(|(s,)| s.as_str()) {
            Some("active") | Some("found") => {}
            Some(other) => return Err(IssuerError::Refused(format!("card {} is {other}; it cannot take new certificates", state.card_id))),
            None => return Err(IssuerError::Refused(format!("card {} was not issued by this sandbox", state.card_id))),
        }
        let at = now();
        let mut notes = Vec::new();
        let allowed = Self::roles_for(&person, at, &mut notes);
        if let Some(role) = roles.iter().find(|r| !allowed.contains(r)) {
            return Err(IssuerError::Refused(format!("cannot issue the {} certificate: {}", role.as_str(), notes.join("; "))));
        }
        let certs = roles.iter().map(|&role| self.make_certificate(role, state.device, &person, at, state.expires_at)).collect::<Result<Vec<_>, _>>()?;

        let mut tx = self.db.begin_write().await?;
        lock_person(&mut tx, &person.id, at).await?;
        for cert in &certs {
            let current: Vec<(String, Option<i64>)> =
                sqlx::query_as("SELECT serial, revoked_at FROM certificate WHERE card_id = $1 AND ca_role = $2 AND replaced_by IS NULL")
                    .bind(&state.card_id)
                    .bind(cert.role.as_str())
                    .fetch_all(&mut *tx)
                    .await?;
            let good: Vec<String> = current.iter().filter(|(_, r)| r.is_none()).map(|(s, _)| s.clone()).collect();
            revoke(&mut tx, &good, RevocationReason::Superseded, at, None).await?;
            for (old, _) in &current {
                sqlx::query("UPDATE certificate SET replaced_by = $1 WHERE serial = $2").bind(&cert.serial).bind(old).execute(&mut *tx).await?;
            }
            insert_certificate(&mut tx, cert, &person.id, &state.card_id).await?;
        }
        sqlx::query("UPDATE card SET status = 'active' WHERE id = $1").bind(&state.card_id).execute(&mut *tx).await?;
        tx.commit().await?;

        // The card's own counters may have moved since it was loaded: apply the change under its lock.
        let seal_for = |state: &CardState| self.seal(state);
        let updated = dir.update(|state| {
            state.four_info = person.four_info.clone();
            for cert in &certs {
                state.keys.insert(cert.role.as_str().to_owned(), KeySlot::new(&cert.key, &cert.der, &cert.serial));
            }
            state.seal = seal_for(state)?;
            Ok::<_, IssuerError>(state.clone())
        })?;
        dir.write_exports(&updated)?;
        Ok(certs.iter().map(NewCertificate::issued).collect())
    }
}

/// Retires the person's devices of one kind in use (a new one replaces them): their certificates are
/// superseded and the records on them become invalid (the status list reads retired devices so).
async fn retire_devices(tx: &mut sqlx::Transaction<'_, sqlx::Any>, person_id: &str, device: Device, at: OffsetDateTime) -> Result<(), IssuerError> {
    let old: Vec<(String,)> = sqlx::query_as("SELECT id FROM card WHERE person_id = $1 AND device = $2 AND status IN ('active', 'found', 'lost')")
        .bind(person_id)
        .bind(device.as_str())
        .fetch_all(&mut **tx)
        .await?;
    for (id,) in &old {
        sqlx::query("UPDATE card SET status = 'retired' WHERE id = $1").bind(id).execute(&mut **tx).await?;
        let serials: Vec<(String,)> =
            sqlx::query_as("SELECT serial FROM certificate WHERE card_id = $1 AND revoked_at IS NULL").bind(id).fetch_all(&mut **tx).await?;
        let serials: Vec<String> = serials.into_iter().map(|(s,)| s).collect();
        revoke(tx, &serials, RevocationReason::Superseded, at, None).await?;
    }
    Ok(())
}

/// Serializes changes to one person across processes (a row lock on PostgreSQL; SQLite's write lock
/// is already held by `begin_write`).
pub(crate) async fn lock_person(tx: &mut sqlx::Transaction<'_, sqlx::Any>, person_id: &str, at: OffsetDateTime) -> Result<(), IssuerError> {
    let updated = sqlx::query("UPDATE person SET updated_at = $1 WHERE id = $2").bind(at.unix_timestamp()).bind(person_id).execute(&mut **tx).await?;
    if updated.rows_affected() == 0 {
        return Err(IssuerError::UnknownPerson(person_id.to_owned()));
    }
    Ok(())
}

/// Records a new card or phone and its certificates, after retiring the person's others of `device`.
pub(crate) async fn insert_device(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    person_id: &str,
    device: Device,
    (issued_at, expires_at): (OffsetDateTime, OffsetDateTime),
    certs: &[NewCertificate],
) -> Result<(), IssuerError> {
    retire_devices(tx, person_id, device, issued_at).await?;
    sqlx::query("INSERT INTO card (id, person_id, device, status, issued_at, expires_at) VALUES ($1, $2, $3, 'active', $4, $5)")
        .bind(id)
        .bind(person_id)
        .bind(device.as_str())
        .bind(issued_at.unix_timestamp())
        .bind(expires_at.unix_timestamp())
        .execute(&mut **tx)
        .await?;
    for cert in certs {
        insert_certificate(tx, cert, person_id, id).await?;
    }
    Ok(())
}

async fn insert_certificate(tx: &mut sqlx::Transaction<'_, sqlx::Any>, cert: &NewCertificate, person_id: &str, card_id: &str) -> Result<(), IssuerError> {
    sqlx::query("INSERT INTO certificate (serial, ca_role, person_id, card_id, not_before, not_after, der, crl_point) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&cert.serial)
        .bind(cert.role.as_str())
        .bind(person_id)
        .bind(card_id)
        .bind(cert.not_before.unix_timestamp())
        .bind(cert.not_after.unix_timestamp())
        .bind(cert.der.clone())
        .bind(cert.crl_point.clone())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(crate) fn check_output_dir(out: &Path) -> Result<(), IssuerError> {
    let mut entries = match std::fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(IssuerError::io(out, e)),
    };
    if entries.next().is_some() {
        return Err(IssuerError::CardDirectory { path: out.display().to_string(), reason: "exists and is not empty; choose a new directory".into() });
    }
    Ok(())
}

/// A hidden staging directory beside `out`, on the same file system, for [`publish_dir`].
pub(crate) fn staging_dir(out: &Path, prefix: &str) -> Result<tempfile::TempDir, IssuerError> {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| IssuerError::io(parent, e))?;
    tempfile::Builder::new().prefix(prefix).tempdir_in(parent).map_err(|e| IssuerError::io(parent, e))
}

/// Moves a fully written staging directory to `out` (replacing an empty `out`).
pub(crate) fn publish_dir(staging: tempfile::TempDir, out: &Path) -> Result<(), IssuerError> {
    if out.exists() {
        std::fs::remove_dir(out).map_err(|e| IssuerError::io(out, e))?;
    }
    let path = staging.keep();
    std::fs::rename(&path, out).map_err(|e| IssuerError::io(out, e))?;
    jpki_files::sync_dir(out.parent().unwrap_or(Path::new(".")));
    Ok(())
}

/// A free-area application put on a card: what the business needs to open it. The key is shown once.
#[derive(Debug, Clone, Serialize)]
pub struct FreeAreaGrant {
    pub business: String,
    /// Hex.
    pub aid: String,
    /// Hex; the card keeps the only other copy.
    pub access_key: String,
}

impl Issuer {
    /// Checks that `state` is a card this sandbox issued and still in use.
    async fn issued_card(&self, state: &CardState) -> Result<(), IssuerError> {
        let status: Option<(String,)> = sqlx::query_as("SELECT status FROM card WHERE id = $1").bind(&state.card_id).fetch_optional(self.db.pool()).await?;
        match status.as_ref().map(|(s,)| s.as_str()) {
            Some("active") | Some("found") => Ok(()),
            Some(other) => Err(IssuerError::Refused(format!("card {} is {other}", state.card_id))),
            None => Err(IssuerError::Refused(format!("card {} was not issued by this sandbox", state.card_id))),
        }
    }

    /// The municipality's PIN reset (暗証番号の再設定): a chosen PIN gets `new_pin` and full tries; a
    /// verification code read off the card face gets its tries back. Every application's counter for
    /// that PIN is reset.
    pub async fn reset_pin(&self, card_dir: &Path, kind: PinKind, new_pin: Option<&str>) -> Result<(), IssuerError> {
        let dir = CardDir::new(card_dir);
        let state = dir.load()?;
        self.issued_card(&state).await?;
        let chosen = PinKind::CHOSEN.contains(&kind);
        match (chosen, new_pin) {
            (true, None) => return Err(IssuerError::Refused(format!("a reset {kind} needs the new PIN the holder chooses"))),
            (false, Some(_)) => return Err(IssuerError::Refused(format!("the {kind} is printed on the card; it cannot be set"))),
            (true, Some(pin)) => kind.validate_new(pin)?,
            (false, None) => {}
        }
        dir.update(|state| {
            for slot in jpki_card::PinSlot::of_kind(kind) {
                match new_pin {
                    Some(pin) => {
                        state.pins.insert(slot.name().to_owned(), jpki_card::card_dir::PinState::new(kind, pin));
                    }
                    None => {
                        if let Some(p) = state.pin_mut(slot) {
                            p.tries_left = kind.rule().max_tries;
                        }
                    }
                }
            }
            Ok::<_, IssuerError>(())
        })?;
        let at = now();
        let mut tx = self.db.begin_write().await?;
        crate::lifecycle::record_event(&mut tx, &state.person_id, "pin_reset", serde_json::json!({ "card": state.card_id, "pin": format!("{kind:?}") }), at)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Puts a free-area application for `business` on the card (the business is authorized by the
    /// sandbox acting as the Minister).
    pub async fn authorize_free_area(&self, card_dir: &Path, business: &str) -> Result<FreeAreaGrant, IssuerError> {
        let business = business.trim();
        if business.is_empty() || business.len() > 64 || business.chars().any(char::is_control) {
            return Err(IssuerError::Refused("a business name is 1 to 64 printable characters".into()));
        }
        let dir = CardDir::new(card_dir);
        self.issued_card(&dir.load()?).await?;
        let key = jpki_crypto::random_bytes::<32>();
        let aid = hex::encode(jpki_card::applications::free_area::aid_for(business));
        let b64 = base64::engine::general_purpose::STANDARD;
        dir.update(|state| {
            if state.free_area.contains_key(business) {
                return Err(IssuerError::Refused(format!("{business} already has an application on this card")));
            }
            state.free_area.insert(
                business.to_owned(),
                jpki_card::card_dir::FreeAreaApp {
                    business: business.to_owned(),
                    aid: aid.clone(),
                    access_key: b64.encode(key),
                    record: b64.encode([0u8; jpki_card::applications::free_area::RECORD_SIZE]),
                },
            );
            Ok(())
        })?;
        Ok(FreeAreaGrant { business: business.to_owned(), aid, access_key: hex::encode(key) })
    }
}
