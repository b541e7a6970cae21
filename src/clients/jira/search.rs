//! JQL search as the user (`POST /rest/api/2/search`, PROTOCOLS.md §4.5, §7.3): the query, the
//! page of found issues, and the checks subscriptions make with it.

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{JiraCallError, JiraClient, JiraError, refusal};

/// A JQL search (`POST /rest/api/2/search`).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchQuery {
    pub jql: String,
    pub start_at: u32,
    pub max_results: u32,
    pub fields: Vec<String>,
    /// DC takes a boolean (Cloud: `strict|warn|none`); off, unknown keys give no hits instead of
    /// a 400.
    pub validate_query: bool,
}

impl SearchQuery {
    /// `jql`, first page of `max_results`, with the fields cards show, validation on.
    pub fn new(jql: impl Into<String>, max_results: u32) -> SearchQuery {
        SearchQuery {
            jql: jql.into(),
            start_at: 0,
            max_results,
            fields: ["summary", "status", "issuetype", "assignee"]
                .map(String::from)
                .to_vec(),
            validate_query: true,
        }
    }
}

/// A named thing in an issue's fields (status, issue type).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Named {
    #[serde(default)]
    pub name: String,
}

/// A user in an issue's fields.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct FieldUser {
    #[serde(default)]
    pub display_name: String,
}

/// The fields a found issue's card shows.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct FoundFields {
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub status: Option<Named>,
    #[serde(default)]
    pub issuetype: Option<Named>,
    #[serde(default)]
    pub assignee: Option<FieldUser>,
}

/// An issue found by a search or fetched by key.
#[derive(Debug, Clone, Deserialize)]
pub struct FoundIssue {
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub fields: FoundFields,
}

/// One page of search results.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    #[serde(default)]
    pub start_at: u32,
    #[serde(default)]
    pub max_results: u32,
    #[serde(default)]
    pub total: u32,
    #[serde(default)]
    pub issues: Vec<FoundIssue>,
}

impl JiraClient {
    /// Runs a JQL search as the token's user; a bad query is Jira's refusal (400).
    pub async fn search(
        &self,
        token: &SecretString,
        query: &SearchQuery,
    ) -> Result<SearchPage, JiraCallError> {
        let url = format!("{}/rest/api/2/search", self.base);
        let res = self
            .http
            .send("jira", |c| {
                c.post(&url).bearer_auth(token.expose_secret()).json(query)
            })
            .await
            .map_err(JiraError::from)?;
        let (status, bytes) = Self::read(res).await?;
        match status {
            StatusCode::OK => Ok(serde_json::from_slice(&bytes).map_err(|_| JiraError::Malformed)?),
            StatusCode::BAD_REQUEST => Err(JiraCallError::Refused(refusal(
                &bytes,
                "Jira refused the search.",
            ))),
            StatusCode::UNAUTHORIZED => Err(JiraError::Unauthorized.into()),
            s => Err(JiraError::Status(s.as_u16()).into()),
        }
    }

    /// Checks a subscription's JQL once, when it is saved (validation on, PROTOCOLS.md §7.3).
    pub async fn validate_jql(&self, token: &SecretString, jql: &str) -> Result<(), JiraCallError> {
        let mut query = SearchQuery::new(jql, 0);
        query.fields = vec!["id".into()];
        self.search(token, &query).await.map(|_| ())
    }

    /// Whether an issue matches a JQL query for the token's user: `(<jql>) AND issue = <id>`
    /// with validation off, one hit = match.
    pub async fn jql_matches(
        &self,
        token: &SecretString,
        jql: &str,
        issue_id: i64,
    ) -> Result<bool, JiraCallError> {
        let mut query = SearchQuery::new(format!("({jql}) AND issue = {issue_id}"), 1);
        query.fields = vec!["id".into()];
        query.validate_query = false;
        Ok(self.search(token, &query).await?.total == 1)
    }
}
