//! The JSON bodies the API accepts: typed, closed (unknown fields are refused), decoded by serde. The
//! binary fields are base64 and decoded by [`base64_field`].

use base64::Engine;
use jpki_profile::KeyRole;
use jpki_verify::revocation::{RequestedMethod, RevocationPolicy};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub name: String,
    #[serde(default)]
    pub number_law_authorized: bool,
}

/// `PATCH /v1/admin/tenants/{id}`: what to change, at least one of them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantChange {
    #[serde(default, deserialize_with = "present")]
    pub disabled: Option<bool>,
    /// The revocation policy of the tenant's verifications that state none; `null` for the platform's.
    #[serde(default, deserialize_with = "explicit")]
    pub revocation: Option<Option<RevocationRequest>>,
    /// How long the tenant's verification results are kept (days); `null`: until deleted.
    #[serde(default, deserialize_with = "explicit")]
    pub verification_retention_days: Option<Option<u32>>,
}

/// A field that may be given as `null` (`Some(None)`), told apart from one left out (`None`).
fn explicit<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// CMS SignedData, DER, base64.
    pub cms: String,
    /// The signed content, base64, when the signature is detached.
    #[serde(default, deserialize_with = "present")]
    pub content: Option<String>,
    /// Why the tenant verifies (recorded in the audit log).
    #[serde(default, deserialize_with = "present")]
    pub purpose: Option<String>,
    /// The certificate the CMS must be made with: `signature` (a document signature, the default) or
    /// `authentication` (an authentication signature over data, metered as an authentication check).
    #[serde(default = "signature_role")]
    pub certificate_kind: KeyRole,
    /// Where the revocation status comes from and how old it may be; fresh OCSP when absent.
    #[serde(default, deserialize_with = "present")]
    pub revocation: Option<RevocationRequest>,
    /// Name the tenant's customer the signer is (`user`), following the issuer's link information
    /// from a re-issued certificate to the customer's earlier one.
    #[serde(default)]
    pub identify_user: bool,
}

fn signature_role() -> KeyRole {
    KeyRole::Signature
}

/// The most `max_age_seconds` accepts: a week, longer than any CRL's or OCSP response's validity.
const MAX_AGE_LIMIT: u32 = 7 * 24 * 3600;

/// `revocation`: the method, and the oldest answer accepted (counted from the source's thisUpdate).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationRequest {
    pub method: RequestedMethod,
    #[serde(default)]
    pub max_age_seconds: u32,
}

impl RevocationRequest {
    /// The policy asked for (the tenant's default when none is), or why it cannot be had.
    pub fn policy(request: Option<RevocationRequest>, default: Option<RevocationPolicy>) -> Result<RevocationPolicy, String> {
        let Some(r) = request else { return Ok(default.unwrap_or_default()) };
        if r.max_age_seconds > MAX_AGE_LIMIT {
            return Err(format!("revocation.max_age_seconds is at most {MAX_AGE_LIMIT} (a week)"));
        }
        Ok(RevocationPolicy { method: r.method, max_age: time::Duration::seconds(i64::from(r.max_age_seconds)) })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub challenge_id: String,
    /// The authentication certificate, DER, base64.
    pub certificate: String,
    /// sha256WithRSAEncryption of the challenge bytes by the authentication key, base64.
    pub signature: String,
    /// Registration: link the certificate to this account of the tenant (after identity proofing).
    #[serde(default, deserialize_with = "present")]
    pub account_id: Option<String>,
    /// A CMS SignedData (base64) over the challenge bytes by the same person's signature certificate:
    /// records the proofed identity at registration, and re-links a re-issued authentication certificate.
    #[serde(default, deserialize_with = "present")]
    pub signature_proof: Option<String>,
    /// Registration: replace the account's links (it held another person) with this certificate.
    #[serde(default)]
    pub replace_link: bool,
    /// As in signature verification.
    #[serde(default, deserialize_with = "present")]
    pub revocation: Option<RevocationRequest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPresentationRequest {
    /// Elements of the card-substitute record: `namespace/element`, or the element alone.
    pub elements: Vec<String>,
    /// Why the tenant asks (recorded with the request and in the audit log).
    pub purpose: String,
    /// Direct post: where the wallet posts its answer (the tenant's endpoint).
    #[serde(default, deserialize_with = "present")]
    pub response_uri: Option<String>,
    /// Digital Credentials API: the origin of the tenant's page that calls the browser.
    #[serde(default, deserialize_with = "present")]
    pub origin: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresentationAnswer {
    pub request_id: String,
    /// What the wallet sent: the body of its direct post, or the DC API's `data`, `{"vp_token": {...}}`.
    pub response: serde_json::Map<String, serde_json::Value>,
}

/// An optional field that, when given, has a value: `null` is refused as the schema says (the field is
/// a string), not taken for an absent one.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// Decodes a base64 field (whitespace ignored); the error names the field. Most fields have no
/// whitespace: they are decoded as they are, and looked at again only when that fails.
pub fn base64_field(name: &str, value: &str) -> Result<Vec<u8>, String> {
    let engine = base64::engine::general_purpose::STANDARD;
    let is_space = |b: &u8| b.is_ascii_whitespace();
    engine
        .decode(value)
        .or_else(|e| if value.bytes().any(|b| is_space(&b)) { engine.decode(value.bytes().filter(|b| !is_space(b)).collect::<Vec<u8>>()) } else { Err(e) })
        .map_err(|e| format!("{name} is not base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::base64_field;

    #[test]
    fn base64_fields_decode_plain_or_wrapped_and_errors_name_the_field() {
        let bytes: Vec<u8> = (0..=255).collect();
        let plain = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes);
        // Wrapped at 64 columns, as `openssl base64` writes it, with CRLF and a trailing newline.
        let wrapped: String = plain.as_bytes().chunks(64).map(|line| format!("{}\r\n", std::str::from_utf8(line).unwrap())).collect();
        assert_eq!(base64_field("cms", &plain).unwrap(), bytes);
        assert_eq!(base64_field("cms", &wrapped).unwrap(), bytes);
        assert_eq!(base64_field("cms", " ").unwrap(), b"");
        for bad in ["***", "QUJD\n*", "QUJ", "QU JD="] {
            let e = base64_field("content", bad).unwrap_err();
            assert!(e.starts_with("content is not base64"), "{bad:?}: {e}");
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// A valid verification of this tenant (`POST /v1/signatures/verify`).
    pub verification_id: String,
    /// The tenant's own identifier of the customer.
    pub reference: String,
    /// The tenant's login account of the customer (`account_id` of `/v1/auth/verify`): its logins
    /// are this customer's.
    #[serde(default, deserialize_with = "present")]
    pub account_id: Option<String>,
}

/// `PUT /v1/customers/{id}/consent`: the text consented to, signed by the customer.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    pub text: String,
    /// CMS SignedData over the text (UTF-8, attached), DER, base64, made with one of the customer's
    /// signature certificates.
    pub cms: String,
}

/// `POST /v1/input-assistance/verify`: the input-assistance application's records as read from the
/// card (base64), and the same session's signature verification.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberCheckRequest {
    /// EF 0001 (My Number).
    pub my_number_record: String,
    /// EF 0002 (the 4 information).
    pub attributes_record: String,
    /// EF 0003 (the issuer's digests and signature).
    pub integrity_record: String,
    /// EF 0004 (the issuer's card-verifiable certificate).
    pub card_certificate: String,
    /// A valid signature verification of this tenant from the same session (`POST /v1/signatures/verify`).
    pub verification_id: String,
}

/// `POST /v1/customers/{id}/status-checks`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusCheckRequest {
    pub purpose: jpki_platform::liveness::CheckPurpose,
    /// Where the status comes from and how old it may be; the tenant's default (else fresh OCSP) when absent.
    #[serde(default, deserialize_with = "present")]
    pub revocation: Option<RevocationRequest>,
}

/// `POST /v1/customers/{id}/latest-info`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatestInfoRequest {
    /// Why the tenant asks (recorded in the audit log).
    pub purpose: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    pub url: String,
}

/// A page of a list: what follows the cursor `after`, at most `limit` items.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub after: Option<String>,
    pub limit: Option<i64>,
}

impl Page {
    /// The page size asked (100 by default), within 1 and `max`.
    pub fn limit(&self, max: i64) -> Result<i64, crate::error::ApiError> {
        match self.limit {
            None => Ok(100.min(max)),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(_) => Err(crate::error::ApiError::bad("invalid_limit", format!("limit is 1 to {max}"))),
        }
    }
}
