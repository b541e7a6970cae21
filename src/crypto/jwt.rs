//! Verification of the Jira app's HS256 JWTs (Atlassian Connect style, PROTOCOLS.md §4.1):
//! header `alg` exactly HS256, signature with the instance's shared secret, `exp`/`iat` with
//! 60 s skew and at most 10 minutes of lifetime, `aud` (when present) equal to the public ID,
//! `sub` required, and `qsh` equal to the hash of the canonical request. Pure: no IO.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// Allowed clock skew, seconds.
pub const SKEW_SECS: i64 = 60;
/// Longest accepted `exp - iat`, seconds.
pub const MAX_LIFETIME_SECS: i64 = 600;

/// Why a token was refused; each maps to a stable API error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the request carries no `Authorization: JWT <token>` header")]
    Missing,
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm is not HS256")]
    Alg,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is issued in the future")]
    NotYetValid,
    #[error("the token lives longer than 10 minutes")]
    Lifetime,
    #[error("the token's qsh does not match this request")]
    Qsh,
    #[error("the token's claims are incomplete or wrong: {0}")]
    Claims(&'static str),
}

impl JwtError {
    /// The stable code for problem+json bodies.
    pub fn code(&self) -> &'static str {
        match self {
            JwtError::Missing => "jwt_missing",
            JwtError::Malformed => "jwt_malformed",
            JwtError::Alg => "jwt_alg",
            JwtError::Signature => "jwt_signature",
            JwtError::Expired => "jwt_expired",
            JwtError::NotYetValid => "jwt_not_yet_valid",
            JwtError::Lifetime => "jwt_lifetime",
            JwtError::Qsh => "jwt_qsh",
            JwtError::Claims(_) => "jwt_claims",
        }
    }
}

/// The claims the appliance reads.
#[derive(Debug, Clone, Deserialize)]
pub struct JiraClaims {
    pub iss: String,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub iat: Option<i64>,
    pub exp: i64,
    #[serde(default)]
    pub qsh: Option<String>,
    #[serde(default)]
    pub aud: Option<serde_json::Value>,
    #[serde(default)]
    pub jti: Option<String>,
}

/// A token whose header and issuer were read but whose signature is not checked yet.
#[derive(Debug, Clone)]
pub struct Unverified {
    token: String,
    /// The claimed issuer (the instance's public ID), used only to find the secret.
    pub iss: String,
}

fn b64_json(segment: &str) -> Result<serde_json::Value, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

/// Reads the header (refusing any algorithm but HS256, including `none`) and the issuer.
pub fn parse_unverified(token: &str) -> Result<Unverified, JwtError> {
    if token.is_empty() || token.len() > 8192 {
        return Err(JwtError::Malformed);
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts[0].is_empty() || parts[1].is_empty() {
        return Err(JwtError::Malformed);
    }
    let header = b64_json(parts[0])?;
    match header.get("alg").and_then(|a| a.as_str()) {
        Some("HS256") => {}
        Some(_) => return Err(JwtError::Alg),
        None => return Err(JwtError::Malformed),
    }
    if parts[2].is_empty() {
        return Err(JwtError::Signature);
    }
    let claims = b64_json(parts[1])?;
    let iss = claims
        .get("iss")
        .and_then(|i| i.as_str())
        .ok_or(JwtError::Claims("iss missing"))?;
    Ok(Unverified {
        token: token.to_owned(),
        iss: iss.to_owned(),
    })
}

impl Unverified {
    /// SHA-256 of the whole token (replay cache key).
    pub fn hash(&self) -> Vec<u8> {
        openssl::sha::sha256(self.token.as_bytes()).to_vec()
    }

    /// Verifies the signature with `secret` and checks every claim against `expected_qsh` and
    /// `public_id`, with `now` in Unix seconds; `is_user_key` says which `sub` values are Jira
    /// user keys (the domain's rule, passed in so this module stays free of it).
    pub fn verify(
        &self,
        secret: &[u8],
        expected_qsh: &str,
        public_id: &str,
        now: i64,
        is_user_key: fn(&str) -> bool,
    ) -> Result<JiraClaims, JwtError> {
        use jsonwebtoken::errors::ErrorKind;
        use jsonwebtoken::{Algorithm, DecodingKey, Validation};
        let mut validation = Validation::new(Algorithm::HS256);
        // time and audience are checked below against `now`, with our own rules
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss"]);
        let data = jsonwebtoken::decode::<JiraClaims>(
            &self.token,
            &DecodingKey::from_secret(secret),
            &validation,
        )
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => JwtError::Signature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => JwtError::Alg,
            ErrorKind::MissingRequiredClaim(_) => JwtError::Claims("exp or iss missing"),
            _ => JwtError::Malformed,
        })?;
        let claims = data.claims;
        if claims.iss != public_id {
            return Err(JwtError::Claims("iss is not this instance"));
        }
        // exp and iat are whatever the signer wrote: saturate, since an overflow would panic in
        // debug builds and wrap in release ones (where exp - iat could wrap below the limit)
        if now > claims.exp.saturating_add(SKEW_SECS) {
            return Err(JwtError::Expired);
        }
        let iat = claims.iat.ok_or(JwtError::Claims("iat missing"))?;
        if iat > now.saturating_add(SKEW_SECS) {
            return Err(JwtError::NotYetValid);
        }
        if claims.exp < iat || claims.exp.saturating_sub(iat) > MAX_LIFETIME_SECS {
            return Err(JwtError::Lifetime);
        }
        match &claims.aud {
            None => {}
            Some(serde_json::Value::String(a)) if a == public_id => {}
            Some(serde_json::Value::Array(list))
                if !list.is_empty() && list.iter().all(|a| a.as_str() == Some(public_id)) => {}
            Some(_) => return Err(JwtError::Claims("aud is not this instance")),
        }
        match claims.sub.as_deref() {
            Some(s) if is_user_key(s) => {}
            Some(_) => return Err(JwtError::Claims("sub is not a Jira user key")),
            None => return Err(JwtError::Claims("sub (the Jira user key) missing")),
        }
        match claims.qsh.as_deref() {
            Some(q)
                if crate::crypto::random::constant_time_eq(
                    q.as_bytes(),
                    expected_qsh.as_bytes(),
                ) => {}
            _ => return Err(JwtError::Qsh),
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &[u8] = b"NqM6OM3rtHsO-uNwShAredSecretFor-Tests-0123456";
    const QSH: &str = "8063ff4ca1e41df7bc90c8ab6d0f6207d491cf6dad7c66ea797b4614b71922e9";

    fn mint(claims: serde_json::Value) -> String {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    fn good(now: i64) -> serde_json::Value {
        json!({"iss": "tHXLY2", "sub": "JIRAUSER10100", "iat": now, "exp": now + 180, "qsh": QSH, "aud": "tHXLY2"})
    }

    fn check(token: &str, now: i64) -> Result<JiraClaims, JwtError> {
        parse_unverified(token)?.verify(SECRET, QSH, "tHXLY2", now, user_key)
    }

    /// The shape of a Jira user key as the domain defines it (`domain::jira_user_key`).
    fn user_key(s: &str) -> bool {
        !s.trim().is_empty() && s.len() <= 255 && !s.chars().any(char::is_control)
    }

    #[test]
    fn a_good_token_verifies() {
        let now = 1_800_000_000;
        let c = check(&mint(good(now)), now).unwrap();
        assert_eq!(c.sub.as_deref(), Some("JIRAUSER10100"));
    }

    #[test]
    fn each_refusal_has_its_code() {
        let now = 1_800_000_000;
        let with = |k: &str, v: serde_json::Value| {
            let mut c = good(now);
            c[k] = v;
            mint(c)
        };
        let without = |k: &str| {
            let mut c = good(now);
            c.as_object_mut().unwrap().remove(k);
            mint(c)
        };
        assert_eq!(
            check(&with("exp", json!(now - 61)), now)
                .unwrap_err()
                .code(),
            "jwt_expired"
        );
        let mut within_skew = good(now);
        within_skew["iat"] = json!(now - 100);
        within_skew["exp"] = json!(now - 59);
        assert!(
            check(&mint(within_skew), now).is_ok(),
            "60 s of skew are tolerated"
        );
        assert_eq!(
            check(&with("iat", json!(now + 61)), now)
                .unwrap_err()
                .code(),
            "jwt_not_yet_valid"
        );
        assert_eq!(
            check(&with("exp", json!(now + 601)), now)
                .unwrap_err()
                .code(),
            "jwt_lifetime"
        );
        assert_eq!(
            check(&with("qsh", json!("context-qsh")), now)
                .unwrap_err()
                .code(),
            "jwt_qsh"
        );
        assert_eq!(check(&without("qsh"), now).unwrap_err().code(), "jwt_qsh");
        assert_eq!(
            check(&with("aud", json!("other")), now).unwrap_err().code(),
            "jwt_claims"
        );
        assert_eq!(
            check(&without("sub"), now).unwrap_err().code(),
            "jwt_claims"
        );
        assert_eq!(
            check(&with("sub", json!("JIRA\u{0}USER")), now)
                .unwrap_err()
                .code(),
            "jwt_claims",
            "PostgreSQL cannot hold a NUL: refused here, not a server error later"
        );
        assert_eq!(
            check(&without("iat"), now).unwrap_err().code(),
            "jwt_claims"
        );
        assert!(check(&without("aud"), now).is_ok(), "aud is optional");
        assert!(check(&with("aud", json!(["tHXLY2"])), now).is_ok());
        let other_key = encode(
            &Header::default(),
            &good(now),
            &EncodingKey::from_secret(b"another secret"),
        )
        .unwrap();
        assert_eq!(check(&other_key, now).unwrap_err().code(), "jwt_signature");
    }

    /// Caught by the `jwt_qsh` fuzz target's extreme-times seed: `exp + 60` overflowed (a panic
    /// in debug builds), and in release builds `exp - iat` wrapped below the lifetime limit, so a
    /// correctly signed token valid for billions of years was accepted.
    #[test]
    fn extreme_times_are_refused_without_overflowing() {
        let now = 1_800_000_000;
        let with_times = |iat: i64, exp: i64| {
            let mut c = good(now);
            c["iat"] = json!(iat);
            c["exp"] = json!(exp);
            check(&mint(c), now).map(|_| ()).map_err(|e| e.code())
        };
        assert_eq!(with_times(now, i64::MAX), Err("jwt_lifetime"));
        assert_eq!(with_times(i64::MIN, i64::MAX), Err("jwt_lifetime"));
        assert_eq!(with_times(i64::MIN, now), Err("jwt_lifetime"));
        assert!(with_times(now, i64::MIN).is_err());
        assert_eq!(with_times(i64::MAX, i64::MAX), Err("jwt_not_yet_valid"));
        assert_eq!(with_times(now - 10, now + 590), Ok(()));
    }

    #[test]
    fn other_algorithms_and_garbage_are_refused() {
        let now = 1_800_000_000;
        let claims = URL_SAFE_NO_PAD.encode(good(now).to_string());
        let none = format!(
            "{}.{claims}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
        );
        assert_eq!(check(&none, now).unwrap_err().code(), "jwt_alg");
        let rs = format!(
            "{}.{claims}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#)
        );
        assert_eq!(check(&rs, now).unwrap_err().code(), "jwt_alg");
        let hs512 = encode(
            &Header::new(jsonwebtoken::Algorithm::HS512),
            &good(now),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(check(&hs512, now).unwrap_err().code(), "jwt_alg");
        for bad in ["", "abc", "a.b", "a.b.c.d", "!!!.???.***"] {
            assert_eq!(
                check(bad, now).unwrap_err().code(),
                "jwt_malformed",
                "{bad}"
            );
        }
    }
}
