//! Comments the appliance writes into an issue as a user: the optional "Teams chat started"
//! comment of a newly linked chat (`POST /rest/api/2/issue/{id}/comment`, wiki markup), marked
//! internal in Jira Service Management projects (the `sd.public.comment` property), and a look at
//! the newest comments so that a retried post does not write the comment twice; and the issue a
//! user comments on from Teams, read as them (id, key, summary, project type).

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::issues::LinkedIssueFields;
use super::{JiraCallError, JiraClient, JiraError, refusal};

/// How many of the newest comments are searched for one the appliance wrote already.
pub const RECENT_COMMENTS: u32 = 100;

#[derive(Deserialize)]
struct CommentPage {
    #[serde(default)]
    comments: Vec<CommentBody>,
}

#[derive(Deserialize)]
struct CommentBody {
    #[serde(default)]
    body: String,
}

/// An issue a user is about to comment on, as they see it.
#[derive(Debug, Clone, Deserialize)]
pub struct CommentTarget {
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub fields: LinkedIssueFields,
}

impl CommentTarget {
    /// The issue's id as a number (Jira's ids are), `None` for anything else.
    pub fn numeric_id(&self) -> Option<i64> {
        self.id.parse().ok()
    }

    /// True in a Jira Service Management project (`projectTypeKey` `service_desk`), where a
    /// comment is shown to the customer unless it is marked internal.
    pub fn in_service_desk(&self) -> bool {
        self.fields
            .project
            .as_ref()
            .and_then(|p| p.project_type_key.as_deref())
            == Some("service_desk")
    }
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

impl JiraClient {
    /// Adds a comment (wiki markup) as the token's user; `internal` marks it internal to the
    /// service desk's agents (JSM projects; elsewhere the property means nothing). Returns the
    /// comment's id.
    pub async fn add_comment(
        &self,
        token: &SecretString,
        issue_id: i64,
        body: &str,
        internal: bool,
    ) -> Result<String, JiraCallError> {
        let url = format!("{}/rest/api/2/issue/{issue_id}/comment", self.base);
        let mut payload = json!({ "body": body });
        if internal {
            payload["properties"] =
                json!([{"key": "sd.public.comment", "value": {"internal": true}}]);
        }
        // one POST per call: a comment re-sent after a lost answer would be a second comment
        // (the outbox's next attempt first looks for it)
        let res = self
            .http
            .without_retries()
            .send("jira", |c| {
                c.post(&url)
                    .bearer_auth(token.expose_secret())
                    .json(&payload)
            })
            .await
            .map_err(JiraError::from)?;
        let (status, bytes) = Self::read_throttled(res).await?;
        match status {
            StatusCode::CREATED | StatusCode::OK => Ok(serde_json::from_slice::<Created>(&bytes)
                .map_err(|_| JiraError::Malformed)?
                .id),
            StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
                Err(JiraCallError::Refused(refusal(
                    &bytes,
                    "Jira does not let you comment on this issue.",
                )))
            }
            StatusCode::UNAUTHORIZED => Err(JiraError::Unauthorized.into()),
            s => Err(JiraError::Status(s.as_u16()).into()),
        }
    }

    /// The issue (by id or key) a user comments on, as the token's user sees it; `None` when it
    /// is missing or not visible to them (DC's 404 and 403 alike, PROTOCOLS.md §7.2).
    pub async fn comment_target(
        &self,
        token: &SecretString,
        id_or_key: &str,
    ) -> Result<Option<CommentTarget>, JiraError> {
        let path = format!(
            "/rest/api/2/issue/{}?fields=summary,project",
            crate::domain::qsh::percent_encode(id_or_key)
        );
        self.get_visible(token, &path).await
    }

    /// Whether one of the issue's newest comments (up to `RECENT_COMMENTS`), as the token's user may
    /// read them, contains `needle` (false when the issue is not visible to them).
    pub async fn recent_comment_contains(
        &self,
        token: &SecretString,
        issue_id: i64,
        needle: &str,
    ) -> Result<bool, JiraCallError> {
        let path = format!(
            "/rest/api/2/issue/{issue_id}/comment?orderBy=-created&maxResults={RECENT_COMMENTS}"
        );
        let page: Option<CommentPage> = self.get_visible(token, &path).await?;
        Ok(page.is_some_and(|p| p.comments.iter().any(|c| c.body.contains(needle))))
    }
}
