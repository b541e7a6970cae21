//! Jira users: who a token belongs to (`/myself`) and a login name's stable key (`/user`).

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{JiraClient, JiraError};

/// The Jira user a token belongs to (`GET /rest/api/2/myself`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JiraUser {
    pub key: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub display_name: String,
}

impl JiraClient {
    /// The user the token belongs to.
    pub async fn myself(&self, token: &SecretString) -> Result<JiraUser, JiraError> {
        let url = format!("{}/rest/api/2/myself", self.base);
        let res = self
            .http
            .send("jira", |c| c.get(&url).bearer_auth(token.expose_secret()))
            .await?;
        match res.status() {
            StatusCode::OK => res.json().await.map_err(|_| JiraError::Malformed),
            StatusCode::UNAUTHORIZED => Err(JiraError::Unauthorized),
            s => Err(JiraError::Status(s.as_u16())),
        }
    }

    /// The stable key of the user with this login name (`GET /rest/api/2/user?username=`,
    /// PROTOCOLS.md §7.1); `None` when there is none (or the token's user may not browse users).
    pub async fn user_key(
        &self,
        token: &SecretString,
        name: &str,
    ) -> Result<Option<String>, JiraError> {
        let path = format!(
            "/rest/api/2/user?username={}",
            crate::domain::qsh::percent_encode(name)
        );
        Ok(self
            .get_visible::<serde_json::Value>(token, &path)
            .await?
            .and_then(|u| u["key"].as_str().map(str::to_owned)))
    }
}
