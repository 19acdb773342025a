//! The provider's error codes, each in one place with the wire name RFC 6749 or OpenID Connect gives
//! it: at the authorization endpoint (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6), the token
//! endpoint (RFC 6749 §5.2) and a protected resource (RFC 6750 §3.1).

/// One error, with what went wrong said in words for the RP's developer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> OAuthError {
        OAuthError { code, description: description.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    InvalidRequest,
    UnauthorizedClient,
    AccessDenied,
    UnsupportedResponseType,
    InvalidScope,
    /// OpenID Connect Core §3.1.2.6: `prompt=none`, and the user has to act.
    LoginRequired,
    /// OpenID Connect Core §3.1.2.6: `request` objects are not taken.
    RequestNotSupported,
    RequestUriNotSupported,
    /// RFC 6749 §5.2: the client's authentication failed.
    InvalidClient,
    /// RFC 6749 §5.2: the code or refresh token is invalid, expired, used or revoked, or the PKCE
    /// verifier or redirect URI does not match.
    InvalidGrant,
    UnsupportedGrantType,
    /// RFC 6750 §3.1: the access token is invalid, expired or revoked.
    InvalidToken,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidToken => "invalid_token",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
