//! What the bot knows about the sender of an authenticated activity, and how it answers.
//!
//! Answers to messages go through the outbox (`bot_message` items) so that the inbound POST is
//! acknowledged at once and a failed send is retried; the service URL they go to is the one the
//! activity came with, already checked against the allow-list.

use uuid::Uuid;

use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::{BOT_MESSAGE, conversation_order};
use crate::db::models::user_mapping::UserMapping;
use crate::domain::bot_activity::{Activity, Team};
use crate::domain::service_url::ServiceUrl;
use crate::error::AppError;
use crate::state::AppState;

/// The sender and conversation of one authenticated activity.
#[derive(Debug, Clone)]
pub struct TeamsContext {
    /// The activity id, when Teams sent one.
    pub activity_id: Option<String>,
    pub tenant_id: Uuid,
    /// The sender's Teams user id (`29:…`).
    pub teams_user_id: String,
    /// The sender's Entra object id (users; absent for bots).
    pub aad_object_id: Option<Uuid>,
    pub user_name: Option<String>,
    pub conversation_id: String,
    /// `personal`, `team` or `groupChat`.
    pub scope: &'static str,
    /// The team of a channel message (`channelData.team`), when Teams names one.
    pub team: Option<Team>,
    /// The activity's service URL, on the allow-list.
    pub service_url: ServiceUrl,
}

impl TeamsContext {
    /// The context of an activity from a Teams user; `None` without a tenant or a `29:` sender.
    pub fn of(activity: &Activity, service_url: ServiceUrl) -> Option<TeamsContext> {
        let from = activity.from.as_ref()?;
        if !from.id.starts_with("29:") {
            return None;
        }
        Some(TeamsContext {
            activity_id: activity.id.clone(),
            tenant_id: activity.tenant()?,
            teams_user_id: from.id.clone(),
            aad_object_id: from
                .aad_object_id
                .as_deref()
                .and_then(|o| Uuid::parse_str(o).ok()),
            user_name: from.name.clone(),
            conversation_id: activity.conversation.id.clone(),
            scope: activity.scope(),
            team: activity.team(),
            service_url,
        })
    }

    /// The sender's links to Jira users (one per instance), oldest first.
    pub async fn links(
        &self,
        state: &AppState,
    ) -> Result<Vec<(UserMapping, JiraInstance)>, AppError> {
        let Some(oid) = self.aad_object_id else {
            return Ok(Vec::new());
        };
        let tenant = self.tenant_id;
        Ok(db::run(&state.pool, move |conn| {
            Ok(UserMapping::of_microsoft_user(conn, tenant, oid)?)
        })
        .await?)
    }

    /// Queues `message` (a Bot Framework message activity) as an answer in this conversation.
    /// `what` tells answers to the same activity apart; a repeat of the same answer is dropped.
    /// Answers in one conversation are delivered in the order they were queued.
    pub async fn reply(
        &self,
        state: &AppState,
        what: &str,
        message: serde_json::Value,
    ) -> Result<(), AppError> {
        let key = match &self.activity_id {
            Some(id) => format!("reply:{}:{id}:{what}", self.conversation_id),
            None => format!("reply:{}:{}:{what}", self.conversation_id, Uuid::new_v4()),
        };
        let payload = serde_json::json!({
            "conversationId": self.conversation_id,
            "serviceUrl": self.service_url.as_str(),
            "activity": message,
        });
        // answers in one conversation arrive in the order they were given
        let order = conversation_order(&self.conversation_id);
        db::run(&state.pool, move |conn| {
            Ok(OutboxItem::enqueue_ordered(
                conn,
                BOT_MESSAGE,
                None,
                &key,
                &payload,
                Some(&order),
            )?)
        })
        .await?;
        state.outbox_wake.notify_one();
        Ok(())
    }

    /// Queues a plain markdown text answer.
    pub async fn reply_text(
        &self,
        state: &AppState,
        what: &str,
        text: &str,
    ) -> Result<(), AppError> {
        self.reply(
            state,
            what,
            serde_json::json!({"type": "message", "textFormat": "markdown", "text": text}),
        )
        .await
    }
}
