//! The shared secret a Jira instance signs its requests with (HS256 key).

use secrecy::{ExposeSecret, SecretString};

/// Random bytes in a shared secret (256 bits).
pub const SECRET_BYTES: usize = 32;
/// Characters shown when the secret is displayed shortened.
pub const HINT_CHARS: usize = 6;

/// A shared secret: 256 random bits, URL-safe base64 (43 characters).
pub struct SharedSecret(SecretString);

impl SharedSecret {
    /// A fresh secret.
    pub fn generate() -> SharedSecret {
        SharedSecret(SecretString::from(crate::crypto::random::token(
            SECRET_BYTES,
        )))
    }

    /// Wraps a decrypted secret.
    pub fn from_string(s: String) -> SharedSecret {
        SharedSecret(SecretString::from(s))
    }

    /// The secret itself; only for encryption, signing and the one-time display.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The shortened form shown in lists (`NqM6OM…`), stored so lists need no decryption.
    pub fn hint(&self) -> String {
        self.expose().chars().take(HINT_CHARS).collect()
    }
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_256_bits_and_a_short_hint() {
        let s = SharedSecret::generate();
        assert_eq!(s.expose().len(), 43);
        assert_eq!(s.hint().len(), HINT_CHARS);
        assert!(s.expose().starts_with(&s.hint()));
        assert!(!format!("{s:?}").contains(&s.hint()));
    }
}
