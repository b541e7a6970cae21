//! Delivery of `chat_notification` outbox items (and the one-time `bot_welcome`): the issue event as an Adaptive Card, posted by
//! the bot to the Teams chat linked to the issue, through the Bot Connector at the chat's stored
//! service URL (only when that host is on the allow-list) with the bot's app-only token. A
//! comment's card is remembered (`posted_card`) so that the comment's edit or deletion replaces
//! it in place. Short database reads happen before and after the network call, never across it.

use std::future::Future;
use std::pin::Pin;

use secrecy::SecretString;

use crate::clients::botframework::{BotConnector, BotError};
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::bot_membership::BotMembership;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::{
    BOT_MESSAGE, BOT_WELCOME, CHAT_NOTIFICATION, PERSONAL_NOTIFICATION,
};
use crate::domain::card;
use crate::domain::jira_event::JiraEvent;
use crate::domain::service_url::ServiceUrl;
use crate::jobs::comment_card::post_event_card;
use crate::jobs::outbox::{Deliverer, DeliveryError};
use crate::state::AppState;
use crate::services::connections;

/// Posts issue-event cards to linked chats.
pub struct ChatNotifier {
    state: AppState,
    connector: BotConnector,
}

impl ChatNotifier {
    /// A notifier over the app's state and outbound stack.
    pub fn new(state: AppState) -> ChatNotifier {
        let connector = BotConnector::new(state.http.clone());
        ChatNotifier { state, connector }
    }

    async fn deliver_item(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let chat_id = item.payload["chatId"]
            .as_str()
            .ok_or_else(|| DeliveryError::Permanent("the item names no chat".into()))?
            .to_owned();
        let event = item_event(item)?;
        let instance = item.jira_instance_id;
        let instance = db::run(&self.state.pool, move |conn| {
            Ok(match instance {
                Some(id) => JiraInstance::find(conn, id)?,
                None => None,
            })
        })
        .await
        .map_err(|e| retry(e.to_string()))?
        .ok_or_else(|| DeliveryError::Permanent("the Jira instance is gone".into()))?;
        if event.involved.comment_restricted
            && !crate::services::jira_visibility::restricted_comment_may_reach(
                &self.state,
                &instance,
                &chat_id,
                &event,
            )
            .await
            .map_err(|e| retry(e.to_string()))?
        {
            tracing::info!(bot.conversation = %chat_id, "a restricted comment is not shown in a chat where not every member may read it");
            return Ok(());
        }
        post_event_card(
            &self.state,
            &self.connector,
            &chat_id,
            None,
            &instance,
            &event,
            |compact| card::issue_activity(&event, &instance.base_url, compact),
        )
        .await
    }
}

/// The Jira event an outbox item carries (`payload.event`).
pub(crate) fn item_event(item: &OutboxItem) -> Result<JiraEvent, DeliveryError> {
    serde_json::from_value(item.payload["event"].clone())
        .map_err(|e| DeliveryError::Permanent(format!("the item's event is unreadable: {e}")))
}

pub(super) fn retry(e: String) -> DeliveryError {
    DeliveryError::Retry {
        error: e,
        retry_after: None,
    }
}

/// A conversation ready for the Bot Connector: the bot's membership there (when recorded), the
/// trusted service URL and the bot's token.
pub(super) struct Target {
    membership: Option<BotMembership>,
    service_url: ServiceUrl,
    token: SecretString,
    /// The tenant whose Bot API budget the calls spend.
    tenant: String,
}

/// Finds where to reach a conversation: the service URL stored with the bot's membership there
/// or, for a conversation the bot has not recorded (an answer to a message), `fallback_service_url`;
/// either must be on the allow-list. A conversation that blocked or removed the bot fails for good.
pub(super) async fn target(
    state: &AppState,
    conversation_id: &str,
    fallback_service_url: Option<&str>,
) -> Result<Target, DeliveryError> {
    let cid = conversation_id.to_owned();
    let membership = db::run(&state.pool, move |conn| {
        Ok(BotMembership::find(conn, &cid)?)
    })
    .await
    .map_err(|e| retry(e.to_string()))?;
    let service_url = match (&membership, fallback_service_url) {
        (Some(m), _) if m.status == "messageWritesBlocked" => {
            return Err(DeliveryError::Permanent(
                "the conversation blocked the bot".into(),
            ));
        }
        (Some(m), _) if !m.is_active() => {
            return Err(DeliveryError::Permanent(format!(
                "the Teams app was removed from this conversation ({})",
                m.status
            )));
        }
        (Some(m), _) => m.service_url.clone(),
        (None, Some(url)) => url.to_owned(),
        (None, None) => {
            return Err(retry(
                "the Teams app is not installed in this conversation yet".into(),
            ));
        }
    };
    let ms = connections::microsoft(state, &Actor::Job("notify".into()))
        .await
        .map_err(|e| retry(e.to_string()))?;
    let service_url = ServiceUrl::parse(&service_url, &ms.endpoints.service_url_hosts)
        .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
    let token = ms
        .app_tokens
        .token(&ms.registration.tenant_id, &ms.endpoints.bot_scope)
        .await
        .map_err(|e| retry(format!("no Bot Connector token: {e}")))?;
    let tenant = pacing_tenant(membership.as_ref(), &ms.registration.tenant_id);
    Ok(Target {
        membership,
        service_url,
        token,
        tenant,
    })
}

/// Posts a new activity, or replaces one posted before.
#[derive(Clone, Copy)]
pub(super) enum Write<'a> {
    Post,
    Replace(&'a str),
}

/// Writes the activity `build` makes (`build(true)` must be a shorter form, sent when Teams says
/// the first is too big); returns the id of a posted activity. A conversation that blocked the
/// bot is marked so that nothing more is sent there.
pub(super) async fn write(
    state: &AppState,
    connector: &BotConnector,
    target: &Target,
    conversation_id: &str,
    how: Write<'_>,
    build: &impl Fn(bool) -> serde_json::Value,
) -> Result<String, BotError> {
    let mut compact = false;
    loop {
        let activity = build(compact);
        let sent = paced(state, &target.tenant, conversation_id, || async {
            match how {
                Write::Post => {
                    connector
                        .send(
                            &target.token,
                            &target.service_url,
                            conversation_id,
                            &activity,
                        )
                        .await
                }
                Write::Replace(id) => connector
                    .update(
                        &target.token,
                        &target.service_url,
                        conversation_id,
                        id,
                        &activity,
                    )
                    .await
                    .map(|()| id.to_owned()),
            }
        })
        .await;
        match sent {
            Ok(id) => return Ok(id),
            Err(BotError::TooBig) if !compact => compact = true,
            Err(BotError::Blocked) => {
                if let Some(id) = target.membership.as_ref().map(|m| m.id) {
                    let _ = db::run(&state.pool, move |conn| {
                        Ok(BotMembership::mark_blocked(conn, id)?)
                    })
                    .await;
                }
                tracing::warn!(bot.conversation = %conversation_id, "conversation blocked the bot; no more deliveries there");
                return Err(BotError::Blocked);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Posts the activity `build` makes (`build(true)` must be a shorter form) to a conversation
/// (see [`target`] for where).
pub(super) async fn post_to_conversation(
    state: &AppState,
    connector: &BotConnector,
    conversation_id: &str,
    fallback_service_url: Option<&str>,
    build: impl Fn(bool) -> serde_json::Value,
) -> Result<(), DeliveryError> {
    let target = target(state, conversation_id, fallback_service_url).await?;
    write(
        state,
        connector,
        &target,
        conversation_id,
        Write::Post,
        &build,
    )
    .await
    .map(|_| ())
    .map_err(bot_failure)
}

/// Sends the one welcome message a Teams user gets when they install the app personally.
pub struct WelcomeSender {
    state: AppState,
    connector: BotConnector,
}

impl WelcomeSender {
    /// A sender over the app's state and outbound stack.
    pub fn new(state: AppState) -> WelcomeSender {
        let connector = BotConnector::new(state.http.clone());
        WelcomeSender { state, connector }
    }
}

impl Deliverer for WelcomeSender {
    fn kind(&self) -> &'static str {
        BOT_WELCOME
    }

    fn deliver<'a>(
        &'a self,
        item: &'a OutboxItem,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(async move {
            let conversation = item.payload["conversationId"]
                .as_str()
                .ok_or_else(|| DeliveryError::Permanent("the item names no conversation".into()))?;
            post_to_conversation(&self.state, &self.connector, conversation, None, |_| {
                serde_json::json!({
                    "type": "message",
                    "textFormat": "markdown",
                    "text": "Hello! I bring Jira issue updates into Teams. Issues linked to your chats will post their changes here, and you can link your Jira account from the Jira issue view.",
                })
            })
            .await
        })
    }
}

impl Deliverer for ChatNotifier {
    fn kind(&self) -> &'static str {
        CHAT_NOTIFICATION
    }

    fn deliver<'a>(
        &'a self,
        item: &'a OutboxItem,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(self.deliver_item(item))
    }
}

/// Sends the bot's queued answers (`bot_message` items) verbatim.
pub struct BotMessageSender {
    state: AppState,
    connector: BotConnector,
}

impl BotMessageSender {
    /// A sender over the app's state and outbound stack.
    pub fn new(state: AppState) -> BotMessageSender {
        let connector = BotConnector::new(state.http.clone());
        BotMessageSender { state, connector }
    }
}

impl Deliverer for BotMessageSender {
    fn kind(&self) -> &'static str {
        BOT_MESSAGE
    }

    fn deliver<'a>(
        &'a self,
        item: &'a OutboxItem,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(async move {
            let conversation = item.payload["conversationId"]
                .as_str()
                .ok_or_else(|| DeliveryError::Permanent("the item names no conversation".into()))?;
            let activity = &item.payload["activity"];
            if !activity.is_object() {
                return Err(DeliveryError::Permanent("the item has no activity".into()));
            }
            post_to_conversation(
                &self.state,
                &self.connector,
                conversation,
                item.payload["serviceUrl"].as_str(),
                |_| activity.clone(),
            )
            .await
        })
    }
}

/// Sends one person's notification (`personal_notification` items) to their 1:1 chat with the
/// bot: the one a personal installation recorded or, failing that, one created by Entra object
/// id (PROTOCOLS.md §3.4; Teams answers 403 when the app is not installed for the user, and the
/// item fails for good).
pub struct PersonalNotifier {
    state: AppState,
    connector: BotConnector,
}

impl PersonalNotifier {
    /// A notifier over the app's state and outbound stack.
    pub fn new(state: AppState) -> PersonalNotifier {
        let connector = BotConnector::new(state.http.clone());
        PersonalNotifier { state, connector }
    }

    async fn deliver_item(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let event = item_event(item)?;
        let ids = |k: &str| {
            item.payload[k]
                .as_str()
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
                .ok_or_else(|| DeliveryError::Permanent(format!("the item has no {k}")))
        };
        let (tenant, oid) = (ids("tenantId")?, ids("aadObjectId")?);
        let reason = item.payload["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let instance = item.jira_instance_id;
        let (instance, setting, latest) = db::run(&self.state.pool, move |conn| {
            let instance = match instance {
                Some(id) => JiraInstance::find(conn, id)?,
                None => None,
            };
            let setting = crate::db::models::teams_user_setting::TeamsUserSetting::by_aad_object(
                conn, tenant, oid,
            )?;
            let latest = BotMembership::latest_service_url(conn, tenant)?;
            Ok((instance, setting, latest))
        })
        .await
        .map_err(|e| retry(e.to_string()))?;
        let instance =
            instance.ok_or_else(|| DeliveryError::Permanent("the Jira instance is gone".into()))?;
        let build = |compact: bool| {
            let mut activity = card::issue_activity(&event, &instance.base_url, compact);
            if !reason.is_empty() {
                let text = activity["text"].as_str().unwrap_or_default().to_owned();
                activity["text"] = serde_json::Value::String(format!("{reason} · {text}"));
            }
            activity
        };
        if let Some((conversation, service_url)) = setting.as_ref().and_then(|s| s.personal_chat())
        {
            return post_event_card(
                &self.state,
                &self.connector,
                conversation,
                Some(service_url),
                &instance,
                &event,
                build,
            )
            .await;
        }
        // no personal installation seen: ask Teams for the 1:1 conversation
        let service_url = latest.ok_or_else(|| {
            DeliveryError::Permanent(
                "the Teams app was never installed in this user's tenant".into(),
            )
        })?;
        let ms = connections::microsoft(&self.state, &Actor::Job("notify".into()))
            .await
            .map_err(|e| retry(e.to_string()))?;
        let url = ServiceUrl::parse(&service_url, &ms.endpoints.service_url_hosts)
            .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        let token = ms
            .app_tokens
            .token(&ms.registration.tenant_id, &ms.endpoints.bot_scope)
            .await
            .map_err(|e| retry(format!("no Bot Connector token: {e}")))?;
        let (tenant, oid) = (tenant.to_string(), oid.to_string());
        let conversation = paced(&self.state, &tenant, &format!("new-personal:{oid}"), || {
            self.connector.create_personal_conversation(
                &token,
                &url,
                &ms.registration.bot_app_id,
                &tenant,
                &oid,
            )
        })
        .await
        .map_err(bot_failure)?;
        post_event_card(
            &self.state,
            &self.connector,
            &conversation,
            Some(&service_url),
            &instance,
            &event,
            build,
        )
        .await
    }
}

/// What a Bot Connector failure means for the outbox.
pub(super) fn bot_failure(e: BotError) -> DeliveryError {
    match e {
        BotError::Transient {
            status,
            retry_after,
        } => DeliveryError::Retry {
            error: format!("Bot Connector HTTP {status}"),
            retry_after,
        },
        e @ (BotError::Blocked | BotError::Forbidden(_) | BotError::TooBig) => {
            DeliveryError::Permanent(e.to_string())
        }
        e @ BotError::Paced(wait) => DeliveryError::Retry {
            error: e.to_string(),
            retry_after: Some(wait),
        },
        e => retry(e.to_string()),
    }
}

impl Deliverer for PersonalNotifier {
    fn kind(&self) -> &'static str {
        PERSONAL_NOTIFICATION
    }

    fn deliver<'a>(
        &'a self,
        item: &'a OutboxItem,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(self.deliver_item(item))
    }
}

// Pacing of Bot Connector calls (`clients::bot_rate`, PROTOCOLS.md §3.6).

/// The tenant whose budget a call spends: the installation's, else the app registration's.
fn pacing_tenant(membership: Option<&BotMembership>, registration_tenant: &str) -> String {
    membership.map_or_else(
        || registration_tenant.to_ascii_lowercase(),
        |m| m.tenant_id.to_string(),
    )
}

/// Runs one Bot Connector call in its rate-limit slot. A tenant slot is waited for at most half
/// a lease, so the item is recorded before its lease runs out; waiting holds no connection.
async fn paced<T, Fut>(
    state: &AppState,
    tenant: &str,
    conversation: &str,
    call: impl FnOnce() -> Fut,
) -> Result<T, BotError>
where
    Fut: Future<Output = Result<T, BotError>>,
{
    let max_wait = std::time::Duration::from_secs(state.settings.outbox.lease_secs / 2);
    state
        .bot_rate
        .paced(tenant, conversation, max_wait, call)
        .await
}
