//! Entra ID app-only tokens (client credentials, PROTOCOLS.md §1.4): always a tenant authority,
//! `<resource>/.default` scopes, cached until shortly before they expire, one request at a time
//! per tenant and scope. Error bodies are classified by `error` and `error_codes`, never by text.
//! Also how the appliance authenticates itself at the token endpoint: a client secret or a
//! certificate (a signed `client_assertion`), for app-only and user sign-in requests alike.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::http::{OutboundError, OutboundHttp};
pub use crate::crypto::certificate::{CertificateCredential, CertificateError};

/// `client_assertion_type` of a certificate credential (RFC 7523).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime of a client assertion, seconds (Entra ID's examples use 10 minutes).
pub const ASSERTION_LIFETIME_SECS: u64 = 600;

/// How the appliance proves it is the app registration at the token endpoint.
#[derive(Debug)]
pub enum ClientCredential {
    /// `client_secret` in the form.
    Secret(SecretString),
    /// A JWT signed with the certificate's key, fresh for every request.
    Certificate(CertificateCredential),
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

impl ClientCredential {
    /// A certificate credential from one PEM holding the certificate and its private key. The
    /// error says what is missing and never quotes the PEM.
    pub fn from_pem(pem: &[u8]) -> Result<ClientCredential, String> {
        CertificateCredential::from_pem(pem)
            .map(ClientCredential::Certificate)
            .map_err(|e| e.to_string())
    }

    /// The client-authentication fields of a request to `token_url`: `client_secret`, or
    /// `client_assertion_type` + `client_assertion` (a new JWT each call, `aud` = `token_url`).
    pub fn form_fields(
        &self,
        client_id: &str,
        token_url: &str,
    ) -> Result<Vec<(&'static str, SecretString)>, EntraError> {
        match self {
            ClientCredential::Secret(s) => Ok(vec![("client_secret", s.clone())]),
            ClientCredential::Certificate(c) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                let mut header = Header::new(Algorithm::RS256);
                header.typ = Some("JWT".into());
                header.x5t = Some(c.x5t.clone());
                header.x5t_s256 = Some(c.x5t_s256.clone());
                let claims = AssertionClaims {
                    aud: token_url,
                    iss: client_id,
                    sub: client_id,
                    jti: Uuid::new_v4().to_string(),
                    nbf: now,
                    iat: now,
                    exp: now + ASSERTION_LIFETIME_SECS,
                };
                let jwt = jsonwebtoken::encode(&header, &claims, c.signing_key())
                    .map_err(|e| EntraError::Assertion(e.to_string()))?;
                Ok(vec![
                    ("client_assertion_type", SecretString::from(ASSERTION_TYPE)),
                    // a bearer credential for its lifetime, hence kept secret
                    ("client_assertion", SecretString::from(jwt)),
                ])
            }
        }
    }

    /// True for a certificate credential.
    pub fn is_certificate(&self) -> bool {
        matches!(self, ClientCredential::Certificate(_))
    }
}

/// Tokens are renewed this long before they expire.
pub const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// Why no token came.
#[derive(Debug, thiserror::Error)]
pub enum EntraError {
    #[error("app-only tokens need a tenant id or domain, not `{0}`")]
    NotATenant(String),
    #[error("the scope must be `<resource>/.default` for app-only tokens, not `{0}`")]
    Scope(String),
    #[error("Entra ID refused the request: {error} (AADSTS{code})")]
    Refused { error: String, code: u64 },
    #[error("the client assertion could not be signed: {0}")]
    Assertion(String),
    #[error("Entra ID answered HTTP {0} without a token")]
    Unexpected(u16),
    #[error(transparent)]
    Outbound(#[from] OutboundError),
}

impl EntraError {
    /// True for refusals that mean the app registration or its credential is wrong (not
    /// transient). 700027: the client assertion's certificate is not (or no longer) registered.
    pub fn is_configuration(&self) -> bool {
        matches!(self, EntraError::Refused { code, .. } if matches!(code, 7000215 | 7000222 | 700016 | 90002 | 500011 | 9001023 | 700025 | 50194 | 700027))
            || matches!(
                self,
                EntraError::NotATenant(_) | EntraError::Scope(_) | EntraError::Assertion(_)
            )
    }
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_codes: Vec<u64>,
}

struct Cached {
    token: SecretString,
    renew_at: Instant,
}

/// App-only token source for one app registration.
pub struct AppTokens {
    http: OutboundHttp,
    login: String,
    client_id: String,
    credential: Arc<ClientCredential>,
    cache: tokio::sync::Mutex<HashMap<(String, String), Cached>>,
}

impl AppTokens {
    /// A token source against `login` (the cloud's authority host or an override).
    pub fn new(
        http: OutboundHttp,
        login: &str,
        client_id: &str,
        credential: impl Into<Arc<ClientCredential>>,
    ) -> AppTokens {
        AppTokens {
            http,
            login: login.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            credential: credential.into(),
            cache: Default::default(),
        }
    }

    /// A token for `scope` in `tenant`, from the cache while it is fresh.
    pub async fn token(&self, tenant: &str, scope: &str) -> Result<SecretString, EntraError> {
        if matches!(
            tenant.to_ascii_lowercase().as_str(),
            "common" | "consumers" | "organizations"
        ) || tenant.is_empty()
            || tenant.contains('/')
        {
            return Err(EntraError::NotATenant(tenant.to_owned()));
        }
        self.token_at(&format!("{}/{tenant}/oauth2/v2.0/token", self.login), scope)
            .await
    }

    /// A token for `scope` from the token endpoint `url` itself (a configured one, such as
    /// `microsoft.bot_token_url`), from the cache while it is fresh.
    pub async fn token_at(&self, url: &str, scope: &str) -> Result<SecretString, EntraError> {
        if !scope.ends_with("/.default") {
            return Err(EntraError::Scope(scope.to_owned()));
        }
        // held across the request: concurrent callers wait for one token instead of hammering
        // the endpoint (AADSTS50196)
        let mut cache = self.cache.lock().await;
        let key = (url.to_owned(), scope.to_owned());
        if let Some(c) = cache.get(&key)
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let auth = self.credential.form_fields(&self.client_id, url)?;
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("grant_type", "client_credentials"),
            ("scope", scope),
        ];
        form.extend(auth.iter().map(|(k, v)| (*k, v.expose_secret())));
        let res = self.http.send("entra", |c| c.post(url).form(&form)).await?;
        let status = res.status().as_u16();
        let bytes = res
            .bytes()
            .await
            .map_err(|_| EntraError::Unexpected(status))?;
        if status == 200 {
            let body: TokenBody =
                serde_json::from_slice(&bytes).map_err(|_| EntraError::Unexpected(status))?;
            let lifetime = Duration::from_secs(body.expires_in);
            let renew_in = if lifetime > RENEW_BEFORE * 2 {
                lifetime - RENEW_BEFORE
            } else {
                lifetime / 2
            };
            let token = SecretString::from(body.access_token);
            cache.insert(
                key,
                Cached {
                    token: token.clone(),
                    renew_at: Instant::now() + renew_in,
                },
            );
            tracing::info!(
                entra.token_url = url,
                token.lifetime_secs = body.expires_in,
                "app-only token acquired"
            );
            return Ok(token);
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(e) => Err(EntraError::Refused {
                error: e.error,
                code: e.error_codes.first().copied().unwrap_or(0),
            }),
            Err(_) => Err(EntraError::Unexpected(status)),
        }
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;
    use crate::crypto::certificate::tests::bundle;

    const URL: &str = "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/token";
    const CLIENT: &str = "0e3419f7-4c4d-47e7-b98a-7b9b9de02b80";

    #[test]
    fn a_secret_is_sent_as_client_secret() {
        let c = ClientCredential::Secret(SecretString::from("s3cret"));
        let f = c.form_fields(CLIENT, URL).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].0, "client_secret");
        assert_eq!(f[0].1.expose_secret(), "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn a_certificate_signs_a_fresh_assertion_for_the_token_url() {
        let (pem, key) = bundle();
        let c = ClientCredential::from_pem(&pem).unwrap();
        assert!(c.is_certificate());
        let f = c.form_fields(CLIENT, URL).unwrap();
        assert_eq!(f[0].0, "client_assertion_type");
        assert_eq!(f[0].1.expose_secret(), ASSERTION_TYPE);
        assert_eq!(f[1].0, "client_assertion");
        let jwt = f[1].1.expose_secret();

        let header = jsonwebtoken::decode_header(jwt).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let ClientCredential::Certificate(cert) = &c else {
            unreachable!()
        };
        assert_eq!(header.x5t.as_deref(), Some(cert.x5t.as_str()));
        assert_eq!(header.x5t_s256.as_deref(), Some(cert.x5t_s256.as_str()));

        let rsa = key.rsa().unwrap();
        let public = DecodingKey::from_rsa_raw_components(&rsa.n().to_vec(), &rsa.e().to_vec());
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&[URL]);
        v.set_issuer(&[CLIENT]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(jwt, &public, &v)
            .unwrap()
            .claims;
        assert_eq!(claims["sub"], CLIENT);
        let (iat, nbf, exp) = (
            claims["iat"].as_u64().unwrap(),
            claims["nbf"].as_u64().unwrap(),
            claims["exp"].as_u64().unwrap(),
        );
        assert_eq!(nbf, iat);
        assert_eq!(exp - iat, ASSERTION_LIFETIME_SECS);
        let jti = claims["jti"].as_str().unwrap();
        assert!(Uuid::parse_str(jti).is_ok());
        // every request gets its own assertion
        let again = c.form_fields(CLIENT, URL).unwrap();
        assert_ne!(again[1].1.expose_secret(), jwt);
        // the key never shows in Debug
        let debug = format!("{c:?}");
        assert!(!debug.contains("PRIVATE") && debug.contains(&cert.x5t));
    }

    #[test]
    fn a_pem_without_its_key_is_refused_with_a_reason_not_the_pem() {
        let (pem, _) = bundle();
        let cert_only: Vec<u8> = {
            let text = String::from_utf8(pem).unwrap();
            let end = text.find("-----BEGIN PRIVATE KEY").unwrap();
            text.as_bytes()[..end].to_vec()
        };
        let err = ClientCredential::from_pem(&cert_only).unwrap_err();
        assert!(err.contains("no private key"), "{err}");
        assert!(!err.contains("BEGIN CERTIFICATE-----\n"));
    }
}
