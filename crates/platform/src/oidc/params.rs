//! OAuth request parameters (query strings and form bodies), each required to come once (RFC 6749
//! §3.1, §3.2).

use std::collections::BTreeMap;

use super::error::{ErrorCode, OAuthError};

/// A request's parameters as they came, each name with every value it was given.
#[derive(Debug, Default)]
pub struct Params(BTreeMap<String, Vec<String>>);

impl Params {
    /// The parameters of a query string or a form body (`application/x-www-form-urlencoded`).
    pub fn parse(text: &str) -> Result<Params, OAuthError> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(text)
            .map(Params::from_pairs)
            .map_err(|e| OAuthError::new(ErrorCode::InvalidRequest, format!("the parameters are not form-urlencoded: {e}")))
    }

    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Params {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in pairs {
            map.entry(name).or_default().push(value);
        }
        Params(map)
    }

    /// The parameter's one value; RFC 6749 §3.1: "Request and response parameters MUST NOT be included
    /// more than once", and one sent empty is treated as omitted.
    pub fn one(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        match self.0.get(name).map(Vec::as_slice) {
            None => Ok(None),
            Some([value]) => Ok(Some(value.as_str()).filter(|v| !v.is_empty())),
            Some(_) => Err(OAuthError::new(ErrorCode::InvalidRequest, format!("{name} is given more than once"))),
        }
    }

    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.one(name)?.ok_or_else(|| OAuthError::new(ErrorCode::InvalidRequest, format!("{name} is required")))
    }
}
