//! Fuzz target `jwt_qsh`: the Jira app's HS256 JWTs and the `qsh` canonical request that
//! `/api/v1` checks them against (PROTOCOLS.md §4.1, `crypto::jwt`, `domain::qsh`).
//!
//! Input: UTF-8 lines `METHOD`, `path`, `query`, `base path`, `token`, and the rest is a claims
//! JSON document that the target signs itself with a known secret, so that the claim checks
//! behind the signature are reached too (`@qsh@` in it stands for the request's qsh, which a
//! fuzzer cannot guess). Checked besides "never panics":
//! - the canonical query does not depend on the order of the parameters;
//! - canonicalising a canonical query again changes only the literal `,` that joins repeated
//!   parameters (it reads back as part of one value, so it becomes `%2C`): everything else is
//!   already canonical;
//! - the canonical URI is its own canonical URI; the qsh is 64 lower-case hex digits;
//! - a token that verifies has the claims the rules require.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jira_teams_bridge::crypto::jwt::{self, JiraClaims, parse_unverified};
use jira_teams_bridge::domain::{jira_user_key, qsh};
use libfuzzer_sys::fuzz_target;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

const SECRET: &[u8] = b"fuzz-shared-secret-NqM6OM3rtHsO-uNw0123456789";
/// The verification time: fixed, so that a crash reproduces.
const NOW: i64 = 1_800_000_000;

/// `header.claims.signature` with HS256 under [`SECRET`].
fn signed(claims: &[u8]) -> Option<String> {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = PKey::hmac(SECRET).ok()?;
    let mut signer = Signer::new(MessageDigest::sha256(), &key).ok()?;
    signer.update(signing_input.as_bytes()).ok()?;
    let signature = signer.sign_to_vec().ok()?;
    Some(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

fn check_canonical_query(query: &str) {
    let canonical = qsh::canonical_query(query);
    let reversed: Vec<&str> = query.split('&').rev().collect();
    assert_eq!(
        qsh::canonical_query(&reversed.join("&")),
        canonical,
        "the canonical query depends on the parameters' order"
    );
    assert_eq!(
        qsh::canonical_query(&canonical),
        canonical.replace(',', "%2C"),
        "a canonical query is not canonical"
    );
}

fn check_verified(claims: &JiraClaims, expected_qsh: &str) {
    let iat = claims.iat.expect("a verified token has an iat");
    assert!(claims.exp >= iat, "exp before iat");
    assert!(
        i128::from(claims.exp) - i128::from(iat) <= i128::from(jwt::MAX_LIFETIME_SECS),
        "lives too long"
    );
    assert!(
        i128::from(NOW) <= i128::from(claims.exp) + i128::from(jwt::SKEW_SECS),
        "expired"
    );
    assert!(iat <= NOW + jwt::SKEW_SECS, "issued in the future");
    assert!(claims.sub.as_deref().is_some_and(|s| !s.is_empty()));
    assert_eq!(claims.qsh.as_deref(), Some(expected_qsh));
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(6, '\n');
    let mut next = || lines.next().unwrap_or_default();
    let (method, path, query, base_path, token, claims) =
        (next(), next(), next(), next(), next(), next());

    check_canonical_query(query);
    let uri = qsh::canonical_uri(path, base_path);
    assert!(uri.starts_with('/'));
    assert_eq!(qsh::canonical_uri(&uri, ""), uri, "the canonical URI moved");
    let expected = qsh::qsh(method, path, query, base_path);
    assert!(
        expected.len() == 64
            && expected
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );

    // a token as it arrives: its signature is (almost surely) wrong, the parsing is the point
    if let Ok(unverified) = parse_unverified(token) {
        let _ = unverified.hash();
        if let Ok(c) = unverified.verify(
            SECRET,
            &expected,
            &unverified.iss,
            NOW,
            jira_user_key::is_valid,
        ) {
            check_verified(&c, &expected);
        }
    }
    // a token with a good signature, so that every claim check runs
    if let Some(token) = signed(claims.replace("@qsh@", &expected).as_bytes())
        && let Ok(unverified) = parse_unverified(&token)
        && let Ok(c) = unverified.verify(
            SECRET,
            &expected,
            &unverified.iss,
            NOW,
            jira_user_key::is_valid,
        )
    {
        assert_eq!(c.iss, unverified.iss);
        check_verified(&c, &expected);
    }
});
