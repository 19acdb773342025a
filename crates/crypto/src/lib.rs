//! The crypto provider every other crate goes through.
//!
//! - Key generation, in-memory signing and verification use `aws-lc-rs` (constant-time, fast).
//! - Signing a digest that was computed elsewhere (a CRL of hundreds of megabytes hashed while it is
//!   streamed to disk) and the card's raw PKCS#1 v1.5 operation over a given DigestInfo use the `rsa`
//!   crate's unprefixed PKCS#1 v1.5 signer, because `aws-lc-rs` only signs whole messages. Those are
//!   sandbox-side operations (simulated CA and card), never on a production verification path.
#![forbid(unsafe_code)]

use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use std::sync::OnceLock;

pub use aws_lc_rs::digest::{Context as DigestContext, SHA1_FOR_LEGACY_USE_ONLY as SHA1, SHA256};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("RSA key generation failed")]
    KeyGeneration,
    #[error("not an RSA private key in PKCS#8: {0}")]
    BadPrivateKey(String),
    #[error("not a usable RSA public key")]
    BadPublicKey,
    #[error("signing failed")]
    Signing,
}

/// DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2, note 1); the 32-byte digest follows it.
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] =
    [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];

/// An RSA private key.
pub struct RsaKey {
    pkcs8: Vec<u8>,
    pair: aws_lc_rs::rsa::KeyPair,
    prehash: OnceLock<rsa::RsaPrivateKey>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaKey(..)")
    }
}

impl RsaKey {
    /// A new RSA-2048 key with e = 65537, the size JPKI uses.
    pub fn generate_2048() -> Result<Self, CryptoError> {
        let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).map_err(|_| CryptoError::KeyGeneration)?;
        use aws_lc_rs::encoding::AsDer;
        let pkcs8 = pair.as_der().map_err(|_| CryptoError::KeyGeneration)?.as_ref().to_vec();
        Ok(RsaKey { pkcs8, pair, prehash: OnceLock::new() })
    }

    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CryptoError> {
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(der).map_err(|e| CryptoError::BadPrivateKey(e.to_string()))?;
        Ok(RsaKey { pkcs8: der.to_vec(), pair, prehash: OnceLock::new() })
    }

    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, CryptoError> {
        let (label, doc) =
            pkcs8::SecretDocument::from_pem(pem).map_err(|e| CryptoError::BadPrivateKey(e.to_string()))?;
        if label != "PRIVATE KEY" {
            return Err(CryptoError::BadPrivateKey(format!("PEM label is {label:?}, expected \"PRIVATE KEY\"")));
        }
        Self::from_pkcs8_der(doc.as_bytes())
    }

    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn pkcs8_pem(&self) -> String {
        der::pem::encode_string("PRIVATE KEY", LineEnding::LF, &self.pkcs8).expect("PEM encoding of bytes")
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    pub fn public_key_spki_der(&self) -> Vec<u8> {
        let public = rsa::RsaPrivateKey::from_pkcs8_der(&self.pkcs8).expect("key parsed at construction").to_public_key();
        public.to_public_key_der().expect("RSA SPKI encodes").into_vec()
    }

    /// The public key as a DER RSAPublicKey (the content of the SPKI's BIT STRING).
    pub fn public_key_pkcs1_der(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// Length in bytes of the modulus, and so of every signature.
    pub fn signature_len(&self) -> usize {
        self.pair.public_modulus_len()
    }

    /// sha256WithRSAEncryption over `message`.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&signature::RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), message, &mut sig)
            .map_err(|_| CryptoError::Signing)?;
        Ok(sig)
    }

    /// sha256WithRSAEncryption over a message whose SHA-256 digest is `digest`.
    pub fn sign_sha256_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, CryptoError> {
        let mut info = SHA256_DIGEST_INFO_PREFIX.to_vec();
        info.extend_from_slice(digest);
        self.sign_digest_info(&info)
    }

    /// PKCS#1 v1.5 type-1 padding of `digest_info` as given, then the private-key operation: what a JPKI
    /// card's COMPUTE DIGITAL SIGNATURE does.
    pub fn sign_digest_info(&self, digest_info: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let key = self.prehash.get_or_init(|| {
            let mut key = rsa::RsaPrivateKey::from_pkcs8_der(&self.pkcs8).expect("key parsed at construction");
            key.precompute().expect("RSA CRT values");
            key
        });
        key.sign_with_rng(&mut rand::thread_rng(), rsa::Pkcs1v15Sign::new_unprefixed(), digest_info)
            .map_err(|_| CryptoError::Signing)
    }
}

/// Verifies sha256WithRSAEncryption with a DER RSAPublicKey.
pub fn verify_rsa_sha256(public_key_pkcs1_der: &[u8], message: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public_key_pkcs1_der).verify(message, sig).is_ok()
}

pub fn sha1(data: &[u8]) -> [u8; 20] {
    aws_lc_rs::digest::digest(&SHA1, data).as_ref().try_into().expect("SHA-1 is 20 bytes")
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    aws_lc_rs::digest::digest(&SHA256, data).as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// Fills a buffer from the system CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out).expect("system RNG");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_paths_agree_and_verify() {
        let key = RsaKey::generate_2048().unwrap();
        let msg = b"openjpki";
        let a = key.sign_sha256(msg).unwrap();
        let b = key.sign_sha256_digest(&sha256(msg)).unwrap();
        assert_eq!(a, b, "PKCS#1 v1.5 is deterministic, both paths must agree");
        assert!(verify_rsa_sha256(&key.public_key_pkcs1_der(), msg, &a));
        assert!(!verify_rsa_sha256(&key.public_key_pkcs1_der(), b"other", &a));
        let again = RsaKey::from_pkcs8_pem(&key.pkcs8_pem()).unwrap();
        assert_eq!(again.public_key_spki_der(), key.public_key_spki_der());
        assert!(RsaKey::from_pkcs8_der(b"\x30\x03\x02\x01\x00").is_err());
        assert!(RsaKey::from_pkcs8_pem("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n").is_err());
    }
}
