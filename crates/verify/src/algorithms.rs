//! Signature and digest algorithm identifiers (RFC 4055 §1.2, §3.1; RFC 5754 §2, §3.2) mapped to the
//! crypto provider's schemes. Anything else is refused by name.

use const_oid::db::rfc5912::{
    ID_MGF_1, ID_RSASSA_PSS, ID_SHA_256, ID_SHA_384, ID_SHA_512, RSA_ENCRYPTION, SHA_256_WITH_RSA_ENCRYPTION, SHA_384_WITH_RSA_ENCRYPTION,
    SHA_512_WITH_RSA_ENCRYPTION,
};
use jpki_crypto::{Digest, RsaScheme};
use spki::AlgorithmIdentifierRef;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlgorithmError {
    #[error("unsupported digest algorithm {0}")]
    Digest(String),
    #[error("unsupported signature algorithm {0}")]
    Signature(String),
    #[error("RSASSA-PSS parameters not supported: {0}")]
    PssParameters(String),
    #[error("the parameters of {0} must be NULL or absent (RFC 5754 §2, §3.2)")]
    Parameters(String),
}

/// RFC 5754: the SHA-2 digest algorithms' parameters (§2) and those of sha*WithRSAEncryption (§3.2;
/// RFC 3370 §3.2 for rsaEncryption) are NULL, and implementations accept them absent too. Anything
/// else there, including a NULL that is not the two bytes `05 00`, is not the algorithm.
fn null_or_absent(alg: AlgorithmIdentifierRef<'_>) -> Result<(), AlgorithmError> {
    match alg.parameters {
        None => Ok(()),
        Some(p) if der::Tagged::tag(&p) == der::Tag::Null && p.value().is_empty() => Ok(()),
        Some(_) => Err(AlgorithmError::Parameters(alg.oid.to_string())),
    }
}

pub fn digest(alg: AlgorithmIdentifierRef<'_>) -> Result<Digest, AlgorithmError> {
    let digest = match alg.oid {
        ID_SHA_256 => Digest::Sha256,
        ID_SHA_384 => Digest::Sha384,
        ID_SHA_512 => Digest::Sha512,
        other => return Err(AlgorithmError::Digest(other.to_string())),
    };
    null_or_absent(alg)?;
    Ok(digest)
}

/// The digest algorithm's OID, the inverse of [`digest`].
pub fn digest_oid(digest: Digest) -> const_oid::ObjectIdentifier {
    match digest {
        Digest::Sha256 => ID_SHA_256,
        Digest::Sha384 => ID_SHA_384,
        Digest::Sha512 => ID_SHA_512,
    }
}

/// sha*WithRSAEncryption (PKCS#1 v1.5) of the digest.
pub fn pkcs1_oid(digest: Digest) -> const_oid::ObjectIdentifier {
    match digest {
        Digest::Sha256 => SHA_256_WITH_RSA_ENCRYPTION,
        Digest::Sha384 => SHA_384_WITH_RSA_ENCRYPTION,
        Digest::Sha512 => SHA_512_WITH_RSA_ENCRYPTION,
    }
}

/// PKCS#1 v1.5 with the digest.
pub fn pkcs1_with(digest: Digest) -> RsaScheme {
    match digest {
        Digest::Sha256 => RsaScheme::Pkcs1Sha256,
        Digest::Sha384 => RsaScheme::Pkcs1Sha384,
        Digest::Sha512 => RsaScheme::Pkcs1Sha512,
    }
}

/// The RSA scheme of a signature algorithm. `rsaEncryption` (as CMS signer infos often say) takes its
/// hash from `digest`, the signer's digest algorithm.
pub fn rsa_scheme(alg: AlgorithmIdentifierRef<'_>, digest: Option<Digest>) -> Result<RsaScheme, AlgorithmError> {
    let scheme = match alg.oid {
        SHA_256_WITH_RSA_ENCRYPTION => RsaScheme::Pkcs1Sha256,
        SHA_384_WITH_RSA_ENCRYPTION => RsaScheme::Pkcs1Sha384,
        SHA_512_WITH_RSA_ENCRYPTION => RsaScheme::Pkcs1Sha512,
        RSA_ENCRYPTION => digest.map(pkcs1_with).ok_or_else(|| AlgorithmError::Signature("rsaEncryption without a digest".into()))?,
        ID_RSASSA_PSS => return pss(alg),
        other => return Err(AlgorithmError::Signature(other.to_string())),
    };
    null_or_absent(alg)?;
    Ok(scheme)
}

/// RSASSA-PSS-params (RFC 4055 §3.1): MGF1 with the message hash, any salt length.
fn pss(alg: AlgorithmIdentifierRef<'_>) -> Result<RsaScheme, AlgorithmError> {
    let bad = |reason: &str| AlgorithmError::PssParameters(reason.to_owned());
    let params = alg.parameters.ok_or_else(|| bad("missing (SHA-1 defaults are not accepted)"))?;
    let params: pkcs1::RsaPssParams<'_> = params.decode_as().map_err(|e| bad(&e.to_string()))?;
    let hash = digest(AlgorithmIdentifierRef { oid: params.hash.oid, parameters: None }).map_err(|e| bad(&e.to_string()))?;
    if params.mask_gen.oid != ID_MGF_1 || params.mask_gen.parameters.as_ref().map(|p| p.oid) != Some(params.hash.oid) {
        return Err(bad("the mask generation function must be MGF1 with the message hash"));
    }
    Ok(RsaScheme::Pss { digest: hash, salt_len: usize::from(params.salt_len) })
}
