//! Linking an existing Teams group chat to a Jira issue from Teams (`attach`, *Attach this
//! chat*, and *Create Jira issue* with "Link this chat"), and unlinking it (`detach`). The
//! caller has already asked Jira, as the sender, for the issue (so the issue id is Jira's and
//! the sender may see it). Here: the chat's topic, `webUrl` and members are read from Graph as
//! the sender (their delegated token, so Graph's own membership check applies), the bot's
//! membership of the chat is made sure of, and the link goes through the one write path
//! (`services::issue_chats`), which queues the remote link in the same transaction.
//!
//! Every Graph read happens before anything is written, so a refusal leaves nothing behind.

use uuid::Uuid;

use crate::clients::graph::GraphError;
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::bot_membership::{BotMembership, Place};
use crate::db::models::issue_chat::IssueChat;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::user_mapping::UserMapping;
use crate::error::AppError;
use crate::services::issue_chats::{self, ChatToLink};
use crate::services::{connections, tokens};
use crate::state::AppState;

/// The Teams side of a chat to link.
#[derive(Debug, Clone)]
pub struct TeamsChat {
    /// The group chat's conversation id, which is its Graph chat id (PROTOCOLS.md §6.6).
    pub chat_id: String,
    pub tenant_id: Uuid,
    /// The activity's (allow-listed) service URL when the request is a `message` from the chat
    /// itself: Teams delivers those only to a bot that is in the chat, so the bot's membership
    /// may be recorded from it. `None` for invokes, which Teams also sends from chats the bot
    /// is not in (message extensions).
    pub service_url_from_chat: Option<String>,
}

/// What linking came to.
#[derive(Debug, Clone)]
pub enum Attached {
    /// Linked now.
    Linked(Box<IssueChat>),
    /// That chat was linked to that issue already (nothing written).
    Already,
}

/// Why a chat could not be linked, in words for the user.
#[derive(Debug, Clone)]
pub enum AttachError {
    /// The sender's Microsoft sign-in must be renewed (Graph refused their token).
    MicrosoftSignIn,
    /// Graph does not know the chat (404).
    ChatUnknown,
    /// Graph says the sender may not read the chat (403: not a member).
    NotAMember,
    /// Graph is throttling.
    Busy { retry_after_secs: u64 },
    /// The bot is not in the chat, or the chat blocked it: its cards would not arrive.
    BotAbsent,
    /// Anything else, said safely.
    Failed(String),
}

impl AttachError {
    /// What the user is told.
    pub fn message(&self) -> String {
        match self {
            AttachError::MicrosoftSignIn => "your Microsoft sign-in must be renewed: type **link** in your 1:1 chat with me".into(),
            AttachError::ChatUnknown => "Teams does not know this chat (it may have been deleted)".into(),
            AttachError::NotAMember => "Teams says you are not a member of this chat".into(),
            AttachError::Busy { retry_after_secs } => {
                format!("Teams is busy; try again in {retry_after_secs} s")
            }
            AttachError::BotAbsent => "the Jira app is not in this chat (or was blocked here); add the app to this chat and try again".into(),
            AttachError::Failed(m) => m.clone(),
        }
    }
}

fn graph_trouble(e: GraphError) -> AttachError {
    match e {
        GraphError::Unauthorized { .. } => AttachError::MicrosoftSignIn,
        GraphError::Status { status: 404, .. } => AttachError::ChatUnknown,
        GraphError::Status { status: 403, .. } => AttachError::NotAMember,
        GraphError::Throttled { retry_after_secs } => AttachError::Busy { retry_after_secs },
        e => {
            tracing::warn!(error = %e, "reading a Teams chat to link it failed");
            AttachError::Failed("Teams could not be reached just now; try again later".into())
        }
    }
}

fn app_trouble(e: AppError) -> AttachError {
    if e.code() == "needs_sign_in" {
        return AttachError::MicrosoftSignIn;
    }
    tracing::warn!(error = %e, "linking a chat from Teams failed");
    AttachError::Failed("something went wrong on my side; try again later".into())
}

/// Whether the bot is (or may be recorded as) in the chat; records it from a message from the
/// chat when the appliance had missed the installation (or recorded a removal since undone).
async fn ensure_bot(state: &AppState, chat: &TeamsChat) -> Result<(), AttachError> {
    let c = chat.clone();
    db::run(&state.pool, move |conn| {
        let known = BotMembership::find(conn, &c.chat_id)?;
        match (&known, &c.service_url_from_chat) {
            (Some(m), _) if m.is_active() => Ok(true),
            // only the user who blocked can undo a block; it is not undone by a message
            (Some(m), _) if m.status == "messageWritesBlocked" => Ok(false),
            (_, Some(url)) => {
                BotMembership::record(
                    conn,
                    &Place {
                        conversation_id: &c.chat_id,
                        tenant: c.tenant_id,
                        scope: "groupChat",
                        service_url: url,
                        team: None,
                    },
                    "installationAdded",
                )?;
                Ok(true)
            }
            (_, None) => Ok(false),
        }
    })
    .await
    .map_err(|e| app_trouble(e.into()))?
    .then_some(())
    .ok_or(AttachError::BotAbsent)
}

/// Links `chat` to issue `issue_id` of `instance` as the linked user `me`: reads the chat's
/// topic, `webUrl` and members from Graph as them, makes sure the bot is in the chat, then links
/// it (queuing its remote link). Linking a chat twice is [`Attached::Already`].
pub async fn attach(
    state: &AppState,
    instance: &JiraInstance,
    me: &UserMapping,
    issue_id: i64,
    chat: &TeamsChat,
) -> Result<Attached, AttachError> {
    let actor = Actor::Api(format!("{}:{}", instance.public_id, me.jira_user_key));
    // already linked: nothing to read or write (and no Graph call spent)
    let (id, iid, cid) = (instance.id, issue_id, chat.chat_id.clone());
    let existing = db::run(&state.pool, move |conn| {
        Ok(IssueChat::find(conn, id, iid, &cid)?)
    })
    .await
    .map_err(|e| app_trouble(e.into()))?;
    if existing.is_some() {
        return Ok(Attached::Already);
    }
    let ms = connections::microsoft(state, &actor)
        .await
        .map_err(app_trouble)?;
    let token = tokens::microsoft_token(state, me, &actor, "read a Teams chat to link it", false)
        .await
        .map_err(app_trouble)?;
    let read = ms
        .graph
        .chat(&token, &chat.chat_id)
        .await
        .map_err(graph_trouble)?
        .ok_or(AttachError::ChatUnknown)?;
    let members: Vec<Uuid> = ms
        .graph
        .chat_members(&token, &chat.chat_id)
        .await
        .map_err(graph_trouble)?
        .iter()
        .filter_map(|m| Uuid::parse_str(m).ok())
        .collect();
    if !members.contains(&me.ms_user_id) {
        return Err(AttachError::NotAMember);
    }
    ensure_bot(state, chat).await?;
    let linked = issue_chats::link(
        state,
        &actor,
        ChatToLink {
            instance: instance.id,
            issue_id,
            chat_id: chat.chat_id.clone(),
            created_by: me.jira_user_key.clone(),
            topic: read.topic.map(|t| t.chars().take(250).collect()),
            web_url: read.web_url.filter(|u| u.starts_with("https://")),
            members,
            attached: true,
        },
    )
    .await
    .map_err(app_trouble)?;
    Ok(match linked {
        Some(l) => {
            tracing::info!(instance.public_id = %instance.public_id, issue.id = issue_id, link.id = %l.id, "group chat attached from Teams");
            Attached::Linked(Box::new(l))
        }
        None => Attached::Already,
    })
}

/// Unlinks `chat_id` from issue `issue_id` of `instance` as `me` (the remote link is deleted as
/// them); `false` when that chat was not linked to that issue.
pub async fn detach(
    state: &AppState,
    instance: &JiraInstance,
    me: &UserMapping,
    issue_id: i64,
    chat_id: &str,
) -> Result<bool, AppError> {
    let (id, cid) = (instance.id, chat_id.to_owned());
    let Some((link, _)) = db::run(&state.pool, move |conn| {
        Ok(IssueChat::find(conn, id, issue_id, &cid)?)
    })
    .await?
    else {
        return Ok(false);
    };
    let actor = Actor::Api(format!("{}:{}", instance.public_id, me.jira_user_key));
    issue_chats::unlink(state, &actor, &link, &instance.public_id, &me.jira_user_key).await
}
