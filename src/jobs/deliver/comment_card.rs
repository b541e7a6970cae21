//! The card of a Jira comment in a conversation, kept up to date: the Bot Connector's id of the
//! card posted for a comment is remembered (`posted_card`), and the comment's later events (an
//! edit, a deletion, or a repeated delivery) replace that card in place (`PUT
//! .../activities/{id}`, PROTOCOLS.md §3.3) instead of posting another. Every other event is
//! posted as a new card.

use super::conversation::{Write, bot_failure, post_to_conversation, retry, target, write};
use crate::clients::botframework::{BotConnector, BotError};
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::posted_card::{CardKey, PostedCard};
use crate::domain::jira_event::{EventKind, JiraEvent};
use crate::jobs::outbox::DeliveryError;
use crate::state::AppState;

/// Delivers an event's card to a conversation. A comment's card is remembered, and a later
/// event of the same comment (an edit, a deletion, or a repeat of the delivery) replaces that
/// card in place; when none is known, or Teams no longer has it (404), a new card is posted. A
/// card already showing a newer event of the comment is left as it is (Jira DC sends webhooks
/// asynchronously, so events can arrive out of order).
pub(super) async fn post_event_card(
    state: &AppState,
    connector: &BotConnector,
    conversation_id: &str,
    fallback_service_url: Option<&str>,
    instance: &JiraInstance,
    event: &JiraEvent,
    build: impl Fn(bool) -> serde_json::Value,
) -> Result<(), DeliveryError> {
    let key = match (&event.kind, &event.comment_id) {
        (
            EventKind::CommentCreated | EventKind::CommentUpdated | EventKind::CommentDeleted,
            Some(comment),
        ) => CardKey {
            conversation_id: conversation_id.to_owned(),
            jira_instance_id: instance.id,
            issue_id: event.issue_id,
            comment_id: comment.clone(),
        },
        _ => {
            return post_to_conversation(
                state,
                connector,
                conversation_id,
                fallback_service_url,
                build,
            )
            .await;
        }
    };
    let target = target(state, conversation_id, fallback_service_url).await?;
    let k = key.clone();
    let known = db::run(&state.pool, move |conn| Ok(PostedCard::find(conn, &k)?))
        .await
        .map_err(|e| retry(e.to_string()))?;
    if let Some(card) = &known {
        if card.last_event_ms > event.timestamp_ms {
            tracing::info!(bot.conversation = %conversation_id, issue.id = event.issue_id, "the comment's card already shows a newer event; left as it is");
            return Ok(());
        }
        match write(
            state,
            connector,
            &target,
            conversation_id,
            Write::Replace(&card.activity_id),
            &build,
        )
        .await
        {
            Ok(_) => {
                remember(state, key, card.activity_id.clone(), event).await;
                return Ok(());
            }
            Err(BotError::Status(404)) => {
                tracing::info!(bot.conversation = %conversation_id, issue.id = event.issue_id, "the comment's card is gone from Teams; posting a new one");
            }
            Err(e) => return Err(bot_failure(e)),
        }
    }
    let id = write(
        state,
        connector,
        &target,
        conversation_id,
        Write::Post,
        &build,
    )
    .await
    .map_err(bot_failure)?;
    if id.is_empty() {
        tracing::warn!(bot.conversation = %conversation_id, "the Bot Connector gave the card no id; an edit will post a new card");
    } else {
        remember(state, key, id, event).await;
    }
    Ok(())
}

/// Records which activity shows a comment. The card is in Teams already: a failure here is
/// logged, not retried (that would post the card twice); the next edit then posts a new card.
async fn remember(state: &AppState, key: CardKey, activity_id: String, event: &JiraEvent) {
    let (event_ms, deleted) = (event.timestamp_ms, event.kind == EventKind::CommentDeleted);
    if let Err(e) = db::run(&state.pool, move |conn| {
        Ok(PostedCard::remember(
            conn,
            &key,
            &activity_id,
            event_ms,
            deleted,
        )?)
    })
    .await
    {
        tracing::warn!(error = %e, "could not remember a comment's card; its next edit will post a new card");
    }
}
