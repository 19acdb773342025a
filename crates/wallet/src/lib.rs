//! The virtual smartphone (スマートフォン): what openjpki's sandbox issues to a phone and how the phone
//! presents it.
//!
//! - [`phone`]: the phone's directory: its JPKI store (smartphone signature and authentication keys, in
//!   the card directory format with `device: smartphone`) and its card-substitute record (an mdoc);
//! - [`consent`]: what a verifier asks, who it is, and what the holder agrees to disclose; My Number
//!   only to verifiers certified as entitled under the Number Act;
//! - [`openid4vp`]: OpenID4VP 1.0 authorization requests (DCQL for `mso_mdoc`, `direct_post`, unsigned
//!   `redirect_uri:` and signed `x509_san_dns:` requests) answered with a `vp_token`;
//! - [`in_person`]: the mdoc side of an ISO/IEC 18013-5 session over any byte stream.
#![forbid(unsafe_code)]

pub mod consent;
pub mod in_person;
pub mod openid4vp;
pub mod phone;

pub use phone::Phone;

#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error("phone directory {path}: {reason}")]
    Phone { path: String, reason: String },
    #[error("the request is malformed: {0}")]
    Request(String),
    #[error("the verifier could not be authenticated: {0}")]
    Verifier(String),
    #[error("the request asks for no element this phone can disclose")]
    NothingToDisclose,
    #[error(transparent)]
    Mdoc(#[from] jpki_mdoc::MdocError),
    #[error("transport: {0}")]
    Transport(#[from] std::io::Error),
}
