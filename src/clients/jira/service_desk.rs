//! Jira Service Management as the user (`/rest/servicedeskapi`, PROTOCOLS.md §4.6): request
//! types, the service desks, the user's open requests and raising a request, with JSM's paging
//! and error bodies.

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{JiraClient, JiraError};

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

/// A service desk the user may see.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDesk {
    pub id: String,
    #[serde(default)]
    pub project_key: String,
    #[serde(default)]
    pub project_name: String,
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

    /// Every service desk the user may see (`GET /rest/servicedeskapi/servicedesk`, paged until
    /// `isLastPage`).
    pub async fn service_desks(&self, token: &SecretString) -> Result<Vec<ServiceDesk>, JsmError> {
        self.jsm_list(token, "/rest/servicedeskapi/servicedesk", &[])
            .await
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
mod tests {
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
