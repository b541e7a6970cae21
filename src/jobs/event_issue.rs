//! The issue of a comment event that named it only by its id (Jira DC's `comment_created`,
//! `comment_updated`, `comment_deleted` carry the comment and no issue). Before anyone is told,
//! the fan-out asks Jira for the issue's key, summary, project, assignee and reporter, as a
//! linked user who may see it: the comment's author, then the creators of the chats linked to the
//! issue, then the owners of channel subscriptions to comment events. The first who sees it
//! answers; when none does, nobody is told (no one the appliance could tell may see it).

use uuid::Uuid;

use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::channel_subscription::ChannelSubscription;
use crate::db::models::issue_chat::IssueChat;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::user_mapping::UserMapping;
use crate::domain::jira_event::JiraEvent;
use crate::jobs::outbox::DeliveryError;
use crate::services::{link_lapse, tokens};
use crate::state::AppState;

/// Most people asked before giving up.
const MAX_ASKED: usize = 8;

fn retry(e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::Retry {
        error: e.to_string(),
        retry_after: None,
    }
}

/// Who may be asked, best first: linked, each once, at most [`MAX_ASKED`].
async fn askers(
    state: &AppState,
    instance: Uuid,
    event: &JiraEvent,
) -> Result<Vec<UserMapping>, DeliveryError> {
    let (issue, actor) = (event.issue_id, event.involved.actor_key.clone());
    let kind = serde_json::to_value(event.kind)
        .ok()
        .and_then(|k| k.as_str().map(str::to_owned))
        .unwrap_or_default();
    db::run(&state.pool, move |conn| {
        let mut out: Vec<UserMapping> = Vec::new();
        let mut add = |found: Vec<UserMapping>| {
            for m in found {
                if m.status == "linked" && !out.iter().any(|o| o.id == m.id) {
                    out.push(m);
                }
            }
        };
        if let Some(actor) = actor {
            add(UserMapping::by_jira_users(conn, instance, &[actor])?);
        }
        let creators: Vec<String> = IssueChat::list(conn, instance, issue, None, MAX_ASKED as i64)?
            .into_iter()
            .map(|(chat, _)| chat.created_by)
            .collect();
        add(UserMapping::by_jira_users(conn, instance, &creators)?);
        for owner in ChannelSubscription::owners_for_kind(conn, instance, &kind, MAX_ASKED as i64)?
        {
            add(UserMapping::get(conn, owner)?.into_iter().collect());
        }
        out.truncate(MAX_ASKED);
        Ok(out)
    })
    .await
    .map_err(retry)
}

/// Fills in the event's issue as the first asker who may see it; `false` when none may.
/// A Jira that cannot answer makes the fan-out retry.
pub async fn complete(
    state: &AppState,
    instance: &JiraInstance,
    event: &mut JiraEvent,
) -> Result<bool, DeliveryError> {
    let actor = Actor::Job("fanout".into());
    for asker in askers(state, instance.id, event).await? {
        let (token, jira) = match tokens::jira_token(
            state,
            instance,
            &asker,
            &actor,
            "read the issue of a comment event",
        )
        .await
        {
            Ok(t) => t,
            Err(e) if e.code() == "needs_sign_in" => continue,
            Err(e) => return Err(retry(e)),
        };
        match jira.issue_for_event(&token, event.issue_id).await {
            Ok(Some(issue)) => {
                let f = &issue.fields;
                event.complete_issue(
                    &issue.key,
                    f.summary.as_deref(),
                    f.project.as_ref().map(|p| p.key.as_str()),
                    f.assignee.as_ref().map(|u| u.key.as_str()),
                    f.reporter.as_ref().map(|u| u.key.as_str()),
                );
                return Ok(true);
            }
            Ok(None) => continue,
            // a 401 to the stored token: the grant was revoked, the link lapsed (told once)
            Err(e) if e.needs_sign_in() => _ = link_lapse::jira_refused(state, &asker).await,
            Err(e) => return Err(retry(e)),
        }
    }
    Ok(false)
}
