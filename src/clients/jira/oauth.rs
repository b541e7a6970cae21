//! The OAuth 2.0 incoming-link provider under `/rest/oauth2/latest`, with PKCE: the authorize
//! redirect, redeeming a code and refreshing tokens.

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{JiraClient, JiraError};

/// The Jira OAuth scope the appliance asks for (create issues, comment, read).
pub const JIRA_SCOPE: &str = "WRITE";

/// Tokens from Jira's token endpoint.
#[derive(Debug)]
pub struct JiraTokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_in: u64,
    pub scope: String,
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    #[serde(default)]
    error: String,
}

impl JiraClient {
    /// The browser redirect that asks the user to authorise the appliance.
    pub fn authorize_url(&self, redirect_uri: &str, state: &str, challenge: &str) -> String {
        let q = serde_urlencoded::to_string([
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", JIRA_SCOPE),
            ("state", state),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .unwrap_or_default();
        format!("{}/rest/oauth2/latest/authorize?{q}", self.base)
    }

    /// Redeems an authorization code.
    pub async fn redeem_code(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<JiraTokens, JiraError> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ])
        .await
    }

    /// Trades a refresh token for new tokens (whatever refresh token comes back replaces it).
    pub async fn refresh(
        &self,
        refresh_token: &SecretString,
        redirect_uri: &str,
    ) -> Result<JiraTokens, JiraError> {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
            ("redirect_uri", redirect_uri),
        ])
        .await
    }

    async fn token_request(&self, params: &[(&str, &str)]) -> Result<JiraTokens, JiraError> {
        let url = format!("{}/rest/oauth2/latest/token", self.base);
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
        ];
        form.extend_from_slice(params);
        let res = self.http.send("jira", |c| c.post(&url).form(&form)).await?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|_| JiraError::Malformed)?;
        if status == StatusCode::OK {
            let b: TokenBody = serde_json::from_slice(&bytes).map_err(|_| JiraError::Malformed)?;
            return Ok(JiraTokens {
                access_token: SecretString::from(b.access_token),
                refresh_token: b.refresh_token.map(SecretString::from),
                expires_in: b.expires_in.unwrap_or(3600),
                scope: b.scope.unwrap_or_else(|| JIRA_SCOPE.into()),
            });
        }
        match serde_json::from_slice::<OAuthErrorBody>(&bytes) {
            Ok(e) if !e.error.is_empty() => Err(JiraError::OAuth { error: e.error }),
            _ if status == StatusCode::UNAUTHORIZED => Err(JiraError::OAuth {
                error: "invalid_client".into(),
            }),
            _ => Err(JiraError::Status(status.as_u16())),
        }
    }
}
