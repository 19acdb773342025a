//! A card directory made without the issuer: fresh keys, placeholder certificates, a real seal.
#![allow(dead_code)]

use std::collections::BTreeMap;

use jpki_card::applications::{card_data, free_area, images};
use jpki_card::card_dir::{CardState, FreeAreaApp, KeySlot, Photo, CARD_FORMAT};
use jpki_card::CardDir;
use jpki_crypto::RsaKey;
use jpki_profile::pin_policy::PinKind;
use jpki_profile::KeyRole;
use jpki_profile::{BirthDate, Device, FourInfo, Sex};

pub const MY_NUMBER: &str = "621498320257";
pub const SIGN_PIN: &str = "ABC123";
pub const AUTH_PIN: &str = "1234";
pub const INPUT_PIN: &str = "5678";
pub const RESIDENT_PIN: &str = "1357";

pub struct TestCard {
    pub dir: tempfile::TempDir,
    pub keys: BTreeMap<KeyRole, RsaKey>,
    pub free_area_key: [u8; 32],
}

impl TestCard {
    pub fn card_dir(&self) -> CardDir {
        CardDir::new(self.dir.path())
    }

    pub fn state(&self) -> CardState {
        self.card_dir().load().unwrap()
    }

    pub fn free_area_aid(&self) -> Vec<u8> {
        free_area::aid_for("Acme")
    }
}

/// A placeholder certificate: DER framing only (`30 82 HH LL`), which is all the card looks at.
fn placeholder_certificate(seed: u8) -> Vec<u8> {
    let mut der = vec![0x30, 0x82, 0x03, 0x00];
    der.extend((0..0x300).map(|i| (i as u8) ^ seed));
    der
}

pub fn make_card() -> TestCard {
    let dir = tempfile::tempdir().unwrap();
    let keys: BTreeMap<KeyRole, RsaKey> = KeyRole::ALL.into_iter().map(|r| (r, RsaKey::generate_2048().unwrap())).collect();
    let b64 = |b: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    let info = FourInfo::new("番号　花子", "東京都千代田区霞が関２－１－２", BirthDate::parse_iso("1980-02-17").unwrap(), Sex::Female).unwrap();
    let free_area_key = jpki_crypto::random_bytes::<32>();
    let issued_at = time::OffsetDateTime::now_utc();
    let mut state = CardState {
        format: CARD_FORMAT.into(),
        card_id: "card_test".into(),
        person_id: "person_test".into(),
        device: Device::Card,
        issued_at,
        expires_at: time::macros::datetime!(2035-02-17 14:59:59 UTC),
        my_number: MY_NUMBER.into(),
        four_info: info,
        resident_code: "12345678901".into(),
        card_serial: "123456789012345".into(),
        municipality_code: "99999".into(),
        security_code: "2285".into(),
        photo: Photo::new("image/png", &images::generated_photo(b"test")),
        pins: BTreeMap::new(),
        keys: keys.iter().map(|(r, k)| (r.as_str().to_owned(), KeySlot::new(k, &placeholder_certificate(*r as u8), "01"))).collect(),
        ca_certificates: KeyRole::ALL.iter().map(|r| (r.as_str().to_owned(), b64(&placeholder_certificate(0x55 ^ *r as u8)))).collect(),
        seal: Default::default(),
        free_area: BTreeMap::from([(
            "Acme".to_owned(),
            FreeAreaApp {
                business: "Acme".into(),
                aid: hex::encode(free_area::aid_for("Acme")),
                access_key: b64(&free_area_key),
                record: b64(&[0u8; free_area::RECORD_SIZE]),
            },
        )]),
    };
    state.set_pins(&BTreeMap::from([
        (PinKind::Signature, SIGN_PIN.to_owned()),
        (PinKind::Authentication, AUTH_PIN.to_owned()),
        (PinKind::InputAssistance, INPUT_PIN.to_owned()),
        (PinKind::ResidentRegistry, RESIDENT_PIN.to_owned()),
    ]));
    state.seal = card_data::seal(&state, &RsaKey::generate_2048().unwrap()).unwrap();
    CardDir::new(dir.path()).save(&state).unwrap();
    TestCard { dir, keys, free_area_key }
}
