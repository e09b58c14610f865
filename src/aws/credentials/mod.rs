//! The AWS identity a request is signed with. The secret never reaches a
//! message or a `Debug` print: only the access key id's first characters do.
//! `chain` finds one the way the AWS SDKs' default chain does, using only what
//! the sandbox grants (self-managed mode).

pub mod chain;
pub mod profile;

use std::fmt;

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl Credentials {
    pub fn new(access_key_id: &str, secret_access_key: &str, session_token: Option<&str>) -> Self {
        Credentials {
            access_key_id: access_key_id.trim().to_string(),
            secret_access_key: secret_access_key.trim().to_string(),
            session_token: session_token
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        }
    }

    /// The access key id with all but its first four characters masked.
    pub fn redacted_key_id(&self) -> String {
        let shown: String = self.access_key_id.chars().take(4).collect();
        format!("{shown}****")
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.redacted_key_id())
            .field("secret_access_key", &"** redacted **")
            .field("session_token", &self.session_token.as_ref().map(|_| "** redacted **"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", Some("tok"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("wJalr") && !shown.contains("tok\"") && !shown.contains("AKIDEXAMPLE"));
        assert!(shown.contains("AKID****"));
    }

    #[test]
    fn blank_session_token_is_none() {
        assert_eq!(Credentials::new("a", "b", Some("  ")).session_token, None);
    }
}
