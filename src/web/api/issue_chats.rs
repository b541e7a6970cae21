//! Issue chats: list the chats linked to an issue that the caller may see, link, unlink, and
//! shared access. A chat is visible to its creator, to its members as far as the appliance knows
//! them (recorded when the chat was created here), and, when shared, to every Jira user the Jira
//! app calls for on that issue (the app only calls for users who can see the issue). The rule
//! and the paging live in `services::chat_access`, shared with the pages for Jira users.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::jira_caller::JiraCaller;
use crate::db::models::issue_chat::{Cursor, IssueChat, SharedAccess};
use crate::domain::TeamsChatId;
use crate::error::{AppError, ProblemDoc};
use crate::services::chat_access::{self, Viewer};
use crate::services::chat_relay::RelayError;
use crate::services::issue_chats::{self, ChatToLink};
use crate::state::AppState;

/// Largest page.
pub const MAX_LIMIT: i64 = 100;

/// Shared access of a chat.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessView {
    /// `share` (every Jira user who can see the issue may read the chat) or `none`.
    pub public_access: String,
    pub set_by: Option<String>,
    pub updated_at: Option<String>,
}

/// A linked chat as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatView {
    pub chat_id: String,
    pub issue_id: String,
    pub created_by: String,
    pub created_at: String,
    pub access: AccessView,
}

/// A page of chats.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatPage {
    pub items: Vec<ChatView>,
    pub next_cursor: Option<String>,
}

fn access_view(access: &Option<SharedAccess>) -> AccessView {
    match access {
        Some(a) => AccessView {
            public_access: if a.is_shared() {
                "share".into()
            } else {
                "none".into()
            },
            set_by: Some(a.set_by.clone()),
            updated_at: Some(a.updated_at.to_rfc3339()),
        },
        None => AccessView {
            public_access: "none".into(),
            set_by: None,
            updated_at: None,
        },
    }
}

pub(super) fn view(chat: &IssueChat, access: &Option<SharedAccess>) -> ChatView {
    ChatView {
        chat_id: chat.chat_id.clone(),
        issue_id: chat.issue_id.to_string(),
        created_by: chat.created_by.clone(),
        created_at: chat.created_at.to_rfc3339(),
        access: access_view(access),
    }
}

/// The caller as the shared visibility rule sees them.
pub(super) fn viewer(caller: &JiraCaller) -> Viewer {
    Viewer {
        instance_id: caller.instance_id,
        public_id: caller.public_id.clone(),
        user_key: caller.user_key.clone(),
        actor: caller.actor(),
    }
}

pub(super) fn issue_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        AppError::client(
            StatusCode::BAD_REQUEST,
            "invalid_issue_id",
            "The issue id must be Jira's numeric issue id, such as 10045.",
        )
    })
}

pub(super) fn chat_id(raw: &str) -> Result<TeamsChatId, AppError> {
    TeamsChatId::parse(raw).ok_or_else(|| {
        AppError::client(
            StatusCode::BAD_REQUEST,
            "invalid_chat_id",
            "The chat id must be a Teams chat id such as 19:…@thread.v2.",
        )
    })
}

fn decode_cursor(s: &str) -> Result<Cursor, AppError> {
    chat_access::decode_cursor(s).ok_or_else(|| {
        AppError::client(
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
            "The cursor is not one this API returned.",
        )
    })
}

/// Paging parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 100; default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// `GET /api/v1/issues/{issueId}/chats`.
#[utoipa::path(get, path = "/api/v1/issues/{issue_id}/chats", tag = "issue chats", params(("issue_id" = String, Path, description = "Jira's numeric issue id, e.g. 10045", example = "10045", pattern = r"^[1-9][0-9]{0,17}$"), PageQuery), responses((status = 200, description = "Chats linked to the issue that the caller may see", body = ChatPage), (status = 400, description = "invalid_issue_id, invalid_cursor or invalid_limit", body = ProblemDoc, content_type = "application/problem+json"), (status = 401, description = "Refused by JWT authentication (jwt_missing, jwt_malformed, jwt_alg, jwt_signature, jwt_expired, jwt_not_yet_valid, jwt_lifetime, jwt_qsh, jwt_claims, jwt_replayed, instance_unknown, instance_disabled)", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn list_issue_chats(
    state: web::Data<AppState>,
    caller: JiraCaller,
    path: web::Path<String>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let issue = issue_id(&path)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::client(
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            "limit must be between 1 and 100.",
        ));
    }
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let (rows, next) =
        chat_access::list_visible(&state, &viewer(&caller), issue, after, limit).await?;
    let items = rows.iter().map(|(c, a)| view(c, a)).collect();
    let next_cursor = next.as_ref().map(chat_access::encode_cursor);
    Ok(HttpResponse::Ok().json(ChatPage { items, next_cursor }))
}

/// Body of a link request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkChat {
    /// A Teams chat id, `19:…@thread.v2`.
    #[schema(
        max_length = 512,
        pattern = r"^19:[^\s/\x00-\x1f\x7f-\x9f]+@(thread\.v2|thread\.tacv2|thread\.skype|unq\.gbl\.spaces)$"
    )]
    pub chat_id: String,
}

/// `POST /api/v1/issues/{issueId}/chats`: links a chat; the caller becomes its creator.
#[utoipa::path(post, path = "/api/v1/issues/{issue_id}/chats", tag = "issue chats", params(("issue_id" = String, Path, description = "Jira's numeric issue id, e.g. 10045", example = "10045", pattern = r"^[1-9][0-9]{0,17}$")), request_body = LinkChat, responses((status = 201, description = "Linked; the caller is its creator", body = ChatView), (status = 400, description = "invalid_issue_id, invalid_chat_id or invalid_json", body = ProblemDoc, content_type = "application/problem+json"), (status = 401, description = "Refused by JWT authentication (jwt_missing, jwt_malformed, jwt_alg, jwt_signature, jwt_expired, jwt_not_yet_valid, jwt_lifetime, jwt_qsh, jwt_claims, jwt_replayed, instance_unknown, instance_disabled)", body = ProblemDoc, content_type = "application/problem+json"), (status = 409, description = "chat_already_linked", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn link_issue_chat(
    state: web::Data<AppState>,
    caller: JiraCaller,
    path: web::Path<String>,
    body: web::Json<LinkChat>,
) -> Result<HttpResponse, AppError> {
    let issue = issue_id(&path)?;
    let chat = chat_id(&body.chat_id)?;
    let created = issue_chats::link(
        &state,
        &caller.actor(),
        ChatToLink {
            instance: caller.instance_id,
            issue_id: issue,
            chat_id: chat.as_str().to_owned(),
            created_by: caller.user_key.clone(),
            topic: None,
            web_url: None,
            members: Vec::new(),
            attached: false,
        },
    )
    .await?;
    let Some(created) = created else {
        return Err(AppError::client(
            StatusCode::CONFLICT,
            "chat_already_linked",
            "This chat is already linked to this issue.",
        ));
    };
    Ok(HttpResponse::Created().json(view(&created, &None)))
}

pub(super) async fn load_visible(
    state: &AppState,
    caller: &JiraCaller,
    issue: i64,
    chat: &TeamsChatId,
) -> Result<(IssueChat, Option<SharedAccess>), AppError> {
    load(state, caller, issue, chat, false)
        .await
        .map(|(chat, access, _)| (chat, access))
}

/// A visible link and whether the caller is its creator or a known member (whose own token then
/// reads it); the membership query runs only when the answer is not already known.
pub(super) async fn load_with_membership(
    state: &AppState,
    caller: &JiraCaller,
    issue: i64,
    chat: &TeamsChatId,
) -> Result<(IssueChat, Option<SharedAccess>, bool), AppError> {
    load(state, caller, issue, chat, true).await
}

async fn load(
    state: &AppState,
    caller: &JiraCaller,
    issue: i64,
    chat: &TeamsChatId,
    need_membership: bool,
) -> Result<(IssueChat, Option<SharedAccess>, bool), AppError> {
    // a private chat of someone else is reported as absent, not forbidden
    let not_found = || AppError::from(RelayError::NotVisible);
    let viewer = viewer(caller);
    let (chat, access) = chat_access::find_by_chat_id(state, &viewer, issue, chat.as_str())
        .await?
        .ok_or_else(not_found)?;
    let standing = chat_access::standing(state, &viewer, &chat, &access, need_membership).await?;
    if standing.may_read() {
        Ok((chat, access, standing.member))
    } else {
        Err(not_found())
    }
}

fn owner_only(caller: &JiraCaller, chat: &IssueChat) -> Result<(), AppError> {
    if chat.created_by != caller.user_key {
        return Err(AppError::client(
            StatusCode::FORBIDDEN,
            "not_chat_creator",
            "Only the user who linked the chat may change it.",
        ));
    }
    Ok(())
}

/// `DELETE /api/v1/issues/{issueId}/chats/{chatId}`: only the creator may unlink.
#[utoipa::path(delete, path = "/api/v1/issues/{issue_id}/chats/{chat_id}", tag = "issue chats", params(("issue_id" = String, Path, description = "Jira's numeric issue id, e.g. 10045", example = "10045", pattern = r"^[1-9][0-9]{0,17}$"), ("chat_id" = String, Path, description = "Teams chat id, e.g. 19:…@thread.v2", max_length = 512, pattern = r"^19:[^\s/\x00-\x1f\x7f-\x9f]+@(thread\.v2|thread\.tacv2|thread\.skype|unq\.gbl\.spaces)$")), responses((status = 204, description = "Unlinked"), (status = 400, description = "invalid_issue_id or invalid_chat_id", body = ProblemDoc, content_type = "application/problem+json"), (status = 401, description = "Refused by JWT authentication (jwt_missing, jwt_malformed, jwt_alg, jwt_signature, jwt_expired, jwt_not_yet_valid, jwt_lifetime, jwt_qsh, jwt_claims, jwt_replayed, instance_unknown, instance_disabled)", body = ProblemDoc, content_type = "application/problem+json"), (status = 403, description = "not_chat_creator", body = ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "chat_not_found", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn unlink_issue_chat(
    state: web::Data<AppState>,
    caller: JiraCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (issue, chat) = path.into_inner();
    let (issue, chat) = (issue_id(&issue)?, chat_id(&chat)?);
    let (link, _) = load_visible(&state, &caller, issue, &chat).await?;
    owner_only(&caller, &link)?;
    issue_chats::unlink(
        &state,
        &caller.actor(),
        &link,
        &caller.public_id,
        &caller.user_key,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/issues/{issueId}/chats/{chatId}/access`.
#[utoipa::path(get, path = "/api/v1/issues/{issue_id}/chats/{chat_id}/access", tag = "issue chats", params(("issue_id" = String, Path, description = "Jira's numeric issue id, e.g. 10045", example = "10045", pattern = r"^[1-9][0-9]{0,17}$"), ("chat_id" = String, Path, description = "Teams chat id, e.g. 19:…@thread.v2", max_length = 512, pattern = r"^19:[^\s/\x00-\x1f\x7f-\x9f]+@(thread\.v2|thread\.tacv2|thread\.skype|unq\.gbl\.spaces)$")), responses((status = 200, description = "Shared access of the chat", body = AccessView), (status = 400, description = "invalid_issue_id or invalid_chat_id", body = ProblemDoc, content_type = "application/problem+json"), (status = 401, description = "Refused by JWT authentication (jwt_missing, jwt_malformed, jwt_alg, jwt_signature, jwt_expired, jwt_not_yet_valid, jwt_lifetime, jwt_qsh, jwt_claims, jwt_replayed, instance_unknown, instance_disabled)", body = ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "chat_not_found", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn get_chat_access(
    state: web::Data<AppState>,
    caller: JiraCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (issue, chat) = path.into_inner();
    let (_, access) = load_visible(&state, &caller, issue_id(&issue)?, &chat_id(&chat)?).await?;
    Ok(HttpResponse::Ok().json(access_view(&access)))
}

/// Body of a shared-access change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetAccess {
    /// `share` or `none`.
    #[schema(pattern = r"^(share|none)$", example = "share")]
    pub public_access: String,
}

/// `PUT /api/v1/issues/{issueId}/chats/{chatId}/access`: only the creator may share or unshare.
#[utoipa::path(put, path = "/api/v1/issues/{issue_id}/chats/{chat_id}/access", tag = "issue chats", params(("issue_id" = String, Path, description = "Jira's numeric issue id, e.g. 10045", example = "10045", pattern = r"^[1-9][0-9]{0,17}$"), ("chat_id" = String, Path, description = "Teams chat id, e.g. 19:…@thread.v2", max_length = 512, pattern = r"^19:[^\s/\x00-\x1f\x7f-\x9f]+@(thread\.v2|thread\.tacv2|thread\.skype|unq\.gbl\.spaces)$")), request_body = SetAccess, responses((status = 200, description = "New shared access", body = AccessView), (status = 400, description = "invalid_issue_id, invalid_chat_id or invalid_public_access", body = ProblemDoc, content_type = "application/problem+json"), (status = 401, description = "Refused by JWT authentication (jwt_missing, jwt_malformed, jwt_alg, jwt_signature, jwt_expired, jwt_not_yet_valid, jwt_lifetime, jwt_qsh, jwt_claims, jwt_replayed, instance_unknown, instance_disabled)", body = ProblemDoc, content_type = "application/problem+json"), (status = 403, description = "not_chat_creator", body = ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "chat_not_found", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn set_chat_access(
    state: web::Data<AppState>,
    caller: JiraCaller,
    path: web::Path<(String, String)>,
    body: web::Json<SetAccess>,
) -> Result<HttpResponse, AppError> {
    let (issue, chat) = path.into_inner();
    let (issue, chat) = (issue_id(&issue)?, chat_id(&chat)?);
    let value = match body.public_access.as_str() {
        "share" => "share",
        "none" => "none",
        _ => {
            return Err(AppError::client(
                StatusCode::BAD_REQUEST,
                "invalid_public_access",
                "publicAccess must be \"share\" or \"none\".",
            ));
        }
    };
    let (link, _) = load_visible(&state, &caller, issue, &chat).await?;
    owner_only(&caller, &link)?;
    let access = issue_chats::set_sharing(
        &state,
        &caller.actor(),
        &link,
        value == "share",
        &caller.user_key,
    )
    .await?;
    Ok(HttpResponse::Ok().json(access_view(&Some(access))))
}
