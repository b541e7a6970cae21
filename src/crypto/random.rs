//! Random tokens and identifiers from OpenSSL's CSPRNG.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2_hex::sha256;

/// `n` random bytes.
pub fn bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // rand_bytes only fails when the CSPRNG cannot be seeded; nothing secure can continue then.
    #[expect(
        clippy::expect_used,
        reason = "an unseeded CSPRNG must stop the process"
    )]
    openssl::rand::rand_bytes(&mut buf).expect("OpenSSL CSPRNG failed");
    buf
}

/// A URL-safe token carrying `n_bytes` of randomness.
pub fn token(n_bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(bytes(n_bytes))
}

/// A string of `len` characters drawn uniformly from `alphabet` (rejection sampling, no bias).
pub fn from_alphabet(alphabet: &[u8], len: usize) -> String {
    assert!(!alphabet.is_empty() && alphabet.len() <= 256);
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in bytes(len * 2) {
            if (b as usize) < limit && out.len() < len {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    out
}

/// SHA-256 of a token, for storing tokens that only need to be recognised again.
pub fn token_hash(token: &str) -> Vec<u8> {
    sha256(token.as_bytes())
}

/// Constant-time equality for secrets of possibly different length.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

mod sha2_hex {
    pub fn sha256(data: &[u8]) -> Vec<u8> {
        openssl::sha::sha256(data).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_tokens_use_only_the_alphabet() {
        let s = from_alphabet(b"ab", 64);
        assert_eq!(s.len(), 64);
        assert!(s.chars().all(|c| c == 'a' || c == 'b'));
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(token(32), token(32));
        assert_eq!(token(32).len(), 43);
    }

    #[test]
    fn constant_time_eq_handles_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
