//! `jira_remote_link` items: a linked chat shown in its Jira issue as one remote link
//! (`shared/design/JIRA-SURFACE.md`, "What the appliance writes into the Jira issue"), upserted by
//! its stable `globalId` as the chat's creator.
//!
//! The item names only the link: what is written is the link's state at delivery (sharing, known
//! members, chat deleted in Teams), so a later change supersedes an earlier one and a repeat after
//! a crash writes the same link again, never a second one. Links made before topic and `webUrl`
//! were kept (or linked by id) get them from Graph once, as the creator; a 404 there means the
//! chat was deleted in Teams and the link is struck through.
//!
//! The outcome is kept on the link (`remote_link_state`, for the issue page): `linked`; `off`
//! while the instance has remote links switched off; `refused` with Jira's words (400/403, dead at
//! once and shown on the delivery queue); `needs_sign_in` when the creator's Jira link is missing
//! or Jira refuses their token (dead at once: an admin may retry it after they signed in again).
//! Throttling, 5xx and timeouts are retried after Jira's `Retry-After`. The first write of a link
//! queues its "Teams chat started" comment when the instance asks for one.

use std::future::Future;
use std::pin::Pin;

use diesel::Connection;
use serde_json::json;
use uuid::Uuid;

use crate::clients::jira::{JiraCallError, JiraClient, JiraError, RemoteLink};
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::issue_chat::IssueChat;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::{
    JIRA_REMOTE_LINK, JIRA_REMOTE_LINK_COMMENT, remote_link_order,
};
use crate::db::models::user_mapping::UserMapping;
use crate::jobs::outbox::{Deliverer, DeliveryError};
use crate::services::{connections, issue_chats, tokens};
use crate::state::AppState;

/// `application.type` of the appliance's remote links (groups them in the issue view).
pub const APPLICATION_TYPE: &str = "org.jira-teams-bridge";
/// `application.name`, shown above the links.
pub const APPLICATION_NAME: &str = "Microsoft Teams";
/// `relationship`, the heading of the links in the issue view.
pub const RELATIONSHIP: &str = "Teams chat";
/// Longest title Jira keeps.
const TITLE_MAX_CHARS: usize = 255;

/// Writes linked chats' remote links into their Jira issues.
pub struct RemoteLinkWriter {
    state: AppState,
}

/// The link as it is at delivery, with what its remote link shows.
struct Snapshot {
    link: IssueChat,
    shared: bool,
    members: i64,
    instance: JiraInstance,
    creator: Option<UserMapping>,
}

fn retry(e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::Retry {
        error: e.to_string(),
        retry_after: None,
    }
}

/// The link's title, or why there is none.
enum Title {
    Known(String),
    /// Jira does not show the issue to the creator (gone or hidden).
    Hidden,
    /// Jira refused the creator's token.
    SignIn,
}

/// What the link shows when the creator's Jira token is refused.
const SIGN_IN_AGAIN: &str = "Jira refused the creator's token; they must sign in with Jira again.";

/// A Jira failure that is not a refusal: throttling keeps Jira's wait, the rest retries.
pub(crate) fn jira_retry(e: &JiraError) -> DeliveryError {
    DeliveryError::Retry {
        error: e.to_string(),
        retry_after: match e {
            JiraError::Throttled {
                retry_after_secs, ..
            } => Some(std::time::Duration::from_secs(*retry_after_secs)),
            _ => None,
        },
    }
}

/// The version an item was queued for (`remote_link:{id}:{version}`).
fn queued_version(item: &OutboxItem) -> Option<i32> {
    item.dedupe_key.as_deref()?.rsplit(':').next()?.parse().ok()
}

/// The link's id named by an item's payload.
pub(crate) fn payload_link(item: &OutboxItem) -> Result<Uuid, DeliveryError> {
    item.payload["link"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| DeliveryError::Permanent("the item names no chat link".into()))
}

/// The summary line under the link's title.
pub fn summary_line(shared: bool, members: i64, chat_gone: bool, creator: &str) -> String {
    let what = if chat_gone {
        "Chat deleted in Teams".to_owned()
    } else if shared {
        "Shared with everyone who can see the issue".to_owned()
    } else {
        match members {
            0 => "Private".to_owned(),
            1 => "Private to its 1 member".to_owned(),
            n => format!("Private to its {n} members"),
        }
    };
    format!("{what} · started by {creator}")
}

/// The appliance's page of a linked chat (membership and sharing are enforced there).
pub fn chat_page_url(internal_url: &str, public_id: &str, issue_id: i64, link: Uuid) -> String {
    format!("{internal_url}/jira/{public_id}/issues/{issue_id}/chats/{link}")
}

impl RemoteLinkWriter {
    /// A writer over the app's state.
    pub fn new(state: AppState) -> RemoteLinkWriter {
        RemoteLinkWriter { state }
    }

    async fn snapshot(&self, id: Uuid) -> Result<Option<Snapshot>, DeliveryError> {
        db::run(&self.state.pool, move |conn| {
            let Some((link, access)) = IssueChat::by_id_with_access(conn, id)? else {
                return Ok(None);
            };
            let Some(instance) = JiraInstance::find(conn, link.jira_instance_id)? else {
                return Ok(None);
            };
            let members = IssueChat::member_count(conn, id)?;
            let creator = UserMapping::find(conn, link.jira_instance_id, &link.created_by)?;
            Ok(Some(Snapshot {
                shared: access.as_ref().is_some_and(|a| a.is_shared()),
                link,
                members,
                instance,
                creator,
            }))
        })
        .await
        .map_err(retry)
    }

    /// Keeps the outcome on the link (unless a newer version is queued, which will say).
    async fn record(
        &self,
        s: &Snapshot,
        state: &'static str,
        detail: Option<String>,
    ) -> Result<(), DeliveryError> {
        let (id, version) = (s.link.id, s.link.remote_link_version);
        db::run(&self.state.pool, move |conn| {
            Ok(IssueChat::set_remote_link_state(
                conn,
                id,
                version,
                state,
                detail.as_deref(),
            )?)
        })
        .await
        .map_err(retry)?;
        Ok(())
    }

    /// Records `state` with `why` and ends the item for good with it.
    async fn give_up(
        &self,
        s: &Snapshot,
        state: &'static str,
        why: String,
    ) -> Result<(), DeliveryError> {
        self.record(s, state, Some(why.clone())).await?;
        Err(DeliveryError::Permanent(format!(
            "remote link of the chat in issue {}: {why}",
            s.link.issue_id
        )))
    }

    /// The chat's topic and `webUrl` from Graph, asked once as the creator, for a link made before
    /// they were kept. Only Graph's 404 matters to the remote link (the chat is gone); any other
    /// failure leaves the link as it is, to be asked again at its next write.
    async fn fill_in_chat(&self, s: &mut Snapshot, creator: &UserMapping, actor: &Actor) {
        let graph = match connections::microsoft(&self.state, actor).await {
            Ok(ms) => ms.graph.clone(),
            Err(e) => {
                tracing::info!(link.id = %s.link.id, error = %e, "no Microsoft connection: the chat's topic stays unknown");
                return;
            }
        };
        let token = match tokens::microsoft_token(
            &self.state,
            creator,
            actor,
            "read a linked chat's topic for its Jira remote link",
            false,
        )
        .await
        {
            Ok(t) => t,
            Err(e) => {
                tracing::info!(link.id = %s.link.id, error = %e, "the creator's Microsoft token is not usable: the chat's topic stays unknown");
                return;
            }
        };
        let id = s.link.id;
        match graph.chat(&token, &s.link.chat_id).await {
            Ok(Some(chat)) => {
                let topic = s.link.topic.clone().or_else(|| {
                    chat.topic
                        .filter(|t| !t.trim().is_empty())
                        .map(|t| t.chars().take(TITLE_MAX_CHARS).collect())
                });
                // the column takes https deep links only
                let web_url = s.link.web_url.clone().or_else(|| {
                    chat.web_url
                        .filter(|u| u.starts_with("https://") && u.len() <= 2048)
                });
                let (t, u) = (topic.clone(), web_url.clone());
                match db::run(&self.state.pool, move |conn| {
                    Ok(IssueChat::set_chat_details(
                        conn,
                        id,
                        t.as_deref(),
                        u.as_deref(),
                    )?)
                })
                .await
                {
                    Ok(()) => {
                        s.link.topic = topic;
                        s.link.web_url = web_url;
                    }
                    Err(e) => {
                        tracing::warn!(link.id = %id, error = %e, "could not store the chat's topic")
                    }
                }
            }
            Ok(None) => {
                // what Teams says is what the link shows: it is struck through in this write
                match db::run(&self.state.pool, move |conn| {
                    Ok(IssueChat::mark_chat_gone(conn, id)?)
                })
                .await
                {
                    Ok(_) => {
                        s.link.chat_gone = true;
                        tracing::info!(link.id = %id, "Teams says the linked chat is gone");
                    }
                    Err(e) => {
                        tracing::warn!(link.id = %id, error = %e, "could not mark the chat gone")
                    }
                }
            }
            Err(e) => {
                tracing::info!(link.id = %id, error = %e, "Graph did not describe the chat: its topic stays unknown");
            }
        }
    }

    /// The link's title: the chat's topic, else "KEY: summary" as the creator sees the issue.
    async fn title(
        &self,
        s: &Snapshot,
        jira: &JiraClient,
        token: &secrecy::SecretString,
    ) -> Result<Title, DeliveryError> {
        if let Some(t) = s.link.topic.as_deref().filter(|t| !t.trim().is_empty()) {
            return Ok(Title::Known(t.to_owned()));
        }
        match jira.issue_for_link(token, s.link.issue_id).await {
            Ok(Some(issue)) => Ok(Title::Known(
                format!(
                    "{}: {}",
                    issue.key,
                    issue.fields.summary.unwrap_or_default()
                )
                .chars()
                .take(TITLE_MAX_CHARS)
                .collect(),
            )),
            Ok(None) => Ok(Title::Hidden),
            Err(e) if e.needs_sign_in() => Ok(Title::SignIn),
            Err(e) => Err(jira_retry(&e)),
        }
    }

    async fn deliver_item(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let id = payload_link(item)?;
        // unlinked since: its delete is queued behind this item, nothing to write
        let Some(mut s) = self.snapshot(id).await? else {
            return Ok(());
        };
        if !s.instance.remote_links {
            return self.record(&s, "off", None).await;
        }
        // Jira said the issue was deleted: there is no issue left to show the chat in
        if s.link.issue_deleted {
            return Ok(());
        }
        if !s.instance.enabled {
            return Err(DeliveryError::Permanent(format!(
                "remote link of the chat in issue {}: the Jira instance is disabled",
                s.link.issue_id
            )));
        }
        let Some(creator) = s.creator.clone() else {
            return self
                .give_up(
                    &s,
                    "needs_sign_in",
                    "The chat's creator has not linked their Jira account with the appliance."
                        .into(),
                )
                .await;
        };
        let actor = Actor::Job("remote_link".into());
        let (token, jira) = match tokens::jira_token(
            &self.state,
            &s.instance,
            &creator,
            &actor,
            "write a chat's remote link in its Jira issue",
        )
        .await
        {
            Ok(t) => t,
            Err(e) if e.code() == "needs_sign_in" => {
                return self
                    .give_up(
                        &s,
                        "needs_sign_in",
                        "The chat's creator must sign in with Jira again.".into(),
                    )
                    .await;
            }
            Err(e) => return Err(retry(e)),
        };
        if s.link.topic.is_none() || s.link.web_url.is_none() {
            self.fill_in_chat(&mut s, &creator, &actor).await;
        }
        let title = match self.title(&s, &jira, &token).await? {
            Title::Known(t) => t,
            Title::SignIn => {
                crate::services::link_lapse::jira_refused(&self.state, &creator).await;
                return self
                    .give_up(&s, "needs_sign_in", SIGN_IN_AGAIN.into())
                    .await;
            }
            Title::Hidden => {
                let why = "The issue is gone, or the chat's creator may no longer see it.";
                return self.give_up(&s, "refused", why.into()).await;
            }
        };
        let public_id = &s.instance.public_id;
        let url = chat_page_url(
            &self.state.internal_url,
            public_id,
            s.link.issue_id,
            s.link.id,
        );
        let creator_name = creator
            .jira_user_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| s.link.created_by.clone());
        let remote = RemoteLink {
            global_id: issue_chats::global_id(public_id, s.link.id),
            application_type: APPLICATION_TYPE.into(),
            application_name: APPLICATION_NAME.into(),
            relationship: RELATIONSHIP.into(),
            url: url.clone(),
            title: title.clone(),
            summary: summary_line(s.shared, s.members, s.link.chat_gone, &creator_name),
            icon_url: format!("{}/static/teams-16.png", self.state.internal_url),
            icon_title: "Teams chat".into(),
            resolved: s.link.chat_gone,
        };
        match jira
            .upsert_remote_link(&token, s.link.issue_id, &remote)
            .await
        {
            Ok(created) => {
                self.linked(&s, item, &title, &url).await?;
                tracing::info!(link.id = %s.link.id, issue.id = s.link.issue_id, created, "remote link written in the Jira issue");
                Ok(())
            }
            Err(JiraCallError::Refused(why)) => self.give_up(&s, "refused", why.0).await,
            Err(JiraCallError::Other(e)) if e.needs_sign_in() => {
                crate::services::link_lapse::jira_refused(&self.state, &creator).await;
                self.give_up(&s, "needs_sign_in", SIGN_IN_AGAIN.into())
                    .await
            }
            Err(JiraCallError::Other(e)) => Err(jira_retry(&e)),
        }
    }

    /// Records `linked`; the first write of a link (its version 0) also queues its comment when
    /// the instance asks for one, in the same transaction, once (dedupe `comment:{link}`).
    async fn linked(
        &self,
        s: &Snapshot,
        item: &OutboxItem,
        title: &str,
        url: &str,
    ) -> Result<(), DeliveryError> {
        let comment = (s.instance.remote_link_comment && queued_version(item) == Some(0)).then(
            || json!({"link": s.link.id, "issueId": s.link.issue_id, "title": title, "url": url}),
        );
        let (id, version, instance) = (s.link.id, s.link.remote_link_version, s.instance.id);
        let queued = db::run(&self.state.pool, move |conn| {
            Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
                IssueChat::set_remote_link_state(conn, id, version, "linked", None)?;
                match &comment {
                    Some(payload) => OutboxItem::enqueue_ordered(
                        conn,
                        JIRA_REMOTE_LINK_COMMENT,
                        Some(instance),
                        &format!("comment:{id}"),
                        payload,
                        Some(&remote_link_order(id)),
                    ),
                    None => Ok(false),
                }
            })?)
        })
        .await
        .map_err(retry)?;
        if queued {
            self.state.outbox_wake.notify_one();
        }
        Ok(())
    }
}

impl Deliverer for RemoteLinkWriter {
    fn kind(&self) -> &'static str {
        JIRA_REMOTE_LINK
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
    fn the_summary_says_who_may_read_the_chat_and_who_started_it() {
        assert_eq!(
            summary_line(false, 4, false, "Alice"),
            "Private to its 4 members · started by Alice"
        );
        assert_eq!(
            summary_line(false, 1, false, "Alice"),
            "Private to its 1 member · started by Alice"
        );
        assert_eq!(
            summary_line(false, 0, false, "Alice"),
            "Private · started by Alice"
        );
        assert_eq!(
            summary_line(true, 4, false, "Alice"),
            "Shared with everyone who can see the issue · started by Alice"
        );
        assert_eq!(
            summary_line(true, 4, true, "Alice"),
            "Chat deleted in Teams · started by Alice"
        );
    }
}
