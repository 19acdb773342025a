//! The crypto provider every other crate goes through.
//!
//! - [`ec`]: P-256 keys, ECDSA, ECDH, HKDF and AES-GCM for the smartphone's mdoc.
//! - Key generation, in-memory signing and verification use `aws-lc-rs` (constant-time, fast).
//! - Signing a digest that was computed elsewhere (a CRL of hundreds of megabytes hashed while it is
//!   streamed to disk) and the card's raw PKCS#1 v1.5 operation over a given DigestInfo use the `rsa`
//!   crate's unprefixed PKCS#1 v1.5 signer, because `aws-lc-rs` only signs whole messages. Those are
//!   sandbox-side operations (simulated CA and card), never on a production verification path.
#![forbid(unsafe_code)]

pub mod ec;
pub use ec::{EcKey, EcdsaPublicKey, EcdsaScheme, SignatureEncoding};

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

/// The DigestInfo of `message`'s SHA-256: what a JPKI key signs (PKCS#1 v1.5) for a SHA-256 signature.
pub fn sha256_digest_info(message: &[u8]) -> Vec<u8> {
    [&SHA256_DIGEST_INFO_PREFIX[..], &sha256(message)].concat()
}

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
        let (label, doc) = pkcs8::SecretDocument::from_pem(pem).map_err(|e| CryptoError::BadPrivateKey(e.to_string()))?;
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

    /// The public modulus and exponent, big-endian without leading zeros.
    pub fn public_components(&self) -> (Vec<u8>, Vec<u8>) {
        use rsa::traits::PublicKeyParts;
        let key = self.raw();
        (key.n().to_bytes_be(), key.e().to_bytes_be())
    }

    fn raw(&self) -> &rsa::RsaPrivateKey {
        self.prehash.get_or_init(|| {
            let mut key = rsa::RsaPrivateKey::from_pkcs8_der(&self.pkcs8).expect("key parsed at construction");
            key.precompute().expect("RSA CRT values");
            key
        })
    }

    /// Length in bytes of the modulus, and so of every signature.
    pub fn signature_len(&self) -> usize {
        self.pair.public_modulus_len()
    }

    /// sha256WithRSAEncryption over `message`.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair.sign(&signature::RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), message, &mut sig).map_err(|_| CryptoError::Signing)?;
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
        self.raw().sign_with_rng(&mut rand::thread_rng(), rsa::Pkcs1v15Sign::new_unprefixed(), digest_info).map_err(|_| CryptoError::Signing)
    }
}

/// Verifies a PKCS#1 v1.5 SHA-256 signature with a key given as modulus and exponent (big-endian), the
/// form card-verifiable certificates carry.
pub fn verify_rsa_sha256_components(n: &[u8], e: &[u8], message: &[u8], sig: &[u8]) -> bool {
    signature::RsaPublicKeyComponents { n, e }.verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig).is_ok()
}

/// Verifies a PKCS#1 v1.5 signature over `digest_info` as given (no DigestInfo is added): the check of
/// what [`RsaKey::sign_digest_info`] makes.
pub fn verify_digest_info_components(n: &[u8], e: &[u8], digest_info: &[u8], sig: &[u8]) -> bool {
    let Ok(key) = rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(n), rsa::BigUint::from_bytes_be(e)) else {
        return false;
    };
    key.verify(rsa::Pkcs1v15Sign::new_unprefixed(), digest_info, sig).is_ok()
}

/// The RSA signature schemes a verifier accepts (RFC 8017 §8; JPKI signs with PKCS#1 v1.5 SHA-256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaScheme {
    Pkcs1Sha256,
    Pkcs1Sha384,
    Pkcs1Sha512,
    /// RSASSA-PSS with MGF1 over the message hash and the given salt length (RFC 4055 §3.1).
    Pss {
        digest: Digest,
        salt_len: usize,
    },
}

/// Verifies an RSA signature (2048 to 8192 bits) with a DER RSAPublicKey.
pub fn verify_rsa(scheme: RsaScheme, public_key_pkcs1_der: &[u8], message: &[u8], sig: &[u8]) -> bool {
    let algorithm: &'static signature::RsaParameters = match scheme {
        RsaScheme::Pkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        RsaScheme::Pkcs1Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        RsaScheme::Pkcs1Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        RsaScheme::Pss { digest, salt_len } => return verify_pss(digest, salt_len, public_key_pkcs1_der, message, sig),
    };
    UnparsedPublicKey::new(algorithm, public_key_pkcs1_der).verify(message, sig).is_ok()
}

/// PSS with any salt length (OpenSSL signs with the longest salt by default), through the `rsa` crate:
/// `aws-lc-rs` verifies only salts as long as the hash. A public-key operation, so constant time is
/// not at stake.
fn verify_pss(digest: Digest, salt_len: usize, public_key_pkcs1_der: &[u8], message: &[u8], sig: &[u8]) -> bool {
    verify_rsa_digest(RsaScheme::Pss { digest, salt_len }, public_key_pkcs1_der, &digest.compute(message), sig)
}

/// An RSA public key parsed once for sha256WithRSAEncryption (PKCS#1 v1.5, 2048 to 8192 bits), for a key
/// that verifies many signatures (a trust anchor): the key is decoded and its Montgomery context set up
/// here, not again on every verification.
#[derive(Clone)]
pub struct RsaSha256Key(signature::ParsedPublicKey);

impl RsaSha256Key {
    pub fn new(public_key_pkcs1_der: &[u8]) -> Result<Self, CryptoError> {
        signature::ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public_key_pkcs1_der).map(RsaSha256Key).map_err(|_| CryptoError::BadPublicKey)
    }

    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        self.0.verify_sig(message, sig).is_ok()
    }
}

impl std::fmt::Debug for RsaSha256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaSha256Key")
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

/// HMAC-SHA-256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::sign(&key, message).as_ref().try_into().expect("HMAC-SHA-256 is 32 bytes")
}

/// Compares two secrets (PIN hashes, MACs) in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// The digests CMS signers use with JPKI keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    Sha256,
    Sha384,
    Sha512,
}

impl Digest {
    pub fn algorithm(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Digest::Sha256 => &SHA256,
            Digest::Sha384 => &aws_lc_rs::digest::SHA384,
            Digest::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    pub fn compute(self, data: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(self.algorithm(), data).as_ref().to_vec()
    }
}

impl RsaScheme {
    /// The hash the scheme signs.
    pub fn digest(self) -> Digest {
        match self {
            RsaScheme::Pkcs1Sha256 => Digest::Sha256,
            RsaScheme::Pkcs1Sha384 => Digest::Sha384,
            RsaScheme::Pkcs1Sha512 => Digest::Sha512,
            RsaScheme::Pss { digest, .. } => digest,
        }
    }
}

/// Verifies an RSA signature (2048 to 8192 bits) whose message was hashed elsewhere, by
/// `scheme.digest()`, into `digest`: a CRL of a gigabyte is hashed as it streams past. Through the
/// `rsa` crate, because `aws-lc-rs` verifies only whole messages; a public-key operation, so constant
/// time is not at stake.
pub fn verify_rsa_digest(scheme: RsaScheme, public_key_pkcs1_der: &[u8], digest: &[u8], sig: &[u8]) -> bool {
    use rsa::pkcs1::DecodeRsaPublicKey;
    let Ok(key) = rsa::RsaPublicKey::from_pkcs1_der(public_key_pkcs1_der) else { return false };
    if !(2048..=8192).contains(&(rsa::traits::PublicKeyParts::size(&key) * 8)) || digest.len() != scheme.digest().algorithm().output_len() {
        return false;
    }
    let verified = match scheme {
        RsaScheme::Pkcs1Sha256 => key.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), digest, sig),
        RsaScheme::Pkcs1Sha384 => key.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha384>(), digest, sig),
        RsaScheme::Pkcs1Sha512 => key.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha512>(), digest, sig),
        RsaScheme::Pss { digest: Digest::Sha256, salt_len } => key.verify(rsa::Pss::new_with_salt::<sha2::Sha256>(salt_len), digest, sig),
        RsaScheme::Pss { digest: Digest::Sha384, salt_len } => key.verify(rsa::Pss::new_with_salt::<sha2::Sha384>(salt_len), digest, sig),
        RsaScheme::Pss { digest: Digest::Sha512, salt_len } => key.verify(rsa::Pss::new_with_salt::<sha2::Sha512>(salt_len), digest, sig),
    };
    verified.is_ok()
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
        let (n, e) = key.public_components();
        assert_eq!(e, [1, 0, 1]);
        assert!(verify_rsa_sha256_components(&n, &e, msg, &a));
        assert!(!verify_rsa_sha256_components(&n, &e, b"other", &a));
        let raw = key.sign_digest_info(b"any bytes").unwrap();
        assert!(verify_digest_info_components(&n, &e, b"any bytes", &raw));
        assert!(!verify_digest_info_components(&n, &e, b"any byte", &raw));
        let again = RsaKey::from_pkcs8_pem(&key.pkcs8_pem()).unwrap();
        assert_eq!(again.public_key_spki_der(), key.public_key_spki_der());
        assert!(RsaKey::from_pkcs8_der(b"\x30\x03\x02\x01\x00").is_err());
        assert!(RsaKey::from_pkcs8_pem("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n").is_err());
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let expected: [u8; 32] = [
            0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
            0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43,
        ];
        assert_eq!(mac, expected);
        assert!(constant_time_eq(&mac, &mac));
        assert!(!constant_time_eq(&mac, &mac[..31]));
    }
}
