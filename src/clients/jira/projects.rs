//! Projects the user can see (`/rest/api/2/project`).

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{JiraClient, JiraError};

/// A project the user can see (`GET /rest/api/2/project`).
#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub name: String,
}

impl JiraClient {
    /// The projects the user can see (unpaged on DC).
    pub async fn projects(&self, token: &SecretString) -> Result<Vec<Project>, JiraError> {
        let url = format!("{}/rest/api/2/project", self.base);
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

    /// Whether a project exists and is visible to the token's user.
    pub async fn project_visible(
        &self,
        token: &SecretString,
        key: &str,
    ) -> Result<bool, JiraError> {
        let path = format!(
            "/rest/api/2/project/{}",
            crate::domain::qsh::percent_encode(key)
        );
        Ok(self
            .get_visible::<serde_json::Value>(token, &path)
            .await?
            .is_some())
    }
}
