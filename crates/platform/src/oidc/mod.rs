//! The OpenID Connect provider's domain: what a tenant's relying party may ask for ([`scope`]), the
//! clients tenants register ([`clients`]) and how they authenticate ([`client_auth`]), the keys that
//! sign ID tokens ([`keys`]), authorization requests and the user's answer ([`authorization`]), the
//! tokens issued for them ([`tokens`]), and the errors of it all ([`error`]). The protocol's HTTP
//! endpoints are the server crate's.
//!
//! Modeled on the Digital Agency's Digital Authentication App (デジタル認証アプリ), whose API an RP
//! written for it should find here unchanged but for the issuer URL
//! (../shared/reference/relying-party-apis.md; developers.digital.go.jp/documents/auth-and-sign/authserver).

pub mod authorization;
pub mod client_auth;
pub mod clients;
pub mod error;
pub mod keys;
pub mod params;
pub mod scope;
pub mod sign;
pub mod tokens;
