//! The free area (空き領域): applications that businesses authorized by the Minister put on the card
//! (seed 001: employee ID cards, door access). Each business gets its own application with one record
//! and its own access key; nothing in it is readable or writable before the business proves it holds
//! the key, and no business can open another's application.
//!
//! Access follows ISO/IEC 7816-4's challenge–response: GET CHALLENGE (`00 84 00 00 08`) returns 8
//! random bytes; EXTERNAL AUTHENTICATE (`00 82 00 00 20 <mac>`) with
//! `mac = HMAC-SHA-256(access key, challenge ‖ AID)` opens the application until it is deselected or the
//! card is reset. A challenge is good for one attempt. Then READ BINARY / UPDATE BINARY on EF 0001.
//! Real free-area applications are installed with J-LIS's card-management keys and their formats are
//! the business's own; this authentication scheme is openjpki's [openjpki layout].

/// The one record of a free-area application.
pub const RECORD: u16 = 0x0001;
/// The size of that record.
pub const RECORD_SIZE: usize = 1024;
/// Bytes of challenge GET CHALLENGE returns.
pub const CHALLENGE_LEN: usize = 8;

/// Registered-application-provider prefix of the sandbox's free-area AIDs (an `F` proprietary RID).
const AID_PREFIX: [u8; 5] = [0xf3, 0x92, 0x10, 0x00, 0x4f];

/// The AID the sandbox gives a business: the prefix and 6 bytes of SHA-256 of its name.
pub fn aid_for(business: &str) -> Vec<u8> {
    let mut aid = AID_PREFIX.to_vec();
    aid.extend_from_slice(&jpki_crypto::sha256(business.as_bytes())[..6]);
    aid
}

/// The EXTERNAL AUTHENTICATE cryptogram.
pub fn cryptogram(access_key: &[u8], challenge: &[u8], aid: &[u8]) -> [u8; 32] {
    let mut message = challenge.to_vec();
    message.extend_from_slice(aid);
    jpki_crypto::hmac_sha256(access_key, &message)
}
