//! The issuer's seal over the card data: a card-verifiable certificate for the issuer's card-data key
//! (EF 0004 of the input-assistance and card-face applications) and that key's signatures over the
//! records, which a reader checks when it reads them.
//!
//! Layout of the certificate, as real cards carry it (../shared/reference/jpki-card.md §10):
//! `7F21 { 5F4E { issuer key id (16) ‖ subject key id (16) ‖ 90 03 <e> ‖ 91 82 0100 <n> }, 5F37 <sig> }`.
//! J-LIS does not publish how the signatures are computed; openjpki's sandbox signs, with RSA PKCS#1
//! v1.5, SHA-256 over the `5F4E` object (certificate) and over the record fields each module names.
//! A key id is the first 16 bytes of SHA-256 of the modulus.

use crate::tlv::{self, TlvError};
use iso7816_tlv::ber::Value;

const CV_CERT: u32 = 0x7f21;
const CV_BODY: u32 = 0x5f4e;
const CV_SIGNATURE: u32 = 0x5f37;
const EXPONENT: u32 = 0x90;
const MODULUS: u32 = 0x91;

/// An RSA public key as the card's records carry it (`90 e`, `91 n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPublicKey {
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

impl CardPublicKey {
    pub fn of(key: &jpki_crypto::RsaKey) -> CardPublicKey {
        let (n, e) = key.public_components();
        CardPublicKey { n, e }
    }

    pub fn key_id(&self) -> [u8; 16] {
        jpki_crypto::sha256(&self.n)[..16].try_into().expect("16 of 32 bytes")
    }

    /// `90 e ‖ 91 n`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = tlv::primitive(EXPONENT, &self.e).to_vec();
        out.extend(tlv::primitive(MODULUS, &self.n).to_vec());
        out
    }

    pub fn decode(what: &'static str, bytes: &[u8]) -> Result<CardPublicKey, TlvError> {
        let (e, rest) = iso7816_tlv::ber::Tlv::parse(bytes);
        let (n, _) = iso7816_tlv::ber::Tlv::parse(rest);
        let bad = |reason: &str| TlvError::Malformed { what, reason: reason.to_owned() };
        let (e, n) = (e.map_err(|_| bad("no exponent"))?, n.map_err(|_| bad("no modulus"))?);
        if e.tag().to_bytes() != [0x90] || n.tag().to_bytes() != [0x91] {
            return Err(bad("expected tags 90 (exponent) and 91 (modulus)"));
        }
        Ok(CardPublicKey { e: tlv::value(&e).to_vec(), n: tlv::value(&n).to_vec() })
    }

    pub fn verifies_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        jpki_crypto::verify_rsa_sha256_components(&self.n, &self.e, message, signature)
    }

    pub fn verifies_digest_info(&self, digest_info: &[u8], signature: &[u8]) -> bool {
        jpki_crypto::verify_digest_info_components(&self.n, &self.e, digest_info, signature)
    }
}

fn cv_body(issuer: &CardPublicKey, subject: &CardPublicKey) -> Vec<u8> {
    let mut body = issuer.key_id().to_vec();
    body.extend_from_slice(&subject.key_id());
    body.extend(subject.encode());
    tlv::primitive(CV_BODY, &body).to_vec()
}

/// A self-issued card-verifiable certificate for `key` (the sandbox's card-data key is its own root).
pub fn cv_certificate(key: &jpki_crypto::RsaKey) -> Result<Vec<u8>, jpki_crypto::CryptoError> {
    let public = CardPublicKey::of(key);
    let body = cv_body(&public, &public);
    let signature = key.sign_sha256(&body)?;
    let body_tlv = tlv::parse("CV certificate body", CV_BODY, &body).expect("just encoded");
    Ok(tlv::constructed(CV_CERT, vec![body_tlv, tlv::primitive(CV_SIGNATURE, &signature)]).to_vec())
}

/// A card-verifiable certificate read from a card.
#[derive(Debug, Clone)]
pub struct CvCertificate {
    pub issuer_key_id: [u8; 16],
    pub subject_key_id: [u8; 16],
    pub public_key: CardPublicKey,
    body: Vec<u8>,
    signature: Vec<u8>,
}

impl CvCertificate {
    pub fn parse(bytes: &[u8]) -> Result<CvCertificate, TlvError> {
        const WHAT: &str = "card-verifiable certificate";
        let cert = tlv::parse(WHAT, CV_CERT, bytes)?;
        let Value::Constructed(children) = cert.value() else {
            return Err(TlvError::Malformed { what: WHAT, reason: "not constructed".into() });
        };
        let body_tlv = children.first().ok_or(TlvError::Missing { what: WHAT, tag: CV_BODY })?;
        let body = tlv::value(body_tlv);
        if body.len() < 32 {
            return Err(TlvError::Malformed { what: WHAT, reason: format!("body of {} bytes is too short", body.len()) });
        }
        Ok(CvCertificate {
            issuer_key_id: body[..16].try_into().expect("16 bytes"),
            subject_key_id: body[16..32].try_into().expect("16 bytes"),
            public_key: CardPublicKey::decode(WHAT, &body[32..])?,
            body: body_tlv.to_vec(),
            signature: tlv::field(WHAT, &cert, CV_SIGNATURE)?.to_vec(),
        })
    }

    /// Whether `issuer` signed this certificate.
    pub fn signed_by(&self, issuer: &CardPublicKey) -> bool {
        issuer.key_id() == self.issuer_key_id && issuer.verifies_sha256(&self.body, &self.signature)
    }

    pub fn is_self_issued(&self) -> bool {
        self.signed_by(&self.public_key)
    }
}

/// Signs the card data of `state` with the issuer's card-data `key`: what the issuer writes into the
/// card at issuance and whenever the 4 information changes.
pub fn seal(state: &crate::card_dir::CardState, key: &jpki_crypto::RsaKey) -> Result<crate::card_dir::CardDataSeal, String> {
    use base64::Engine;
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    let signer = CardPublicKey::of(key);
    let face = super::card_face::to_be_signed(state, &signer)?;
    let text = super::input_assistance::to_be_signed(&state.my_number, &state.four_info);
    let sign = |message: &[u8]| key.sign_sha256(message).map_err(|e| e.to_string());
    Ok(crate::card_dir::CardDataSeal {
        cv_certificate: b64(cv_certificate(key).map_err(|e| e.to_string())?),
        input_assistance_signature: b64(sign(&text)?),
        card_face_signature: b64(key.sign_digest_info(&face.face_digest_info).map_err(|e| e.to_string())?),
        age_record_signature: b64(sign(&face.age_record)?),
        my_number_image_signature: b64(sign(&face.my_number_image)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cv_certificate_round_trip_and_layout() {
        let key = jpki_crypto::RsaKey::generate_2048().unwrap();
        let der = cv_certificate(&key).unwrap();
        // 7F21 82 0233 and 5F4E 82 0129, the sizes real cards' EF 0004 has (568 bytes).
        assert_eq!(der.len(), 568);
        assert_eq!(&der[..4], &[0x7f, 0x21, 0x82, 0x02]);
        assert_eq!(&der[5..9], &[0x5f, 0x4e, 0x82, 0x01]);
        let cert = CvCertificate::parse(&der).unwrap();
        assert!(cert.is_self_issued());
        assert_eq!(cert.public_key, CardPublicKey::of(&key));
        let mut tampered = der.clone();
        tampered[100] ^= 1;
        assert!(!CvCertificate::parse(&tampered).unwrap().is_self_issued());
        assert!(CvCertificate::parse(&der[..50]).is_err());
    }
}
