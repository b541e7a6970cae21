//! Reading a linked chat's messages and replying to it through Graph, always as a Microsoft
//! user, for the `/api/v1` relay and the pages for Jira users alike. The creator and known
//! members read with their own token; a viewer of a shared chat who is not a member (or whose
//! own link lapsed) reads with the creator's token, and each such read writes its own audit row
//! naming the reader. Bodies come back sanitised (`domain::chat_html`, `domain::chat_message`).
//! Failures are [`RelayError`]s, which the API turns into its stable codes and the pages into
//! what the reader can do about them.

use actix_web::http::StatusCode;
use serde_json::Value;

use crate::clients::graph::GraphError;
use crate::db;
use crate::db::models::issue_chat::IssueChat;
use crate::db::models::user_mapping::UserMapping;
use crate::domain::{chat_html, chat_message};
use crate::error::AppError;
use crate::services::chat_access::{self, Standing, Viewer};
use crate::services::{connections, tokens};
use crate::state::AppState;

/// Why a chat could not be read, replied to or created.
#[derive(Debug)]
pub enum RelayError {
    /// The viewer may not read this chat (the API: `chat_not_found`, hiding it).
    NotVisible,
    /// A known member without a working Microsoft link, on a chat that is not shared (the API
    /// hides it as `chat_not_found`; a page can tell them to link).
    MemberNotLinked,
    /// The viewer has no Microsoft link (`not_linked`).
    NotLinked,
    /// The viewer's own link must be renewed (`needs_sign_in`; the error as the API words it).
    NeedsSignIn(AppError),
    /// A shared read, and the creator's Microsoft sign-in has lapsed (`shared_read_unavailable`).
    CreatorSignInLapsed,
    /// Graph is throttling for longer than the appliance waits (`graph_throttled`).
    Throttled { retry_after_secs: u64 },
    /// Graph 403: the reading account is not (or no longer) a member (`graph_forbidden`).
    GraphForbidden,
    /// Graph 404: Teams no longer knows the chat (`teams_chat_not_found`).
    ChatGone,
    /// Creating a chat: these Jira users have no working Microsoft link (`member_not_linked`).
    MembersNotLinked(Vec<String>),
    /// Creating a chat: Microsoft does not know one of the members (`member_unknown`).
    MemberUnknown,
    /// Anything else, already in the API's words.
    Other(AppError),
}

impl From<AppError> for RelayError {
    /// Keeps "sign in again" apart (`tokens` words it as an `AppError`), so every caller can
    /// tell the reader what to do.
    fn from(e: AppError) -> Self {
        if e.code() == "needs_sign_in" {
            RelayError::NeedsSignIn(e)
        } else {
            RelayError::Other(e)
        }
    }
}

impl From<db::DbError> for RelayError {
    fn from(e: db::DbError) -> Self {
        RelayError::Other(e.into())
    }
}

fn not_found() -> AppError {
    AppError::client(
        StatusCode::NOT_FOUND,
        "chat_not_found",
        "No chat with this id is linked to this issue for you.",
    )
}

impl From<RelayError> for AppError {
    fn from(e: RelayError) -> AppError {
        match e {
            RelayError::NotVisible | RelayError::MemberNotLinked => not_found(),
            RelayError::NotLinked => AppError::client(
                StatusCode::FORBIDDEN,
                "not_linked",
                "Link your Microsoft account first (GET /api/v1/me gives the sign-in link).",
            ),
            RelayError::NeedsSignIn(e) | RelayError::Other(e) => e,
            RelayError::CreatorSignInLapsed => AppError::client(
                StatusCode::CONFLICT,
                "shared_read_unavailable",
                "The chat's creator must sign in to Microsoft again before others can read it here.",
            ),
            RelayError::Throttled { retry_after_secs } => AppError::client(
                StatusCode::SERVICE_UNAVAILABLE,
                "graph_throttled",
                format!("Microsoft Graph is throttling; retry in {retry_after_secs} s."),
            ),
            RelayError::GraphForbidden => AppError::client(
                StatusCode::FORBIDDEN,
                "graph_forbidden",
                "Microsoft Graph refused: the user is not a member of this chat or lacks permission.",
            ),
            RelayError::ChatGone => AppError::client(
                StatusCode::NOT_FOUND,
                "teams_chat_not_found",
                "Teams does not know this chat (deleted?).",
            ),
            RelayError::MembersNotLinked(keys) => AppError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                "member_not_linked",
                format!(
                    "These Jira users have not linked a Microsoft account: {}. Invite them by UPN instead.",
                    keys.join(", ")
                ),
            ),
            RelayError::MemberUnknown => AppError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                "member_unknown",
                "Microsoft does not know one of the members; check the UPNs.",
            ),
        }
    }
}

/// Maps a Graph failure; a refused token marks the link for a new sign-in.
pub async fn graph_error(state: &AppState, mapping: &UserMapping, e: GraphError) -> RelayError {
    match e {
        GraphError::Unauthorized { .. } => {
            let _ = crate::services::link_lapse::mark(
                state,
                mapping.id,
                crate::db::models::user_mapping::SignIn::Microsoft,
                "Microsoft refused the stored token",
            )
            .await;
            RelayError::NeedsSignIn(tokens::needs_sign_in("Microsoft refused the stored token"))
        }
        GraphError::Throttled { retry_after_secs } => RelayError::Throttled { retry_after_secs },
        GraphError::Status { status: 403, .. } => RelayError::GraphForbidden,
        GraphError::Status { status: 404, .. } => RelayError::ChatGone,
        GraphError::Status {
            status: 400,
            message,
            ..
        } => RelayError::Other(AppError::client(
            StatusCode::BAD_REQUEST,
            "graph_bad_request",
            format!("Microsoft Graph refused the request: {message}"),
        )),
        GraphError::ForeignLink => RelayError::Other(AppError::client(
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
            "The cursor is not one this API returned.",
        )),
        e => RelayError::Other(AppError::client(
            StatusCode::BAD_GATEWAY,
            "graph_unavailable",
            format!("Microsoft Graph could not be reached: {e}"),
        )),
    }
}

/// A message as readers are shown it.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub created_at: Option<String>,
    /// `message` or `systemEventMessage` (no sender; `html` says what happened).
    pub kind: String,
    pub from_name: Option<String>,
    pub from_user_id: Option<String>,
    /// `user` or `application`; `None` for system events.
    pub from_kind: Option<&'static str>,
    /// The body reduced to safe HTML (a card summary appended; a system event in one line).
    pub html: String,
    /// Graph's `lastEditedDateTime` is set.
    pub edited: bool,
    /// Graph's `deletedDateTime` is set.
    pub deleted: bool,
}

/// A Graph `chatMessage` as readers are shown it.
pub fn message(m: &Value) -> Message {
    let s = |v: &Value| v.as_str().map(str::to_owned);
    let kind = chat_message::kind(m);
    let sender = chat_message::sender(m);
    let html = if kind == "systemEventMessage" {
        format!(
            "<p><em>{}</em></p>",
            chat_html::escape_text(&chat_message::system_event_text(m))
        )
    } else {
        let mut html = chat_html::sanitize(
            m["body"]["content"].as_str().unwrap_or_default(),
            m["body"]["contentType"].as_str().unwrap_or("text"),
        );
        if let Some(summary) = chat_message::card_summary(m) {
            html.push_str(&format!("<p>{}</p>", chat_html::escape_text(&summary)));
        }
        html
    };
    let set = |k: &str| m[k].as_str().is_some_and(|v| !v.is_empty());
    Message {
        id: s(&m["id"]).unwrap_or_default(),
        created_at: s(&m["createdDateTime"]),
        kind,
        from_name: sender.as_ref().and_then(|f| f.name.clone()),
        from_user_id: sender.as_ref().and_then(|f| f.user_id.clone()),
        from_kind: sender.map(|f| f.kind),
        html,
        edited: set("lastEditedDateTime"),
        deleted: set("deletedDateTime"),
    }
}

/// Who reads: the viewer when they are the creator or a member with a working link (their own
/// token), else — for a shared chat — the creator on their behalf (`true`).
async fn reader(
    state: &AppState,
    viewer: &Viewer,
    link: &IssueChat,
    standing: Standing,
) -> Result<(UserMapping, bool), RelayError> {
    if standing.member {
        match chat_access::mapping(state, viewer.instance_id, &viewer.user_key).await? {
            Some(m) if m.status == "linked" => return Ok((m, false)),
            None if standing.creator => return Err(RelayError::NotLinked),
            Some(m) if standing.creator => {
                return Err(RelayError::NeedsSignIn(tokens::needs_sign_in(
                    m.status_detail.as_deref().unwrap_or("sign-in expired"),
                )));
            }
            // a member whose own link lapsed still reads a shared chat as everyone else does
            _ if !standing.shared => return Err(RelayError::MemberNotLinked),
            _ => {}
        }
    }
    if !standing.shared {
        return Err(RelayError::NotVisible);
    }
    match chat_access::mapping(state, viewer.instance_id, &link.created_by).await? {
        Some(c) if c.status == "linked" => Ok((c, true)),
        _ => Err(RelayError::CreatorSignInLapsed),
    }
}

/// One page of a chat's messages, newest first.
#[derive(Debug)]
pub struct MessagesRead {
    pub messages: Vec<Message>,
    /// Graph's link to the older page (opaque to readers: encode it before handing it out).
    pub next_link: Option<String>,
    /// Read with the creator's token for a shared reader.
    pub on_behalf: bool,
}

/// Reads a page of a chat the viewer may read (`standing` from [`chat_access::standing`] with
/// membership asked): the first page, or the one Graph's `next_link` of an earlier read names.
pub async fn read_messages(
    state: &AppState,
    viewer: &Viewer,
    link: &IssueChat,
    standing: Standing,
    limit: u32,
    next_link: Option<&str>,
) -> Result<MessagesRead, RelayError> {
    let (mapping, on_behalf) = reader(state, viewer, link, standing).await?;
    let purpose = if on_behalf {
        format!(
            "shared chat read by Jira user {} with the creator's token",
            viewer.user_key
        )
    } else {
        "read a Teams chat as the user".to_owned()
    };
    // for a shared reader, the creator's lapsed sign-in is not theirs to fix
    let shared_stop = |e: RelayError| match e {
        RelayError::NeedsSignIn(_) if on_behalf => RelayError::CreatorSignInLapsed,
        e => e,
    };
    let ms = connections::microsoft(state, &viewer.actor).await?;
    let token = tokens::microsoft_token(state, &mapping, &viewer.actor, &purpose, on_behalf)
        .await
        .map_err(|e| shared_stop(e.into()))?;
    match ms
        .graph
        .list_messages(&token, &link.chat_id, limit, next_link)
        .await
    {
        Ok(p) => Ok(MessagesRead {
            messages: p.messages.iter().map(message).collect(),
            next_link: p.next_link,
            on_behalf,
        }),
        Err(e) => Err(shared_stop(graph_error(state, &mapping, e).await)),
    }
}

/// Posts `text` (plain, escaped here; 1 to 4000 characters, checked by the caller) to a chat as
/// the viewer, with their own Microsoft token.
pub async fn post_reply(
    state: &AppState,
    viewer: &Viewer,
    chat_id: &str,
    text: &str,
) -> Result<Message, RelayError> {
    let me = chat_access::mapping(state, viewer.instance_id, &viewer.user_key)
        .await?
        .ok_or(RelayError::NotLinked)?;
    let ms = connections::microsoft(state, &viewer.actor).await?;
    let token = tokens::microsoft_token(
        state,
        &me,
        &viewer.actor,
        "post a Teams message as the user",
        false,
    )
    .await?;
    match ms
        .graph
        .post_message(&token, chat_id, &chat_html::escape_text(text))
        .await
    {
        Ok(m) => Ok(message(&m)),
        Err(e) => Err(graph_error(state, &me, e).await),
    }
}
