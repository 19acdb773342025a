//! A My Number card reader's side: what `jpki card …` does with a card, over any [`Transport`] — a
//! reader through PC/SC ([`crate::pcsc_reader`]) or the emulator in-process. The command sequences are
//! the ones OpenSC, jpki/myna and jpki-rs send (../shared/reference/jpki-card.md §4, §6, §9, §10).

use jpki_profile::FourInfo;
use serde::Serialize;

use crate::apdu::{ApduError, Command, Response, StatusWord};
use crate::applications::card_face::{self, CardFace};
use crate::applications::common::{self, CardRecord};
use crate::applications::input_assistance::{self, SealCheck};
use crate::applications::{free_area, jpki, resident_registry, Aid};
use crate::emulator::{Emulator, MAX_SIGN_INPUT};
use crate::pins::PinSlot;
use crate::tlv::TlvError;
use jpki_profile::KeyRole;

#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("the PC/SC service is not running: start pcscd (Debian: apt install pcscd)")]
    NoService,
    #[error("no smart-card reader is connected")]
    NoReaders,
    #[error("no reader named {name:?}; readers: {known}")]
    UnknownReader { name: String, known: String },
    #[error("no card in {0}")]
    NoCard(String),
    #[error("several readers hold a card ({0}); choose one with --reader")]
    AmbiguousReader(String),
    #[error("the card was removed from {0:?}")]
    Removed(String),
    #[error("the card in {0:?} is in use by another application")]
    Busy(String),
    #[error("PC/SC: {0}")]
    Pcsc(String),
    #[error("this card has no {0}: not a My Number card, or not one this application is on")]
    NoApplication(&'static str),
    #[error("wrong {slot}: {tries_left} {} left before it locks", if *.tries_left == 1 { "try" } else { "tries" })]
    WrongPin { slot: PinSlot, tries_left: u8 },
    #[error("the {0} is locked after too many wrong tries; the municipality (市区町村窓口) can reset it")]
    PinBlocked(PinSlot),
    #[error("{what}: the card answered {status}")]
    Status { what: String, status: StatusWord },
    #[error("{what}: the card's answer is malformed")]
    MalformedResponse { what: &'static str },
    #[error("{0}")]
    Record(#[from] TlvError),
    #[error("{0}")]
    BadInput(String),
    #[error("free-area access refused: the key does not open application {0}")]
    FreeAreaRefused(String),
}

impl From<ApduError> for CardError {
    fn from(e: ApduError) -> Self {
        CardError::BadInput(e.to_string())
    }
}

/// Something that carries command APDUs to a card and its responses back.
pub trait Transport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, CardError>;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, CardError> {
        (**self).transmit(command)
    }
}

impl Transport for Emulator {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, CardError> {
        Ok(Emulator::transmit(self, command))
    }
}

/// The credential that opens the input-assistance application.
#[derive(Debug, Clone)]
pub enum InfoCredential {
    /// The 4-digit input-assistance PIN: opens everything.
    Pin(String),
    /// 照合番号A (the My Number): opens My Number only.
    CodeA(String),
    /// 照合番号B: opens the 4 information only.
    CodeB(String),
}

/// The credential that opens the card-face application.
#[derive(Debug, Clone)]
pub enum FaceCredential {
    CodeA(String),
    CodeB(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct InputAssistanceData {
    /// Present when the credential opened it (PIN or 照合番号A).
    pub my_number: Option<String>,
    /// Present when the credential opened it (PIN or 照合番号B).
    pub four_info: Option<FourInfo>,
    pub seal: SealCheck,
}

/// The input-assistance application's records as read (the EFs' bytes): what a relying party sends
/// on for the number check, which verifies the issuer's seal over them itself.
#[derive(Debug, Clone)]
pub struct InputAssistanceRecords {
    /// EF 0001, when the credential opened it.
    pub my_number: Option<Vec<u8>>,
    /// EF 0002, when the credential opened it.
    pub attributes: Option<Vec<u8>>,
    /// EF 0003: the issuer's digests and signature.
    pub integrity: Vec<u8>,
    /// EF 0004: the issuer's card-verifiable certificate.
    pub card_certificate: Vec<u8>,
}

impl InputAssistanceRecords {
    /// The data the records hold, checked against the seal of the card's own certificate.
    pub fn read(&self) -> Result<InputAssistanceData, CardError> {
        let seal = input_assistance::check_seal(&self.integrity, &self.card_certificate, self.my_number.as_deref(), self.attributes.as_deref())?;
        Ok(InputAssistanceData {
            my_number: self.my_number.as_deref().map(input_assistance::parse_my_number).transpose()?,
            four_info: self.attributes.as_deref().map(input_assistance::parse_attributes).transpose()?,
            seal,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PinStatus {
    pub application: &'static str,
    pub pin: String,
    pub tries_left: u8,
    pub max_tries: u8,
}

/// Short reads return at most this much; OpenSC reads certificates in chunks of the same size.
const CHUNK: usize = 256;

pub struct MyNumberCard<T> {
    transport: T,
}

impl<T: Transport> MyNumberCard<T> {
    pub fn new(transport: T) -> Self {
        MyNumberCard { transport }
    }

    pub fn into_inner(self) -> T {
        self.transport
    }

    fn send(&mut self, command: &Command, what: &'static str) -> Result<Response, CardError> {
        let bytes = self.transport.transmit(&command.to_bytes()?)?;
        Response::parse(&bytes).ok_or(CardError::MalformedResponse { what })
    }

    fn ok(&mut self, command: Command, what: &'static str) -> Result<Vec<u8>, CardError> {
        let response = self.send(&command, what)?;
        if !response.status.is_success() {
            return Err(CardError::Status { what: what.to_owned(), status: response.status });
        }
        Ok(response.data)
    }

    pub fn select(&mut self, aid: Aid) -> Result<(), CardError> {
        let response = self.send(&Command::new(0x00, 0xa4, 0x04, 0x0c, aid.0, None), "SELECT application")?;
        match response.status {
            StatusWord::SUCCESS => Ok(()),
            StatusWord::FILE_NOT_FOUND => Err(CardError::NoApplication(aid.name())),
            status => Err(CardError::Status { what: format!("SELECT {}", aid.name()), status }),
        }
    }

    fn select_free_area(&mut self, aid: &[u8]) -> Result<(), CardError> {
        let response = self.send(&Command::new(0x00, 0xa4, 0x04, 0x0c, aid, None), "SELECT application")?;
        match response.status {
            StatusWord::SUCCESS => Ok(()),
            StatusWord::FILE_NOT_FOUND => Err(CardError::NoApplication("free-area application with that AID")),
            status => Err(CardError::Status { what: "SELECT free-area application".into(), status }),
        }
    }

    fn select_ef(&mut self, fid: u16, what: &'static str) -> Result<(), CardError> {
        self.ok(Command::new(0x00, 0xa4, 0x02, 0x0c, &fid.to_be_bytes(), None), what).map(drop)
    }

    /// Reads the current EF to its end in 256-byte chunks.
    fn read_current(&mut self, what: &'static str) -> Result<Vec<u8>, CardError> {
        let mut out = Vec::new();
        loop {
            if out.len() > 0x7fff {
                return Err(CardError::MalformedResponse { what });
            }
            let offset = (out.len() as u16).to_be_bytes();
            let response = self.send(&Command::new(0x00, 0xb0, offset[0], offset[1], &[], Some(CHUNK)), what)?;
            match response.status {
                StatusWord::SUCCESS => {
                    let got = response.data.len();
                    out.extend(response.data);
                    if got < CHUNK {
                        return Ok(out);
                    }
                }
                StatusWord::WRONG_P1_P2 if !out.is_empty() => return Ok(out),
                status => return Err(CardError::Status { what: format!("READ BINARY of the {what}"), status }),
            }
        }
    }

    fn read_ef(&mut self, fid: u16, what: &'static str) -> Result<Vec<u8>, CardError> {
        self.select_ef(fid, what)?;
        self.read_current(what)
    }

    /// VERIFY of `slot` in the selected application; a PIN in the wrong format is refused here, before
    /// it can cost a try.
    fn verify_selected(&mut self, slot: PinSlot, pin: &str) -> Result<(), CardError> {
        if !slot.well_formed(pin) {
            return Err(CardError::BadInput(format!("that is not in the format of the {slot}; nothing was sent to the card")));
        }
        self.select_ef(slot.location().1, "PIN")?;
        let response = self.send(&Command::new(0x00, 0x20, 0x00, 0x80, pin.as_bytes(), None), "VERIFY")?;
        match response.status {
            StatusWord::SUCCESS => Ok(()),
            StatusWord::REFERENCE_DATA_NOT_USABLE | StatusWord::AUTHENTICATION_METHOD_BLOCKED => Err(CardError::PinBlocked(slot)),
            sw => match sw.as_tries_left() {
                Some(0) => Err(CardError::PinBlocked(slot)),
                Some(tries_left) => Err(CardError::WrongPin { slot, tries_left }),
                None => Err(CardError::Status { what: format!("VERIFY of the {slot}"), status: sw }),
            },
        }
    }

    /// Selects the slot's application and verifies the PIN.
    pub fn verify(&mut self, slot: PinSlot, pin: &str) -> Result<(), CardError> {
        self.select(slot.location().0)?;
        self.verify_selected(slot, pin)
    }

    /// Tries left on a PIN, without spending one.
    pub fn pin_status(&mut self, slot: PinSlot) -> Result<PinStatus, CardError> {
        self.select(slot.location().0)?;
        self.select_ef(slot.location().1, "PIN")?;
        let response = self.send(&Command::new(0x00, 0x20, 0x00, 0x80, &[], None), "VERIFY")?;
        let tries_left = match response.status.as_tries_left() {
            Some(n) => n,
            None if response.status == StatusWord::REFERENCE_DATA_NOT_USABLE => 0,
            None => return Err(CardError::Status { what: format!("tries-left query of the {slot}"), status: response.status }),
        };
        Ok(PinStatus { application: slot.location().0.name(), pin: slot.to_string(), tries_left, max_tries: slot.kind().rule().max_tries })
    }

    pub fn change_pin(&mut self, slot: PinSlot, current: &str, new: &str) -> Result<(), CardError> {
        if !slot.changeable() {
            return Err(CardError::BadInput(format!("the {slot} is printed on the card and cannot be changed")));
        }
        slot.kind().validate_new(new).map_err(|e| CardError::BadInput(e.to_string()))?;
        self.verify(slot, current)?;
        let command = match slot {
            PinSlot::ResidentRegistry | PinSlot::CommonCard => Command::new(0x80, 0x32, 0x00, 0x80, new.as_bytes(), None),
            _ => Command::new(0x00, 0x24, 0x01, 0x80, new.as_bytes(), None),
        };
        self.ok(command, "CHANGE REFERENCE DATA").map(drop)
    }

    /// The token label in JPKI-AP EF 0006 (`JPKIAPICCTOKEN2` on a physical card).
    pub fn token_label(&mut self) -> Result<String, CardError> {
        self.select(Aid::JPKI)?;
        let info = self.read_ef(jpki::TOKEN_INFO, "token information")?;
        jpki::token_label(&info).ok_or(CardError::MalformedResponse { what: "token information" })
    }

    /// A JPKI certificate (DER). The signature certificate needs the signature password.
    pub fn read_certificate(&mut self, role: KeyRole, signature_pin: Option<&str>) -> Result<Vec<u8>, CardError> {
        self.select(Aid::JPKI)?;
        if role == KeyRole::Signature {
            let pin = signature_pin.ok_or_else(|| CardError::BadInput("the signature certificate is readable only after the signature password".into()))?;
            self.verify_selected(PinSlot::JpkiSignature, pin)?;
        }
        self.read_ef(jpki::cert_file(role), "certificate")
    }

    pub fn read_ca_certificate(&mut self, role: KeyRole) -> Result<Vec<u8>, CardError> {
        self.select(Aid::JPKI)?;
        self.read_ef(jpki::ca_cert_file(role), "CA certificate")
    }

    /// COMPUTE DIGITAL SIGNATURE: PKCS#1 v1.5 over `to_sign` as given (a DigestInfo, usually).
    pub fn sign(&mut self, role: KeyRole, pin: &str, to_sign: &[u8]) -> Result<Vec<u8>, CardError> {
        if to_sign.is_empty() || to_sign.len() > MAX_SIGN_INPUT {
            return Err(CardError::BadInput(format!("the card signs 1 to {MAX_SIGN_INPUT} bytes, got {}", to_sign.len())));
        }
        self.verify(PinSlot::of(role), pin)?;
        self.select_ef(jpki::key_file(role), "private key")?;
        let signature = self.ok(Command::new(0x80, 0x2a, 0x00, 0x80, to_sign, Some(256)), "COMPUTE DIGITAL SIGNATURE")?;
        if signature.is_empty() {
            return Err(CardError::MalformedResponse { what: "COMPUTE DIGITAL SIGNATURE" });
        }
        Ok(signature)
    }

    /// Reads the input-assistance data the credential opens and checks it against the issuer's seal.
    pub fn read_input_assistance(&mut self, credential: &InfoCredential) -> Result<InputAssistanceData, CardError> {
        self.read_input_assistance_records(credential)?.read()
    }

    /// Reads the input-assistance records the credential opens, as they are on the card.
    pub fn read_input_assistance_records(&mut self, credential: &InfoCredential) -> Result<InputAssistanceRecords, CardError> {
        self.select(Aid::INPUT_ASSISTANCE)?;
        let (slot, value, number, attributes) = match credential {
            InfoCredential::Pin(pin) => (PinSlot::InputAssistancePin, pin, true, true),
            InfoCredential::CodeA(code) => (PinSlot::InputAssistanceCodeA, code, true, false),
            InfoCredential::CodeB(code) => (PinSlot::InputAssistanceCodeB, code, false, true),
        };
        self.verify_selected(slot, value)?;
        let number_ef = number.then(|| self.read_ef(input_assistance::MY_NUMBER, "My Number record")).transpose()?;
        let attributes_ef = attributes.then(|| self.read_ef(input_assistance::ATTRIBUTES, "4-information record")).transpose()?;
        let integrity = self.read_ef(input_assistance::INTEGRITY, "integrity record")?;
        let card_certificate = self.read_ef(input_assistance::CV_CERTIFICATE, "card-verifiable certificate")?;
        Ok(InputAssistanceRecords { my_number: number_ef, attributes: attributes_ef, integrity, card_certificate })
    }

    pub fn read_card_face(&mut self, credential: &FaceCredential) -> Result<CardFace, CardError> {
        self.select(Aid::CARD_FACE)?;
        let (slot, value) = match credential {
            FaceCredential::CodeA(code) => (PinSlot::CardFaceCodeA, code),
            FaceCredential::CodeB(code) => (PinSlot::CardFaceCodeB, code),
        };
        self.verify_selected(slot, value)?;
        let face = self.read_ef(card_face::FACE, "card face")?;
        Ok(card_face::parse_face(&face)?)
    }

    pub fn read_resident_code(&mut self, pin: &str) -> Result<String, CardError> {
        self.verify(PinSlot::ResidentRegistry, pin)?;
        let ef = self.read_ef(resident_registry::RESIDENT_CODE, "resident code")?;
        resident_registry::parse_resident_code(&ef).ok_or(CardError::MalformedResponse { what: "resident code" })
    }

    /// The common card application's record: card serial, municipality, expiry.
    pub fn read_card_record(&mut self) -> Result<CardRecord, CardError> {
        self.select(Aid::COMMON)?;
        let record = self.ok(Command::new(0x00, 0xb2, 0x01, (common::CARD_RECORD as u8) << 3 | 0x04, &[], Some(256)), "READ RECORD")?;
        common::parse_card_record(&record).ok_or(CardError::MalformedResponse { what: "card record" })
    }

    fn open_free_area(&mut self, aid: &[u8], access_key: &[u8]) -> Result<(), CardError> {
        self.select_free_area(aid)?;
        let challenge = self.ok(Command::new(0x00, 0x84, 0x00, 0x00, &[], Some(free_area::CHALLENGE_LEN)), "GET CHALLENGE")?;
        let cryptogram = free_area::cryptogram(access_key, &challenge, aid);
        let response = self.send(&Command::new(0x00, 0x82, 0x00, 0x00, &cryptogram, None), "EXTERNAL AUTHENTICATE")?;
        match response.status {
            StatusWord::SUCCESS => Ok(()),
            StatusWord(0x6300) => Err(CardError::FreeAreaRefused(hex::encode_upper(aid))),
            status => Err(CardError::Status { what: "EXTERNAL AUTHENTICATE".into(), status }),
        }
    }

    pub fn read_free_area(&mut self, aid: &[u8], access_key: &[u8]) -> Result<Vec<u8>, CardError> {
        self.open_free_area(aid, access_key)?;
        self.read_ef(free_area::RECORD, "free-area record")
    }

    /// Writes `data` at the start of the business's record (the rest is kept).
    pub fn write_free_area(&mut self, aid: &[u8], access_key: &[u8], data: &[u8]) -> Result<(), CardError> {
        if data.is_empty() || data.len() > free_area::RECORD_SIZE {
            return Err(CardError::BadInput(format!("a free-area record holds 1 to {} bytes, got {}", free_area::RECORD_SIZE, data.len())));
        }
        self.open_free_area(aid, access_key)?;
        self.select_ef(free_area::RECORD, "free-area record")?;
        for (i, chunk) in data.chunks(255).enumerate() {
            let offset = ((i * 255) as u16).to_be_bytes();
            self.ok(Command::new(0x00, 0xd6, offset[0], offset[1], chunk, None), "UPDATE BINARY")?;
        }
        Ok(())
    }
}
