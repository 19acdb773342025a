//! Elliptic-curve keys for the smartphone credentials (ISO/IEC 18013-5 §9.1): ECDSA signatures for COSE
//! (raw `r‖s`, RFC 9053 §2.1) and X.509 (DER, RFC 5758 §3.2), ECDH (§9.1.1.4, the x-coordinate as the
//! shared secret), HKDF-SHA-256 (RFC 5869) and AES-256-GCM (§9.1.1.5), all through `aws-lc-rs`.

use aws_lc_rs::agreement;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, UnparsedPublicKey};

use crate::CryptoError;

/// A P-256 private key, usable for ECDSA and ECDH.
pub struct EcKey {
    pkcs8: Vec<u8>,
    fixed: EcdsaKeyPair,
    asn1: EcdsaKeyPair,
    agreement: agreement::PrivateKey,
}

impl std::fmt::Debug for EcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EcKey(P-256, ..)")
    }
}

impl EcKey {
    pub fn generate_p256() -> Result<Self, CryptoError> {
        let key = agreement::PrivateKey::generate(&agreement::ECDH_P256).map_err(|_| CryptoError::KeyGeneration)?;
        let der: Pkcs8V1Der<'static> = key.as_der().map_err(|_| CryptoError::KeyGeneration)?;
        Self::from_pkcs8_der(der.as_ref())
    }

    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CryptoError> {
        let bad = |e: &dyn std::fmt::Display| CryptoError::BadPrivateKey(format!("P-256 key: {e}"));
        let fixed = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(|e| bad(&e))?;
        let asn1 = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, der).map_err(|e| bad(&e))?;
        let agreement = agreement::PrivateKey::from_private_key_der(&agreement::ECDH_P256, der).map_err(|e| bad(&e))?;
        Ok(EcKey { pkcs8: der.to_vec(), fixed, asn1, agreement })
    }

    /// A key from its 32-byte big-endian scalar (the form test vectors publish).
    pub fn from_p256_scalar(d: &[u8]) -> Result<Self, CryptoError> {
        let key = agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, d).map_err(|e| CryptoError::BadPrivateKey(format!("P-256 scalar: {e}")))?;
        let der: Pkcs8V1Der<'static> = key.as_der().map_err(|_| CryptoError::BadPrivateKey("P-256 scalar".into()))?;
        Self::from_pkcs8_der(der.as_ref())
    }

    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as an uncompressed SEC 1 point (`04‖x‖y`, 65 bytes).
    pub fn public_point(&self) -> Vec<u8> {
        self.fixed.public_key().as_ref().to_vec()
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    pub fn public_key_spki_der(&self) -> Vec<u8> {
        self.fixed.public_key().as_der().expect("P-256 SPKI encodes").as_ref().to_vec()
    }

    /// ECDSA P-256 with SHA-256, the signature as raw `r‖s` (COSE).
    pub fn sign_fixed(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        Ok(self.fixed.sign(&rng, message).map_err(|_| CryptoError::Signing)?.as_ref().to_vec())
    }

    /// ecdsa-with-SHA256, the signature as a DER `ECDSA-Sig-Value` (X.509).
    pub fn sign_der(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        Ok(self.asn1.sign(&rng, message).map_err(|_| CryptoError::Signing)?.as_ref().to_vec())
    }

    /// ECDH with a peer's uncompressed P-256 point: the shared x-coordinate.
    pub fn ecdh(&self, peer_point: &[u8]) -> Result<[u8; 32], CryptoError> {
        let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, peer_point);
        agreement::agree(&self.agreement, peer, CryptoError::BadPublicKey, |z| z.try_into().map_err(|_| CryptoError::BadPublicKey))
    }
}

/// The ECDSA variants verifiers meet in mdoc and its certificates (COSE algs -7, -35, -36; RFC 5758).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcdsaScheme {
    P256Sha256,
    P384Sha384,
    P521Sha512,
    /// A P-256 key with SHA-384 (certificates only).
    P256Sha384,
    /// A P-384 key with SHA-256 (certificates only).
    P384Sha256,
}

/// How an ECDSA signature is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// `r‖s`, each the curve's size (COSE).
    Fixed,
    /// DER `SEQUENCE { r INTEGER, s INTEGER }` (X.509, CMS).
    Der,
}

fn ecdsa_algorithm(scheme: EcdsaScheme, encoding: SignatureEncoding) -> Option<&'static signature::EcdsaVerificationAlgorithm> {
    use EcdsaScheme::*;
    use SignatureEncoding::*;
    Some(match (scheme, encoding) {
        (P256Sha256, Fixed) => &signature::ECDSA_P256_SHA256_FIXED,
        (P384Sha384, Fixed) => &signature::ECDSA_P384_SHA384_FIXED,
        (P521Sha512, Fixed) => &signature::ECDSA_P521_SHA512_FIXED,
        (P256Sha256, Der) => &signature::ECDSA_P256_SHA256_ASN1,
        (P384Sha384, Der) => &signature::ECDSA_P384_SHA384_ASN1,
        (P521Sha512, Der) => &signature::ECDSA_P521_SHA512_ASN1,
        (P256Sha384, Der) => &signature::ECDSA_P256_SHA384_ASN1,
        (P384Sha256, Der) => &signature::ECDSA_P384_SHA256_ASN1,
        (P256Sha384 | P384Sha256, Fixed) => return None,
    })
}

/// Verifies an ECDSA signature with a public key given as an uncompressed SEC 1 point.
pub fn verify_ecdsa(scheme: EcdsaScheme, encoding: SignatureEncoding, public_point: &[u8], message: &[u8], sig: &[u8]) -> bool {
    let Some(algorithm) = ecdsa_algorithm(scheme, encoding) else { return false };
    UnparsedPublicKey::new(algorithm, public_point).verify(message, sig).is_ok()
}

/// A public key parsed once for many verifications.
pub struct EcdsaPublicKey(signature::ParsedPublicKey);

impl EcdsaPublicKey {
    pub fn parse(scheme: EcdsaScheme, encoding: SignatureEncoding, public_point: &[u8]) -> Option<Self> {
        let algorithm = ecdsa_algorithm(scheme, encoding)?;
        signature::ParsedPublicKey::new(algorithm, public_point).ok().map(EcdsaPublicKey)
    }

    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        self.0.verify_sig(message, sig).is_ok()
    }
}

/// HKDF-SHA-256 (RFC 5869) of `ikm` with `salt` and `info`, `N` bytes of output.
pub fn hkdf_sha256<const N: usize>(ikm: &[u8], salt: &[u8], info: &[u8]) -> [u8; N] {
    struct Len(usize);
    impl aws_lc_rs::hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let prk = aws_lc_rs::hkdf::Salt::new(aws_lc_rs::hkdf::HKDF_SHA256, salt).extract(ikm);
    let mut out = [0u8; N];
    let info = [info];
    prk.expand(&info, Len(N)).and_then(|okm| okm.fill(&mut out)).expect("HKDF output of at most 255 blocks");
    out
}

/// AES-256-GCM encryption with an empty AAD; the tag is appended.
pub fn aes256gcm_seal(key: &[u8; 32], nonce: [u8; 12], plaintext: &[u8]) -> Vec<u8> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("32-byte key"));
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf).expect("AES-GCM seal");
    buf
}

/// AES-256-GCM decryption of `ciphertext‖tag`; `None` when the tag does not verify.
pub fn aes256gcm_open(key: &[u8; 32], nonce: [u8; 12], ciphertext: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("32-byte key"));
    let mut buf = ciphertext.to_vec();
    let plain_len = key.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf).ok()?.len();
    buf.truncate(plain_len);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_agree() {
        let a = EcKey::generate_p256().unwrap();
        let b = EcKey::from_pkcs8_der(a.pkcs8_der()).unwrap();
        assert_eq!(a.public_point(), b.public_point());
        let fixed = a.sign_fixed(b"mdoc").unwrap();
        assert_eq!(fixed.len(), 64);
        assert!(verify_ecdsa(EcdsaScheme::P256Sha256, SignatureEncoding::Fixed, &a.public_point(), b"mdoc", &fixed));
        assert!(!verify_ecdsa(EcdsaScheme::P256Sha256, SignatureEncoding::Fixed, &a.public_point(), b"mdot", &fixed));
        let der = a.sign_der(b"mdoc").unwrap();
        assert!(verify_ecdsa(EcdsaScheme::P256Sha256, SignatureEncoding::Der, &a.public_point(), b"mdoc", &der));
        let c = EcKey::generate_p256().unwrap();
        assert_eq!(a.ecdh(&c.public_point()).unwrap(), c.ecdh(&a.public_point()).unwrap());
        assert!(a.ecdh(&[4u8; 65]).is_err());
    }

    #[test]
    fn hkdf_matches_rfc5869_case_1() {
        let ikm = [0x0bu8; 22];
        let salt: Vec<u8> = (0u8..=0x0c).collect();
        let info: Vec<u8> = (0xf0u8..=0xf9).collect();
        let okm: [u8; 42] = hkdf_sha256(&ikm, &salt, &info);
        assert_eq!(hex_lower(&okm), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    }

    #[test]
    fn aes_gcm_round_trip_and_tamper() {
        let key = [7u8; 32];
        let sealed = aes256gcm_seal(&key, [1; 12], b"DeviceResponse");
        assert_eq!(aes256gcm_open(&key, [1; 12], &sealed).unwrap(), b"DeviceResponse");
        let mut bad = sealed.clone();
        bad[0] ^= 1;
        assert!(aes256gcm_open(&key, [1; 12], &bad).is_none());
        assert!(aes256gcm_open(&key, [2; 12], &sealed).is_none());
    }

    fn hex_lower(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
