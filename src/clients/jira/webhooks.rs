//! Jira Data Center admin webhooks (PROTOCOLS.md §4.2) called with a Jira administrator's
//! personal access token (`Authorization: Bearer <PAT>`, §4.4): the version (`serverInfo`), and
//! list, create and update on the API that version has — `/rest/webhooks/1.0/webhook` on 8/9,
//! `/rest/jira-webhook/1.0/webhooks` on 10 and later.
//!
//! What the two APIs look like was read from second sources, not a live Jira [2nd]: both list
//! as a JSON array (jira.js `server/api/webhooks.ts` types the 10.x list `Webhook[]` and takes
//! `start`/`limit`, so it is read page by page; a `{"values": [...]}` envelope is accepted too);
//! the legacy API names a webhook by its `self` URL, the new one by a numeric `id`; the new one
//! takes the signing secret as `configuration.SECRET` (a top-level `secret` is reported to be
//! ignored, leaving deliveries unsigned). The token is never logged, nor are the URLs listed
//! (other webhooks' URLs may carry their own tokens).

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use super::{JiraRefusal, refusal};
use crate::clients::http::{OutboundError, OutboundHttp};

/// Page size asked of the 10.x list, and how many pages are read at most.
const PAGE: usize = 100;
const MAX_PAGES: usize = 50;

/// Which webhook REST resource a Jira version has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookApi {
    /// Jira 8 and 9: `/rest/webhooks/1.0/webhook`; cannot sign deliveries.
    Legacy,
    /// Jira 10 and later: `/rest/jira-webhook/1.0/webhooks`; signs with `configuration.SECRET`.
    Jira10,
}

impl WebhookApi {
    /// The API of Jira major version `major`.
    pub fn for_major(major: u64) -> WebhookApi {
        if major >= 10 {
            WebhookApi::Jira10
        } else {
            WebhookApi::Legacy
        }
    }

    /// The collection's path under the base URL.
    pub fn path(self) -> &'static str {
        match self {
            WebhookApi::Legacy => "/rest/webhooks/1.0/webhook",
            WebhookApi::Jira10 => "/rest/jira-webhook/1.0/webhooks",
        }
    }
}

/// What `serverInfo` says of the version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersion {
    /// `version`, e.g. `9.12.4`.
    pub version: String,
    /// `versionNumbers[0]`.
    pub major: u64,
}

/// A webhook as Jira lists it. Deliberately not `Debug`: its URL may carry a token.
#[derive(Clone)]
pub struct ListedWebhook {
    /// `id` (10.x) or the last segment of `self` (legacy).
    pub id: String,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    /// `excludeBody` (legacy) or `configuration.EXCLUDE_BODY` (10.x).
    pub exclude_body: bool,
    /// `active` (10.x) or `enabled` (legacy); true when not said.
    pub active: bool,
    /// `filters` as listed (the JQL an admin may have set), sent back unchanged on update.
    pub filters: Option<Value>,
    /// `configuration` as listed (10.x), kept on update.
    pub configuration: Map<String, Value>,
}

/// The webhook to create or update.
pub struct WebhookSpec {
    pub name: String,
    /// The appliance's webhook URL (with its URL token, if any).
    pub url: SecretString,
    pub events: Vec<String>,
    pub filters: Option<Value>,
    /// Signing secret (10.x only).
    pub secret: Option<SecretString>,
    /// Configuration of the webhook being updated, kept where ours does not replace it.
    pub configuration: Map<String, Value>,
}

impl WebhookSpec {
    fn body(&self, api: WebhookApi) -> Value {
        let mut body = json!({
            "name": self.name,
            "url": self.url.expose_secret(),
            "events": self.events,
            "excludeBody": false,
        });
        if let Some(f) = &self.filters {
            body["filters"] = f.clone();
        }
        if api == WebhookApi::Jira10 {
            let mut conf = self.configuration.clone();
            conf.insert("EXCLUDE_BODY".into(), Value::String("false".into()));
            if let Some(s) = &self.secret {
                conf.insert("SECRET".into(), Value::String(s.expose_secret().to_owned()));
            }
            body["configuration"] = Value::Object(conf);
            body["active"] = Value::Bool(true);
        }
        body
    }
}

/// Why a webhook call failed, in words fit for the admin.
#[derive(Debug, thiserror::Error)]
pub enum WebhookCallError {
    #[error("Jira refused the personal access token (HTTP 401): it is wrong, expired or revoked.")]
    BadToken,
    #[error("This token's user is not a Jira administrator (Jira answered HTTP 403){0}")]
    NotAdmin(String),
    #[error("Jira has nothing at {0} (HTTP 404).")]
    NotFound(&'static str),
    #[error("Jira refused the webhook (HTTP 400): {0}")]
    Refused(JiraRefusal),
    #[error("Jira answered HTTP {0}.")]
    Status(u16),
    #[error("Jira answered something that is not the expected JSON.")]
    Malformed,
    #[error("{0}.")]
    Outbound(#[from] OutboundError),
}

/// Jira's REST as a Jira administrator, for webhooks only.
#[derive(Clone)]
pub struct JiraAdminClient {
    http: OutboundHttp,
    base: String,
}

fn text_field(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn id_of(v: &Value) -> Option<String> {
    match v.get("id") {
        Some(Value::Number(n)) => return Some(n.to_string()),
        Some(Value::String(s)) if !s.is_empty() => return Some(s.clone()),
        _ => {}
    }
    let own = v.get("self").and_then(Value::as_str)?;
    own.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn listed(v: &Value) -> Option<ListedWebhook> {
    let configuration = v
        .get("configuration")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let exclude_body = v
        .get("excludeBody")
        .and_then(Value::as_bool)
        .or_else(|| {
            configuration
                .get("EXCLUDE_BODY")
                .map(|e| e.as_str() == Some("true") || e.as_bool() == Some(true))
        })
        .unwrap_or(false);
    Some(ListedWebhook {
        id: id_of(v)?,
        name: text_field(v, "name"),
        url: text_field(v, "url"),
        events: v
            .get("events")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        exclude_body,
        active: v
            .get("active")
            .or_else(|| v.get("enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(true),
        filters: v.get("filters").filter(|f| !f.is_null()).cloned(),
        configuration,
    })
}

fn failure(status: StatusCode, bytes: &[u8], path: &'static str) -> WebhookCallError {
    match status {
        StatusCode::UNAUTHORIZED => WebhookCallError::BadToken,
        StatusCode::FORBIDDEN => {
            let said = refusal(bytes, "").0;
            WebhookCallError::NotAdmin(if said.is_empty() {
                ".".to_owned()
            } else {
                format!(": {said}")
            })
        }
        StatusCode::NOT_FOUND => WebhookCallError::NotFound(path),
        StatusCode::BAD_REQUEST => {
            WebhookCallError::Refused(refusal(bytes, "Jira gave no reason."))
        }
        s => WebhookCallError::Status(s.as_u16()),
    }
}

impl JiraAdminClient {
    /// A client for the instance at `base`. Writes are not retried by the outbound stack (a
    /// retried create could register the webhook twice), so `http` is used without retries.
    pub fn new(http: &OutboundHttp, base: &str) -> JiraAdminClient {
        JiraAdminClient {
            http: http.without_retries(),
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    async fn call(
        &self,
        pat: &SecretString,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Vec<u8>), WebhookCallError> {
        let url = format!("{}{path_and_query}", self.base);
        let res = self
            .http
            .send("jira", |c| {
                let r = c
                    .request(method.clone(), &url)
                    .bearer_auth(pat.expose_secret())
                    .header(reqwest::header::ACCEPT, "application/json");
                match body {
                    Some(b) => r.json(b),
                    None => r,
                }
            })
            .await?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|_| WebhookCallError::Malformed)?;
        Ok((status, bytes.to_vec()))
    }

    /// `GET /rest/api/2/serverInfo` (anonymous in Jira; the token is sent anyway, so a wrong
    /// one is noticed before anything else).
    pub async fn server_version(
        &self,
        pat: &SecretString,
    ) -> Result<ServerVersion, WebhookCallError> {
        const PATH: &str = "/rest/api/2/serverInfo";
        let (status, bytes) = self.call(pat, reqwest::Method::GET, PATH, None).await?;
        if status != StatusCode::OK {
            return Err(failure(status, &bytes, PATH));
        }
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| WebhookCallError::Malformed)?;
        let major = v
            .get("versionNumbers")
            .and_then(|n| n.get(0))
            .and_then(Value::as_u64)
            .or_else(|| {
                v.get("version")
                    .and_then(Value::as_str)
                    .and_then(|s| s.split('.').next())
                    .and_then(|s| s.parse().ok())
            })
            .ok_or(WebhookCallError::Malformed)?;
        Ok(ServerVersion {
            version: text_field(&v, "version"),
            major,
        })
    }

    /// Every webhook registered in Jira.
    pub async fn list_webhooks(
        &self,
        pat: &SecretString,
        api: WebhookApi,
    ) -> Result<Vec<ListedWebhook>, WebhookCallError> {
        let mut all = Vec::new();
        for page in 0..MAX_PAGES {
            let path = match api {
                WebhookApi::Legacy => api.path().to_owned(),
                WebhookApi::Jira10 => format!("{}?start={}&limit={PAGE}", api.path(), page * PAGE),
            };
            let (status, bytes) = self.call(pat, reqwest::Method::GET, &path, None).await?;
            if status != StatusCode::OK {
                return Err(failure(status, &bytes, api.path()));
            }
            let v: Value =
                serde_json::from_slice(&bytes).map_err(|_| WebhookCallError::Malformed)?;
            let items = match &v {
                Value::Array(a) => a.clone(),
                Value::Object(o) => o
                    .get("values")
                    .and_then(Value::as_array)
                    .cloned()
                    .ok_or(WebhookCallError::Malformed)?,
                _ => return Err(WebhookCallError::Malformed),
            };
            let n = items.len();
            all.extend(items.iter().filter_map(listed));
            let last = v.get("isLastPage").and_then(Value::as_bool);
            if api == WebhookApi::Legacy || n < PAGE || last == Some(true) {
                break;
            }
        }
        Ok(all)
    }

    /// Registers a webhook; its id.
    pub async fn create_webhook(
        &self,
        pat: &SecretString,
        api: WebhookApi,
        spec: &WebhookSpec,
    ) -> Result<String, WebhookCallError> {
        let body = spec.body(api);
        let (status, bytes) = self
            .call(pat, reqwest::Method::POST, api.path(), Some(&body))
            .await?;
        if !matches!(status, StatusCode::CREATED | StatusCode::OK) {
            return Err(failure(status, &bytes, api.path()));
        }
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| WebhookCallError::Malformed)?;
        id_of(&v).ok_or(WebhookCallError::Malformed)
    }

    /// Replaces webhook `id` with `spec`.
    pub async fn update_webhook(
        &self,
        pat: &SecretString,
        api: WebhookApi,
        id: &str,
        spec: &WebhookSpec,
    ) -> Result<(), WebhookCallError> {
        let body = spec.body(api);
        let path = format!("{}/{}", api.path(), crate::domain::qsh::percent_encode(id));
        let (status, bytes) = self
            .call(pat, reqwest::Method::PUT, &path, Some(&body))
            .await?;
        if !matches!(status, StatusCode::OK | StatusCode::NO_CONTENT) {
            return Err(failure(status, &bytes, api.path()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_list_shapes_are_read() {
        let legacy = json!({"self": "https://j/rest/webhooks/1.0/webhook/7", "name": "a",
            "url": "https://x/h?token=t", "events": ["jira:issue_created"], "excludeBody": true,
            "enabled": false, "filters": {"issue-related-events-section": "project = A"}});
        let w = listed(&legacy).expect("listed");
        assert_eq!(
            (w.id.as_str(), w.exclude_body, w.active),
            ("7", true, false)
        );
        let ten = json!({"id": 12, "name": "b", "url": "https://x/h", "active": true,
            "configuration": {"EXCLUDE_BODY": "false"}});
        let w = listed(&ten).expect("listed");
        assert_eq!(
            (w.id.as_str(), w.exclude_body, w.events.len()),
            ("12", false, 0)
        );
        assert_eq!(WebhookApi::for_major(9), WebhookApi::Legacy);
        assert_eq!(WebhookApi::for_major(10), WebhookApi::Jira10);
    }

    #[test]
    fn the_secret_goes_into_the_configuration_on_jira_10_only() {
        let spec = WebhookSpec {
            name: "n".into(),
            url: SecretString::from("https://x/h".to_owned()),
            events: vec!["jira:issue_created".into()],
            filters: None,
            secret: Some(SecretString::from("s3cret".to_owned())),
            configuration: Map::new(),
        };
        let ten = spec.body(WebhookApi::Jira10);
        assert_eq!(ten["configuration"]["SECRET"], "s3cret");
        assert_eq!(ten["configuration"]["EXCLUDE_BODY"], "false");
        assert_eq!(ten["excludeBody"], false);
        let legacy = spec.body(WebhookApi::Legacy);
        assert!(legacy.get("configuration").is_none() && !legacy.to_string().contains("s3cret"));
    }
}
