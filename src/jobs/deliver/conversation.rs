//! Reaching a Teams conversation through the Bot Connector, shared by every deliverer that posts
//! there: where the conversation is (the bot's membership or the activity's own service URL,
//! always on the allow-list), the bot's token, pacing per tenant and conversation
//! (`clients::bot_rate`, PROTOCOLS.md §3.6), posting or replacing an activity (with the compact
//! form when Teams says it is too big), and what a Bot Connector failure means for the outbox.

use std::future::Future;

use secrecy::SecretString;

use crate::clients::botframework::{BotConnector, BotError};
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::bot_membership::BotMembership;
use crate::db::models::outbox::OutboxItem;
use crate::domain::jira_event::JiraEvent;
use crate::domain::service_url::ServiceUrl;
use crate::jobs::outbox::DeliveryError;
use crate::services::connections;
use crate::state::AppState;

/// The Jira event an outbox item carries (`payload.event`).
pub(crate) fn item_event(item: &OutboxItem) -> Result<JiraEvent, DeliveryError> {
    serde_json::from_value(item.payload["event"].clone())
        .map_err(|e| DeliveryError::Permanent(format!("the item's event is unreadable: {e}")))
}

/// The conversation an outbox item is addressed to (`payload.conversationId`).
pub(crate) fn item_conversation(item: &OutboxItem) -> Result<&str, DeliveryError> {
    item.payload["conversationId"]
        .as_str()
        .ok_or_else(|| DeliveryError::Permanent("the item names no conversation".into()))
}

pub(crate) fn retry(e: String) -> DeliveryError {
    DeliveryError::Retry {
        error: e,
        retry_after: None,
    }
}

/// A conversation ready for the Bot Connector: the bot's membership there (when recorded), the
/// trusted service URL and the bot's token.
pub(crate) struct Target {
    membership: Option<BotMembership>,
    service_url: ServiceUrl,
    token: SecretString,
    /// The tenant whose Bot API budget the calls spend.
    tenant: String,
}

/// Finds where to reach a conversation: the service URL stored with the bot's membership there
/// or, for a conversation the bot has not recorded (an answer to a message), `fallback_service_url`;
/// either must be on the allow-list. A conversation that blocked or removed the bot fails for good.
pub(crate) async fn target(
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
        .bot_token()
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
pub(crate) enum Write<'a> {
    Post,
    Replace(&'a str),
}

/// Writes the activity `build` makes (`build(true)` must be a shorter form, sent when Teams says
/// the first is too big); returns the id of a posted activity. A conversation that blocked the
/// bot is marked so that nothing more is sent there.
pub(crate) async fn write(
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
pub(crate) async fn post_to_conversation(
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

/// What a Bot Connector failure means for the outbox.
pub(crate) fn bot_failure(e: BotError) -> DeliveryError {
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
pub(crate) async fn paced<T, Fut>(
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
