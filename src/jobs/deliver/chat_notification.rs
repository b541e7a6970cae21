//! `chat_notification` items: the issue event as an Adaptive Card, posted by the bot to the Teams
//! chat linked to the issue, through the Bot Connector at the chat's stored service URL (only
//! when that host is on the allow-list) with the bot's app-only token. A comment's card is
//! remembered (`posted_card`) so that the comment's edit or deletion replaces it in place. Short
//! database reads happen before and after the network call, never across it.

use std::future::Future;
use std::pin::Pin;

use super::comment_card::post_event_card;
use super::conversation::{item_event, retry};
use crate::clients::botframework::BotConnector;
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::CHAT_NOTIFICATION;
use crate::domain::card;
use crate::jobs::outbox::{Deliverer, DeliveryError};
use crate::state::AppState;

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
            |compact| {
                let activity = card::issue_activity(&event, &instance.base_url, compact);
                card::offer_comment(activity, &event, &instance.public_id)
            },
        )
        .await
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
