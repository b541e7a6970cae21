//! `bot_message` items: the bot's answers to activities, sent through the outbox so the inbound
//! POST is acknowledged at once and a failed send is retried.

use std::future::Future;
use std::pin::Pin;

use super::conversation::{item_conversation, post_to_conversation};
use crate::clients::botframework::BotConnector;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::BOT_MESSAGE;
use crate::jobs::outbox::{Deliverer, DeliveryError};
use crate::state::AppState;

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
            let conversation = item_conversation(item)?;
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
