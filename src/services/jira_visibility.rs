//! Who may see what in Jira, asked of Jira as the people concerned (with their own tokens, so
//! Jira applies their permissions). The chat notifier checks a restricted comment here right
//! before posting it. It is a service, not part of a job, because what Jira lets a person see is
//! not a delivery concern: any page or command that shows issue content to others asks the same.

use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::issue_chat::IssueChat;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::user_mapping::UserMapping;
use crate::domain::jira_event::{EventKind, JiraEvent};
use crate::services::{link_lapse, tokens};
use crate::state::AppState;

/// Whether a card about a restricted comment (role or group visibility) may go to a chat
/// (PROTOCOLS.md §7.2): only when every known member of the chat is linked and Jira, asked as
/// each of them, lets them read the comment. A chat whose members are not known (linked by id,
/// or a subscribed channel) never gets restricted comments; nor does a deleted one, which can no
/// longer be checked.
pub async fn restricted_comment_may_reach(
    state: &AppState,
    instance: &JiraInstance,
    chat_id: &str,
    event: &JiraEvent,
) -> anyhow::Result<bool> {
    let Some(comment) = event.comment_id.clone() else {
        return Ok(false);
    };
    if event.kind == EventKind::CommentDeleted {
        return Ok(false);
    }
    let (id, issue, chat) = (instance.id, event.issue_id, chat_id.to_owned());
    let (members, mappings) = db::run(&state.pool, move |conn| {
        let members = IssueChat::known_members(conn, id, issue, &chat)?;
        let mappings = UserMapping::by_ms_users(conn, id, &members)?;
        Ok((members, mappings))
    })
    .await?;
    if members.is_empty() {
        return Ok(false);
    }
    let actor = Actor::Job("notify".into());
    for member in members {
        let Some(mapping) = mappings
            .iter()
            .find(|m| m.ms_user_id == member && m.status == "linked")
        else {
            return Ok(false);
        };
        let (token, jira) = match tokens::jira_token(
            state,
            instance,
            mapping,
            &actor,
            "check who may read a restricted comment",
        )
        .await
        {
            Ok(t) => t,
            Err(e) if e.code() == "needs_sign_in" => return Ok(false),
            Err(e) => return Err(anyhow::anyhow!("{e}")),
        };
        match jira.comment_visible(&token, event.issue_id, &comment).await {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            // a 401 to the stored token: the grant was revoked, the link lapsed (told once)
            Err(e) if e.needs_sign_in() => {
                return Ok(link_lapse::jira_refused(state, mapping).await);
            }
            Err(e) => return Err(anyhow::anyhow!("{e}")),
        }
    }
    Ok(true)
}
