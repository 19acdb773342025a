//! DigestInfo (RFC 8017 §9.2: `SEQUENCE { digestAlgorithm AlgorithmIdentifier, digest OCTET STRING }`),
//! what a JPKI key signs with PKCS#1 v1.5. A relying party hands one in (a document hashed for J-LIS
//! submissions or an XML signature), or just a SHA-256 hash; either way the key signs the canonical
//! encoding made here (parameters NULL, RFC 8017 §A.2.4 note), which every verifier accepts.

use der::asn1::{Null, OctetString, OctetStringRef};
use der::{Decode, Encode, Sequence};
use jpki_crypto::{Digest, RsaScheme};
use spki::{AlgorithmIdentifierOwned, AlgorithmIdentifierRef};

use crate::algorithms::{self, AlgorithmError};

#[derive(Sequence)]
struct DigestInfoRef<'a> {
    algorithm: AlgorithmIdentifierRef<'a>,
    digest: OctetStringRef<'a>,
}

#[derive(Sequence)]
struct DigestInfoOwned {
    algorithm: AlgorithmIdentifierOwned,
    digest: OctetString,
}

/// A hash to be signed: the algorithm and the digest of its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestInfo {
    pub digest: Digest,
    pub hash: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestInfoError {
    #[error("the DigestInfo is not DER: {0}")]
    Malformed(String),
    #[error("{0}")]
    Algorithm(#[from] AlgorithmError),
    #[error("the digest is {found} bytes; {algorithm} gives {expected}")]
    Length { algorithm: &'static str, expected: usize, found: usize },
}

fn name(digest: Digest) -> &'static str {
    match digest {
        Digest::Sha256 => "SHA-256",
        Digest::Sha384 => "SHA-384",
        Digest::Sha512 => "SHA-512",
    }
}

impl DigestInfo {
    /// A hash of `digest`'s length.
    pub fn new(digest: Digest, hash: &[u8]) -> Result<DigestInfo, DigestInfoError> {
        let expected = digest.algorithm().output_len();
        if hash.len() != expected {
            return Err(DigestInfoError::Length { algorithm: name(digest), expected, found: hash.len() });
        }
        Ok(DigestInfo { digest, hash: hash.to_vec() })
    }

    /// A DER DigestInfo of SHA-256, SHA-384 or SHA-512, nothing after it.
    pub fn from_der(der: &[u8]) -> Result<DigestInfo, DigestInfoError> {
        let info = DigestInfoRef::from_der(der).map_err(|e| DigestInfoError::Malformed(e.to_string()))?;
        DigestInfo::new(algorithms::digest(info.algorithm)?, info.digest.as_bytes())
    }

    /// The canonical DER the key signs.
    pub fn to_der(&self) -> Vec<u8> {
        let info = DigestInfoOwned {
            algorithm: AlgorithmIdentifierOwned { oid: algorithms::digest_oid(self.digest), parameters: Some(der::Any::from(Null)) },
            digest: OctetString::new(self.hash.clone()).expect("a digest fits an OCTET STRING"),
        };
        info.to_der().expect("a DigestInfo encodes")
    }

    /// The PKCS#1 v1.5 scheme a signature over it is verified with.
    pub fn scheme(&self) -> RsaScheme {
        algorithms::pkcs1_with(self.digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_encodes_as_the_well_known_prefix() {
        let info = DigestInfo::new(Digest::Sha256, &[7; 32]).unwrap();
        let der = info.to_der();
        assert_eq!(&der[..19], jpki_crypto::SHA256_DIGEST_INFO_PREFIX);
        assert_eq!(DigestInfo::from_der(&der).unwrap(), info);
    }

    #[test]
    fn absent_parameters_are_read_and_written_canonically() {
        // SEQUENCE { SEQUENCE { OID sha-384 }, OCTET STRING (48) }
        let mut der = vec![0x30, 0x3f, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x04, 0x30];
        der.extend([1; 48]);
        let info = DigestInfo::from_der(&der).unwrap();
        assert_eq!(info.digest, Digest::Sha384);
        assert_ne!(info.to_der(), der);
        assert_eq!(DigestInfo::from_der(&info.to_der()).unwrap(), info);
    }

    #[test]
    fn malformed_cases_are_named() {
        let good = DigestInfo::new(Digest::Sha256, &[7; 32]).unwrap().to_der();
        let mut short = good.clone();
        short[1] -= 1;
        short[18] -= 1;
        short.pop();
        let mut trailing = good.clone();
        trailing.push(0);
        let mut md5 = good.clone();
        md5[14] = 0x05; // 2.16.840.1.101.3.4.2.5: not a digest the scheme takes
        for (case, input, expect) in [
            ("empty", vec![], "not DER"),
            ("truncated", good[..good.len() - 1].to_vec(), "not DER"),
            ("trailing byte", trailing, "not DER"),
            ("31-byte SHA-256", short, "31 bytes"),
            ("unknown digest", md5, "unsupported digest"),
            ("not a sequence", vec![0x04, 0x00], "not DER"),
        ] {
            let err = DigestInfo::from_der(&input).unwrap_err().to_string();
            assert!(err.contains(expect), "{case}: {err}");
        }
        assert!(DigestInfo::new(Digest::Sha512, &[0; 32]).unwrap_err().to_string().contains("SHA-512 gives 64"));
    }
}
