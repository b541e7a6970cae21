//! Entra ID delegated sign-in (PROTOCOLS.md §1.2–§1.3, §1.6): the authorize URL with PKCE S256,
//! code redemption, refresh (a new refresh token every time), and ID token validation against
//! the tenant's signing keys (RS256, issuer, audience, nonce, expiry).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use uuid::Uuid;

use super::entra::{ClientCredential, EntraError};
use super::http::OutboundHttp;

/// Graph permissions a linked user grants (fully qualified, so every cloud resolves them to its
/// own Graph host).
pub const GRAPH_PERMISSIONS: &[&str] = &[
    "User.Read",
    "Chat.ReadWrite",
    "TeamsAppInstallation.ReadWriteSelfForChat",
];

/// How often the signing keys are fetched at most when a token names an unknown key.
const KEYS_MIN_REFRESH: Duration = Duration::from_secs(60);
/// Signing keys are re-fetched at least this often.
const KEYS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Tokens a token endpoint gave for a user.
#[derive(Debug)]
pub struct UserTokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_in: u64,
    pub scope: String,
    pub id_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_codes: Vec<u64>,
    #[serde(default)]
    suberror: Option<String>,
}

/// Who signed in, from a validated ID token.
#[derive(Debug, Clone)]
pub struct IdClaims {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
struct RawIdClaims {
    tid: String,
    oid: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    name: Option<String>,
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
}

/// Why an ID token was refused.
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("the sign-in answer carried no ID token")]
    Missing,
    #[error("the ID token is not a valid RS256 token from this tenant: {0}")]
    Invalid(String),
    #[error("the ID token answers another sign-in (nonce mismatch)")]
    Nonce,
    #[error("the ID token comes from tenant {0}, not the configured one")]
    Tenant(String),
    #[error("the signing keys could not be fetched: {0}")]
    Keys(String),
}

/// Delegated sign-in against one app registration.
pub struct SignInClient {
    http: OutboundHttp,
    login: String,
    graph: String,
    tenant: String,
    client_id: String,
    credential: Arc<ClientCredential>,
    keys: tokio::sync::Mutex<(HashMap<String, DecodingKey>, Option<Instant>)>,
}

impl SignInClient {
    /// A client for `tenant` at `login` (the cloud's authority host or an override); `graph` is
    /// the cloud's Graph root, which qualifies the requested permissions.
    pub fn new(
        http: OutboundHttp,
        login: &str,
        graph: &str,
        tenant: &str,
        client_id: &str,
        credential: impl Into<Arc<ClientCredential>>,
    ) -> SignInClient {
        SignInClient {
            http,
            login: login.trim_end_matches('/').to_owned(),
            graph: graph.trim_end_matches('/').to_owned(),
            tenant: tenant.to_owned(),
            client_id: client_id.to_owned(),
            credential: credential.into(),
            keys: tokio::sync::Mutex::new((HashMap::new(), None)),
        }
    }

    /// The space-separated scopes of a user sign-in.
    pub fn scopes(&self) -> String {
        let mut s = String::from("openid offline_access profile");
        for p in GRAPH_PERMISSIONS {
            s.push(' ');
            s.push_str(&self.graph);
            s.push('/');
            s.push_str(p);
        }
        s
    }

    /// The browser redirect that starts a sign-in.
    pub fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        challenge: &str,
        nonce: &str,
    ) -> String {
        let q = serde_urlencoded::to_string([
            ("client_id", self.client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", redirect_uri),
            ("response_mode", "query"),
            ("scope", &self.scopes()),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("prompt", "select_account"),
        ])
        .unwrap_or_default();
        format!("{}/{}/oauth2/v2.0/authorize?{q}", self.login, self.tenant)
    }

    fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.login, self.tenant)
    }

    /// Redeems an authorization code (once; Entra refuses a second redemption).
    pub async fn redeem_code(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<UserTokens, EntraError> {
        let scopes = self.scopes();
        let form = [
            ("client_id", self.client_id.as_str()),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
            ("scope", scopes.as_str()),
        ];
        self.token_request(&form).await
    }

    /// Trades a refresh token for new tokens; the answer carries a new refresh token, which
    /// replaces the old one.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<UserTokens, EntraError> {
        let scopes = self.scopes();
        let form = [
            ("client_id", self.client_id.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
            ("scope", scopes.as_str()),
        ];
        self.token_request(&form).await
    }

    /// Posts `form` plus the client authentication (secret or a fresh assertion).
    async fn token_request(&self, form: &[(&str, &str)]) -> Result<UserTokens, EntraError> {
        let url = self.token_url();
        let auth = self.credential.form_fields(&self.client_id, &url)?;
        let mut form = form.to_vec();
        form.extend(auth.iter().map(|(k, v)| (*k, v.expose_secret())));
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
            let b: TokenBody =
                serde_json::from_slice(&bytes).map_err(|_| EntraError::Unexpected(status))?;
            return Ok(UserTokens {
                access_token: SecretString::from(b.access_token),
                refresh_token: b.refresh_token.map(SecretString::from),
                expires_in: b.expires_in.unwrap_or(3600),
                scope: b.scope,
                id_token: b.id_token,
            });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(e) => Err(EntraError::Refused {
                error: match e.suberror {
                    Some(sub) if !sub.is_empty() => format!("{} ({sub})", e.error),
                    _ => e.error,
                },
                code: e.error_codes.first().copied().unwrap_or(0),
            }),
            Err(_) => Err(EntraError::Unexpected(status)),
        }
    }

    /// Validates an ID token: RS256 with one of the tenant's keys, issuer
    /// `<login>/<tid>/v2.0`, audience = client id, not expired (5 min skew), the expected nonce,
    /// and the configured tenant when that is a tenant id.
    pub async fn validate_id_token(
        &self,
        token: Option<&str>,
        nonce: &str,
    ) -> Result<IdClaims, IdTokenError> {
        let token = token.ok_or(IdTokenError::Missing)?;
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| IdTokenError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(IdTokenError::Invalid(format!("algorithm {:?}", header.alg)));
        }
        let kid = header
            .kid
            .ok_or_else(|| IdTokenError::Invalid("no key id".into()))?;
        let key = self.key(&kid).await?;
        // the issuer names the user's tenant: read it first, then require it exactly
        let unverified: RawIdClaims = {
            use base64::Engine;
            let payload = token
                .split('.')
                .nth(1)
                .and_then(|p| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(p)
                        .ok()
                })
                .ok_or_else(|| IdTokenError::Invalid("malformed".into()))?;
            serde_json::from_slice(&payload)
                .map_err(|_| IdTokenError::Invalid("claims missing tid/oid".into()))?
        };
        let mut v = Validation::new(Algorithm::RS256);
        v.leeway = 300;
        v.set_audience(&[&self.client_id]);
        v.set_issuer(&[format!("{}/{}/v2.0", self.login, unverified.tid)]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<RawIdClaims>(token, &key, &v)
            .map_err(|e| IdTokenError::Invalid(e.to_string()))?
            .claims;
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(IdTokenError::Nonce);
        }
        if let Ok(configured) = Uuid::parse_str(&self.tenant)
            && Uuid::parse_str(&claims.tid).ok() != Some(configured)
        {
            return Err(IdTokenError::Tenant(claims.tid));
        }
        let parse = |s: &str, what: &str| {
            Uuid::parse_str(s).map_err(|_| IdTokenError::Invalid(format!("{what} is not a GUID")))
        };
        Ok(IdClaims {
            tenant_id: parse(&claims.tid, "tid")?,
            user_id: parse(&claims.oid, "oid")?,
            username: claims.preferred_username.unwrap_or_default(),
            name: claims.name.unwrap_or_default(),
        })
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, IdTokenError> {
        let mut keys = self.keys.lock().await;
        let stale = keys.1.is_none_or(|at| at.elapsed() > KEYS_MAX_AGE);
        let may_refresh = keys.1.is_none_or(|at| at.elapsed() > KEYS_MIN_REFRESH);
        if stale || (!keys.0.contains_key(kid) && may_refresh) {
            let url = format!("{}/{}/discovery/v2.0/keys", self.login, self.tenant);
            let res = self
                .http
                .send("entra", |c| c.get(&url))
                .await
                .map_err(|e| IdTokenError::Keys(e.to_string()))?;
            if !res.status().is_success() {
                return Err(IdTokenError::Keys(format!(
                    "HTTP {}",
                    res.status().as_u16()
                )));
            }
            let jwks: Jwks = res
                .json()
                .await
                .map_err(|e| IdTokenError::Keys(e.without_url().to_string()))?;
            keys.0 = jwks
                .keys
                .into_iter()
                .filter(|k| k.kty == "RSA")
                .filter_map(|k| {
                    DecodingKey::from_rsa_components(&k.n, &k.e)
                        .ok()
                        .map(|d| (k.kid, d))
                })
                .collect();
            keys.1 = Some(Instant::now());
        }
        keys.0
            .get(kid)
            .cloned()
            .ok_or_else(|| IdTokenError::Invalid("signed with an unknown key".into()))
    }
}

impl EntraError {
    /// True for refusals that need the user to sign in again (consent withdrawn, refresh token
    /// expired or revoked, MFA or Conditional Access demands), as opposed to configuration.
    pub fn needs_sign_in(&self) -> bool {
        match self {
            EntraError::Refused { error, code } => {
                matches!(
                    code,
                    65001
                        | 65004
                        | 90094
                        | 90095
                        | 50076
                        | 50079
                        | 50074
                        | 53003
                        | 70043
                        | 700082
                        | 70008
                        | 50173
                        | 50132
                        | 50133
                        | 700084
                        | 50089
                ) || (*code == 0
                    && (error.starts_with("invalid_grant")
                        || error.starts_with("interaction_required")
                        || error.contains("consent_required")))
            }
            _ => false,
        }
    }
}

/// The delegated scope a Teams tab SSO token carries (the app registration exposes it).
pub const TAB_SSO_SCOPE: &str = "access_as_user";

#[derive(Debug, Deserialize)]
struct RawTabClaims {
    tid: String,
    oid: String,
    #[serde(default)]
    scp: String,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    upn: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

impl SignInClient {
    /// Validates a Teams tab SSO token (`authentication.getAuthToken()`): an Entra access token
    /// issued to this app for the signed-in Teams user. RS256 with one of the tenant's keys; issuer
    /// `<login>/<tid>/v2.0` (v2 tokens) or `https://sts.windows.net/<tid>/` (v1 tokens, global
    /// cloud only); audience the client id or the Application ID URI `app_id_uri`; not expired
    /// (5 min skew); the `access_as_user` scope (an ID token of this app has none, so a leaked ID
    /// token is no tab token); the configured tenant when that is a tenant id.
    pub async fn validate_tab_token(
        &self,
        token: &str,
        app_id_uri: &str,
    ) -> Result<IdClaims, IdTokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| IdTokenError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(IdTokenError::Invalid(format!("algorithm {:?}", header.alg)));
        }
        let kid = header
            .kid
            .ok_or_else(|| IdTokenError::Invalid("no key id".into()))?;
        let unverified: RawTabClaims = {
            use base64::Engine;
            let payload = token
                .split('.')
                .nth(1)
                .and_then(|p| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(p)
                        .ok()
                })
                .ok_or_else(|| IdTokenError::Invalid("malformed".into()))?;
            serde_json::from_slice(&payload)
                .map_err(|_| IdTokenError::Invalid("claims missing tid/oid".into()))?
        };
        // the tenant is checked before any key is fetched: a foreign tenant costs nothing
        let tid = Uuid::parse_str(&unverified.tid)
            .map_err(|_| IdTokenError::Invalid("tid is not a GUID".into()))?;
        if let Ok(configured) = Uuid::parse_str(&self.tenant)
            && tid != configured
        {
            return Err(IdTokenError::Tenant(unverified.tid));
        }
        let key = self.key(&kid).await?;
        let mut issuers = vec![format!("{}/{tid}/v2.0", self.login)];
        if self.login == "https://login.microsoftonline.com" {
            issuers.push(format!("https://sts.windows.net/{tid}/"));
        }
        let mut v = Validation::new(Algorithm::RS256);
        v.leeway = 300;
        v.set_audience(&[self.client_id.as_str(), app_id_uri]);
        v.set_issuer(&issuers);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<RawTabClaims>(token, &key, &v)
            .map_err(|e| IdTokenError::Invalid(e.to_string()))?
            .claims;
        if !claims.scp.split_whitespace().any(|s| s == TAB_SSO_SCOPE) {
            return Err(IdTokenError::Invalid(format!(
                "the token lacks the {TAB_SSO_SCOPE} scope"
            )));
        }
        let user_id = Uuid::parse_str(&claims.oid)
            .map_err(|_| IdTokenError::Invalid("oid is not a GUID".into()))?;
        Ok(IdClaims {
            tenant_id: tid,
            user_id,
            username: claims.preferred_username.or(claims.upn).unwrap_or_default(),
            name: claims.name.unwrap_or_default(),
        })
    }

    /// The client id of the app registration.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}
