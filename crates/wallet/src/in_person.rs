//! The mdoc side of an in-person presentation (ISO/IEC 18013-5 §8.2, §9.1.1) over a byte stream: the
//! phone shows its engagement, the reader opens the session with SessionEstablishment, the phone
//! decrypts the DeviceRequest, checks who signed it, asks the holder, and answers with an encrypted
//! DeviceResponse; the reader ends with status 20. Messages are framed as
//! [`jpki_mdoc::session::write_message`] says.

use std::io::{Read, Write};

use jpki_crypto::EcKey;
use jpki_mdoc::engagement::DeviceEngagement;
use jpki_mdoc::request::DeviceRequest;
use jpki_mdoc::session::{read_message, write_message, Role, SessionData, SessionEncryption, SessionEstablishment, STATUS_SESSION_TERMINATION};
use jpki_mdoc::transcript::SessionTranscript;
use time::OffsetDateTime;

use crate::consent::{plan, Approval, DisclosurePlan, Requester};
use crate::{Phone, WalletError};

/// A session the phone has offered: its ephemeral key and engagement.
pub struct Offer {
    pub engagement: DeviceEngagement,
    e_device_key: EcKey,
}

impl Offer {
    pub fn new(tcp: Option<(&str, u16)>) -> Result<Self, WalletError> {
        let e_device_key = EcKey::generate_p256().map_err(|e| WalletError::Request(e.to_string()))?;
        Ok(Offer { engagement: DeviceEngagement::new(&e_device_key.public_point(), tcp), e_device_key })
    }

    /// Runs the session on `stream`; `consent` sees the plan and returns the holder's approval (or `None`
    /// to decline, which ends the session with status 20 and nothing disclosed).
    pub fn serve<S: Read + Write>(
        &self,
        phone: &Phone,
        stream: &mut S,
        at: OffsetDateTime,
        consent: impl FnOnce(&DisclosurePlan) -> Option<Approval>,
    ) -> Result<Option<Vec<(String, String)>>, WalletError> {
        let establishment = SessionEstablishment::from_bytes(&read_message(stream)?)?;
        let transcript = SessionTranscript::in_person(&self.engagement.bytes, &establishment.e_reader_key_bytes);
        let mut session = SessionEncryption::new(Role::Device, &self.e_device_key, &establishment.e_reader_key()?, &transcript)?;
        let request = DeviceRequest::from_bytes(&session.decrypt(&establishment.data)?)?;
        let doc_request = request.doc_requests.first().ok_or_else(|| WalletError::Request("the DeviceRequest asks for no document".into()))?;
        let requester = match doc_request.verify_reader(&transcript, &phone.reader_roots, at)? {
            Some(reader) => Requester {
                name: reader.subject(),
                authenticated: true,
                number_act: reader.has_policy(jpki_mdoc::mnc::NUMBER_ACT_VERIFIER_POLICY),
                organization: reader.organization(),
                on_behalf_of: None,
            },
            None => Requester::unauthenticated("an unauthenticated reader"),
        };
        let outcome = plan(&phone.record, &doc_request.items_request, requester).and_then(|plan| match consent(&plan) {
            Some(approval) => plan.approved(&approval).map(Some),
            None => Ok(None),
        });
        let approved = match outcome {
            Ok(Some(approved)) => approved,
            Ok(None) | Err(_) => {
                write_message(stream, &SessionData { data: None, status: Some(STATUS_SESSION_TERMINATION) }.to_bytes())?;
                return outcome.map(|_| None);
            }
        };
        let response = phone.respond(&approved, &transcript)?;
        write_message(stream, &SessionData { data: Some(session.encrypt(&response)?), status: None }.to_bytes())?;
        let end = SessionData::from_bytes(&read_message(stream)?)?;
        if end.status != Some(STATUS_SESSION_TERMINATION) {
            return Err(WalletError::Request("the reader did not end the session".into()));
        }
        Ok(Some(approved))
    }
}
