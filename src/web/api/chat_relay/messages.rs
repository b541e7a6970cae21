//! `/api/v1/issues/{issueId}/chats/{chatId}/messages`: a chat's messages read through Graph
//! (sanitised HTML; a shared chat's readers with the creator's token, each read audited), and
//! replies posted as the caller. Messages from apps and bots name the app and summarise their
//! cards; system events say what happened (`domain::chat_message`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{actor, bad, caller_mapping, graph_error, not_linked};
use crate::clients::graph::MAX_TOP;
use crate::db;
use crate::db::models::issue_chat::IssueChat;
use crate::db::models::user_mapping::UserMapping;
use crate::domain::{chat_html, chat_message};
use crate::error::{AppError, ProblemDoc};
use crate::services::{connections, tokens};
use crate::state::AppState;
use crate::web::api::issue_chats::{chat_id, issue_id, load_visible, load_with_membership};
use crate::web::api::jira_caller::JiraCaller;

/// A message as the Jira app shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: String,
    pub created_at: Option<String>,
    /// `message` or `systemEventMessage` (a chat renamed, members added, …: no sender, and
    /// `html` says what happened).
    pub kind: String,
    /// The sender's display name: a user's, or an app's or bot's (see `fromKind`); null for
    /// system events.
    pub from_name: Option<String>,
    /// The sending user's Entra object id; null for apps, bots and system events.
    pub from_user_id: Option<String>,
    /// `user`, `application` (an app or bot, this appliance's own bot included), or null for
    /// system events.
    #[schema(example = "application")]
    pub from_kind: Option<String>,
    /// The body reduced to safe HTML. A message carrying cards (as bots send them) ends with a
    /// one-line summary of them in a `<p>`; a system event is one `<p><em>` line saying what
    /// happened.
    pub html: String,
}

/// A page of messages, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    pub items: Vec<MessageView>,
    pub next_cursor: Option<String>,
    /// `member` (read with the caller's account) or `shared` (with the creator's).
    pub read_as: String,
}

/// Paging of messages.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageQuery {
    pub cursor: Option<String>,
    /// 1 to 50 (Graph's limit); default 20.
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
}

fn message_view(m: &Value) -> MessageView {
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
    MessageView {
        id: s(&m["id"]).unwrap_or_default(),
        created_at: s(&m["createdDateTime"]),
        kind,
        from_name: sender.as_ref().and_then(|f| f.name.clone()),
        from_user_id: sender.as_ref().and_then(|f| f.user_id.clone()),
        from_kind: sender.map(|f| f.kind.to_owned()),
        html,
    }
}

/// Who reads: the caller when they are the creator or a member (with their own token) or, for
/// a shared chat, the creator on their behalf.
async fn reader(
    state: &AppState,
    caller: &JiraCaller,
    link: &IssueChat,
    member: bool,
    shared: bool,
) -> Result<(UserMapping, bool), AppError> {
    if member {
        match caller_mapping(state, caller).await? {
            Some(m) if m.status == "linked" => return Ok((m, false)),
            mine if link.created_by == caller.user_key => {
                return Err(mine.map_or_else(not_linked, |m| {
                    tokens::needs_sign_in(m.status_detail.as_deref().unwrap_or("sign-in expired"))
                }));
            }
            // a member whose own link lapsed still reads a shared chat as everyone else does
            _ => {}
        }
    }
    if !shared {
        return Err(AppError::client(
            StatusCode::NOT_FOUND,
            "chat_not_found",
            "No chat with this id is linked to this issue for you.",
        ));
    }
    let (id, creator) = (caller.instance_id, link.created_by.clone());
    let creator = db::run(&state.pool, move |conn| {
        Ok(UserMapping::find(conn, id, &creator)?)
    })
    .await?;
    match creator {
        Some(c) if c.status == "linked" => Ok((c, true)),
        _ => Err(shared_unavailable()),
    }
}

fn shared_unavailable() -> AppError {
    AppError::client(
        StatusCode::CONFLICT,
        "shared_read_unavailable",
        "The chat's creator must sign in to Microsoft again before others can read it here.",
    )
}

/// `GET /api/v1/issues/{issueId}/chats/{chatId}/messages`.
#[utoipa::path(get, path = "/api/v1/issues/{issue_id}/chats/{chat_id}/messages", tag = "chat relay", params(("issue_id" = String, Path, description = "Jira's numeric issue id, e.g. 10045", example = "10045", pattern = r"^[1-9][0-9]{0,17}$"), ("chat_id" = String, Path, description = "Teams chat id, e.g. 19:…@thread.v2", max_length = 512, pattern = r"^19:[^\s/\x00-\x1f\x7f-\x9f]+@(thread\.v2|thread\.tacv2|thread\.skype|unq\.gbl\.spaces)$"), MessageQuery), responses((status = 200, description = "Messages, newest first, HTML sanitised", body = MessagePage), (status = 400, description = "invalid_issue_id, invalid_chat_id, invalid_cursor, invalid_limit", body = ProblemDoc, content_type = "application/problem+json"), (status = 401, description = "Refused by JWT authentication", body = ProblemDoc, content_type = "application/problem+json"), (status = 403, description = "graph_forbidden or not_linked", body = ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "chat_not_found or teams_chat_not_found", body = ProblemDoc, content_type = "application/problem+json"), (status = 409, description = "needs_sign_in or shared_read_unavailable", body = ProblemDoc, content_type = "application/problem+json"), (status = 502, description = "graph_unavailable", body = ProblemDoc, content_type = "application/problem+json"), (status = 503, description = "graph_throttled or microsoft_not_configured", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn list_chat_messages(
    state: web::Data<AppState>,
    caller: JiraCaller,
    path: web::Path<(String, String)>,
    q: web::Query<MessageQuery>,
) -> Result<HttpResponse, AppError> {
    let (issue, chat) = path.into_inner();
    let (issue, chat) = (issue_id(&issue)?, chat_id(&chat)?);
    let limit = q.limit.unwrap_or(20);
    if !(1..=MAX_TOP).contains(&limit) {
        return Err(bad("invalid_limit", "limit must be between 1 and 50."));
    }
    let link_cursor = match q.cursor.as_deref() {
        Some(c) => Some(
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| bad("invalid_cursor", "The cursor is not one this API returned."))?,
        ),
        None => None,
    };
    let (link, access, member) = load_with_membership(&state, &caller, issue, &chat).await?;
    let shared = access.as_ref().is_some_and(|a| a.is_shared());
    let (mapping, on_behalf) = reader(&state, &caller, &link, member, shared).await?;
    let who = actor(&caller);
    let purpose = if on_behalf {
        format!(
            "shared chat read by Jira user {} with the creator's token",
            caller.user_key
        )
    } else {
        "read a Teams chat as the user".to_owned()
    };
    // for a shared reader, the creator's lapsed sign-in is not theirs to fix
    let shared_stop = |e: AppError| {
        if on_behalf && e.code() == "needs_sign_in" {
            shared_unavailable()
        } else {
            e
        }
    };
    let ms = connections::microsoft(&state, &who).await?;
    let token = tokens::microsoft_token(&state, &mapping, &who, &purpose, on_behalf)
        .await
        .map_err(shared_stop)?;
    let page = match ms
        .graph
        .list_messages(&token, chat.as_str(), limit, link_cursor.as_deref())
        .await
    {
        Ok(p) => p,
        Err(e) => return Err(shared_stop(graph_error(&state, &mapping, e).await)),
    };
    Ok(HttpResponse::Ok().json(MessagePage {
        items: page.messages.iter().map(message_view).collect(),
        next_cursor: page.next_link.map(|l| URL_SAFE_NO_PAD.encode(l)),
        read_as: if on_behalf { "shared" } else { "member" }.into(),
    }))
}

/// Body of a reply.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostMessage {
    /// Plain text (sent escaped; line breaks kept), 1 to 4000 characters.
    #[schema(min_length = 1, max_length = 4000, example = "Looking into it now.")]
    pub text: String,
}

/// `POST /api/v1/issues/{issueId}/chats/{chatId}/messages`: replies as the caller.
#[utoipa::path(post, path = "/api/v1/issues/{issue_id}/chats/{chat_id}/messages", tag = "chat relay", params(("issue_id" = String, Path, description = "Jira's numeric issue id, e.g. 10045", example = "10045", pattern = r"^[1-9][0-9]{0,17}$"), ("chat_id" = String, Path, description = "Teams chat id, e.g. 19:…@thread.v2", max_length = 512, pattern = r"^19:[^\s/\x00-\x1f\x7f-\x9f]+@(thread\.v2|thread\.tacv2|thread\.skype|unq\.gbl\.spaces)$")), request_body = PostMessage, responses((status = 201, description = "Posted as the caller", body = MessageView), (status = 400, description = "invalid_text, invalid_issue_id, invalid_chat_id, invalid_json", body = ProblemDoc, content_type = "application/problem+json"), (status = 401, description = "Refused by JWT authentication", body = ProblemDoc, content_type = "application/problem+json"), (status = 403, description = "not_linked or graph_forbidden (not a member)", body = ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "chat_not_found", body = ProblemDoc, content_type = "application/problem+json"), (status = 409, description = "needs_sign_in", body = ProblemDoc, content_type = "application/problem+json"), (status = 502, description = "graph_unavailable", body = ProblemDoc, content_type = "application/problem+json"), (status = 503, description = "graph_throttled or microsoft_not_configured", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn post_chat_message(
    state: web::Data<AppState>,
    caller: JiraCaller,
    path: web::Path<(String, String)>,
    body: web::Json<PostMessage>,
) -> Result<HttpResponse, AppError> {
    let (issue, chat) = path.into_inner();
    let (issue, chat) = (issue_id(&issue)?, chat_id(&chat)?);
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > 4000 {
        return Err(bad("invalid_text", "text must be 1 to 4000 characters."));
    }
    load_visible(&state, &caller, issue, &chat).await?;
    let me = caller_mapping(&state, &caller)
        .await?
        .ok_or_else(not_linked)?;
    let who = actor(&caller);
    let ms = connections::microsoft(&state, &who).await?;
    let token =
        tokens::microsoft_token(&state, &me, &who, "post a Teams message as the user", false)
            .await?;
    match ms
        .graph
        .post_message(&token, chat.as_str(), &chat_html::escape_text(text))
        .await
    {
        Ok(m) => Ok(HttpResponse::Created().json(message_view(&m))),
        Err(e) => Err(graph_error(&state, &me, e).await),
    }
}
