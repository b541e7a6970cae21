//! Entra ID app-only tokens (client credentials, PROTOCOLS.md §1.4): always a tenant authority,
//! `<resource>/.default` scopes, cached until shortly before they expire, one request at a time
//! per tenant and scope. Error bodies are classified by `error` and `error_codes`, never by text.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::http::{OutboundError, OutboundHttp};

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
    #[error("Entra ID answered HTTP {0} without a token")]
    Unexpected(u16),
    #[error(transparent)]
    Outbound(#[from] OutboundError),
}

impl EntraError {
    /// True for refusals that mean the app registration or the secret is wrong (not transient).
    pub fn is_configuration(&self) -> bool {
        matches!(self, EntraError::Refused { code, .. } if matches!(code, 7000215 | 7000222 | 700016 | 90002 | 500011 | 9001023 | 700025 | 50194))
            || matches!(self, EntraError::NotATenant(_) | EntraError::Scope(_))
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
    client_secret: SecretString,
    cache: tokio::sync::Mutex<HashMap<(String, String), Cached>>,
}

impl AppTokens {
    /// A token source against `login` (the cloud's authority host or an override).
    pub fn new(
        http: OutboundHttp,
        login: &str,
        client_id: &str,
        client_secret: SecretString,
    ) -> AppTokens {
        AppTokens {
            http,
            login: login.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret,
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
        if !scope.ends_with("/.default") {
            return Err(EntraError::Scope(scope.to_owned()));
        }
        // held across the request: concurrent callers wait for one token instead of hammering
        // the endpoint (AADSTS50196)
        let mut cache = self.cache.lock().await;
        let key = (tenant.to_owned(), scope.to_owned());
        if let Some(c) = cache.get(&key)
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let url = format!("{}/{tenant}/oauth2/v2.0/token", self.login);
        let form = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
            ("grant_type", "client_credentials"),
            ("scope", scope),
        ];
        let res = self
            .http
            .send("entra", |c| c.post(&url).form(&form))
            .await?;
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
                entra.tenant = tenant,
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
