//! COSE (RFC 9052) as ISO/IEC 18013-5 §9.1.2.4 and §9.1.3 use it, through `coset`: COSE_Sign1 with the
//! algorithm in the protected header and the certificate chain in the unprotected `x5chain` (label 33,
//! RFC 9360), signatures as raw `r‖s`; COSE_Mac0 with HMAC-256/256; EC2 COSE_Keys.

use coset::{iana, AsCborValue, CborSerializable, CoseKey, CoseSign1, CoseSign1Builder, HeaderBuilder, Label};
use jpki_crypto::{EcKey, EcdsaScheme, SignatureEncoding};

use crate::{MdocError, Value};

/// `x5chain` (RFC 9360 §2).
pub const X5CHAIN: i64 = 33;

/// COSE_Sign1 by `key` with ES256. `payload` is carried unless `detached`; `x5chain` (leaf first) goes
/// in the unprotected header when not empty.
pub fn sign1(key: &EcKey, payload: &[u8], detached: bool, x5chain: &[Vec<u8>]) -> Result<CoseSign1, MdocError> {
    let protected = HeaderBuilder::new().algorithm(iana::Algorithm::ES256).build();
    let mut unprotected = HeaderBuilder::new();
    match x5chain {
        [] => {}
        [one] => unprotected = unprotected.value(X5CHAIN, Value::Bytes(one.clone())),
        many => unprotected = unprotected.value(X5CHAIN, Value::Array(many.iter().cloned().map(Value::Bytes).collect())),
    }
    let builder = CoseSign1Builder::new().protected(protected).unprotected(unprotected.build());
    let sign = |tbs: &[u8]| key.sign_fixed(tbs).map_err(|e| MdocError::Session(format!("signing: {e}")));
    if detached {
        builder.try_create_detached_signature(payload, b"", sign).map(|b| b.build())
    } else {
        builder.payload(payload.to_vec()).try_create_signature(b"", sign).map(|b| b.build())
    }
}

/// The ECDSA scheme a COSE_Sign1 names in its protected header.
pub fn scheme(sign1: &CoseSign1) -> Result<EcdsaScheme, MdocError> {
    use coset::RegisteredLabelWithPrivate::Assigned;
    match &sign1.protected.header.alg {
        Some(Assigned(iana::Algorithm::ES256)) => Ok(EcdsaScheme::P256Sha256),
        Some(Assigned(iana::Algorithm::ES384)) => Ok(EcdsaScheme::P384Sha384),
        Some(Assigned(iana::Algorithm::ES512)) => Ok(EcdsaScheme::P521Sha512),
        Some(other) => Err(MdocError::Unsupported { what: "COSE algorithm", value: format!("{other:?}") }),
        None => Err(MdocError::Missing { what: "COSE_Sign1 protected header", field: "alg (1)" }),
    }
}

/// Verifies a COSE_Sign1 with an uncompressed EC point; `detached` is the payload when it is not carried.
pub fn verify_sign1(sign1: &CoseSign1, public_point: &[u8], detached: Option<&[u8]>) -> Result<bool, MdocError> {
    let scheme = scheme(sign1)?;
    let verify = |sig: &[u8], tbs: &[u8]| {
        if jpki_crypto::ec::verify_ecdsa(scheme, SignatureEncoding::Fixed, public_point, tbs, sig) {
            Ok(())
        } else {
            Err(())
        }
    };
    Ok(match detached {
        Some(payload) => sign1.verify_detached_signature(payload, b"", verify).is_ok(),
        None => sign1.payload.is_some() && sign1.verify_signature(b"", verify).is_ok(),
    })
}

/// The certificates of `x5chain`, leaf first.
pub fn x5chain(sign1: &CoseSign1) -> Result<Vec<Vec<u8>>, MdocError> {
    let found = [&sign1.unprotected, &sign1.protected.header].into_iter().find_map(|h| h.rest.iter().find(|(l, _)| *l == Label::Int(X5CHAIN)).map(|(_, v)| v));
    match found {
        Some(Value::Bytes(one)) => Ok(vec![one.clone()]),
        Some(Value::Array(many)) if !many.is_empty() => {
            many.iter().map(|c| c.as_bytes().cloned().ok_or_else(|| MdocError::malformed("x5chain", "certificates must be byte strings"))).collect()
        }
        Some(_) => Err(MdocError::malformed("x5chain", "expected a certificate or a non-empty array of them")),
        None => Err(MdocError::Missing { what: "issuerAuth", field: "x5chain (33)" }),
    }
}

pub fn sign1_from_value(value: &Value, what: &'static str) -> Result<CoseSign1, MdocError> {
    CoseSign1::from_cbor_value(value.clone()).map_err(|e| MdocError::malformed(what, format!("not a COSE_Sign1: {e}")))
}

pub fn sign1_to_value(sign1: &CoseSign1) -> Value {
    sign1.clone().to_cbor_value().expect("a built COSE_Sign1 encodes")
}

pub fn sign1_to_vec(sign1: &CoseSign1) -> Vec<u8> {
    sign1.clone().to_vec().expect("a built COSE_Sign1 encodes")
}

/// An EC2 P-256 COSE_Key (RFC 9053 §7.1.1) for an uncompressed point.
pub fn ec2_key(point: &[u8]) -> Value {
    let (x, y) = point[1..].split_at(32);
    let key = coset::CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, x.to_vec(), y.to_vec()).build();
    key.to_cbor_value().expect("an EC2 key encodes")
}

/// The uncompressed P-256 point of an EC2 COSE_Key.
pub fn ec2_point(value: &Value, what: &'static str) -> Result<Vec<u8>, MdocError> {
    let key = CoseKey::from_cbor_value(value.clone()).map_err(|e| MdocError::malformed(what, format!("not a COSE_Key: {e}")))?;
    if key.kty != coset::KeyType::Assigned(iana::KeyType::EC2) {
        return Err(MdocError::Unsupported { what: "device key type", value: format!("{:?}", key.kty) });
    }
    let param = |label: i64| key.params.iter().find(|(l, _)| *l == Label::Int(label)).map(|(_, v)| v);
    let crv = param(iana::Ec2KeyParameter::Crv as i64).and_then(|v| v.as_integer()).and_then(|i| i64::try_from(i).ok());
    if crv != Some(iana::EllipticCurve::P_256 as i64) {
        return Err(MdocError::Unsupported { what: "device key curve", value: format!("{crv:?} (P-256 is 1)") });
    }
    let coordinate = |label: iana::Ec2KeyParameter, name: &'static str| -> Result<&[u8], MdocError> {
        match param(label as i64) {
            Some(Value::Bytes(b)) if b.len() == 32 => Ok(b),
            _ => Err(MdocError::malformed(what, format!("{name} must be a 32-byte string"))),
        }
    };
    let mut point = vec![4u8];
    point.extend_from_slice(coordinate(iana::Ec2KeyParameter::X, "x")?);
    point.extend_from_slice(coordinate(iana::Ec2KeyParameter::Y, "y")?);
    Ok(point)
}

/// HMAC-SHA-256 COSE_Mac0 (alg 5) tag over a detached payload (`MAC_structure`, RFC 9052 §6.3).
pub fn mac0_tag(key: &[u8; 32], protected: &coset::ProtectedHeader, payload: &[u8]) -> [u8; 32] {
    let data = coset::mac_structure_data(coset::MacContext::CoseMac0, protected.clone(), b"", payload);
    jpki_crypto::hmac_sha256(key, &data)
}
