//! Jira Data Center as the linked user (PROTOCOLS.md §4.3, §7): the OAuth 2.0 incoming-link
//! provider under `/rest/oauth2/latest` with PKCE, and REST calls with the user's bearer token.
//! URLs are built from the instance's base URL, context path included.

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::http::{OutboundError, OutboundHttp};

/// The Jira OAuth scope the appliance asks for (create issues, comment, read).
pub const JIRA_SCOPE: &str = "WRITE";

/// Why a Jira call failed.
#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    #[error("Jira refused the OAuth request: {error}")]
    OAuth { error: String },
    #[error("Jira refused the token (HTTP 401)")]
    Unauthorized,
    #[error("Jira answered HTTP {0}")]
    Status(u16),
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
            s => Err(JiraError::Status(s.as_u16())),
        }
    }
}

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

impl JiraClient {
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

/// Most items asked for per page of a servicedeskapi list (JSM DC's default is 50).
pub const JSM_PAGE_LIMIT: u32 = 50;
/// Most pages read of one list, so a misbehaving server cannot keep the loop going.
const JSM_MAX_PAGES: u32 = 40;

/// Why a servicedeskapi call failed (PROTOCOLS.md §4.6).
#[derive(Debug, thiserror::Error)]
pub enum JsmError {
    /// 400: JSM's own message(s), to show the user.
    #[error("Jira Service Management refused the request: {}", .0.join(" "))]
    Rejected(Vec<String>),
    /// 403: the user may not use this service desk or request type.
    #[error("Jira says you may not do this (HTTP 403)")]
    Forbidden,
    /// 404: no such service desk or request type, or not visible to the user.
    #[error("Jira does not know this service desk or request type (HTTP 404)")]
    NotFound,
    #[error(transparent)]
    Jira(#[from] JiraError),
}

impl JsmError {
    /// True when the user must authorise the appliance in Jira again.
    pub fn needs_sign_in(&self) -> bool {
        matches!(self, JsmError::Jira(e) if e.needs_sign_in())
    }
}

/// The servicedeskapi paging envelope.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsmPage<T> {
    #[serde(default)]
    size: u32,
    #[serde(default)]
    is_last_page: bool,
    values: Vec<T>,
}

/// A request type of a service desk.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestType {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// A customer request (the fields the portal shows).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRequest {
    pub issue_key: String,
    #[serde(default)]
    pub request_field_values: Vec<RequestFieldValue>,
    #[serde(default)]
    pub current_status: Option<RequestStatus>,
}

impl CustomerRequest {
    /// The summary among the field values.
    pub fn summary(&self) -> &str {
        self.request_field_values
            .iter()
            .find(|f| f.field_id == "summary")
            .and_then(|f| f.value.as_str())
            .unwrap_or_default()
    }

    /// The status name.
    pub fn status(&self) -> &str {
        self.current_status
            .as_ref()
            .map(|s| s.status.as_str())
            .unwrap_or_default()
    }
}

/// One field value of a request.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestFieldValue {
    pub field_id: String,
    #[serde(default)]
    pub value: serde_json::Value,
}

/// A request's current status.
#[derive(Debug, Clone, Deserialize)]
pub struct RequestStatus {
    #[serde(default)]
    pub status: String,
}

/// JSM DC error bodies: `{"errorMessage": "..", "i18nErrorMessage": {..}}` from servicedeskapi
/// [mem], or Jira's `{"errorMessages": [..], "errors": {field: ..}}`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsmErrorBody {
    #[serde(default)]
    error_message: Option<String>,
    #[serde(default)]
    error_messages: Vec<String>,
    #[serde(default)]
    errors: std::collections::BTreeMap<String, serde_json::Value>,
}

impl JsmErrorBody {
    fn messages(self) -> Vec<String> {
        let mut out: Vec<String> = self.error_message.into_iter().collect();
        out.extend(self.error_messages);
        out.extend(self.errors.into_iter().map(|(field, v)| match v {
            serde_json::Value::String(s) => format!("{field}: {s}"),
            other => format!("{field}: {other}"),
        }));
        out.retain(|m| !m.trim().is_empty());
        out.iter_mut().for_each(|m| {
            if m.chars().count() > 500 {
                *m = m.chars().take(500).collect();
            }
        });
        out
    }
}

impl JiraClient {
    async fn jsm_answer(res: reqwest::Response) -> Result<Vec<u8>, JsmError> {
        let status = res.status();
        let bytes = res
            .bytes()
            .await
            .map_err(|_| JsmError::Jira(JiraError::Malformed))?;
        match status {
            s if s.is_success() => Ok(bytes.to_vec()),
            StatusCode::BAD_REQUEST => {
                let body: JsmErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
                let mut m = body.messages();
                if m.is_empty() {
                    m.push("the request was not accepted (HTTP 400)".into());
                }
                Err(JsmError::Rejected(m))
            }
            StatusCode::UNAUTHORIZED => Err(JsmError::Jira(JiraError::Unauthorized)),
            StatusCode::FORBIDDEN => Err(JsmError::Forbidden),
            StatusCode::NOT_FOUND => Err(JsmError::NotFound),
            s => Err(JsmError::Jira(JiraError::Status(s.as_u16()))),
        }
    }

    /// Reads every page of a servicedeskapi list at `path` (which has no query yet besides
    /// `fixed`), looping until `isLastPage`.
    async fn jsm_list<T: serde::de::DeserializeOwned>(
        &self,
        token: &SecretString,
        path: &str,
        fixed: &[(&str, &str)],
    ) -> Result<Vec<T>, JsmError> {
        let mut out = Vec::new();
        let mut start: u32 = 0;
        for _ in 0..JSM_MAX_PAGES {
            let (s, l) = (start.to_string(), JSM_PAGE_LIMIT.to_string());
            let mut q: Vec<(&str, &str)> = fixed.to_vec();
            q.push(("start", &s));
            q.push(("limit", &l));
            let url = format!(
                "{}{path}?{}",
                self.base,
                serde_urlencoded::to_string(&q).unwrap_or_default()
            );
            let res = self
                .http
                .send("jira", |c| {
                    c.get(&url)
                        .bearer_auth(token.expose_secret())
                        .header("Accept", "application/json")
                })
                .await
                .map_err(JiraError::from)?;
            let body = Self::jsm_answer(res).await?;
            let page: JsmPage<T> =
                serde_json::from_slice(&body).map_err(|_| JiraError::Malformed)?;
            let got = page.values.len() as u32;
            out.extend(page.values);
            // an empty page that claims more would loop for ever: stop there too
            if page.is_last_page || got == 0 {
                return Ok(out);
            }
            start += page.size.max(got);
        }
        Ok(out)
    }

    /// Every request type of a service desk the user may see.
    pub async fn request_types(
        &self,
        token: &SecretString,
        desk_id: &str,
    ) -> Result<Vec<RequestType>, JsmError> {
        let path = format!(
            "/rest/servicedeskapi/servicedesk/{}/requesttype",
            crate::domain::qsh::percent_encode(desk_id)
        );
        self.jsm_list(token, &path, &[]).await
    }

    /// The user's own open requests.
    pub async fn my_open_requests(
        &self,
        token: &SecretString,
    ) -> Result<Vec<CustomerRequest>, JsmError> {
        self.jsm_list(
            token,
            "/rest/servicedeskapi/request",
            &[
                ("requestOwnership", "OWNED_REQUESTS"),
                ("requestStatus", "OPEN_REQUESTS"),
            ],
        )
        .await
    }

    /// Raises a request as the token's user; answers the new issue key.
    pub async fn create_request(
        &self,
        token: &SecretString,
        desk_id: &str,
        request_type_id: &str,
        summary: &str,
        description: &str,
    ) -> Result<String, JsmError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Created {
            issue_key: String,
        }
        let url = format!("{}/rest/servicedeskapi/request", self.base);
        let body = serde_json::json!({
            "serviceDeskId": desk_id,
            "requestTypeId": request_type_id,
            "requestFieldValues": {"summary": summary, "description": description},
        });
        let res = self
            .http
            .send("jira", |c| {
                c.post(&url)
                    .bearer_auth(token.expose_secret())
                    .header("Accept", "application/json")
                    .json(&body)
            })
            .await
            .map_err(JiraError::from)?;
        let body = Self::jsm_answer(res).await?;
        let created: Created = serde_json::from_slice(&body).map_err(|_| JiraError::Malformed)?;
        Ok(created.issue_key)
    }
}

#[cfg(test)]
mod jsm_tests {
    use super::*;

    #[test]
    fn jsm_and_jira_error_bodies_both_become_messages() {
        let jsm: JsmErrorBody = serde_json::from_str(
            r#"{"errorMessage":"Summary: required","i18nErrorMessage":{"i18nKey":"k","parameters":[]}}"#,
        )
        .unwrap();
        assert_eq!(jsm.messages(), vec!["Summary: required"]);
        let jira: JsmErrorBody =
            serde_json::from_str(r#"{"errorMessages":["No."],"errors":{"summary":"Too long"}}"#)
                .unwrap();
        assert_eq!(jira.messages(), vec!["No.", "summary: Too long"]);
    }
}

// ---------------------------------------------------------------------------------------------
// Search and create as the user (PROTOCOLS.md §4.5, §7.3, §7.4).

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

/// A project the user can see (`GET /rest/api/2/project`).
#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub name: String,
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

/// Most createmeta pages read for one project (50 types each).
const MAX_TYPE_PAGES: u32 = 10;

impl JiraClient {
    /// The instance's base URL (context path included, no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn read(res: reqwest::Response) -> Result<(StatusCode, Vec<u8>), JiraCallError> {
        let status = res.status();
        let bytes = res.bytes().await.map_err(|_| JiraError::Malformed)?;
        Ok((status, bytes.to_vec()))
    }

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

#[cfg(test)]
mod refusal_tests {
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
