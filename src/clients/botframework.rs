//! The Bot Connector (PROTOCOLS.md §3.3): sending activities to a conversation (and replacing
//! ones sent before) at a trusted service URL with the bot's app-only token. Answers are classified so the outbox knows what to
//! do: blocked by the user or not installed (stop), too big (shorten), throttled or transient
//! (retry after `Retry-After`).

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::http::{OutboundError, OutboundHttp};
use crate::domain::service_url::ServiceUrl;

/// Why a send failed.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error("the user or chat blocked the bot (MessageWritesBlocked)")]
    Blocked,
    #[error("the bot is not installed in this conversation (HTTP 403 {0})")]
    Forbidden(String),
    #[error("the message is too big for Teams")]
    TooBig,
    #[error("the Bot Connector refused the bot's token (HTTP 401)")]
    Unauthorized,
    #[error("the Bot Connector is busy or failing (HTTP {status}); retry later")]
    Transient {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("the Bot Connector answered HTTP {0}")]
    Status(u16),
    /// Held back by the daemon's own pacing (`clients::bot_rate`): try again after this long.
    #[error("held back by the bot's rate limit for {0:?}")]
    Paced(Duration),
    #[error(transparent)]
    Outbound(#[from] OutboundError),
}

/// `encodeURIComponent` of a path segment, as the SDKs send conversation ids.
fn component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends activities with one bot's tokens.
#[derive(Clone)]
pub struct BotConnector {
    http: OutboundHttp,
}

impl BotConnector {
    /// A connector client over the shared outbound stack. Throttled answers come straight
    /// back (no in-call retry): the outbox reschedules them after `Retry-After`, and every new
    /// try passes the rate limiter again (`clients::bot_rate`).
    pub fn new(http: OutboundHttp) -> BotConnector {
        BotConnector {
            http: http.without_retries(),
        }
    }

    /// Posts an activity to a conversation; returns the new activity id.
    pub async fn send(
        &self,
        token: &SecretString,
        service_url: &ServiceUrl,
        conversation_id: &str,
        activity: &Value,
    ) -> Result<String, BotError> {
        let url = format!(
            "{}v3/conversations/{}/activities",
            service_url.as_str(),
            component(conversation_id)
        );
        let res = self
            .http
            .send("bot connector", |c| {
                c.post(&url)
                    .bearer_auth(token.expose_secret())
                    .json(activity)
            })
            .await?;
        let status = res.status();
        let retry_after = super::http::retry_after(&res);
        if let Some(op) = res.headers().get("x-correlating-operationid") {
            tracing::debug!(bot.operation_id = ?op, http.status = status.as_u16(), "Bot Connector answered");
        }
        let body = res.text().await.unwrap_or_default();
        classify(status, retry_after, &body)
            .map(|v| v["id"].as_str().map(str::to_owned).unwrap_or_default())
    }

    /// Replaces an activity the bot posted earlier (`PUT .../activities/{activityId}`, PROTOCOLS.md
    /// §3.3), answers classified as for [`BotConnector::send`]; a message that is gone (deleted
    /// in Teams, or never known there) is `BotError::Status(404)`.
    pub async fn update(
        &self,
        token: &SecretString,
        service_url: &ServiceUrl,
        conversation_id: &str,
        activity_id: &str,
        activity: &Value,
    ) -> Result<(), BotError> {
        let url = format!(
            "{}v3/conversations/{}/activities/{}",
            service_url.as_str(),
            component(conversation_id),
            component(activity_id)
        );
        // the SDKs send the id of the activity being replaced in the body too
        let mut activity = activity.clone();
        activity["id"] = Value::String(activity_id.to_owned());
        let res = self
            .http
            .send("bot connector", |c| {
                c.put(&url)
                    .bearer_auth(token.expose_secret())
                    .json(&activity)
            })
            .await?;
        let status = res.status();
        let retry_after = super::http::retry_after(&res);
        if let Some(op) = res.headers().get("x-correlating-operationid") {
            tracing::debug!(bot.operation_id = ?op, http.status = status.as_u16(), "Bot Connector answered an update");
        }
        let body = res.text().await.unwrap_or_default();
        classify(status, retry_after, &body).map(|_| ())
    }
}

impl BotConnector {
    /// Creates (or finds: Teams answers with the same id) the bot's 1:1 conversation with a
    /// user, by Entra object id and tenant (PROTOCOLS.md §3.4); returns the conversation id.
    pub async fn create_personal_conversation(
        &self,
        token: &SecretString,
        service_url: &ServiceUrl,
        bot_app_id: &str,
        tenant: &str,
        aad_object_id: &str,
    ) -> Result<String, BotError> {
        let url = format!("{}v3/conversations", service_url.as_str());
        let body = serde_json::json!({
            "bot": {"id": format!("28:{bot_app_id}")},
            "members": [{"id": aad_object_id}],
            "channelData": {"tenant": {"id": tenant}},
            "isGroup": false,
        });
        let res = self
            .http
            .send("bot connector", |c| {
                c.post(&url).bearer_auth(token.expose_secret()).json(&body)
            })
            .await?;
        let status = res.status();
        let retry_after = super::http::retry_after(&res);
        let text = res.text().await.unwrap_or_default();
        classify(status, retry_after, &text).and_then(|v| {
            v["id"]
                .as_str()
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .ok_or(BotError::Status(status.as_u16()))
        })
    }
}

/// The JSON of a successful answer, or what the failure means.
fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> Result<Value, BotError> {
    match status {
        s if s.is_success() => Ok(serde_json::from_str::<Value>(body).unwrap_or(Value::Null)),
        StatusCode::FORBIDDEN if body.contains("MessageWritesBlocked") => Err(BotError::Blocked),
        StatusCode::FORBIDDEN => Err(BotError::Forbidden(
            serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
                .unwrap_or_default(),
        )),
        StatusCode::PAYLOAD_TOO_LARGE => Err(BotError::TooBig),
        StatusCode::UNAUTHORIZED => Err(BotError::Unauthorized),
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::PRECONDITION_FAILED
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => Err(BotError::Transient {
            status: status.as_u16(),
            retry_after,
        }),
        s => Err(BotError::Status(s.as_u16())),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn conversation_ids_are_encoded_like_encode_uri_component() {
        assert_eq!(
            super::component("19:abc@thread.v2;messageid=1"),
            "19%3Aabc%40thread.v2%3Bmessageid%3D1"
        );
        assert_eq!(super::component("a:1qhN-x_y"), "a%3A1qhN-x_y");
    }
}
