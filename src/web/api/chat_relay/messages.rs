//! `/api/v1/issues/{issueId}/chats/{chatId}/messages`: a chat's messages read through Graph
//! (sanitised HTML; a shared chat's readers with the creator's token, each read audited), and
//! replies posted as the caller. Messages from apps and bots name the app and summarise their
//! cards; system events say what happened (`domain::chat_message`).

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::bad;
use crate::clients::graph::MAX_TOP;
use crate::error::{AppError, ProblemDoc};
use crate::services::chat_access::{self, Standing};
use crate::services::chat_relay::{self, Message};
use crate::state::AppState;
use crate::web::api::issue_chats::{chat_id, issue_id, load_visible, load_with_membership, viewer};
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

fn message_view(m: Message) -> MessageView {
    MessageView {
        id: m.id,
        created_at: m.created_at,
        kind: m.kind,
        from_name: m.from_name,
        from_user_id: m.from_user_id,
        from_kind: m.from_kind.map(str::to_owned),
        html: m.html,
    }
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
    let standing = Standing {
        creator: link.created_by == caller.user_key,
        member,
        shared: chat_access::is_shared(&access),
    };
    let page = chat_relay::read_messages(
        &state,
        &viewer(&caller),
        &link,
        standing,
        limit,
        link_cursor.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(MessagePage {
        items: page.messages.into_iter().map(message_view).collect(),
        next_cursor: page.next_link.map(|l| URL_SAFE_NO_PAD.encode(l)),
        read_as: if page.on_behalf { "shared" } else { "member" }.into(),
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
    let m = chat_relay::post_reply(&state, &viewer(&caller), chat.as_str(), text).await?;
    Ok(HttpResponse::Created().json(message_view(m)))
}
