//! 公的個人認証AP (JPKI-AP): the signature and authentication keys, their certificates and CA
//! certificates, and the two PINs (../shared/reference/jpki-card.md §6, §9; OpenSC `card-jpki.c`,
//! `pkcs15-jpki.c`).

use jpki_profile::KeyRole;

/// Signature certificate (readable after the signature PIN).
pub const SIGN_CERT: u16 = 0x0001;
/// Signature CA certificate.
pub const SIGN_CA_CERT: u16 = 0x0002;
/// Token information: a PKCS#11 CK_TOKEN_INFO.
pub const TOKEN_INFO: u16 = 0x0006;
/// Which certificates the card holds: `8F` per present certificate (signature, authentication), then `00`.
pub const CERT_FLAGS: u16 = 0x0008;
/// Authentication certificate.
pub const AUTH_CERT: u16 = 0x000a;
/// Authentication CA certificate.
pub const AUTH_CA_CERT: u16 = 0x000b;
pub const AUTH_KEY: u16 = 0x0017;
pub const AUTH_PIN: u16 = 0x0018;
pub const SIGN_KEY: u16 = 0x001a;
pub const SIGN_PIN: u16 = 0x001b;

/// The token label of a physical My Number card; the label field is padded with spaces.
pub const TOKEN_LABEL: &str = "JPKIAPICCTOKEN2";

pub fn cert_file(role: KeyRole) -> u16 {
    match role {
        KeyRole::Signature => SIGN_CERT,
        KeyRole::Authentication => AUTH_CERT,
    }
}

pub fn ca_cert_file(role: KeyRole) -> u16 {
    match role {
        KeyRole::Signature => SIGN_CA_CERT,
        KeyRole::Authentication => AUTH_CA_CERT,
    }
}

pub fn key_file(role: KeyRole) -> u16 {
    match role {
        KeyRole::Signature => SIGN_KEY,
        KeyRole::Authentication => AUTH_KEY,
    }
}

/// EF 0006: CK_TOKEN_INFO (PKCS#11 v2.40 §3.2) with 32-bit big-endian integers, 160 bytes.
pub fn token_info(card_serial: &str, has_signature: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    let padded = |s: &str, len: usize| {
        let mut v = s.as_bytes()[..s.len().min(len)].to_vec();
        v.resize(len, b' ');
        v
    };
    out.extend(padded(TOKEN_LABEL, 32));
    out.extend(padded("openjpki sandbox", 32));
    out.extend(padded("OPENJPKI-VCARD", 16));
    out.extend(padded(card_serial, 16));
    // CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED, as a real card.
    let flags: u32 = 0x0000_040d;
    let (max_pin, min_pin) = if has_signature { (16u32, 6u32) } else { (4, 4) };
    for value in [flags, 0, 0, 0, 0, max_pin, min_pin, u32::MAX, u32::MAX, u32::MAX, u32::MAX] {
        out.extend_from_slice(&value.to_be_bytes());
    }
    out.extend_from_slice(b"03");
    out.extend_from_slice(b"01");
    out.extend(padded("", 16));
    out
}

/// EF 0008.
pub fn cert_flags(has_signature: bool, has_authentication: bool) -> Vec<u8> {
    let flag = |present: bool| if present { 0x8f } else { 0x00 };
    vec![flag(has_signature), flag(has_authentication), 0x00]
}

/// The token label in EF 0006, without its padding.
pub fn token_label(token_info: &[u8]) -> Option<String> {
    let label = token_info.get(..32)?;
    Some(String::from_utf8_lossy(label).trim_end_matches(' ').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_info_is_a_160_byte_token_info() {
        let info = token_info("123456789012345", true);
        assert_eq!(info.len(), 160);
        assert_eq!(token_label(&info).as_deref(), Some(TOKEN_LABEL));
        assert_eq!(&info[32 + 32 + 16..32 + 32 + 16 + 15], b"123456789012345");
        assert_eq!(cert_flags(false, true), [0, 0x8f, 0]);
    }
}
