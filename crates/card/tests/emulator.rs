//! The virtual card through the client, every application; PIN tries persisted before comparison;
//! malformed APDUs; and random APDU sequences that must never crash, never give a try back and never
//! leave an unreadable card.

mod common;

use common::*;
use jpki_card::applications::card_data::CardPublicKey;
use jpki_card::client::{FaceCredential, InfoCredential};
use jpki_card::{CardError, Emulator, MyNumberCard, PinSlot};
use jpki_profile::KeyRole;
use rand::{Rng, SeedableRng};

fn open(card: &TestCard) -> MyNumberCard<Emulator> {
    MyNumberCard::new(Emulator::open(card.card_dir()).unwrap())
}

#[test]
fn every_application_answers_its_credential() {
    let card = make_card();
    let mut client = open(&card);
    assert_eq!(client.token_label().unwrap(), "JPKIAPICCTOKEN2");
    let record = client.read_card_record().unwrap();
    assert_eq!((record.card_serial.as_str(), record.municipality_code.as_str(), record.expires.as_str()), ("123456789012345", "99999", "20350217"));

    // JPKI: signatures verify with the card's public keys; the signature certificate needs its PIN.
    let digest_info = [&jpki_crypto::SHA256_DIGEST_INFO_PREFIX[..], &jpki_crypto::sha256(b"m")].concat();
    for role in KeyRole::ALL {
        let pin = if role == KeyRole::Signature { SIGN_PIN } else { AUTH_PIN };
        let signature = client.sign(role, pin, &digest_info).unwrap();
        let public = CardPublicKey::of(&card.keys[&role]);
        assert!(public.verifies_sha256(b"m", &signature), "{role:?}");
    }
    assert!(matches!(client.read_certificate(KeyRole::Signature, None), Err(CardError::BadInput(_))));
    assert_eq!(client.read_certificate(KeyRole::Signature, Some(SIGN_PIN)).unwrap(), card.state().key(KeyRole::Signature).unwrap().certificate_der().unwrap());
    assert_eq!(client.read_certificate(KeyRole::Authentication, None).unwrap().len(), 0x304);

    // Input assistance: PIN opens both records, A only My Number, B only the 4 information.
    let all = client.read_input_assistance(&InfoCredential::Pin(INPUT_PIN.into())).unwrap();
    assert_eq!(all.my_number.as_deref(), Some(MY_NUMBER));
    assert_eq!(all.four_info.as_ref().unwrap().name, "番号　花子");
    assert!(all.seal.intact);
    let a = client.read_input_assistance(&InfoCredential::CodeA(MY_NUMBER.into())).unwrap();
    assert!(a.my_number.is_some() && a.four_info.is_none() && a.seal.intact);
    let code_b = card.state().card_face_code();
    assert_eq!(code_b, "55021720352285", "the reference's confirmed example: 1980-02-17, expiry 2035, code 2285");
    let b = client.read_input_assistance(&InfoCredential::CodeB(code_b.clone())).unwrap();
    assert!(b.my_number.is_none() && b.four_info.is_some() && b.seal.intact);

    // Card face with A or B; the photo is the one on the card.
    let face = client.read_card_face(&FaceCredential::CodeB(code_b)).unwrap();
    assert!(face.intact);
    assert_eq!((face.birth_date.as_str(), face.sex.as_str(), face.expires.as_str()), ("19800217", "2", "20350217"));
    assert_eq!(face.photo, card.state().photo.bytes().unwrap());
    assert_eq!(jpki_card::applications::images::image_text(&face.name_image).as_deref(), Some("番号　花子"));
    assert!(client.read_card_face(&FaceCredential::CodeA(MY_NUMBER.into())).unwrap().intact);

    // Resident registry behind its PIN.
    assert_eq!(client.read_resident_code(RESIDENT_PIN).unwrap(), "12345678901");

    // Free area: the business with the key reads and writes its record; a wrong key is refused.
    let aid = card.free_area_aid();
    client.write_free_area(&aid, &card.free_area_key, b"employee 0042").unwrap();
    assert_eq!(&client.read_free_area(&aid, &card.free_area_key).unwrap()[..13], b"employee 0042");
    assert!(matches!(client.read_free_area(&aid, &[7u8; 32]), Err(CardError::FreeAreaRefused(_))));
    assert!(matches!(client.read_free_area(&jpki_card::applications::free_area::aid_for("Other"), &card.free_area_key), Err(CardError::NoApplication(_))));
    assert_eq!(&open(&card).read_free_area(&aid, &card.free_area_key).unwrap()[..13], b"employee 0042", "the record is on the card");
}

#[test]
fn wrong_pins_count_down_lock_and_survive_power_cycles() {
    let card = make_card();
    let mut client = open(&card);
    for left in [2u8, 1] {
        match client.verify(PinSlot::JpkiAuthentication, "0000") {
            Err(CardError::WrongPin { tries_left, .. }) => assert_eq!(tries_left, left),
            other => panic!("{other:?}"),
        }
        assert_eq!(card.state().pin(PinSlot::JpkiAuthentication).unwrap().tries_left, left, "the try is on disk");
    }
    // A success restores the counter.
    client.verify(PinSlot::JpkiAuthentication, AUTH_PIN).unwrap();
    assert_eq!(client.pin_status(PinSlot::JpkiAuthentication).unwrap().tries_left, 3);
    for _ in 0..3 {
        let _ = client.verify(PinSlot::JpkiAuthentication, "0000");
    }
    // Locked: the right PIN is refused, across power cycles, and status queries cost nothing.
    let mut emulator = client.into_inner();
    emulator.power_off();
    emulator.power_on().unwrap();
    let mut client = MyNumberCard::new(emulator);
    assert!(matches!(client.verify(PinSlot::JpkiAuthentication, AUTH_PIN), Err(CardError::PinBlocked(_))));
    for _ in 0..5 {
        assert_eq!(client.pin_status(PinSlot::JpkiAuthentication).unwrap().tries_left, 0);
    }
    assert!(matches!(client.sign(KeyRole::Authentication, AUTH_PIN, b"x"), Err(CardError::PinBlocked(_))));
    // Other PINs and other applications' counters are untouched.
    assert_eq!(client.pin_status(PinSlot::JpkiSignature).unwrap().tries_left, 5);
    // PIN change needs the current PIN and a well-formed new one.
    assert!(matches!(client.change_pin(PinSlot::JpkiSignature, SIGN_PIN, "abc"), Err(CardError::BadInput(_))));
    client.change_pin(PinSlot::JpkiSignature, SIGN_PIN, "XYZ789").unwrap();
    assert!(matches!(client.verify(PinSlot::JpkiSignature, SIGN_PIN), Err(CardError::WrongPin { tries_left: 4, .. })));
    client.verify(PinSlot::JpkiSignature, "XYZ789").unwrap();
    client.change_pin(PinSlot::ResidentRegistry, RESIDENT_PIN, "2468").unwrap();
    assert_eq!(client.read_resident_code("2468").unwrap(), "12345678901");
    assert!(matches!(client.change_pin(PinSlot::CardFaceCodeA, MY_NUMBER, "123456789012"), Err(CardError::BadInput(_))));
}

#[test]
fn a_try_that_cannot_be_recorded_is_never_compared() {
    let card = make_card();
    let mut emulator = Emulator::open(card.card_dir()).unwrap();
    // The card's memory becomes unwritable (a directory where the lock file goes; this holds even for root).
    std::fs::create_dir(card.dir.path().join("card.lock")).unwrap();
    let select = [&[0x00, 0xa4, 0x04, 0x0c, 0x0a][..], jpki_card::applications::Aid::JPKI.0].concat();
    assert_eq!(emulator.transmit(&select), [0x90, 0x00]);
    assert_eq!(emulator.transmit(&[0x00, 0xa4, 0x02, 0x0c, 0x02, 0x00, 0x18]), [0x90, 0x00]);
    let verify = [&[0x00, 0x20, 0x00, 0x80, 0x04][..], AUTH_PIN.as_bytes()].concat();
    assert_eq!(emulator.transmit(&verify), [0x65, 0x81], "the right PIN must not be accepted without recording the try");
    assert_eq!(emulator.transmit(&[0x00, 0xa4, 0x02, 0x0c, 0x02, 0x00, 0x17]), [0x90, 0x00]);
    let sign = [&[0x80, 0x2a, 0x00, 0x80, 0x01, 0x55][..], &[0x00]].concat();
    assert_eq!(emulator.transmit(&sign), [0x69, 0x82], "nothing was verified");
}

/// Malformed and foreign commands get the status word a real card gives, never a panic.
#[test]
fn malformed_and_foreign_apdus() {
    let card = make_card();
    let mut e = Emulator::open(card.card_dir()).unwrap();
    let cases: &[(&[u8], [u8; 2], &str)] = &[
        (&[], [0x67, 0x00], "empty"),
        (&[0x00, 0xa4, 0x04], [0x67, 0x00], "short header"),
        (&[0x00, 0xa4, 0x04, 0x0c, 0x05, 0x01], [0x67, 0x00], "Lc longer than the data"),
        (&[0x00, 0xa4, 0x04, 0x0c, 0x00, 0x00, 0x05, 0x01], [0x67, 0x00], "extended Lc longer than the data"),
        (&[0x00, 0xa4, 0x04, 0x0c, 0x07, 0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00], [0x6a, 0x82], "PIV's AID"),
        (&[0x00, 0xa4, 0x00, 0x00, 0x02, 0x3f, 0x00], [0x6a, 0x86], "select by P1=00"),
        (&[0x00, 0xa4, 0x02, 0x0c, 0x02, 0x3f, 0x00], [0x6a, 0x82], "MF as an EF"),
        (&[0x00, 0xa4, 0x02, 0x0c, 0x01, 0x3f], [0x67, 0x00], "one-byte FID"),
        (&[0x00, 0xca, 0xdf, 0x30, 0x05], [0x6d, 0x00], "setcos GET DATA"),
        (&[0x00, 0xcb, 0x3f, 0xff, 0x03, 0x5c, 0x01, 0x7e, 0x08], [0x6d, 0x00], "GET DATA odd"),
        (&[0xa0, 0xa4, 0x04, 0x00], [0x6e, 0x00], "unknown class"),
        (&[0x00, 0xb0, 0x00, 0x00, 0x10], [0x69, 0x86], "READ BINARY with no EF"),
        (&[0x00, 0x20, 0x00, 0x80], [0x6a, 0x88], "VERIFY with no PIN EF"),
        (&[0x80, 0x2a, 0x00, 0x80, 0x01, 0x00, 0x00], [0x69, 0x86], "sign with no key EF"),
        (&[0x00, 0x84, 0x00, 0x00, 0x00, 0x00, 0x08], [0x69, 0x85], "extended GET CHALLENGE"),
        (&[0x00, 0x82, 0x00, 0x00, 0x01, 0x00], [0x69, 0x85], "EXTERNAL AUTHENTICATE outside the free area"),
    ];
    for (apdu, sw, what) in cases {
        let r = e.transmit(apdu);
        assert_eq!(&r[r.len() - 2..], sw, "{what}");
    }
    let select = [&[0x00, 0xa4, 0x04, 0x0c, 0x0a][..], jpki_card::applications::Aid::JPKI.0].concat();
    assert_eq!(e.transmit(&select), [0x90, 0x00]);
    let in_jpki: &[(&[u8], [u8; 2], &str)] = &[
        (&[0x00, 0xb0, 0x81, 0x00, 0x04], [0x69, 0x82], "sign certificate by SFI before the PIN"),
        (&[0x00, 0xb0, 0x8a, 0x00, 0x04], [0x90, 0x00], "auth certificate by SFI"),
        (&[0x00, 0xb0, 0x7f, 0xff, 0x01], [0x6b, 0x00], "offset beyond the end"),
        (&[0x00, 0xb0, 0x00, 0x00], [0x67, 0x00], "READ BINARY without Le"),
        (&[0x00, 0xb0, 0xe1, 0x00, 0x01], [0x6a, 0x86], "bad SFI encoding"),
        (&[0x00, 0x20, 0x00, 0x98], [0x63, 0xc3], "tries-left query by SFI"),
        (&[0x00, 0x20, 0x01, 0x98], [0x6a, 0x86], "VERIFY P1=01"),
        (&[0x00, 0x20, 0x00, 0x8a], [0x6a, 0x88], "VERIFY of a certificate EF"),
        (&[0x80, 0x2a, 0x01, 0x97, 0x01, 0x00, 0x00], [0x6a, 0x86], "unknown signature scheme"),
        (&[0x80, 0x2a, 0x00, 0x97, 0x01, 0x00, 0x00], [0x69, 0x82], "sign before the PIN"),
        (&[0x00, 0xa4, 0x02, 0x0c, 0x02, 0x00, 0x17], [0x90, 0x00], "key EF"),
        (&[0x00, 0xb0, 0x00, 0x00, 0x10], [0x69, 0x81], "reading a key"),
        (&[0x00, 0xd6, 0x00, 0x00, 0x01, 0x00], [0x69, 0x81], "writing a key"),
        (&[0x00, 0x24, 0x01, 0x98, 0x04, b'1', b'1', b'1', b'1'], [0x69, 0x82], "PIN change before VERIFY"),
    ];
    for (apdu, sw, what) in in_jpki {
        let r = e.transmit(apdu);
        assert_eq!(&r[r.len() - 2..], sw, "{what}");
    }
    // A 4-byte read of a certificate gives its DER header, as OpenSC expects.
    assert_eq!(e.transmit(&[0x00, 0xb0, 0x8a, 0x00, 0x04]), [0x30, 0x82, 0x03, 0x00, 0x90, 0x00]);
    // Le=00 is 256 bytes while the file has them.
    assert_eq!(e.transmit(&[0x00, 0xb0, 0x00, 0x00, 0x00]).len(), 258);
    assert_eq!(card.state().pin(PinSlot::JpkiAuthentication).unwrap().tries_left, 3, "no command above spent a try");
}

/// Random command sequences: no panic; the state file stays readable; a counter only goes up on a
/// successful VERIFY, back to its maximum, and a locked one never comes back.
#[test]
fn random_apdu_sequences_never_give_a_try_back() {
    let card = make_card();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x4a504b49);
    let mut emulator = Emulator::open(card.card_dir()).unwrap();
    let aids: Vec<&[u8]> = jpki_card::applications::Aid::ALL.iter().map(|a| a.0).collect();
    let fids = [0x0001u16, 0x0002, 0x0003, 0x0005, 0x000a, 0x0011, 0x0012, 0x0013, 0x0014, 0x0015, 0x0017, 0x0018, 0x001a, 0x001b, 0x001c];
    let pins = [AUTH_PIN, SIGN_PIN, INPUT_PIN, RESIDENT_PIN, MY_NUMBER, "0000", "WRONG1", "99999999999999"];
    let mut before = card.state();
    for step in 0..1500 {
        let apdu: Vec<u8> = match rng.gen_range(0..9) {
            0 => [&[0x00, 0xa4, 0x04, 0x0c, 0x0a][..], aids[rng.gen_range(0..aids.len())]].concat(),
            1 => [&[0x00, 0xa4, 0x02, 0x0c, 0x02][..], &fids[rng.gen_range(0..fids.len())].to_be_bytes()].concat(),
            2 => {
                let pin = pins[rng.gen_range(0..pins.len())].as_bytes();
                [&[0x00, 0x20, 0x00, 0x80, pin.len() as u8][..], pin].concat()
            }
            3 => vec![0x00, 0x20, 0x00, 0x80],
            4 => vec![0x00, 0xb0, rng.gen_range(0..0x90), rng.gen(), rng.gen()],
            5 => vec![0x80, 0x2a, 0x00, 0x80 | rng.gen_range(0..0x20), 0x02, rng.gen(), rng.gen(), 0x00],
            6 => vec![0x00, 0x24, 0x01, 0x80, 0x04, b'1', b'1', b'1', b'1'],
            7 => {
                if rng.gen_bool(0.5) {
                    emulator.power_on().unwrap();
                }
                vec![0x00, 0x84, 0x00, 0x00, 0x08]
            }
            _ => (0..rng.gen_range(0..12)).map(|_| rng.gen()).collect(),
        };
        let response = emulator.transmit(&apdu);
        assert!(response.len() >= 2, "step {step}: no status word");
        let after = card.card_dir().load().unwrap_or_else(|e| panic!("step {step}: state unreadable: {e}"));
        for slot in PinSlot::ALL {
            let (was, now) = (before.pin(slot).unwrap(), after.pin(slot).unwrap());
            if now.tries_left > was.tries_left {
                assert!(
                    apdu[1] == 0x20 && response.ends_with(&[0x90, 0x00]) && now.tries_left == slot.kind().rule().max_tries,
                    "step {step}: {slot:?} went from {} to {} on {apdu:02X?} → {response:02X?}",
                    was.tries_left,
                    now.tries_left
                );
                assert!(was.tries_left > 0, "step {step}: a locked {slot:?} came back");
            }
            assert!(was.tries_left - now.tries_left.min(was.tries_left) <= 1, "step {step}: {slot:?} lost more than one try");
        }
        before = after;
    }
}
