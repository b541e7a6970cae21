//! One issue as the user sees it (`/rest/api/2/issue`): reading it (also with its project's type,
//! for a chat's remote link and comment), its watchers and comments, and creating issues (with
//! the createmeta issue types; PROTOCOLS.md §7.4).

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::search::FoundIssue;
use super::{JiraCallError, JiraClient, JiraError, refusal};

/// An issue's id, key and summary.
#[derive(Debug, Clone, Deserialize)]
pub struct JiraIssue {
    pub id: String,
    pub key: String,
    pub fields: IssueFields,
}

/// The fields the appliance asks for.
#[derive(Debug, Clone, Deserialize)]
pub struct IssueFields {
    #[serde(default)]
    pub summary: String,
}

/// What an event's card and recipients need of an issue the webhook named only by its id.
#[derive(Debug, Clone, Deserialize)]
pub struct EventIssue {
    pub key: String,
    #[serde(default)]
    pub fields: EventIssueFields,
}

/// The fields of an [`EventIssue`]; any of them may be absent (hidden or unset).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventIssueFields {
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub project: Option<KeyOf>,
    #[serde(default)]
    pub assignee: Option<KeyOf>,
    #[serde(default)]
    pub reporter: Option<KeyOf>,
}

/// An object Jira names by its `key` (a project, or a DC user).
#[derive(Debug, Clone, Deserialize)]
pub struct KeyOf {
    pub key: String,
}

/// What a chat's remote link and comment need of its issue: key, summary and whether its project
/// is a Jira Service Management one (`projectTypeKey` `service_desk`).
#[derive(Debug, Clone, Deserialize)]
pub struct LinkedIssue {
    pub key: String,
    #[serde(default)]
    pub fields: LinkedIssueFields,
}

/// The fields of a [`LinkedIssue`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LinkedIssueFields {
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub project: Option<ProjectType>,
}

/// An issue's project as the issue names it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectType {
    pub key: String,
    /// `software`, `business` or `service_desk` (Jira 7+; absent on older versions).
    #[serde(default)]
    pub project_type_key: Option<String>,
}

impl LinkedIssue {
    /// True in a Jira Service Management project, where a comment is shown to the customer
    /// unless it is marked internal.
    pub fn in_service_desk(&self) -> bool {
        self.fields
            .project
            .as_ref()
            .and_then(|p| p.project_type_key.as_deref())
            == Some("service_desk")
    }
}

/// An issue type the user may create in a project.
#[derive(Debug, Clone, Deserialize)]
pub struct IssueType {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub subtask: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IssueTypePage {
    #[serde(default)]
    values: Vec<IssueType>,
    #[serde(default)]
    is_last: Option<bool>,
    #[serde(default)]
    total: Option<u32>,
}

/// The issue to create; `description` is wiki markup (API v2).
#[derive(Debug, Clone)]
pub struct NewIssue {
    pub project_key: String,
    pub issue_type_id: String,
    pub summary: String,
    pub description: String,
}

/// A created issue (`201 {id,key,self}`).
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedIssue {
    pub id: String,
    pub key: String,
}

/// What Jira said of an issue a user asked for by id or key (PROTOCOLS.md §7.2).
#[derive(Debug, Clone)]
pub enum IssueLookup {
    /// They may see it: its id, current key (a moved issue's new one), summary and status.
    Visible(FoundIssue),
    /// 403: it exists but they may not browse it.
    Hidden,
    /// 404: no such issue (deleted, or a key that never existed).
    Missing,
}

/// Most createmeta pages read for one project (50 types each).
const MAX_TYPE_PAGES: u32 = 10;

impl JiraClient {
    /// An issue as the token's user sees it; `None` when it does not exist or the user may not
    /// see it (Jira DC answers 404 or 403; both mean "not available").
    pub async fn issue(
        &self,
        token: &SecretString,
        id_or_key: &str,
    ) -> Result<Option<JiraIssue>, JiraError> {
        let path = format!(
            "/rest/api/2/issue/{}?fields=summary",
            crate::domain::qsh::percent_encode(id_or_key)
        );
        self.get_visible(token, &path).await
    }

    /// An issue as the appliance's issue page shows it (`fields=summary,status`), telling a
    /// hidden issue from a missing one, since a deleted issue's page answers differently.
    pub async fn issue_lookup(
        &self,
        token: &SecretString,
        id_or_key: &str,
    ) -> Result<IssueLookup, JiraError> {
        let url = format!(
            "{}/rest/api/2/issue/{}?fields=summary,status",
            self.base,
            crate::domain::qsh::percent_encode(id_or_key)
        );
        let res = self
            .http
            .send("jira", |c| c.get(&url).bearer_auth(token.expose_secret()))
            .await?;
        match res.status() {
            StatusCode::OK => res
                .json()
                .await
                .map(IssueLookup::Visible)
                .map_err(|_| JiraError::Malformed),
            StatusCode::FORBIDDEN => Ok(IssueLookup::Hidden),
            StatusCode::NOT_FOUND => Ok(IssueLookup::Missing),
            StatusCode::UNAUTHORIZED => Err(JiraError::Unauthorized),
            s => Err(JiraError::Status(s.as_u16())),
        }
    }

    /// Key, summary and project type of an issue as the token's user sees it (one call serves a
    /// remote link's title and the choice of an internal comment); `None` when it is missing or
    /// not visible to them.
    pub async fn issue_for_link(
        &self,
        token: &SecretString,
        issue_id: i64,
    ) -> Result<Option<LinkedIssue>, JiraError> {
        let path = format!("/rest/api/2/issue/{issue_id}?fields=summary,project");
        self.get_visible(token, &path).await
    }

    /// What an event needs of an issue (key, summary, project, assignee, reporter), as the
    /// token's user sees it; `None` when it is missing or not visible to them.
    pub async fn issue_for_event(
        &self,
        token: &SecretString,
        issue_id: i64,
    ) -> Result<Option<EventIssue>, JiraError> {
        let path = format!("/rest/api/2/issue/{issue_id}?fields=summary,project,assignee,reporter");
        self.get_visible(token, &path).await
    }

    /// One issue with the fields cards show; `None` when missing or not visible to the user.
    pub async fn issue_card(
        &self,
        token: &SecretString,
        id_or_key: &str,
    ) -> Result<Option<FoundIssue>, JiraError> {
        let path = format!(
            "/rest/api/2/issue/{}?fields=summary,status,issuetype,assignee",
            crate::domain::qsh::percent_encode(id_or_key)
        );
        self.get_visible(token, &path).await
    }

    /// Keys of the users watching an issue, as the token's user may see them (empty when the
    /// issue is not visible to them or they may not see watchers).
    pub async fn watcher_keys(
        &self,
        token: &SecretString,
        issue_id: i64,
    ) -> Result<Vec<String>, JiraError> {
        let v = self
            .get_visible::<serde_json::Value>(
                token,
                &format!("/rest/api/2/issue/{issue_id}/watchers"),
            )
            .await?;
        Ok(v.and_then(|v| v["watchers"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|w| w["key"].as_str().map(str::to_owned))
            .take(500)
            .collect())
    }

    /// Whether the token's user may read a comment (restricted comments are hidden from others:
    /// 404), PROTOCOLS.md §7.2.
    pub async fn comment_visible(
        &self,
        token: &SecretString,
        issue_id: i64,
        comment_id: &str,
    ) -> Result<bool, JiraError> {
        let path = format!(
            "/rest/api/2/issue/{issue_id}/comment/{}",
            crate::domain::qsh::percent_encode(comment_id)
        );
        Ok(self
            .get_visible::<serde_json::Value>(token, &path)
            .await?
            .is_some())
    }

    /// The issue types the user may create in `project` (every createmeta page; empty without
    /// Create permission or for an unknown project).
    pub async fn creatable_issue_types(
        &self,
        token: &SecretString,
        project: &str,
    ) -> Result<Vec<IssueType>, JiraError> {
        let mut all = Vec::new();
        for _ in 0..MAX_TYPE_PAGES {
            let url = format!(
                "{}/rest/api/2/issue/createmeta/{}/issuetypes?startAt={}&maxResults=50",
                self.base,
                crate::domain::qsh::percent_encode(project),
                all.len()
            );
            let res = self
                .http
                .send("jira", |c| c.get(&url).bearer_auth(token.expose_secret()))
                .await?;
            let page: IssueTypePage = match res.status() {
                StatusCode::OK => res.json().await.map_err(|_| JiraError::Malformed)?,
                StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => return Ok(all),
                StatusCode::UNAUTHORIZED => return Err(JiraError::Unauthorized),
                s => return Err(JiraError::Status(s.as_u16())),
            };
            let got = page.values.len();
            all.extend(page.values);
            let last = page
                .is_last
                .unwrap_or_else(|| page.total.is_none_or(|t| all.len() as u32 >= t));
            if last || got == 0 {
                break;
            }
        }
        Ok(all)
    }

    /// Creates an issue as the token's user; validation errors are Jira's refusal.
    pub async fn create_issue(
        &self,
        token: &SecretString,
        issue: &NewIssue,
    ) -> Result<CreatedIssue, JiraCallError> {
        let url = format!("{}/rest/api/2/issue", self.base);
        let body = serde_json::json!({"fields": {
            "project": {"key": issue.project_key},
            "issuetype": {"id": issue.issue_type_id},
            "summary": issue.summary,
            "description": issue.description,
        }});
        let res = self
            .http
            .send("jira", |c| {
                c.post(&url).bearer_auth(token.expose_secret()).json(&body)
            })
            .await
            .map_err(JiraError::from)?;
        let (status, bytes) = Self::read(res).await?;
        match status {
            StatusCode::CREATED | StatusCode::OK => {
                Ok(serde_json::from_slice(&bytes).map_err(|_| JiraError::Malformed)?)
            }
            StatusCode::BAD_REQUEST => Err(JiraCallError::Refused(refusal(
                &bytes,
                "Jira refused the issue.",
            ))),
            StatusCode::FORBIDDEN => Err(JiraCallError::Refused(refusal(
                &bytes,
                "You may not create issues in this project.",
            ))),
            StatusCode::UNAUTHORIZED => Err(JiraError::Unauthorized.into()),
            s => Err(JiraError::Status(s.as_u16()).into()),
        }
    }
}
