//! Jira Data Center as the linked user (PROTOCOLS.md §4.3, §7): the OAuth 2.0 incoming-link
//! provider under `/rest/oauth2/latest` with PKCE, and REST calls with the user's bearer token.
//! URLs are built from the instance's base URL, context path included.
//!
//! This module holds the client, its errors and the plumbing every call shares; each REST area
//! has its own file: `oauth` (tokens), `users`, `issues` (read, watchers, comments, create),
//! `search` (JQL), `projects`, `service_desk` (servicedeskapi), `remote_links` (remote issue
//! links and who may browse an issue), `comments` (the optional "Teams chat started" comment)
//! and `webhooks` (admin webhooks, with a Jira administrator's personal access token).

mod comments;
mod issues;
mod oauth;
mod projects;
mod remote_links;
mod search;
mod service_desk;
mod users;
mod webhooks;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::http::{OutboundError, OutboundHttp};

pub use comments::CommentTarget;
pub use issues::{
    CreatedIssue, EventIssue, EventIssueFields, IssueFields, IssueLookup, IssueType, JiraIssue,
    KeyOf, LinkedIssue, LinkedIssueFields, NewIssue, ProjectType,
};
pub use oauth::{JIRA_SCOPE, JiraTokens};
pub use projects::Project;
pub use remote_links::{GLOBAL_ID_MAX_CHARS, RemoteLink};
pub use search::{FieldUser, FoundFields, FoundIssue, Named, SearchPage, SearchQuery};
pub use service_desk::{
    CustomerRequest, JSM_PAGE_LIMIT, JsmError, RequestFieldValue, RequestStatus, RequestType,
    ServiceDesk,
};
pub use users::JiraUser;
pub use webhooks::{
    JiraAdminClient, ListedWebhook, ServerVersion, WebhookApi, WebhookCallError, WebhookSpec,
};

/// Why a Jira call failed.
#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    #[error("Jira refused the OAuth request: {error}")]
    OAuth { error: String },
    #[error("Jira refused the token (HTTP 401)")]
    Unauthorized,
    #[error("Jira answered HTTP {0}")]
    Status(u16),
    /// 429 or 503 after the outbound stack's own retries: try again after the wait Jira named.
    #[error("Jira is busy (HTTP {status}); retry in {retry_after_secs} s")]
    Throttled { status: u16, retry_after_secs: u64 },
    #[error("Jira answered something that is not the expected JSON")]
    Malformed,
    #[error(transparent)]
    Outbound(#[from] OutboundError),
}

impl JiraError {
    /// True when the user must authorise the appliance in Jira again.
    pub fn needs_sign_in(&self) -> bool {
        matches!(self, JiraError::OAuth { error } if error == "invalid_grant")
            || matches!(self, JiraError::Unauthorized)
    }
}

/// One Jira instance's OAuth client.
#[derive(Clone)]
pub struct JiraClient {
    http: OutboundHttp,
    base: String,
    client_id: String,
    client_secret: SecretString,
}

impl JiraClient {
    /// A client for the instance at `base` (normalised, no trailing slash).
    pub fn new(
        http: OutboundHttp,
        base: &str,
        client_id: &str,
        client_secret: SecretString,
    ) -> JiraClient {
        JiraClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret,
        }
    }

    /// The instance's base URL (context path included, no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn read(res: reqwest::Response) -> Result<(StatusCode, Vec<u8>), JiraCallError> {
        let status = res.status();
        let bytes = res.bytes().await.map_err(|_| JiraError::Malformed)?;
        Ok((status, bytes.to_vec()))
    }

    /// As [`JiraClient::read`], and a 429 or 503 that outlived the in-call retries becomes
    /// [`JiraError::Throttled`] with Jira's `Retry-After` (5 s when it named none), so an outbox
    /// item can be scheduled for then instead of holding a worker.
    async fn read_throttled(
        res: reqwest::Response,
    ) -> Result<(StatusCode, Vec<u8>), JiraCallError> {
        let status = res.status();
        if matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            let wait = super::http::retry_after(&res).map_or(5, |d| d.as_secs().max(1));
            return Err(JiraError::Throttled {
                status: status.as_u16(),
                retry_after_secs: wait,
            }
            .into());
        }
        Self::read(res).await
    }

    /// GETs `path_and_query` as the token's user: `None` when Jira answers 404 or 403 (missing
    /// or not visible to them: DC tells these apart, the appliance does not).
    async fn get_visible<T: serde::de::DeserializeOwned>(
        &self,
        token: &SecretString,
        path_and_query: &str,
    ) -> Result<Option<T>, JiraError> {
        let url = format!("{}{path_and_query}", self.base);
        let res = self
            .http
            .send("jira", |c| c.get(&url).bearer_auth(token.expose_secret()))
            .await?;
        match res.status() {
            StatusCode::OK => res.json().await.map(Some).map_err(|_| JiraError::Malformed),
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => Ok(None),
            StatusCode::UNAUTHORIZED => Err(JiraError::Unauthorized),
            // Jira's wait travels with the error, so a queued job retries when Jira said
            s @ (StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) => {
                Err(JiraError::Throttled {
                    status: s.as_u16(),
                    retry_after_secs: super::http::retry_after(&res)
                        .map_or(5, |d| d.as_secs().max(1)),
                })
            }
            s => Err(JiraError::Status(s.as_u16())),
        }
    }
}

/// Why Jira refused a request it understood: its `errorMessages` and field `errors`, joined
/// into one sentence fit to show the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JiraRefusal(pub String);

/// A failed search or create: Jira's refusal (400/403, shown to the user) or anything else.
#[derive(Debug, thiserror::Error)]
pub enum JiraCallError {
    #[error(transparent)]
    Refused(JiraRefusal),
    #[error(transparent)]
    Other(#[from] JiraError),
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RestErrorBody {
    #[serde(default)]
    error_messages: Vec<String>,
    #[serde(default)]
    errors: std::collections::BTreeMap<String, serde_json::Value>,
}

/// Jira's error body as one message: `errorMessages` first, then `field: message` pairs.
fn refusal(bytes: &[u8], fallback: &str) -> JiraRefusal {
    let body: RestErrorBody = serde_json::from_slice(bytes).unwrap_or_default();
    let mut parts: Vec<String> = body
        .error_messages
        .into_iter()
        .filter(|m| !m.trim().is_empty())
        .collect();
    for (field, message) in body.errors {
        let text = match message {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        parts.push(format!("{field}: {text}"));
    }
    let mut text = if parts.is_empty() {
        fallback.to_owned()
    } else {
        parts.join(" ")
    };
    if text.chars().count() > 500 {
        text = text.chars().take(500).collect::<String>() + "…";
    }
    JiraRefusal(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_errors_become_one_readable_sentence() {
        let r = refusal(
            br#"{"errorMessages":["Bad."],"errors":{"summary":"You must specify a summary of the issue.","issuetype":"valid issue type is required"}}"#,
            "x",
        );
        assert_eq!(
            r.0,
            "Bad. issuetype: valid issue type is required summary: You must specify a summary of the issue."
        );
        assert_eq!(refusal(b"<html>", "fallback").0, "fallback");
    }
}
