//! `link_lapsed_channel` items: the one message a channel gets when the owner of its
//! subscriptions lost their sign-in — the channel's updates for those projects stop (the fan-out
//! evaluates a subscription as its owner), the owner has been asked to sign in again, and any
//! other member may subscribe instead.

use std::future::Future;
use std::pin::Pin;

use serde_json::json;

use super::conversation::{post_to_conversation, retry};
use super::link_lapsed::{finish_unsent, inline, lapse_item, stale};
use crate::clients::botframework::BotConnector;
use crate::db;
use crate::db::models::bot_membership::BotMembership;
use crate::db::models::channel_subscription::ChannelSubscription;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::LINK_LAPSED_CHANNEL;
use crate::db::models::user_mapping::UserMapping;
use crate::jobs::deliver::conversation::item_conversation;
use crate::jobs::outbox::{Deliverer, DeliveryError};
use crate::state::AppState;

/// The channel's message.
fn message(projects: &[String], owner: &str, microsoft: bool) -> serde_json::Value {
    let projects: Vec<String> = projects.iter().map(|p| inline(p, 40)).collect();
    let which = if microsoft { "Microsoft" } else { "Jira" };
    let first = projects.first().cloned().unwrap_or_default();
    json!({
        "type": "message",
        "textFormat": "markdown",
        "text": format!(
            "Updates for {} stopped: {}'s {which} sign-in lapsed. They have been asked to sign in again, or another member can subscribe the channel instead (mention me with **subscribe {first}**).",
            projects.join(", "),
            inline(owner, 100),
        ),
    })
}

/// Tells a channel, once per lapse, that the subscriptions its lapsed owner made stopped. A
/// channel the bot left, or whose subscriptions are gone or now someone else's, is not told.
pub struct LapseChannelNotifier {
    state: AppState,
    connector: BotConnector,
}

impl LapseChannelNotifier {
    /// A notifier over the app's state and outbound stack.
    pub fn new(state: AppState) -> LapseChannelNotifier {
        let connector = BotConnector::new(state.http.clone());
        LapseChannelNotifier { state, connector }
    }

    async fn deliver_item(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let what = lapse_item(item)?;
        let conversation = item_conversation(item)?.to_owned();
        let (id, conv) = (what.mapping, conversation.clone());
        let (mapping, projects, membership) = db::run(&self.state.pool, move |conn| {
            let mapping = UserMapping::get(conn, id)?;
            let projects: Vec<String> = ChannelSubscription::of_conversation(conn, &conv)?
                .into_iter()
                .filter(|s| s.owner_mapping_id == id)
                .map(|s| s.project_key)
                .collect();
            let membership = BotMembership::find(conn, &conv)?;
            Ok((mapping, projects, membership))
        })
        .await
        .map_err(|e| retry(e.to_string()))?;
        if let Some(why) = stale(mapping.as_ref(), what.lapse) {
            finish_unsent(&self.state, item, why).await;
            return Ok(());
        }
        if projects.is_empty() {
            finish_unsent(
                &self.state,
                item,
                "the channel's subscriptions changed since",
            )
            .await;
            return Ok(());
        }
        if membership.is_some_and(|m| !m.is_active()) {
            finish_unsent(&self.state, item, "the bot is no longer in the channel").await;
            return Ok(());
        }
        // the name Jira shows (an e-mail address is not posted to a channel when Jira has one)
        let owner = mapping
            .as_ref()
            .and_then(|m| m.jira_user_name.clone().or_else(|| m.ms_user_name.clone()))
            .unwrap_or_else(|| "the subscriber".to_owned());
        let activity = message(&projects, &owner, what.microsoft);
        post_to_conversation(&self.state, &self.connector, &conversation, None, |_| {
            activity.clone()
        })
        .await
    }
}

impl Deliverer for LapseChannelNotifier {
    fn kind(&self) -> &'static str {
        LINK_LAPSED_CHANNEL
    }

    fn deliver<'a>(
        &'a self,
        item: &'a OutboxItem,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(self.deliver_item(item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_is_told_whose_sign_in_lapsed_and_what_stopped() {
        let m = message(&["ABC".into(), "XYZ".into()], "Alice *Adams*", false);
        let t = m["text"].as_str().unwrap();
        assert_eq!(
            t,
            r"Updates for ABC, XYZ stopped: Alice \*Adams\*'s Jira sign-in lapsed. They have been asked to sign in again, or another member can subscribe the channel instead (mention me with **subscribe ABC**)."
        );
    }
}
