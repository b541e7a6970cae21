//! What Jira DC offers for showing Teams chats in an issue with nothing installed in Jira
//! (`shared/design/JIRA-SURFACE.md`), as the acting user:
//! - remote issue links, upserted by a stable `globalId` (`POST …/issue/{id}/remotelink`; the
//!   whole object is sent each time, since fields left out become null) and deleted by it;
//! - the users who may browse an issue (`GET /rest/api/2/user/viewissue/search`), to pick a
//!   chat's members from.
//!
//! Jira's refusals (400: a bad link or linking off site-wide; 403: no *Link Issues* or *Browse
//! users*; 404: the issue is gone or hidden) are [`JiraCallError::Refused`] with Jira's words:
//! retrying cannot help, and they are shown to the user and on the delivery queue. A 429 or 503
//! that outlives the outbound stack's own retries is [`JiraError::Throttled`] with Jira's
//! `Retry-After`, so the outbox can schedule the write for then.

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{JiraCallError, JiraClient, JiraError, JiraUser, refusal};

/// Longest `globalId` Jira stores.
pub const GLOBAL_ID_MAX_CHARS: usize = 255;

/// One remote link as the issue view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteLink {
    /// Stable id of the linked object: one link per object, updated in place.
    pub global_id: String,
    /// `application.name` (and `type`), grouping the links in the issue view.
    pub application_name: String,
    pub application_type: String,
    pub relationship: String,
    pub url: String,
    pub title: String,
    pub summary: String,
    pub icon_url: String,
    pub icon_title: String,
    /// Shown struck through (the object is gone).
    pub resolved: bool,
}

impl RemoteLink {
    /// The body Jira expects: every field, each time.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "globalId": self.global_id,
            "application": {"type": self.application_type, "name": self.application_name},
            "relationship": self.relationship,
            "object": {
                "url": self.url,
                "title": self.title,
                "summary": self.summary,
                "icon": {"url16x16": self.icon_url, "title": self.icon_title},
                "status": {"resolved": self.resolved},
            },
        })
    }
}

fn refused(status: StatusCode, bytes: &[u8]) -> JiraCallError {
    JiraCallError::Refused(refusal(
        bytes,
        match status {
            StatusCode::FORBIDDEN => "Jira does not let you link this issue.",
            StatusCode::NOT_FOUND => "The issue is gone or not visible to you.",
            _ => "Jira refused the remote link.",
        },
    ))
}

impl JiraClient {
    /// Creates the issue's remote link for `link.global_id`, or updates the one that exists;
    /// `true` when it was created.
    pub async fn upsert_remote_link(
        &self,
        token: &SecretString,
        issue_id: i64,
        link: &RemoteLink,
    ) -> Result<bool, JiraCallError> {
        let url = format!("{}/rest/api/2/issue/{issue_id}/remotelink", self.base);
        let body = link.body();
        let res = self
            .http
            .send("jira", |c| {
                c.post(&url).bearer_auth(token.expose_secret()).json(&body)
            })
            .await
            .map_err(JiraError::from)?;
        let (status, bytes) = Self::read_throttled(res).await?;
        match status {
            StatusCode::CREATED => Ok(true),
            StatusCode::OK => Ok(false),
            StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
                Err(refused(status, &bytes))
            }
            StatusCode::UNAUTHORIZED => Err(JiraError::Unauthorized.into()),
            s => Err(JiraError::Status(s.as_u16()).into()),
        }
    }

    /// Deletes the issue's remote link for `global_id`; `false` when there was none.
    pub async fn delete_remote_link(
        &self,
        token: &SecretString,
        issue_id: i64,
        global_id: &str,
    ) -> Result<bool, JiraCallError> {
        let url = format!(
            "{}/rest/api/2/issue/{issue_id}/remotelink?globalId={}",
            self.base,
            crate::domain::qsh::percent_encode(global_id)
        );
        let res = self
            .http
            .send("jira", |c| {
                c.delete(&url).bearer_auth(token.expose_secret())
            })
            .await
            .map_err(JiraError::from)?;
        let (status, bytes) = Self::read_throttled(res).await?;
        match status {
            StatusCode::NO_CONTENT | StatusCode::OK => Ok(true),
            // no such link, or the issue itself is gone: nothing is left to delete
            StatusCode::NOT_FOUND => Ok(false),
            StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN => Err(refused(status, &bytes)),
            StatusCode::UNAUTHORIZED => Err(JiraError::Unauthorized.into()),
            s => Err(JiraError::Status(s.as_u16()).into()),
        }
    }

    /// Up to `max` (1–50) active users who may browse the issue and whose name or display name
    /// starts with `query` (empty: any).
    pub async fn users_who_can_browse(
        &self,
        token: &SecretString,
        issue_key: &str,
        query: &str,
        max: u32,
    ) -> Result<Vec<JiraUser>, JiraCallError> {
        let url = format!(
            "{}/rest/api/2/user/viewissue/search?issueKey={}&username={}&maxResults={}",
            self.base,
            crate::domain::qsh::percent_encode(issue_key),
            crate::domain::qsh::percent_encode(query),
            max.clamp(1, 50)
        );
        let res = self
            .http
            .send("jira", |c| c.get(&url).bearer_auth(token.expose_secret()))
            .await
            .map_err(JiraError::from)?;
        let (status, bytes) = Self::read(res).await?;
        match status {
            StatusCode::OK => Ok(serde_json::from_slice(&bytes).map_err(|_| JiraError::Malformed)?),
            StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
                Err(JiraCallError::Refused(refusal(
                    &bytes,
                    "Jira does not let you see who may browse this issue.",
                )))
            }
            StatusCode::UNAUTHORIZED => Err(JiraError::Unauthorized.into()),
            s => Err(JiraError::Status(s.as_u16()).into()),
        }
    }
}
