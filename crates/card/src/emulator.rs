//! The virtual My Number card: every application of a card directory behind one APDU interface, with
//! the status words a real card answers (../shared/reference/jpki-card.md §4, §5, §15).
//!
//! PIN tries are the card's memory: a VERIFY first writes the decremented counter to `card.json`
//! (atomically, fsynced), and only then compares the PIN; a correct PIN writes the counter back to its
//! maximum. Cutting the power between the two never gives a try back, and a card whose memory cannot
//! be written answers `6581` (memory failure) without comparing.

use std::collections::{HashMap, HashSet};

use jpki_crypto::RsaKey;

use crate::apdu::{Command, Response, StatusWord};
use crate::applications::card_data::{CardPublicKey, CvCertificate};
use crate::applications::{card_face, common, free_area, input_assistance, jpki, resident_registry, Aid};
use crate::card_dir::{CardDir, CardDirError, CardState};
use crate::pins::PinSlot;
use jpki_profile::KeyRole;

/// The contact ATR OpenSC's JPKI driver matches byte for byte: T=1, IFSC 254, no historical bytes.
pub const ATR: [u8; 9] = [0x3b, 0xe0, 0x00, 0xff, 0x81, 0x31, 0xfe, 0x45, 0x14];

/// Most data COMPUTE DIGITAL SIGNATURE signs: a 2048-bit modulus less PKCS#1 v1.5 padding (11 bytes).
pub const MAX_SIGN_INPUT: usize = 245;

const MEMORY_FAILURE: StatusWord = StatusWord(0x6581);
const FILE_STRUCTURE: StatusWord = StatusWord(0x6981);
const NO_CURRENT_EF: StatusWord = StatusWord(0x6986);
const WRONG_DATA: StatusWord = StatusWord(0x6a80);
const RECORD_NOT_FOUND: StatusWord = StatusWord(0x6a83);
const REFERENCE_NOT_FOUND: StatusWord = StatusWord(0x6a88);
const AUTHENTICATION_FAILED: StatusWord = StatusWord(0x6300);

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(transparent)]
    CardDir(#[from] CardDirError),
    #[error("card directory {path}: {reason}")]
    Content { path: String, reason: String },
}

#[derive(Debug, Clone)]
enum Body {
    Binary(Vec<u8>),
    Records(Vec<Vec<u8>>),
    Pin(PinSlot),
    Key(KeyRole),
    /// A free-area record, read from and written to the card state of `business`.
    FreeArea(String),
}

#[derive(Debug, Clone)]
enum Access {
    Free,
    /// Readable once any of these PINs or codes was verified in this selection of the application.
    AnyOf(Vec<PinSlot>),
    /// Readable and writable after EXTERNAL AUTHENTICATE with the business's key.
    FreeAreaHolder,
}

#[derive(Debug, Clone)]
struct Ef {
    fid: u16,
    body: Body,
    access: Access,
}

impl Ef {
    fn new(fid: u16, body: Body, access: Access) -> Ef {
        Ef { fid, body, access }
    }
}

#[derive(Debug)]
struct Application {
    aid: Vec<u8>,
    files: Vec<Ef>,
}

/// The card's memory as the applications see it.
struct Card {
    state: CardState,
    applications: Vec<Application>,
    keys: HashMap<KeyRole, RsaKey>,
}

/// What one power-on session has selected and opened.
#[derive(Default)]
struct Session {
    application: Option<usize>,
    ef: Option<u16>,
    verified: HashSet<PinSlot>,
    challenge: Option<Vec<u8>>,
    free_area_open: bool,
}

pub struct Emulator {
    dir: CardDir,
    card: Card,
    session: Session,
}

impl Emulator {
    /// Loads the card in `dir`, powered on.
    pub fn open(dir: CardDir) -> Result<Emulator, EmulatorError> {
        let card = build(&dir, dir.load()?)?;
        Ok(Emulator { dir, card, session: Session::default() })
    }

    pub fn atr(&self) -> &'static [u8] {
        &ATR
    }

    pub fn state(&self) -> &CardState {
        &self.card.state
    }

    /// Power off: the card forgets its selections and verified PINs.
    pub fn power_off(&mut self) {
        self.session = Session::default();
    }

    /// Power on or reset: a fresh session over the card's memory as it is now on disk (a municipality
    /// may have reset a PIN or re-issued certificates while the card was out).
    pub fn power_on(&mut self) -> Result<(), EmulatorError> {
        self.session = Session::default();
        self.card = build(&self.dir, self.dir.load()?)?;
        Ok(())
    }

    /// Processes one command APDU and returns the response APDU.
    pub fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        let response = match Command::parse(apdu) {
            Ok(command) => self.process(&command),
            Err(e) => Response::status(e.status()),
        };
        response.to_bytes()
    }

    fn process(&mut self, c: &Command) -> Response {
        match (c.cla, c.ins) {
            (0x00, 0xa4) => Response::status(self.select(c)),
            (0x00, 0xb0) => self.read_binary(c),
            (0x00, 0xb2) => self.read_record(c),
            (0x00, 0x20) => Response::status(self.verify(c)),
            (0x00, 0x24) if c.p1 == 0x01 => Response::status(self.change_pin(c)),
            (0x80, 0x32) => Response::status(self.change_pin(c)),
            (0x80, 0x2a) => self.sign(c),
            (0x00, 0x84) => self.get_challenge(c),
            (0x00, 0x82) => Response::status(self.external_authenticate(c)),
            (0x00, 0xd6) => Response::status(self.update_binary(c)),
            (0x00 | 0x80, _) => Response::status(StatusWord::INSTRUCTION_NOT_SUPPORTED),
            _ => Response::status(StatusWord::CLASS_NOT_SUPPORTED),
        }
    }

    fn application(&self) -> Option<&Application> {
        self.session.application.map(|i| &self.card.applications[i])
    }

    fn file(&self, fid: u16) -> Option<&Ef> {
        self.application()?.files.iter().find(|f| f.fid == fid)
    }

    fn select(&mut self, c: &Command) -> StatusWord {
        match c.p1 {
            0x04 => {
                let Some(index) = self.card.applications.iter().position(|a| a.aid == c.data) else {
                    return StatusWord::FILE_NOT_FOUND;
                };
                // Selecting an application drops what was verified (OpenSC logs out this way).
                self.session = Session { application: Some(index), ..Session::default() };
                StatusWord::SUCCESS
            }
            0x02 => {
                let [hi, lo] = c.data[..] else { return StatusWord::WRONG_LENGTH };
                let fid = u16::from_be_bytes([hi, lo]);
                if self.file(fid).is_none() {
                    return StatusWord::FILE_NOT_FOUND;
                }
                self.session.ef = Some(fid);
                StatusWord::SUCCESS
            }
            _ => StatusWord::INCORRECT_P1_P2,
        }
    }

    /// The EF a READ/UPDATE BINARY addresses, selecting it when named by short EF identifier, and the offset.
    fn binary_target(&mut self, c: &Command) -> Result<(u16, usize), StatusWord> {
        if c.p1 & 0x80 != 0 {
            if c.p1 & 0x60 != 0 {
                return Err(StatusWord::INCORRECT_P1_P2);
            }
            let fid = u16::from(c.p1 & 0x1f);
            self.file(fid).ok_or(StatusWord::FILE_NOT_FOUND)?;
            self.session.ef = Some(fid);
            Ok((fid, usize::from(c.p2)))
        } else {
            let fid = self.session.ef.ok_or(NO_CURRENT_EF)?;
            Ok((fid, usize::from(u16::from_be_bytes([c.p1 & 0x7f, c.p2]))))
        }
    }

    fn allowed(&self, access: &Access) -> bool {
        match access {
            Access::Free => true,
            Access::AnyOf(slots) => slots.iter().any(|s| self.session.verified.contains(s)),
            Access::FreeAreaHolder => self.session.free_area_open,
        }
    }

    fn contents(&self, ef: &Ef) -> Result<Vec<u8>, StatusWord> {
        match &ef.body {
            Body::Binary(bytes) => Ok(bytes.clone()),
            Body::FreeArea(business) => {
                let app = self.card.state.free_area.get(business).ok_or(MEMORY_FAILURE)?;
                base64_decode(&app.record).ok_or(MEMORY_FAILURE)
            }
            Body::Records(_) | Body::Pin(_) | Body::Key(_) => Err(FILE_STRUCTURE),
        }
    }

    fn read_binary(&mut self, c: &Command) -> Response {
        let Some(le) = c.le else { return Response::status(StatusWord::WRONG_LENGTH) };
        let (fid, offset) = match self.binary_target(c) {
            Ok(target) => target,
            Err(sw) => return Response::status(sw),
        };
        let ef = self.file(fid).expect("target exists").clone();
        if !self.allowed(&ef.access) {
            return Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        let bytes = match self.contents(&ef) {
            Ok(bytes) => bytes,
            Err(sw) => return Response::status(sw),
        };
        if offset > bytes.len() {
            return Response::status(StatusWord::WRONG_P1_P2);
        }
        let end = bytes.len().min(offset + le);
        Response::success(bytes[offset..end].to_vec())
    }

    fn read_record(&mut self, c: &Command) -> Response {
        let Some(le) = c.le else { return Response::status(StatusWord::WRONG_LENGTH) };
        if c.p2 & 0x07 != 0x04 || c.p1 == 0 {
            return Response::status(StatusWord::INCORRECT_P1_P2);
        }
        let fid = match c.p2 >> 3 {
            0 => match self.session.ef {
                Some(fid) => fid,
                None => return Response::status(NO_CURRENT_EF),
            },
            sfi => u16::from(sfi),
        };
        let Some(ef) = self.file(fid).cloned() else { return Response::status(StatusWord::FILE_NOT_FOUND) };
        self.session.ef = Some(fid);
        let Body::Records(records) = &ef.body else { return Response::status(FILE_STRUCTURE) };
        if !self.allowed(&ef.access) {
            return Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        match records.get(usize::from(c.p1) - 1) {
            Some(record) => Response::success(record[..record.len().min(le)].to_vec()),
            None => Response::status(RECORD_NOT_FOUND),
        }
    }

    /// The PIN slot a VERIFY or CHANGE addresses: P2 `80` = the current EF, `80|sfi` = EF sfi.
    fn pin_target(&self, c: &Command) -> Result<PinSlot, StatusWord> {
        if c.p2 & 0x80 == 0 || c.p2 & 0x60 != 0 {
            return Err(StatusWord::INCORRECT_P1_P2);
        }
        let fid = match c.p2 & 0x1f {
            0 => self.session.ef.ok_or(REFERENCE_NOT_FOUND)?,
            sfi => u16::from(sfi),
        };
        match self.file(fid).map(|f| &f.body) {
            Some(Body::Pin(slot)) => Ok(*slot),
            _ => Err(REFERENCE_NOT_FOUND),
        }
    }

    fn verify(&mut self, c: &Command) -> StatusWord {
        if c.p1 != 0x00 {
            return StatusWord::INCORRECT_P1_P2;
        }
        let slot = match self.pin_target(c) {
            Ok(slot) => slot,
            Err(sw) => return sw,
        };
        if c.data.is_empty() {
            // The tries-left query; never costs a try, even on a blocked PIN. The counter is read from
            // the card's memory, where a municipality's reset may have put a new one.
            let fresh = self.dir.load().ok().and_then(|s| s.pin(slot).cloned());
            if let Some(pin) = fresh {
                self.card.state.pins.insert(slot.name().to_owned(), pin);
            }
            return StatusWord::tries_left(self.card.state.pin(slot).map_or(0, |p| p.tries_left));
        }
        // 1. Spend the try, durably.
        let spent = self.dir.update(|state| {
            let Some(pin) = state.pin_mut(slot) else { return Ok::<_, CardDirError>(None) };
            if pin.tries_left == 0 {
                return Ok(None);
            }
            pin.tries_left -= 1;
            Ok(Some(pin.clone()))
        });
        let pin = match spent {
            Ok(Some(pin)) => pin,
            Ok(None) => return StatusWord::REFERENCE_DATA_NOT_USABLE,
            Err(e) => {
                tracing::error!("cannot record a PIN try: {e}");
                return MEMORY_FAILURE;
            }
        };
        self.card.state.pins.insert(slot.name().to_owned(), pin.clone());
        // 2. Only then compare.
        if !pin.matches(&c.data) {
            return StatusWord::tries_left(pin.tries_left);
        }
        let max = slot.kind().rule().max_tries;
        let restored = self.dir.update(|state| {
            let pin = state.pin_mut(slot).expect("the slot existed a moment ago");
            pin.tries_left = max;
            Ok::<_, CardDirError>(pin.clone())
        });
        match restored {
            Ok(pin) => {
                self.card.state.pins.insert(slot.name().to_owned(), pin);
                self.session.verified.insert(slot);
                StatusWord::SUCCESS
            }
            Err(e) => {
                tracing::error!("cannot reset a PIN counter: {e}");
                MEMORY_FAILURE
            }
        }
    }

    /// CHANGE REFERENCE DATA (`00 24 01 80`, JPKI and input-assistance PINs) and CHANGE KEY
    /// (`80 32 00 80`, the resident-registry PIN): a new PIN after a successful VERIFY.
    fn change_pin(&mut self, c: &Command) -> StatusWord {
        let slot = match self.pin_target(c) {
            Ok(slot) => slot,
            Err(sw) => return sw,
        };
        let by_change_key = c.ins == 0x32;
        if by_change_key != matches!(slot, PinSlot::ResidentRegistry | PinSlot::CommonCard) || !slot.changeable() {
            return StatusWord::CONDITIONS_OF_USE_NOT_SATISFIED;
        }
        if !self.session.verified.contains(&slot) {
            return StatusWord::SECURITY_STATUS_NOT_SATISFIED;
        }
        let Ok(new_pin) = std::str::from_utf8(&c.data) else { return WRONG_DATA };
        if !slot.well_formed(new_pin) {
            return WRONG_DATA;
        }
        let kind = slot.kind();
        let changed = self.dir.update(|state| {
            let fresh = crate::card_dir::PinState::new(kind, new_pin);
            state.pins.insert(slot.name().to_owned(), fresh.clone());
            Ok::<_, CardDirError>(fresh)
        });
        match changed {
            Ok(pin) => {
                self.card.state.pins.insert(slot.name().to_owned(), pin);
                StatusWord::SUCCESS
            }
            Err(e) => {
                tracing::error!("cannot store a new PIN: {e}");
                MEMORY_FAILURE
            }
        }
    }

    fn sign(&mut self, c: &Command) -> Response {
        if c.p1 != 0x00 || c.p2 & 0x80 == 0 {
            return Response::status(StatusWord::INCORRECT_P1_P2);
        }
        let fid = match c.p2 & 0x1f {
            0 => match self.session.ef {
                Some(fid) => fid,
                None => return Response::status(NO_CURRENT_EF),
            },
            sfi => u16::from(sfi),
        };
        let Some(Body::Key(role)) = self.file(fid).map(|f| f.body.clone()) else {
            return Response::status(REFERENCE_NOT_FOUND);
        };
        if !self.session.verified.contains(&PinSlot::of(role)) {
            return Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        if c.data.is_empty() || c.data.len() > MAX_SIGN_INPUT {
            return Response::status(StatusWord::WRONG_LENGTH);
        }
        let Some(key) = self.card.keys.get(&role) else { return Response::status(REFERENCE_NOT_FOUND) };
        match key.sign_digest_info(&c.data) {
            Ok(signature) => Response::success(signature),
            Err(_) => Response::status(MEMORY_FAILURE),
        }
    }

    fn get_challenge(&mut self, c: &Command) -> Response {
        if c.p1 != 0 || c.p2 != 0 {
            return Response::status(StatusWord::INCORRECT_P1_P2);
        }
        match c.le {
            Some(le) if !c.extended && c.data.is_empty() => {
                let mut challenge = vec![0u8; le];
                for chunk in challenge.chunks_mut(32) {
                    let random = jpki_crypto::random_bytes::<32>();
                    chunk.copy_from_slice(&random[..chunk.len()]);
                }
                self.session.challenge = Some(challenge.clone());
                Response::success(challenge)
            }
            Some(_) => Response::status(StatusWord::CONDITIONS_OF_USE_NOT_SATISFIED),
            None => Response::status(StatusWord::WRONG_LENGTH),
        }
    }

    fn free_area(&self) -> Option<&crate::card_dir::FreeAreaApp> {
        let aid = hex::encode(&self.application()?.aid);
        self.card.state.free_area.values().find(|app| app.aid == aid)
    }

    fn external_authenticate(&mut self, c: &Command) -> StatusWord {
        if c.p1 != 0 || c.p2 != 0 {
            return StatusWord::INCORRECT_P1_P2;
        }
        let Some(app) = self.free_area() else { return StatusWord::CONDITIONS_OF_USE_NOT_SATISFIED };
        let key = base64_decode(&app.access_key);
        let Some(challenge) = self.session.challenge.take() else { return StatusWord::CONDITIONS_OF_USE_NOT_SATISFIED };
        let Some(key) = key else { return MEMORY_FAILURE };
        let aid = self.application().map(|a| a.aid.clone()).unwrap_or_default();
        let expected = free_area::cryptogram(&key, &challenge, &aid);
        if challenge.len() == free_area::CHALLENGE_LEN && jpki_crypto::constant_time_eq(&expected, &c.data) {
            self.session.free_area_open = true;
            StatusWord::SUCCESS
        } else {
            AUTHENTICATION_FAILED
        }
    }

    fn update_binary(&mut self, c: &Command) -> StatusWord {
        let (fid, offset) = match self.binary_target(c) {
            Ok(target) => target,
            Err(sw) => return sw,
        };
        let ef = self.file(fid).expect("target exists").clone();
        let Body::FreeArea(business) = &ef.body else { return FILE_STRUCTURE };
        if !self.allowed(&ef.access) {
            return StatusWord::SECURITY_STATUS_NOT_SATISFIED;
        }
        if c.data.is_empty() {
            return StatusWord::WRONG_LENGTH;
        }
        if offset > free_area::RECORD_SIZE {
            return StatusWord::WRONG_P1_P2;
        }
        if offset + c.data.len() > free_area::RECORD_SIZE {
            return StatusWord::WRONG_LENGTH;
        }
        let written = self.dir.update(|state| {
            let app = state
                .free_area
                .get_mut(business)
                .ok_or_else(|| CardDirError::Invalid { path: String::new(), reason: format!("free-area application of {business} vanished") })?;
            let mut record = base64_decode(&app.record).unwrap_or_default();
            record.resize(free_area::RECORD_SIZE, 0);
            record[offset..offset + c.data.len()].copy_from_slice(&c.data);
            app.record = base64_encode(&record);
            Ok::<_, CardDirError>(app.clone())
        });
        match written {
            Ok(app) => {
                self.card.state.free_area.insert(business.clone(), app);
                StatusWord::SUCCESS
            }
            Err(e) => {
                tracing::error!("cannot write the free area: {e}");
                MEMORY_FAILURE
            }
        }
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn build(dir: &CardDir, state: CardState) -> Result<Card, EmulatorError> {
    let bad = |reason: String| EmulatorError::Content { path: dir.path().display().to_string(), reason };
    let mut keys = HashMap::new();
    let mut certs = HashMap::new();
    for role in KeyRole::ALL {
        if let Some(slot) = state.key(role) {
            let der = slot.private_key_der().map_err(bad)?;
            keys.insert(role, RsaKey::from_pkcs8_der(&der).map_err(|e| bad(e.to_string()))?);
            certs.insert(role, slot.certificate_der().map_err(bad)?);
        }
    }
    let seal = |name: &str| state.seal.field(name).map_err(bad);
    let cv_certificate = seal("cv_certificate")?;
    let signer = CvCertificate::parse(&cv_certificate).map_err(|e| bad(e.to_string()))?.public_key;
    let applications = vec![
        jpki_application(&state, &certs).map_err(bad)?,
        input_assistance_application(&state, &cv_certificate, &signer, &seal("input_assistance_signature")?),
        card_face_application(&state, &cv_certificate, &signer, &seal)?,
        resident_registry_application(&state),
        common_application(&state),
    ]
    .into_iter()
    .chain(
        state
            .free_area
            .values()
            .map(|app| {
                let aid = hex::decode(&app.aid).map_err(|e| bad(format!("free-area AID of {}: {e}", app.business)))?;
                Ok::<_, EmulatorError>(Application {
                    aid,
                    files: vec![Ef::new(free_area::RECORD, Body::FreeArea(app.business.clone()), Access::FreeAreaHolder)],
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    )
    .collect();
    Ok(Card { state, applications, keys })
}

fn pin_files(aid: Aid) -> impl Iterator<Item = Ef> {
    PinSlot::ALL.into_iter().filter(move |s| s.location().0 == aid).map(|s| Ef::new(s.location().1, Body::Pin(s), Access::Free))
}

fn jpki_application(state: &CardState, certs: &HashMap<KeyRole, Vec<u8>>) -> Result<Application, String> {
    let mut files = vec![
        Ef::new(jpki::TOKEN_INFO, Body::Binary(jpki::token_info(&state.card_serial, certs.contains_key(&KeyRole::Signature))), Access::Free),
        Ef::new(
            jpki::CERT_FLAGS,
            Body::Binary(jpki::cert_flags(certs.contains_key(&KeyRole::Signature), certs.contains_key(&KeyRole::Authentication))),
            Access::Free,
        ),
    ];
    for role in KeyRole::ALL {
        if let Some(ca) = state.ca_certificate_der(role)? {
            files.push(Ef::new(jpki::ca_cert_file(role), Body::Binary(ca), Access::Free));
        }
        if let Some(cert) = certs.get(&role) {
            // The signature certificate carries the 4 information: it is readable only after the password.
            let access = match role {
                KeyRole::Signature => Access::AnyOf(vec![PinSlot::JpkiSignature]),
                KeyRole::Authentication => Access::Free,
            };
            files.push(Ef::new(jpki::cert_file(role), Body::Binary(cert.clone()), access));
            files.push(Ef::new(jpki::key_file(role), Body::Key(role), Access::Free));
        }
    }
    files.extend(pin_files(Aid::JPKI));
    Ok(Application { aid: Aid::JPKI.0.to_vec(), files })
}

fn input_assistance_application(state: &CardState, cv_certificate: &[u8], signer: &CardPublicKey, signature: &[u8]) -> Application {
    use PinSlot::{InputAssistanceCodeA as A, InputAssistanceCodeB as B, InputAssistancePin as Pin};
    let mut files = vec![
        Ef::new(input_assistance::MY_NUMBER, Body::Binary(input_assistance::my_number_ef(&state.my_number)), Access::AnyOf(vec![Pin, A])),
        Ef::new(input_assistance::ATTRIBUTES, Body::Binary(input_assistance::attributes_ef(&state.four_info)), Access::AnyOf(vec![Pin, B])),
        Ef::new(
            input_assistance::INTEGRITY,
            Body::Binary(input_assistance::integrity_ef(&state.my_number, &state.four_info, signature)),
            Access::AnyOf(vec![Pin, A, B]),
        ),
        Ef::new(input_assistance::CV_CERTIFICATE, Body::Binary(cv_certificate.to_vec()), Access::Free),
        Ef::new(input_assistance::BASIC_INFO, Body::Binary(input_assistance::basic_info_ef(signer)), Access::Free),
    ];
    files.extend(pin_files(Aid::INPUT_ASSISTANCE));
    Application { aid: Aid::INPUT_ASSISTANCE.0.to_vec(), files }
}

fn card_face_application(
    state: &CardState,
    cv_certificate: &[u8],
    signer: &CardPublicKey,
    seal: &dyn Fn(&str) -> Result<Vec<u8>, EmulatorError>,
) -> Result<Application, EmulatorError> {
    use PinSlot::{CardFaceBirthDate as Birth, CardFaceCodeA as A, CardFaceCodeB as B};
    let face = card_face::face_ef(state, signer, &seal("card_face_signature")?).map_err(|reason| EmulatorError::Content { path: String::new(), reason })?;
    let mut files = vec![
        Ef::new(card_face::AGE_RECORD, Body::Binary(card_face::age_record_ef(state, signer, &seal("age_record_signature")?)), Access::AnyOf(vec![Birth])),
        Ef::new(card_face::FACE, Body::Binary(face), Access::AnyOf(vec![A, B])),
        Ef::new(card_face::BASIC_INFO, Body::Binary(card_face::basic_info_ef(state, signer)), Access::Free),
        Ef::new(card_face::CV_CERTIFICATE, Body::Binary(cv_certificate.to_vec()), Access::Free),
        Ef::new(
            card_face::MY_NUMBER_IMAGE,
            Body::Binary(card_face::my_number_image_ef(state, signer, &seal("my_number_image_signature")?)),
            Access::AnyOf(vec![A]),
        ),
    ];
    files.extend(pin_files(Aid::CARD_FACE));
    Ok(Application { aid: Aid::CARD_FACE.0.to_vec(), files })
}

fn resident_registry_application(state: &CardState) -> Application {
    let mut files = vec![
        Ef::new(resident_registry::RESIDENT_CODE, Body::Binary(state.resident_code.as_bytes().to_vec()), Access::AnyOf(vec![PinSlot::ResidentRegistry])),
        Ef::new(resident_registry::KEY_REFERENCE, Body::Records(vec![resident_registry::key_reference(&state.card_serial)]), Access::Free),
    ];
    files.extend(pin_files(Aid::RESIDENT_REGISTRY));
    Application { aid: Aid::RESIDENT_REGISTRY.0.to_vec(), files }
}

fn common_application(state: &CardState) -> Application {
    let mut files = vec![Ef::new(
        common::CARD_RECORD,
        Body::Records(vec![common::card_record(&state.card_serial, &state.municipality_code, &state.expiry_yyyymmdd())]),
        Access::Free,
    )];
    files.extend(pin_files(Aid::COMMON));
    Application { aid: Aid::COMMON.0.to_vec(), files }
}
