//! The fan-out of one Jira event to people and channels (`event_fanout` items), PROTOCOLS.md §7.
//!
//! Chats linked to the issue get their card straight from the webhook. Everyone else must first
//! be shown to be allowed to see it, and that takes Jira calls, so it happens here, in the
//! outbox, as each recipient:
//! - **people**: the assignee, the reporter, the watchers and the users a comment mentions, if
//!   they are linked, did not cause the event themselves and have not turned that kind off
//!   (`notifications` command). Jira is asked as each of them whether they may see the issue
//!   (and a restricted comment);
//! - **channels** subscribed to the issue's project for this kind of event, unless the bot was
//!   removed from the channel or its team (or blocked there): Jira is asked as the
//!   subscription's owner, and the owner's JQL, when set, must match the issue.
//!
//! A comment event that named its issue only by id (Jira DC's `comment_*`) gets its issue from
//! Jira first (`jobs::event_issue`), and its linked chats' cards are queued here.
//!
//! Answers are cached for a minute. The deliveries are written in one transaction; a repeat of
//! the fan-out (after a crash or a transient Jira error) writes nothing twice.
//! A deleted issue cannot be checked any more: only its linked chats hear of it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use crate::clients::jira::JiraCallError;
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::bot_membership::BotMembership;
use crate::db::models::channel_subscription::ChannelSubscription;
use crate::db::models::issue_chat::IssueChat;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::{
    CHAT_NOTIFICATION, EVENT_FANOUT, PERSONAL_NOTIFICATION, conversation_order,
};
use crate::db::models::teams_user_setting::TeamsUserSetting;
use crate::db::models::user_mapping::UserMapping;
use crate::domain::jira_event::{EventKind, JiraEvent};
use crate::jobs::outbox::{Deliverer, DeliveryError};
use crate::services::link_lapse::jira_refused as refused;
use crate::services::tokens;
use crate::state::AppState;

/// How long Jira's answer to "may this user see this?" is reused.
const VISIBILITY_TTL: Duration = Duration::from_secs(60);

/// Why a person is told about an event (also the name of the setting that turns it off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Assignee,
    Reporter,
    Watcher,
    Mention,
}

impl Reason {
    /// The setting's name (`notifications off assignee`).
    pub fn setting(self) -> &'static str {
        match self {
            Reason::Assignee => "assignee",
            Reason::Reporter => "reporter",
            Reason::Watcher => "watcher",
            Reason::Mention => "mention",
        }
    }

    /// The line above the card.
    pub fn line(self) -> &'static str {
        match self {
            Reason::Assignee => "You are the assignee",
            Reason::Reporter => "You reported this issue",
            Reason::Watcher => "You are watching this issue",
            Reason::Mention => "You were mentioned",
        }
    }
}

type VisibilityKey = (Uuid, i64, Option<String>);

/// Fans events out to people and subscribed channels.
pub struct EventFanout {
    state: AppState,
    seen: Mutex<HashMap<VisibilityKey, (bool, Instant)>>,
}

fn retry(e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::Retry {
        error: e.to_string(),
        retry_after: None,
    }
}

impl EventFanout {
    /// A fan-out over the app's state.
    pub fn new(state: AppState) -> EventFanout {
        EventFanout {
            state,
            seen: Mutex::default(),
        }
    }

    /// Whether the user of `mapping` may see the event's issue (and its comment when that is
    /// restricted), asked as them. A link that needs a new sign-in sees nothing; a Jira that
    /// cannot answer makes the whole fan-out retry.
    async fn may_see(
        &self,
        instance: &JiraInstance,
        mapping: &UserMapping,
        event: &JiraEvent,
    ) -> Result<bool, DeliveryError> {
        let comment = event
            .involved
            .comment_restricted
            .then(|| event.comment_id.clone())
            .flatten();
        if event.involved.comment_restricted && comment.is_none() {
            return Ok(false);
        }
        let key = (mapping.id, event.issue_id, comment.clone());
        if let Some((seen, at)) = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            && at.elapsed() < VISIBILITY_TTL
        {
            return Ok(*seen);
        }
        let actor = Actor::Job("fanout".into());
        let (token, jira) = match tokens::jira_token(
            &self.state,
            instance,
            mapping,
            &actor,
            "check what a notification may show",
        )
        .await
        {
            Ok(t) => t,
            Err(e) if e.code() == "needs_sign_in" => return Ok(false),
            Err(e) => return Err(retry(e)),
        };
        let issue_id = event.issue_id.to_string();
        // a 401 to the stored token: the grant was revoked, the link lapsed (told once)
        let mut visible = match jira.issue(&token, &issue_id).await {
            Ok(i) => i.is_some(),
            Err(e) if e.needs_sign_in() => return Ok(refused(&self.state, mapping).await),
            Err(e) => return Err(retry(e)),
        };
        if visible && let Some(comment) = &comment {
            visible = match event.kind {
                // a deleted comment cannot be read any more: its restriction cannot be checked
                EventKind::CommentDeleted => false,
                _ => match jira.comment_visible(&token, event.issue_id, comment).await {
                    Ok(v) => v,
                    Err(e) if e.needs_sign_in() => return Ok(refused(&self.state, mapping).await),
                    Err(e) => return Err(retry(e)),
                },
            };
        }
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() > 10_000 {
            seen.retain(|_, (_, at)| at.elapsed() < VISIBILITY_TTL);
        }
        seen.insert(key, (visible, Instant::now()));
        Ok(visible)
    }

    /// The people to tell, with why, before any check: linked, not the actor, first reason wins.
    async fn people(
        &self,
        instance: &JiraInstance,
        event: &JiraEvent,
    ) -> Result<Vec<(UserMapping, Reason)>, DeliveryError> {
        let inv = &event.involved;
        let mut keys: Vec<(String, Reason)> = Vec::new();
        if let Some(k) = &inv.assignee_key {
            keys.push((k.clone(), Reason::Assignee));
        }
        if let Some(k) = &inv.reporter_key {
            keys.push((k.clone(), Reason::Reporter));
        }
        // watchers and mentioned names are asked of Jira as a linked person of the event, else
        // as any linked user of the instance (DC user keys are stable, names are not)
        let id = instance.id;
        let involved: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
        let asker = db::run(&self.state.pool, move |conn| {
            let mut found = UserMapping::by_jira_users(conn, id, &involved)?;
            found.retain(|m| m.status == "linked");
            if found.is_empty() {
                found = UserMapping::page_of_instance(conn, id, 1)?;
            }
            Ok(found.into_iter().next())
        })
        .await
        .map_err(retry)?;
        if let Some(asker) = asker {
            let actor = Actor::Job("fanout".into());
            match tokens::jira_token(&self.state, instance, &asker, &actor, "find who to notify")
                .await
            {
                Ok((token, jira)) => {
                    let watchers = jira.watcher_keys(&token, event.issue_id).await;
                    match watchers {
                        Ok(w) => keys.extend(w.into_iter().map(|k| (k, Reason::Watcher))),
                        Err(e) if e.needs_sign_in() => _ = refused(&self.state, &asker).await,
                        Err(e) => return Err(retry(e)),
                    }
                    for name in &inv.mentioned_names {
                        match jira.user_key(&token, name).await {
                            Ok(Some(k)) => keys.push((k, Reason::Mention)),
                            Ok(None) => {}
                            Err(e) if e.needs_sign_in() => {
                                refused(&self.state, &asker).await;
                                break;
                            }
                            Err(e) => return Err(retry(e)),
                        }
                    }
                }
                Err(e) if e.code() == "needs_sign_in" => {}
                Err(e) => return Err(retry(e)),
            }
        }
        let mut seen = std::collections::HashSet::new();
        keys.retain(|(k, _)| Some(k) != inv.actor_key.as_ref() && seen.insert(k.clone()));
        let wanted: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
        let mappings = db::run(&self.state.pool, move |conn| {
            Ok(UserMapping::by_jira_users(conn, id, &wanted)?)
        })
        .await
        .map_err(retry)?;
        Ok(keys
            .into_iter()
            .filter_map(|(k, why)| {
                mappings
                    .iter()
                    .find(|m| m.jira_user_key == k && m.status == "linked")
                    .map(|m| (m.clone(), why))
            })
            .collect())
    }

    async fn deliver_item(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let mut event = crate::jobs::deliver::conversation::item_event(item)?;
        let Some(instance_id) = item.jira_instance_id else {
            return Err(DeliveryError::Permanent(
                "the item names no instance".into(),
            ));
        };
        let instance = match db::run(&self.state.pool, move |conn| {
            Ok(JiraInstance::find(conn, instance_id)?)
        })
        .await
        .map_err(retry)?
        {
            Some(i) if i.enabled => i,
            // gone or disabled: nobody is told
            _ => return Ok(()),
        };
        if event.kind == EventKind::IssueDeleted {
            return Ok(());
        }
        // a comment event that named its issue only by id: its linked chats hear of it from here
        let mut linked_chats = Vec::new();
        if event.needs_issue() {
            if !crate::jobs::event_issue::complete(&self.state, &instance, &mut event).await? {
                tracing::info!(
                    issue.id = event.issue_id,
                    "no linked user may see the issue of a comment event; nobody is told"
                );
                return Ok(());
            }
            let issue = event.issue_id;
            linked_chats = db::run(&self.state.pool, move |conn| {
                Ok(IssueChat::list(conn, instance_id, issue, None, 1_000)?)
            })
            .await
            .map_err(retry)?
            .into_iter()
            .map(|(chat, _)| chat.chat_id)
            .collect();
        }
        // people
        let mut personal = Vec::new();
        for (mapping, why) in self.people(&instance, &event).await? {
            let (tenant, oid) = (mapping.ms_tenant_id, mapping.ms_user_id);
            let setting = db::run(&self.state.pool, move |conn| {
                Ok(TeamsUserSetting::by_aad_object(conn, tenant, oid)?)
            })
            .await
            .map_err(retry)?;
            if setting.is_some_and(|s| !s.notification_on(why.setting())) {
                continue;
            }
            if self.may_see(&instance, &mapping, &event).await? {
                personal.push((mapping, why));
            }
        }
        // channels
        let mut channels = Vec::new();
        if let Some(project) = event.involved.project_key.clone() {
            let kind = serde_json::to_value(event.kind)
                .ok()
                .and_then(|k| k.as_str().map(str::to_owned))
                .unwrap_or_default();
            let subs = db::run(&self.state.pool, move |conn| {
                let subs = ChannelSubscription::for_event(conn, instance_id, &project, &kind)?;
                let mut out = Vec::with_capacity(subs.len());
                for s in subs {
                    // a channel the bot was removed from (or its team) hears nothing more
                    let gone = BotMembership::find(conn, &s.conversation_id)?
                        .is_some_and(|m| !m.is_active());
                    if gone {
                        continue;
                    }
                    if let Some(owner) = UserMapping::get(conn, s.owner_mapping_id)? {
                        out.push((s, owner));
                    }
                }
                Ok(out)
            })
            .await
            .map_err(retry)?;
            for (sub, owner) in subs {
                if owner.status != "linked" || !self.may_see(&instance, &owner, &event).await? {
                    continue;
                }
                if let Some(jql) = &sub.jql
                    && !self
                        .jql_matches(&instance, &owner, jql, event.issue_id)
                        .await?
                {
                    continue;
                }
                channels.push(sub.conversation_id);
            }
        }
        let dedupe = event.dedupe_key();
        let payload_event = serde_json::to_value(&event).map_err(retry)?;
        db::run(&self.state.pool, move |conn| {
            conn.transaction(|conn| {
                // keyed as the webhook keys them, so either shape of a comment event posts once
                for chat in &linked_chats {
                    OutboxItem::enqueue_ordered(
                        conn,
                        CHAT_NOTIFICATION,
                        Some(instance_id),
                        &format!("{dedupe}:{chat}"),
                        &json!({ "chatId": chat, "event": payload_event }),
                        Some(&conversation_order(chat)),
                    )?;
                }
                for (m, why) in &personal {
                    OutboxItem::enqueue_ordered(
                        conn,
                        PERSONAL_NOTIFICATION,
                        Some(instance_id),
                        &format!("{dedupe}:user:{}", m.id),
                        &json!({
                            "event": payload_event,
                            "tenantId": m.ms_tenant_id,
                            "aadObjectId": m.ms_user_id,
                            "reason": why.line(),
                        }),
                        Some(&format!("user:{}", m.ms_user_id)),
                    )?;
                }
                for chat in &channels {
                    OutboxItem::enqueue_ordered(
                        conn,
                        CHAT_NOTIFICATION,
                        Some(instance_id),
                        &format!("{dedupe}:{chat}"),
                        &json!({ "chatId": chat, "event": payload_event }),
                        Some(&conversation_order(chat)),
                    )?;
                }
                Ok::<_, diesel::result::Error>(())
            })?;
            Ok(())
        })
        .await
        .map_err(retry)
    }

    /// Whether the issue matches a subscription's JQL, asked as its owner. A query Jira now
    /// refuses (a field removed since it was saved) matches nothing.
    async fn jql_matches(
        &self,
        instance: &JiraInstance,
        owner: &UserMapping,
        jql: &str,
        issue_id: i64,
    ) -> Result<bool, DeliveryError> {
        let actor = Actor::Job("fanout".into());
        let (token, jira) = match tokens::jira_token(
            &self.state,
            instance,
            owner,
            &actor,
            "evaluate a subscription",
        )
        .await
        {
            Ok(t) => t,
            Err(e) if e.code() == "needs_sign_in" => return Ok(false),
            Err(e) => return Err(retry(e)),
        };
        match jira.jql_matches(&token, jql, issue_id).await {
            Ok(m) => Ok(m),
            Err(JiraCallError::Refused(why)) => {
                tracing::warn!(jira.jql_error = %why, "a subscription's JQL is refused by Jira");
                Ok(false)
            }
            Err(JiraCallError::Other(e)) if e.needs_sign_in() => {
                Ok(refused(&self.state, owner).await)
            }
            Err(e) => Err(retry(e)),
        }
    }
}

impl Deliverer for EventFanout {
    fn kind(&self) -> &'static str {
        EVENT_FANOUT
    }

    fn deliver<'a>(
        &'a self,
        item: &'a OutboxItem,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(self.deliver_item(item))
    }
}
