//! OAuth 2.0 PKCE (RFC 7636, S256) and the random values of an authorization request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::random;

/// One authorization request's secrets: PKCE verifier, `state` and OIDC `nonce`.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// 64 URL-safe characters (RFC 7636 allows 43–128).
    pub verifier: String,
    pub state: String,
    pub nonce: String,
}

impl AuthRequest {
    /// Fresh random values.
    pub fn new() -> AuthRequest {
        AuthRequest {
            verifier: random::token(48),
            state: random::token(32),
            nonce: random::token(24),
        }
    }

    /// The S256 challenge of the verifier.
    pub fn challenge(&self) -> String {
        challenge(&self.verifier)
    }
}

impl Default for AuthRequest {
    fn default() -> Self {
        Self::new()
    }
}

/// `BASE64URL(SHA256(verifier))` without padding.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_unpadded_base64url_of_sha256() {
        // vector from the OpenSSL command line:
        // printf %s "$v" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d =
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K9uhbAU4N0AL8sCYwuYw6Fw4kA"),
            "Bq2p7HoRIZi7OQMRaQgRUknaqNdrJw3rr4KZ8y3_6sQ"
        );
    }

    #[test]
    fn verifiers_have_a_length_rfc_7636_allows() {
        let r = AuthRequest::new();
        assert_eq!(r.verifier.len(), 64);
        assert!(
            r.verifier
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(r.state, AuthRequest::new().state);
    }
}
