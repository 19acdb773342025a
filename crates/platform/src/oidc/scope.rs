//! The scopes a relying party asks for (OpenID Connect Core §5.4, and the Digital Authentication App's
//! `sign`, which asks for a signature over a prepared transaction).

use serde::Serialize;

use crate::PlatformError;

/// One scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// An OpenID Connect request: an ID token naming the user.
    Openid,
    /// The 4 info's name (`name` claim).
    Name,
    /// The 4 info's address (`address` claim).
    Address,
    /// The 4 info's birth date (`birthdate` claim).
    Birthdate,
    /// The 4 info's sex (`gender` claim).
    Gender,
    /// A signature with the signature certificate's key over a sign transaction.
    Sign,
}

impl Scope {
    pub const ALL: [Scope; 6] = [Scope::Openid, Scope::Name, Scope::Address, Scope::Birthdate, Scope::Gender, Scope::Sign];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Openid => "openid",
            Scope::Name => "name",
            Scope::Address => "address",
            Scope::Birthdate => "birthdate",
            Scope::Gender => "gender",
            Scope::Sign => "sign",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// Whether granting it discloses part of the 4 info, which only the signature certificate (or the
    /// card-substitute record) carries: the user approves it with the signature password.
    pub fn is_four_info(self) -> bool {
        matches!(self, Scope::Name | Scope::Address | Scope::Birthdate | Scope::Gender)
    }
}

/// A set of scopes, written as OAuth writes it (RFC 6749 §3.3: space-delimited, order irrelevant).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(std::collections::BTreeSet<Scope>);

impl Scopes {
    /// Whether the signature key takes part: for the 4 info (only its certificate carries them) and to sign.
    pub fn need_signature_key(&self) -> bool {
        self.iter().any(|s| s.is_four_info() || s == Scope::Sign)
    }

    /// Parses a space-delimited list; `code` names the error for an unknown or repeated scope.
    pub fn parse(text: &str, code: &'static str) -> Result<Scopes, PlatformError> {
        let mut set = std::collections::BTreeSet::new();
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            let scope = Scope::parse(word).ok_or_else(|| PlatformError::Invalid {
                code,
                message: format!("unknown scope {word:?}: the scopes are {}", Scope::ALL.map(Scope::as_str).join(", ")),
            })?;
            if !set.insert(scope) {
                return Err(PlatformError::Invalid { code, message: format!("scope {word:?} is given twice") });
            }
        }
        Ok(Scopes(set))
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_subset(&self, of: &Scopes) -> bool {
        self.0.is_subset(&of.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
    }
}

impl Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::{Scope, Scopes};

    #[test]
    fn scopes_parse_as_oauth_writes_them() {
        let scopes = Scopes::parse("openid  name sign", "invalid_scope").unwrap();
        assert_eq!(scopes.to_string(), "openid name sign");
        assert!(scopes.contains(Scope::Sign) && !scopes.contains(Scope::Address));
        assert!(Scopes::parse("openid", "x").unwrap().is_subset(&scopes));
        for bad in ["openid email", "openid openid", "OPENID"] {
            let e = Scopes::parse(bad, "invalid_scope").unwrap_err().to_string();
            assert!(e.contains("scope"), "{bad}: {e}");
        }
        assert!(Scope::Gender.is_four_info() && !Scope::Openid.is_four_info() && !Scope::Sign.is_four_info());
    }
}
