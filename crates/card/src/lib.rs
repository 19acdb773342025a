//! The My Number Card as smart-card software sees it.
//!
//! - [`apdu`]: ISO/IEC 7816-4 command and response APDUs, short and extended, and the status words the
//!   card answers with;
//! - [`applications`]: the card's applications — JPKI, input assistance, card face, resident registry,
//!   common, free area — with their identifiers, files and record formats;
//! - [`pins`]: where each PIN and verification code lives (formats and retry limits are in
//!   `jpki_profile::pin_policy`);
//! - [`card_dir`]: the card directory a virtual card runs from, written atomically;
//! - [`emulator`]: the virtual card, answering APDUs as a real one does;
//! - [`vpcd`]: the bridge that inserts the virtual card into pcscd through vsmartcard's vpcd reader;
//! - [`client`]: reading, signing and PIN management over any transport;
//! - [`pcsc_reader`]: the PC/SC transport, for real and virtual cards alike.
#![forbid(unsafe_code)]

pub mod apdu;
pub mod applications;
pub mod card_dir;
pub mod client;
pub mod emulator;
pub mod pcsc_reader;
pub mod pins;
pub mod tlv;
pub mod vpcd;

pub use card_dir::{CardDir, CardState};
pub use client::{CardError, MyNumberCard, Transport};
pub use emulator::Emulator;
pub use pins::PinSlot;
