//! `bot_welcome` items: the one welcome message a Teams user gets when they install the app
//! personally.

use std::future::Future;
use std::pin::Pin;

use super::conversation::{item_conversation, post_to_conversation};
use crate::clients::botframework::BotConnector;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::BOT_WELCOME;
use crate::jobs::outbox::{Deliverer, DeliveryError};
use crate::state::AppState;

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
            let conversation = item_conversation(item)?;
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
