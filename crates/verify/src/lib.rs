//! Verifying JPKI signatures and certificates against configured trust anchors, the same way in the
//! sandbox and in production.
//!
//! - [`algorithms`]: the signature and digest algorithms accepted, by OID;
//! - [`trust`]: trust anchors (J-LIS's CA certificates, or the sandbox's);
//! - [`chain`]: path validation of an end-entity certificate;
//! - [`digest_info`]: the DigestInfo a key signs, from a relying party's hash;
//! - [`crl_stream`]: CRLs of any size read entry by entry, their signature checked as they stream;
//! - [`failure`]: the codes of why a verification is not valid;
//! - [`input_assistance`]: the number check: the input-assistance application's records against the
//!   card issuer's key and the signature certificate's 4 information;
//! - [`revocation`]: OCSP with a cache, failing closed;
//! - [`signed_data`]: CMS SignedData, attached and detached;
//! - [`verifier`]: all of it in one call, with a result that says valid or why not;
//! - [`presentation`]: presentations of the card-substitute record (mdoc over OpenID4VP) and its status list.
#![forbid(unsafe_code)]

pub mod algorithms;
pub mod chain;
pub mod crl_stream;
pub mod digest_info;
pub mod failure;
pub mod input_assistance;
pub mod presentation;
pub mod revocation;
pub mod signed_data;
pub mod trust;
pub mod verifier;

pub use failure::FailureCode;
pub use trust::TrustStore;
pub use verifier::{AwaitingCrl, Progress, Verification, Verifier};
