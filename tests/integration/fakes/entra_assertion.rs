//! Certificate client authentication for the fake Entra ID: a `client_assertion` (RFC 7523 JWT,
//! PROTOCOLS.md §1.2) checked the way Entra does: RS256 with the registered certificate's key,
//! `x5t` naming that certificate, `aud` = the token URL, `iss` = `sub` = the client id, `exp`
//! in the future, and (stricter than our notes say Entra is) every `jti` only once.

use std::collections::HashSet;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// `client_assertion_type` of a JWT client assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A refusal: HTTP status, `error`, AADSTS code.
pub type Refusal = (u16, &'static str, u64);

/// AADSTS700027 "client assertion failed signature validation" / "certificate not registered on
/// the application" [mem: recalled from the AADSTS table, not re-checked against PROTOCOLS.md,
/// which does not list it]. Entra answers it as 401 `invalid_client`.
const BAD_ASSERTION: Refusal = (401, "invalid_client", 700027);
/// AADSTS700024 "client assertion is not within its valid time range" [mem, as above].
const OUT_OF_TIME: Refusal = (401, "invalid_client", 700024);

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    #[serde(default)]
    jti: String,
}

/// The SHA-1 thumbprint of a PEM certificate, base64url: what `x5t` must say.
pub fn x5t(cert_pem: &[u8]) -> String {
    let cert = openssl::x509::X509::from_pem(cert_pem).unwrap();
    URL_SAFE_NO_PAD.encode(cert.digest(openssl::hash::MessageDigest::sha1()).unwrap())
}

/// Checks `assertion` for `client_id` at `token_url` against the registered certificate (PEM).
/// A `jti` seen before is refused, so a captured assertion cannot be replayed.
pub fn verify(
    cert_pem: Option<&[u8]>,
    assertion: &str,
    token_url: &str,
    client_id: &str,
    seen_jtis: &Mutex<HashSet<String>>,
) -> Result<(), Refusal> {
    let Some(cert_pem) = cert_pem else {
        // no certificate registered on the app: Entra says 700027 too [mem]
        return Err(BAD_ASSERTION);
    };
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| BAD_ASSERTION)?;
    if header.alg != Algorithm::RS256 || header.x5t.as_deref() != Some(&x5t(cert_pem)) {
        return Err(BAD_ASSERTION);
    }
    let cert = openssl::x509::X509::from_pem(cert_pem).unwrap();
    let rsa = cert.public_key().unwrap().rsa().unwrap();
    let key = DecodingKey::from_rsa_raw_components(&rsa.n().to_vec(), &rsa.e().to_vec());
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[token_url]);
    v.set_issuer(&[client_id]);
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    v.validate_nbf = true;
    v.leeway = 0;
    let claims = match jsonwebtoken::decode::<Claims>(assertion, &key, &v) {
        Ok(t) => t.claims,
        Err(e) => {
            return Err(match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature
                | jsonwebtoken::errors::ErrorKind::ImmatureSignature => OUT_OF_TIME,
                _ => BAD_ASSERTION,
            });
        }
    };
    if claims.iss != client_id || claims.sub != client_id || claims.jti.is_empty() {
        return Err(BAD_ASSERTION);
    }
    // Our notes do not say whether Entra enforces `jti` uniqueness nor which code it would use;
    // the fake refuses a replay with the same invalid_client/700027 on purpose (stricter), so
    // the daemon must sign a fresh assertion for every request.
    if !seen_jtis.lock().unwrap().insert(claims.jti) {
        return Err(BAD_ASSERTION);
    }
    Ok(())
}
