//! Microsoft Graph for Teams chats (PROTOCOLS.md §2): create a group chat, read one (topic and
//! `webUrl`) and its members, install the bot app in it, list messages (newest first, `@odata.nextLink` followed verbatim but only on this Graph
//! host and chat), post a message. Always with the user's delegated token, and with
//! `Prefer: include-unknown-enum-members`, so system events come back as `systemEventMessage`.

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{OutboundError, OutboundHttp};

/// Largest page Graph serves for chat messages.
pub const MAX_TOP: u32 = 50;

/// Sent with every call: without it Graph hides enum members added after `unknownFutureValue`
/// behind that name, and a chat message's `messageType` `systemEventMessage` is one of them
/// (PROTOCOLS.md §2.4).
pub const PREFER_ENUMS: (&str, &str) = ("Prefer", "include-unknown-enum-members");

/// Why a Graph call failed.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("Graph refused the token (HTTP 401 {code})")]
    Unauthorized { code: String },
    #[error("Graph answered HTTP {status} {code}: {message}")]
    Status {
        status: u16,
        code: String,
        message: String,
    },
    #[error("Graph is throttling; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("the paging link does not belong to this chat")]
    ForeignLink,
    #[error("Graph answered something that is not the expected JSON")]
    Malformed,
    #[error(transparent)]
    Outbound(#[from] OutboundError),
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorInner,
}

#[derive(Deserialize)]
struct ErrorInner {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// A chat as Graph describes it (created or read).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chat {
    pub id: String,
    #[serde(default)]
    pub web_url: Option<String>,
    #[serde(default)]
    pub topic: Option<String>,
}

/// One page of chat messages.
#[derive(Debug, Clone)]
pub struct MessagePage {
    pub messages: Vec<Value>,
    pub next_link: Option<String>,
}

/// A chat member to add: an Entra object id or a UPN.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: String,
    pub guest: bool,
}

/// A chat id as a path segment: Graph shows ids raw (`19:…@thread.v2`), so `:` and `@` stay;
/// anything outside RFC 3986 `pchar` is percent-encoded once.
fn seg(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Graph at one cloud's root (`https://graph.microsoft.com` or an override), for one tenant.
#[derive(Clone)]
pub struct GraphClient {
    http: OutboundHttp,
    root: String,
    /// Calls in flight for this tenant; more wait for a permit (retries included).
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

impl GraphClient {
    /// A client for the Graph root `root` that runs at most `max_concurrent` calls at once.
    pub fn new(http: OutboundHttp, root: &str, max_concurrent: usize) -> GraphClient {
        GraphClient {
            http,
            root: root.trim_end_matches('/').to_owned(),
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(max_concurrent.max(1))),
        }
    }

    /// Calls that may start now without waiting.
    pub fn available_permits(&self) -> usize {
        self.permits.available_permits()
    }

    fn v1(&self, path: &str) -> String {
        format!("{}/v1.0{path}", self.root)
    }

    async fn call(
        &self,
        token: &SecretString,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, actix_web::web::Bytes), GraphError> {
        // a closed semaphore cannot happen (it is never closed); treat it as unlimited
        let _permit = self.permits.acquire().await.ok();
        let res = self
            .http
            .send("graph", |c| {
                let b = c
                    .request(method.clone(), url)
                    .bearer_auth(token.expose_secret())
                    .header(PREFER_ENUMS.0, PREFER_ENUMS.1);
                match body {
                    Some(v) => b.json(v),
                    None => b,
                }
            })
            .await?;
        let status = res.status();
        let retry = super::http::retry_after(&res);
        let bytes = res.bytes().await.map_err(|_| GraphError::Malformed)?;
        if status.is_success() {
            return Ok((status, bytes));
        }
        let (code, message) = serde_json::from_slice::<ErrorEnvelope>(&bytes)
            .map(|e| (e.error.code, e.error.message))
            .unwrap_or_default();
        Err(match status {
            StatusCode::UNAUTHORIZED => GraphError::Unauthorized { code },
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                GraphError::Throttled {
                    retry_after_secs: retry.map(|d| d.as_secs().max(1)).unwrap_or(5),
                }
            }
            s => GraphError::Status {
                status: s.as_u16(),
                code,
                message: message.chars().take(300).collect(),
            },
        })
    }

    /// The `user@odata.bind` of a user on this cloud's Graph.
    fn bind(&self, user: &str) -> String {
        format!("{}/users('{}')", self.v1(""), user.replace('\'', "''"))
    }

    /// Creates a group chat; `me` (the caller's object id) is added as owner.
    pub async fn create_group_chat(
        &self,
        token: &SecretString,
        me: &str,
        topic: &str,
        members: &[Member],
    ) -> Result<Chat, GraphError> {
        let mut list = vec![json!({
            "@odata.type": "#microsoft.graph.aadUserConversationMember",
            "roles": ["owner"],
            "user@odata.bind": self.bind(me),
        })];
        for m in members {
            list.push(json!({
                "@odata.type": "#microsoft.graph.aadUserConversationMember",
                "roles": [if m.guest { "guest" } else { "owner" }],
                "user@odata.bind": self.bind(&m.user),
            }));
        }
        let body = json!({"chatType": "group", "topic": topic, "members": list});
        let (_, bytes) = self
            .call(
                token,
                reqwest::Method::POST,
                &self.v1("/chats"),
                Some(&body),
            )
            .await?;
        serde_json::from_slice(&bytes).map_err(|_| GraphError::Malformed)
    }

    /// A chat's topic and `webUrl` (the Teams deep link for this cloud); `None` when Graph answers
    /// 404 (the chat was deleted in Teams, or never existed).
    pub async fn chat(
        &self,
        token: &SecretString,
        chat_id: &str,
    ) -> Result<Option<Chat>, GraphError> {
        let url = self.v1(&format!("/chats/{}", seg(chat_id)));
        match self.call(token, reqwest::Method::GET, &url, None).await {
            Ok((_, bytes)) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| GraphError::Malformed),
            Err(GraphError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Object ids of a chat's members.
    pub async fn chat_member_ids(
        &self,
        token: &SecretString,
        chat_id: &str,
    ) -> Result<Vec<String>, GraphError> {
        let url = self.v1(&format!("/chats/{}?$expand=members", seg(chat_id)));
        let (_, bytes) = self.call(token, reqwest::Method::GET, &url, None).await?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| GraphError::Malformed)?;
        Ok(v["members"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["userId"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Object ids of a chat's members (`GET /chats/{id}/members`; guests and federated users
    /// included, each an `aadUserConversationMember` with `userId`). A `@odata.nextLink` is
    /// followed verbatim while it stays on this chat's members, at most ten pages.
    pub async fn chat_members(
        &self,
        token: &SecretString,
        chat_id: &str,
    ) -> Result<Vec<String>, GraphError> {
        let first = self.v1(&format!("/chats/{}/members", seg(chat_id)));
        let mut url = first.clone();
        let mut out = Vec::new();
        for _ in 0..10 {
            let (_, bytes) = self.call(token, reqwest::Method::GET, &url, None).await?;
            let v: Value = serde_json::from_slice(&bytes).map_err(|_| GraphError::Malformed)?;
            out.extend(
                v["value"]
                    .as_array()
                    .ok_or(GraphError::Malformed)?
                    .iter()
                    .filter_map(|m| m["userId"].as_str().map(str::to_owned)),
            );
            match v["@odata.nextLink"].as_str() {
                // a link elsewhere would carry the user's token off this chat
                Some(next) if next.starts_with(&first) && !next.contains('#') => {
                    url = next.to_owned();
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// Installs the organisation's Teams app (catalog id) in a chat, so the bot can post there.
    /// Already installed counts as done.
    pub async fn install_app(
        &self,
        token: &SecretString,
        chat_id: &str,
        catalog_id: &str,
    ) -> Result<(), GraphError> {
        let body = json!({
            "teamsApp@odata.bind": self.v1(&format!("/appCatalogs/teamsApps/{catalog_id}")),
        });
        let url = self.v1(&format!("/chats/{}/installedApps", seg(chat_id)));
        match self
            .call(token, reqwest::Method::POST, &url, Some(&body))
            .await
        {
            Ok(_) => Ok(()),
            Err(GraphError::Status { status: 409, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One page of a chat's messages, newest first: the first page (`link: None`) or the page a
    /// previous `next_link` names. A link is followed only when it points at this Graph host and
    /// this chat's messages, so a forged cursor cannot send the token elsewhere.
    pub async fn list_messages(
        &self,
        token: &SecretString,
        chat_id: &str,
        top: u32,
        link: Option<&str>,
    ) -> Result<MessagePage, GraphError> {
        let url = match link {
            Some(l) => {
                let prefix = self.v1(&format!("/chats/{}/messages?", seg(chat_id)));
                let encoded = self.v1(&format!(
                    "/chats/{}/messages?",
                    seg(chat_id).replace(':', "%3A").replace('@', "%40")
                ));
                if !(l.starts_with(&prefix) || l.starts_with(&encoded)) || l.contains('#') {
                    return Err(GraphError::ForeignLink);
                }
                l.to_owned()
            }
            None => self.v1(&format!(
                "/chats/{}/messages?$top={}",
                seg(chat_id),
                top.clamp(1, MAX_TOP)
            )),
        };
        let (_, bytes) = self.call(token, reqwest::Method::GET, &url, None).await?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| GraphError::Malformed)?;
        Ok(MessagePage {
            messages: v["value"].as_array().cloned().unwrap_or_default(),
            next_link: v["@odata.nextLink"].as_str().map(str::to_owned),
        })
    }

    /// Posts a message as the token's user; `html` is the body (already escaped by the caller).
    pub async fn post_message(
        &self,
        token: &SecretString,
        chat_id: &str,
        html: &str,
    ) -> Result<Value, GraphError> {
        let body = json!({"body": {"contentType": "html", "content": html}});
        let url = self.v1(&format!("/chats/{}/messages", seg(chat_id)));
        let (_, bytes) = self
            .call(token, reqwest::Method::POST, &url, Some(&body))
            .await?;
        serde_json::from_slice(&bytes).map_err(|_| GraphError::Malformed)
    }
}
