//! Verifying a presentation of the card-substitute record (an mdoc) against the request it answers:
//! the checks of ISO/IEC 18013-5 §9.3.1 ([`jpki_mdoc::verify`]) under the request's own session
//! transcript, then the record's status from its issuer's Token Status List
//! (draft-ietf-oauth-status-list §8.3: fetch the list the MSO names, verify it, read the record's
//! index). A status that cannot be established fails the presentation (fail closed).
//!
//! In person, [`read_in_person`] is the reader's side of an ISO/IEC 18013-5 session (§9.1.1) after
//! scanning the holder's engagement QR code.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jpki_crypto::EcKey;
use jpki_mdoc::engagement::DeviceEngagement;
use jpki_mdoc::openid4vp::PresentationRequest;
use jpki_mdoc::request::{DeviceRequest, DocRequest, ItemsRequest};
use jpki_mdoc::session::{read_message, write_message, Role, SessionData, SessionEncryption, SessionEstablishment, STATUS_SESSION_TERMINATION};
use jpki_mdoc::status::{verify_token, RecordStatus, StatusReference, VerifiedStatusList};
use jpki_mdoc::transcript::SessionTranscript;
use jpki_mdoc::trust::Roots;
use jpki_mdoc::verify::{verify_response, Expectations, VerifiedDocument};
use jpki_mdoc::MdocError;
use time::OffsetDateTime;

use crate::revocation::TransportError;

/// Where status list tokens come from: HTTP(S) in production (the server crate's transports), the
/// sandbox issuer in-process, a file.
pub trait StatusListSource: Send + Sync {
    fn fetch(&self, uri: &str) -> Result<Vec<u8>, TransportError>;
}

/// One token, given as it is, for any URI (a list saved to a file).
pub struct FixedStatusList(pub Vec<u8>);

impl StatusListSource for FixedStatusList {
    fn fetch(&self, _uri: &str) -> Result<Vec<u8>, TransportError> {
        Ok(self.0.clone())
    }
}

/// Status lists by URI, each verified against the IACA roots and kept until it expires when
/// `reuse_until_expiry` (lists fetched over the network), or fetched every time (an issuer in the same
/// process, whose list is always current).
pub struct StatusLists {
    source: Box<dyn StatusListSource>,
    reuse_until_expiry: bool,
    cache: Mutex<HashMap<String, Arc<VerifiedStatusList>>>,
}

impl StatusLists {
    pub fn new(source: Box<dyn StatusListSource>, reuse_until_expiry: bool) -> StatusLists {
        StatusLists { source, reuse_until_expiry, cache: Mutex::new(HashMap::new()) }
    }

    /// `Ok` only when the list says the record is valid.
    pub fn check(&self, reference: &StatusReference, roots: &Roots, at: OffsetDateTime) -> Result<(), MdocError> {
        let cached = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&reference.uri).filter(|l| at < l.expires_at).cloned();
        let list = match cached {
            Some(list) => list,
            None => {
                let token = self.source.fetch(&reference.uri).map_err(|e| MdocError::StatusUnavailable(e.to_string()))?;
                let list = Arc::new(verify_token(&token, &reference.uri, roots, at)?);
                if self.reuse_until_expiry {
                    self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(reference.uri.clone(), list.clone());
                }
                list
            }
        };
        match list.list.get(reference.idx) {
            Some(RecordStatus::Valid) => Ok(()),
            Some(RecordStatus::Suspended) => Err(MdocError::Revoked("suspended")),
            Some(RecordStatus::Invalid) => Err(MdocError::Revoked("revoked")),
            Some(RecordStatus::Other(_)) => Err(MdocError::Revoked("marked invalid")),
            None => Err(MdocError::StatusUnavailable(format!("the list at {} does not cover index {}", reference.uri, reference.idx))),
        }
    }
}

/// Verifies OpenID4VP presentations of mdocs issued under `iaca`.
pub struct PresentationVerifier {
    pub iaca: Roots,
    pub status: StatusLists,
}

/// A presentation that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedPresentation {
    pub document: VerifiedDocument,
    pub status: PresentedStatus,
}

/// What a verified record's status is known to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PresentedStatus {
    /// The status list, read for this check, says valid.
    Valid,
    /// The record names no status list (as the ISO/IEC 18013-5 first edition's records do not).
    NotProvided,
}

impl std::fmt::Display for PresentedStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PresentedStatus::Valid => "valid",
            PresentedStatus::NotProvided => "not_provided",
        })
    }
}

impl PresentationVerifier {
    /// Checks `device_response` against an OpenID4VP `request`: issuer chain and signature, digests,
    /// validity, document type and elements asked, device authentication over the request's
    /// transcript, status.
    pub fn verify(&self, request: &PresentationRequest, device_response: &[u8], at: OffsetDateTime) -> Result<VerifiedPresentation, MdocError> {
        self.verify_under(device_response, &request.transcript(), &request.credential.items, None, at)
    }

    /// The same checks under any session: `e_reader_key` is the reader's ephemeral key of an in-person
    /// session, with which a device MAC is checked.
    pub fn verify_under(
        &self,
        device_response: &[u8],
        transcript: &SessionTranscript,
        items: &ItemsRequest,
        e_reader_key: Option<&EcKey>,
        at: OffsetDateTime,
    ) -> Result<VerifiedPresentation, MdocError> {
        let expect = Expectations { iaca: &self.iaca, transcript, e_reader_key, request: Some(items), at };
        let mut documents = verify_response(device_response, &expect)?;
        if documents.len() != 1 {
            return Err(MdocError::Malformed { what: "DeviceResponse", reason: format!("{} documents where one was asked", documents.len()) });
        }
        let document = documents.remove(0);
        let status = match &document.status {
            Some(reference) => {
                self.status.check(reference, &self.iaca, at)?;
                PresentedStatus::Valid
            }
            None => PresentedStatus::NotProvided,
        };
        Ok(VerifiedPresentation { document, status })
    }
}

/// An in-person transport's failure, or the presentation's.
#[derive(Debug, thiserror::Error)]
pub enum InPersonError {
    #[error("transport: {0}")]
    Transport(#[from] std::io::Error),
    #[error(transparent)]
    Mdoc(#[from] MdocError),
}

/// The reader's side of an in-person session over `stream` with the mdoc whose `engagement` was
/// scanned (ISO/IEC 18013-5 §9.1.1): SessionEstablishment with an ephemeral reader key and the
/// encrypted DeviceRequest (signed by `reader` when given, §9.1.4), then the encrypted
/// DeviceResponse, verified, then session termination. `Ok(None)` when the holder declined.
pub fn read_in_person<S: std::io::Read + std::io::Write>(
    stream: &mut S,
    engagement: &DeviceEngagement,
    items: &ItemsRequest,
    reader: Option<(&EcKey, &[Vec<u8>])>,
    verifier: &PresentationVerifier,
    at: OffsetDateTime,
) -> Result<Option<VerifiedPresentation>, InPersonError> {
    let e_reader_key = EcKey::generate_p256().map_err(|e| MdocError::Session(e.to_string()))?;
    let establishment_key = SessionEstablishment::new(&e_reader_key.public_point(), Vec::new());
    let transcript = SessionTranscript::in_person(&engagement.bytes, &establishment_key.e_reader_key_bytes);
    let mut session = SessionEncryption::new(Role::Reader, &e_reader_key, &engagement.e_device_key, &transcript)?;
    let request = DeviceRequest { doc_requests: vec![DocRequest::new(items.clone(), reader, &transcript)?] };
    let establishment = SessionEstablishment { data: session.encrypt(&request.to_bytes())?, ..establishment_key };
    write_message(stream, &establishment.to_bytes())?;
    let answer = SessionData::from_bytes(&read_message(stream)?)?;
    let Some(data) = answer.data else {
        return match answer.status {
            Some(STATUS_SESSION_TERMINATION) => Ok(None),
            other => Err(MdocError::Session(format!("the mdoc answered with status {other:?} and no data")).into()),
        };
    };
    let response = session.decrypt(&data)?;
    write_message(stream, &SessionData { data: None, status: Some(STATUS_SESSION_TERMINATION) }.to_bytes())?;
    Ok(Some(verifier.verify_under(&response, &transcript, items, Some(&e_reader_key), at)?))
}
