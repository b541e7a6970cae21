//! The one write path for issue ↔ chat links, whoever makes the change (the Jira app through
//! `/api/v1`, a Jira user on the appliance's pages, and Teams): linking a chat to an issue,
//! sharing it or making it private, unlinking it, and marking its chat deleted in Teams. Each
//! change and the remote link that shows it in the Jira issue are written in one transaction
//! (the remote link queued in the outbox, `jobs::deliver::jira_remote_link`), so a crash or an
//! unreachable Jira loses nothing and the remote link is written once.

use diesel::Connection;
use serde_json::json;
use uuid::Uuid;

use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::issue_chat::{IssueChat, NewIssueChat, SharedAccess};
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::{
    JIRA_REMOTE_LINK, JIRA_REMOTE_LINK_DELETE, JIRA_REMOTE_LINK_RESYNC, remote_link_order,
};
use crate::error::AppError;
use crate::state::AppState;

/// The stable `globalId` of a linked chat's remote link (≤ 255 characters: a public ID is 6,
/// a UUID 36).
pub fn global_id(public_id: &str, link: Uuid) -> String {
    format!("jira-teams-bridge:{public_id}:chat:{link}")
}

/// A chat to link, with what the appliance knows of it.
#[derive(Debug, Clone)]
pub struct ChatToLink {
    pub instance: Uuid,
    pub issue_id: i64,
    pub chat_id: String,
    /// The Jira user key of whoever links it (its creator).
    pub created_by: String,
    /// The chat's topic and Graph `webUrl`, when known.
    pub topic: Option<String>,
    pub web_url: Option<String>,
    /// The Microsoft users known to be members.
    pub members: Vec<Uuid>,
    /// Linked from Teams (an existing chat) rather than started for the issue.
    pub attached: bool,
}

fn queue_upsert(
    conn: &mut diesel::PgConnection,
    link: &IssueChat,
    version: i32,
) -> diesel::QueryResult<bool> {
    OutboxItem::enqueue_ordered(
        conn,
        JIRA_REMOTE_LINK,
        Some(link.jira_instance_id),
        &format!("remote_link:{}:{version}", link.id),
        &json!({ "link": link.id }),
        Some(&remote_link_order(link.id)),
    )
}

/// Links a chat to an issue and queues its remote link; `None` when that chat is linked to that
/// issue already (nothing is written then).
pub async fn link(
    state: &AppState,
    actor: &Actor,
    chat: ChatToLink,
) -> Result<Option<IssueChat>, AppError> {
    let c = chat.clone();
    let linked = db::run(&state.pool, move |conn| {
        Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let Some(link) = IssueChat::insert(
                conn,
                &NewIssueChat {
                    instance: c.instance,
                    issue_id: c.issue_id,
                    chat_id: &c.chat_id,
                    created_by: &c.created_by,
                    topic: c.topic.as_deref(),
                    web_url: c.web_url.as_deref(),
                    attached: c.attached,
                },
            )?
            else {
                return Ok(None);
            };
            if !c.members.is_empty() {
                IssueChat::add_members(conn, link.id, &c.members)?;
            }
            queue_upsert(conn, &link, link.remote_link_version)?;
            Ok(Some(link))
        })?)
    })
    .await?;
    if let Some(l) = &linked {
        state.outbox_wake.notify_one();
        tracing::info!(link.id = %l.id, issue.id = l.issue_id, actor = %actor_name(actor), "chat linked to issue");
    }
    Ok(linked)
}

/// Shares a linked chat with everyone who can see the issue, or makes it private again, and
/// queues the rewritten remote link.
pub async fn set_sharing(
    state: &AppState,
    actor: &Actor,
    link: &IssueChat,
    shared: bool,
    set_by: &str,
) -> Result<SharedAccess, AppError> {
    if shared && link.attached {
        // attached from Teams: its history (from before the link too) belongs to its members
        return Err(AppError::client(
            actix_web::http::StatusCode::CONFLICT,
            "chat_attached",
            "This chat was attached from Teams: its history belongs to its members, so it cannot be shared with everyone who can see the issue.",
        ));
    }
    let (id, set_by) = (link.id, set_by.to_owned());
    let access = db::run(&state.pool, move |conn| {
        Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let access =
                IssueChat::set_access(conn, id, if shared { "share" } else { "none" }, &set_by)?;
            if let (Some(version), Some(link)) = (
                IssueChat::bump_remote_link(conn, id)?,
                IssueChat::by_id(conn, id)?,
            ) {
                queue_upsert(conn, &link, version)?;
            }
            Ok(access)
        })?)
    })
    .await?;
    state.outbox_wake.notify_one();
    tracing::info!(link.id = %link.id, issue.id = link.issue_id, shared, actor = %actor_name(actor), "chat sharing changed");
    Ok(access)
}

/// Unlinks a chat (its shared access and known members go with it) and queues the deletion of
/// its remote link, made as `by` (whoever unlinks it). `false` when it was unlinked already.
pub async fn unlink(
    state: &AppState,
    actor: &Actor,
    link: &IssueChat,
    public_id: &str,
    by: &str,
) -> Result<bool, AppError> {
    let (l, gid, by) = (link.clone(), global_id(public_id, link.id), by.to_owned());
    let removed = db::run(&state.pool, move |conn| {
        Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
            if !IssueChat::delete(conn, l.id)? {
                return Ok(false);
            }
            OutboxItem::enqueue_ordered(
                conn,
                JIRA_REMOTE_LINK_DELETE,
                Some(l.jira_instance_id),
                &format!("remote_link:{}:deleted", l.id),
                &json!({ "issueId": l.issue_id, "globalId": gid, "asUser": by, "link": l.id }),
                Some(&remote_link_order(l.id)),
            )?;
            Ok(true)
        })?)
    })
    .await?;
    if removed {
        state.outbox_wake.notify_one();
        tracing::info!(link.id = %link.id, issue.id = link.issue_id, actor = %actor_name(actor), "chat unlinked from issue");
    }
    Ok(removed)
}

/// Records that Teams no longer knows a linked chat (Graph answered 404) and queues its remote
/// link, now struck through. Nothing happens when it was marked before.
pub async fn mark_chat_gone(state: &AppState, link: &IssueChat) -> Result<(), AppError> {
    let id = link.id;
    let marked = db::run(&state.pool, move |conn| {
        Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
            if !IssueChat::mark_chat_gone(conn, id)? {
                return Ok(false);
            }
            if let (Some(version), Some(link)) = (
                IssueChat::bump_remote_link(conn, id)?,
                IssueChat::by_id(conn, id)?,
            ) {
                queue_upsert(conn, &link, version)?;
            }
            Ok(true)
        })?)
    })
    .await?;
    if marked {
        state.outbox_wake.notify_one();
        tracing::info!(link.id = %link.id, issue.id = link.issue_id, "Teams says the linked chat is gone");
    }
    Ok(())
}

/// Queues the remote link of up to `limit` links of `instance` after `after` (in id order), each
/// as a new version, in the caller's transaction; the last id when more may follow. Used when
/// remote links are switched back on for an instance (`jobs::deliver::jira_remote_link_resync`).
pub fn requeue_remote_links(
    conn: &mut diesel::PgConnection,
    instance: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> diesel::QueryResult<Option<Uuid>> {
    let ids = IssueChat::ids_of_instance(conn, instance, after, limit)?;
    for id in &ids {
        if let (Some(version), Some(link)) = (
            IssueChat::bump_remote_link(conn, *id)?,
            IssueChat::by_id(conn, *id)?,
        ) {
            queue_upsert(conn, &link, version)?;
        }
    }
    Ok(if ids.len() as i64 == limit {
        ids.last().copied()
    } else {
        None
    })
}

/// Most remote links re-queued at one sign-in (a user rarely has more waiting; the rest wait for
/// an admin's retry or the next sign-in).
const REQUEUE_AT_SIGN_IN: i64 = 500;

/// Queues again, in the caller's transaction, the remote links that waited for their creator to
/// sign in again (Jira had refused their token, or they had not linked their accounts when they
/// linked the chat); called when that user's accounts are linked. Returns how many.
pub fn requeue_after_sign_in(
    conn: &mut diesel::PgConnection,
    instance: Uuid,
    user_key: &str,
) -> diesel::QueryResult<usize> {
    let ids = IssueChat::waiting_for_sign_in(conn, instance, user_key, REQUEUE_AT_SIGN_IN)?;
    for id in &ids {
        if let (Some(version), Some(link)) = (
            IssueChat::bump_remote_link(conn, *id)?,
            IssueChat::by_id(conn, *id)?,
        ) {
            queue_upsert(conn, &link, version)?;
        }
    }
    Ok(ids.len())
}

/// Queues one step of the walk that queues the remote link of every link of `instance`
/// (`jobs::deliver::jira_remote_link_resync`): the links after `after` (`None`: from the first),
/// in the walk `run`. A repeat of a step adds nothing.
pub fn queue_remote_link_resync(
    conn: &mut diesel::PgConnection,
    instance: Uuid,
    run: Uuid,
    after: Option<Uuid>,
) -> diesel::QueryResult<bool> {
    let step = after.map_or_else(|| "start".to_owned(), |a| a.to_string());
    OutboxItem::enqueue(
        conn,
        JIRA_REMOTE_LINK_RESYNC,
        Some(instance),
        &format!("remote_link_resync:{instance}:{run}:{step}"),
        &json!({ "run": run, "after": after }),
    )
}

fn actor_name(actor: &Actor) -> String {
    match actor {
        Actor::Admin(s) | Actor::Api(s) | Actor::Job(s) | Actor::Cli(s) | Actor::System(s) => {
            s.clone()
        }
    }
}
