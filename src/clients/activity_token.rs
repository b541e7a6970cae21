//! Validation of inbound Bot Framework activity tokens (PROTOCOLS.md §3.1): the OpenID metadata
//! and signing keys (with their channel endorsements) are fetched and cached, refreshed at least
//! daily and on an unknown `kid` (at most once a minute); tokens must be RS256, from the cloud's
//! issuer, for this bot, unexpired (5 minutes of skew), signed by a key endorsed for the
//! activity's channel, and name the activity's service URL in their `serviceurl` claim.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::http::OutboundHttp;

const KEYS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
const KEYS_MIN_REFRESH: Duration = Duration::from_secs(60);
/// Clock skew the Bot Framework allows.
pub const SKEW_SECS: u64 = 300;

/// Why an activity was refused. Messages are safe to log; they carry no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BotAuthError {
    #[error("no `Authorization: Bearer` token")]
    Missing,
    #[error("the token is malformed")]
    Malformed,
    #[error("only RS256 tokens are accepted")]
    Algorithm,
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    #[error("the signing key is not endorsed for channel `{0}`")]
    Endorsement(String),
    #[error("the token does not verify: {0}")]
    Invalid(String),
    #[error("the token's serviceurl claim does not match the activity's serviceUrl")]
    ServiceUrl,
    #[error("the Bot Framework signing keys could not be fetched: {0}")]
    Keys(String),
}

impl BotAuthError {
    /// 503 for our own trouble fetching keys, 401 for everything the caller got wrong.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, BotAuthError::Keys(_))
    }
}

#[derive(Deserialize)]
struct Metadata {
    jwks_uri: String,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    #[serde(default)]
    kid: String,
    #[serde(default)]
    kty: String,
    #[serde(default)]
    n: String,
    #[serde(default)]
    e: String,
    #[serde(default)]
    endorsements: Vec<String>,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    serviceurl: Option<String>,
}

struct Key {
    key: DecodingKey,
    endorsements: Vec<String>,
}

/// The token of an `Authorization: Bearer` header and the `kid` of its (RS256) header: all that
/// is read from a token before its signature is checked.
pub fn bearer_token(authorization: Option<&str>) -> Result<(&str, String), BotAuthError> {
    let token = authorization
        .and_then(|h| h.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty() && !t.contains(' '))
        .ok_or(BotAuthError::Missing)?;
    let header = jsonwebtoken::decode_header(token).map_err(|_| BotAuthError::Malformed)?;
    if header.alg != Algorithm::RS256 {
        return Err(BotAuthError::Algorithm);
    }
    let kid = header.kid.ok_or(BotAuthError::Malformed)?;
    Ok((token, kid))
}

/// Checks activity tokens for one bot.
pub struct BotAuth {
    http: OutboundHttp,
    metadata_url: String,
    issuer: String,
    cache: tokio::sync::Mutex<(HashMap<String, Key>, Option<Instant>)>,
}

impl BotAuth {
    /// A validator reading keys from `metadata_url` and expecting `issuer`.
    pub fn new(http: OutboundHttp, metadata_url: &str, issuer: &str) -> BotAuth {
        BotAuth {
            http,
            metadata_url: metadata_url.to_owned(),
            issuer: issuer.to_owned(),
            cache: tokio::sync::Mutex::new((HashMap::new(), None)),
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Key>, BotAuthError> {
        let keys_err = |e: String| BotAuthError::Keys(e);
        let res = self
            .http
            .send("bot framework", |c| c.get(&self.metadata_url))
            .await
            .map_err(|e| keys_err(e.to_string()))?;
        if !res.status().is_success() {
            return Err(keys_err(format!("metadata HTTP {}", res.status().as_u16())));
        }
        let meta: Metadata = res
            .json()
            .await
            .map_err(|_| keys_err("metadata is not JSON".into()))?;
        let res = self
            .http
            .send("bot framework", |c| c.get(&meta.jwks_uri))
            .await
            .map_err(|e| keys_err(e.to_string()))?;
        if !res.status().is_success() {
            return Err(keys_err(format!("keys HTTP {}", res.status().as_u16())));
        }
        let jwks: Jwks = res
            .json()
            .await
            .map_err(|_| keys_err("keys are not JSON".into()))?;
        Ok(jwks
            .keys
            .into_iter()
            .filter(|k| k.kty == "RSA")
            .filter_map(|k| {
                DecodingKey::from_rsa_components(&k.n, &k.e)
                    .ok()
                    .map(|key| {
                        (
                            k.kid,
                            Key {
                                key,
                                endorsements: k.endorsements,
                            },
                        )
                    })
            })
            .collect())
    }

    /// Validates the `Authorization` header of an activity for bot `app_id`, sent on
    /// `channel_id` with `service_url`.
    pub async fn validate(
        &self,
        authorization: Option<&str>,
        app_id: &str,
        channel_id: &str,
        service_url: &str,
    ) -> Result<(), BotAuthError> {
        let (token, kid) = bearer_token(authorization)?;
        let mut cache = self.cache.lock().await;
        let stale = cache.1.is_none_or(|at| at.elapsed() > KEYS_MAX_AGE);
        let may_refresh = cache.1.is_none_or(|at| at.elapsed() > KEYS_MIN_REFRESH);
        if stale || (!cache.0.contains_key(&kid) && may_refresh) {
            cache.0 = self.fetch().await?;
            cache.1 = Some(Instant::now());
        }
        let key = cache.0.get(&kid).ok_or(BotAuthError::UnknownKey)?;
        if !key.endorsements.iter().any(|e| e == channel_id) {
            return Err(BotAuthError::Endorsement(
                channel_id.chars().take(32).collect(),
            ));
        }
        let mut v = Validation::new(Algorithm::RS256);
        v.leeway = SKEW_SECS;
        v.set_audience(&[app_id]);
        v.set_issuer(&[&self.issuer]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &v)
            .map_err(|e| BotAuthError::Invalid(e.to_string()))?
            .claims;
        match claims.serviceurl {
            Some(s) if s.trim_end_matches('/') == service_url.trim_end_matches('/') => Ok(()),
            _ => Err(BotAuthError::ServiceUrl),
        }
    }
}
