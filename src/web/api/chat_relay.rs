//! The Graph relay for the Jira app: create a Teams group chat for an issue, read its messages
//! (sanitised) and reply, always as a Microsoft user. Members and the creator read with their own
//! token; a Jira user reading a chat its creator shared is served with the creator's token, and
//! each such read writes its own audit row.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::issue_chats::{ChatView, chat_id, issue_id, load_visible, load_with_membership, view};
use super::jira_caller::JiraCaller;
use crate::clients::graph::{GraphError, MAX_TOP, Member};
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::issue_chat::IssueChat;
use crate::db::models::user_mapping::UserMapping;
use crate::domain::chat_html;
use crate::domain::jira_user_key;
use crate::error::{AppError, ProblemDoc};
use crate::services::{connections, tokens};
use crate::state::AppState;

fn actor(caller: &JiraCaller) -> Actor {
    Actor::Api(format!("{}:{}", caller.public_id, caller.user_key))
}

async fn caller_mapping(
    state: &AppState,
    caller: &JiraCaller,
) -> Result<Option<UserMapping>, AppError> {
    let (id, key) = (caller.instance_id, caller.user_key.clone());
    Ok(db::run(&state.pool, move |conn| {
        Ok(UserMapping::find(conn, id, &key)?)
    })
    .await?)
}

fn not_linked() -> AppError {
    AppError::client(
        StatusCode::FORBIDDEN,
        "not_linked",
        "Link your Microsoft account first (GET /api/v1/me gives the sign-in link).",
    )
}

/// Maps a Graph failure to the API; a refused token marks the link for a new sign-in.
async fn graph_error(state: &AppState, mapping: &UserMapping, e: GraphError) -> AppError {
    match e {
        GraphError::Unauthorized { .. } => {
            let id = mapping.id;
            let _ = db::run(&state.pool, move |conn| {
                Ok(UserMapping::mark_needs_reauth(
                    conn,
                    id,
                    "Microsoft refused the stored token",
                )?)
            })
            .await;
            tokens::needs_sign_in("Microsoft refused the stored token")
        }
        GraphError::Throttled { retry_after_secs } => AppError::client(
            StatusCode::SERVICE_UNAVAILABLE,
            "graph_throttled",
            format!("Microsoft Graph is throttling; retry in {retry_after_secs} s."),
        ),
        GraphError::Status { status: 403, .. } => AppError::client(
            StatusCode::FORBIDDEN,
            "graph_forbidden",
            "Microsoft Graph refused: the user is not a member of this chat or lacks permission.",
        ),
        GraphError::Status { status: 404, .. } => AppError::client(
            StatusCode::NOT_FOUND,
            "teams_chat_not_found",
            "Teams does not know this chat (deleted?).",
        ),
        GraphError::Status {
            status: 400,
            message,
            ..
        } => AppError::client(
            StatusCode::BAD_REQUEST,
            "graph_bad_request",
            format!("Microsoft Graph refused the request: {message}"),
        ),
        GraphError::ForeignLink => AppError::client(
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
            "The cursor is not one this API returned.",
        ),
        e => AppError::client(
            StatusCode::BAD_GATEWAY,
            "graph_unavailable",
            format!("Microsoft Graph could not be reached: {e}"),
        ),
    }
}

/// A member of a new chat: a linked Jira user of this instance, or a Microsoft user by UPN.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(min_properties = 1, max_properties = 1, example = json!({"upn": "carol@contoso.example"}))]
pub struct NewMember {
    /// A Jira user key that is linked in the appliance.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*\S[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub jira_user: Option<String>,
    /// A Microsoft user's sign-in name.
    #[schema(
        nullable = false,
        max_length = 254,
        pattern = r#"^[^@\s\x00-\x1f\x7f'\"()<>,;/\\]+@[^\s\x00-\x1f\x7f'\"()<>,;/\\]*\.[^\s\x00-\x1f\x7f'\"()<>,;/\\]*$"#
    )]
    pub upn: Option<String>,
}

/// Body of a chat creation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateChat {
    /// 1 to 19 colleagues besides the caller.
    #[schema(min_items = 1, max_items = 19)]
    pub members: Vec<NewMember>,
}

/// A created chat.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedChat {
    #[serde(flatten)]
    pub chat: ChatView,
    pub topic: String,
    pub web_url: Option<String>,
    /// False when the Teams app could not be added to the chat (notifications will not arrive
    /// there until it is); the reason is in the service log.
    pub bot_installed: bool,
}

fn bad(code: &'static str, m: impl Into<String>) -> AppError {
    AppError::client(StatusCode::BAD_REQUEST, code, m)
}

fn valid_upn(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "'\"()<>,;/\\".contains(c))
}

/// `POST /api/v1/issues/{issueId}/chats/create`.
#[utoipa::path(post, path = "/api/v1/issues/{issue_id}/chats/create", tag = "chat relay", params(("issue_id" = String, Path, description = "Jira's numeric issue id, e.g. 10045", example = "10045", pattern = r"^[1-9][0-9]{0,17}$")), request_body = CreateChat, responses((status = 201, description = "Group chat created in Teams and linked to the issue; the caller is its creator and an owner", body = CreatedChat), (status = 400, description = "invalid_issue_id, invalid_member, too_many_members, graph_bad_request or invalid_json", body = ProblemDoc, content_type = "application/problem+json"), (status = 401, description = "Refused by JWT authentication", body = ProblemDoc, content_type = "application/problem+json"), (status = 403, description = "not_linked or graph_forbidden", body = ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "issue_not_visible", body = ProblemDoc, content_type = "application/problem+json"), (status = 409, description = "needs_sign_in", body = ProblemDoc, content_type = "application/problem+json"), (status = 422, description = "member_not_linked or member_unknown", body = ProblemDoc, content_type = "application/problem+json"), (status = 502, description = "graph_unavailable, jira_unavailable, microsoft_configuration", body = ProblemDoc, content_type = "application/problem+json"), (status = 503, description = "microsoft_not_configured, jira_oauth_not_configured, graph_throttled", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn create_issue_chat(
    state: web::Data<AppState>,
    caller: JiraCaller,
    path: web::Path<String>,
    body: web::Json<CreateChat>,
) -> Result<HttpResponse, AppError> {
    let issue = issue_id(&path)?;
    if body.members.is_empty() || body.members.len() > 19 {
        return Err(bad(
            "too_many_members",
            "A group chat needs 1 to 19 colleagues besides you.",
        ));
    }
    let mut jira_users = Vec::new();
    let mut upns = Vec::new();
    for m in &body.members {
        match (&m.jira_user, &m.upn) {
            (Some(k), None) if jira_user_key::is_valid(k) => jira_users.push(k.clone()),
            (None, Some(u)) if valid_upn(u) => upns.push(u.clone()),
            _ => {
                return Err(bad(
                    "invalid_member",
                    "Each member is {\"jiraUser\": \"<user key>\"} or {\"upn\": \"name@example.com\"}.",
                ));
            }
        }
    }
    let me = caller_mapping(&state, &caller)
        .await?
        .ok_or_else(not_linked)?;
    let who = actor(&caller);
    let instance = connections::instance(&state, caller.instance_id).await?;

    // the issue as the caller sees it in Jira: its key and summary make the topic
    let (jira_token, jira) =
        tokens::jira_token(&state, &instance, &me, &who, "read the issue as the user").await?;
    let found = match jira.issue(&jira_token, &issue.to_string()).await {
        Ok(f) => f,
        Err(e) if e.needs_sign_in() => {
            return Err(tokens::needs_sign_in("Jira refused the stored token"));
        }
        Err(e) => {
            return Err(AppError::client(
                StatusCode::BAD_GATEWAY,
                "jira_unavailable",
                format!("Jira could not be asked about the issue: {e}"),
            ));
        }
    };
    let Some(found) = found else {
        return Err(AppError::client(
            StatusCode::NOT_FOUND,
            "issue_not_visible",
            "The issue does not exist or you may not see it in Jira.",
        ));
    };

    let (id, keys) = (caller.instance_id, jira_users.clone());
    let linked = db::run(&state.pool, move |conn| {
        Ok(UserMapping::by_jira_users(conn, id, &keys)?)
    })
    .await?;
    let missing: Vec<&String> = jira_users
        .iter()
        .filter(|k| {
            !linked
                .iter()
                .any(|m| &m.jira_user_key == *k && m.status == "linked")
        })
        .collect();
    if !missing.is_empty() {
        return Err(AppError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            "member_not_linked",
            format!(
                "These Jira users have not linked a Microsoft account: {}. Invite them by UPN instead.",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let mut members: Vec<Member> = linked
        .iter()
        .filter(|m| m.ms_user_id != me.ms_user_id)
        .map(|m| Member {
            user: m.ms_user_id.to_string(),
            guest: false,
        })
        .collect();
    members.extend(upns.iter().map(|u| Member {
        user: u.clone(),
        guest: false,
    }));

    let ms = connections::microsoft(&state, &who).await?;
    let token =
        tokens::microsoft_token(&state, &me, &who, "create a Teams chat as the user", false)
            .await?;
    let topic: String = format!("{}: {}", found.key, found.fields.summary)
        .chars()
        .take(250)
        .collect();
    let chat = match ms
        .graph
        .create_group_chat(&token, &me.ms_user_id.to_string(), &topic, &members)
        .await
    {
        Ok(c) => c,
        Err(GraphError::Status { status: 404, .. }) => {
            return Err(AppError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                "member_unknown",
                "Microsoft does not know one of the members; check the UPNs.",
            ));
        }
        Err(e) => return Err(graph_error(&state, &me, e).await),
    };
    let Some(chat_id) = crate::domain::TeamsChatId::parse(&chat.id) else {
        return Err(AppError::client(
            StatusCode::BAD_GATEWAY,
            "graph_unavailable",
            "Graph returned a chat id of an unknown shape.",
        ));
    };
    let bot_installed = match ms.registration.teams_app_catalog_id.as_deref() {
        Some(catalog) => match ms
            .graph
            .install_app(&token, chat_id.as_str(), catalog)
            .await
        {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "could not add the Teams app to the new chat");
                false
            }
        },
        None => {
            tracing::warn!(
                "no Teams app catalog id configured: the bot was not added to the new chat"
            );
            false
        }
    };
    // what the appliance knows of the members: everyone Graph lists, else whom it asked for
    let mut member_ids: Vec<Uuid> = match ms.graph.chat_member_ids(&token, chat_id.as_str()).await {
        Ok(ids) => ids.iter().filter_map(|i| Uuid::parse_str(i).ok()).collect(),
        Err(_) => linked.iter().map(|m| m.ms_user_id).collect(),
    };
    member_ids.push(me.ms_user_id);
    let (id, user, cid) = (
        caller.instance_id,
        caller.user_key.clone(),
        chat_id.as_str().to_owned(),
    );
    let link = db::run(&state.pool, move |conn| {
        use diesel::Connection;
        Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let link = IssueChat::insert(conn, id, issue, &cid, &user)?;
            if let Some(l) = &link {
                IssueChat::add_members(conn, l.id, &member_ids)?;
            }
            Ok(link)
        })?)
    })
    .await?
    .ok_or_else(|| {
        AppError::client(
            StatusCode::CONFLICT,
            "chat_already_linked",
            "This chat is already linked to this issue.",
        )
    })?;
    tracing::info!(instance.public_id = %caller.public_id, issue.id = issue, bot.installed = bot_installed, "Teams chat created for issue");
    Ok(HttpResponse::Created().json(CreatedChat {
        chat: view(&link, &None),
        topic,
        web_url: chat.web_url,
        bot_installed,
    }))
}

/// A message as the Jira app shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: String,
    pub created_at: Option<String>,
    /// `message` or `systemEventMessage`.
    pub kind: String,
    pub from_name: Option<String>,
    pub from_user_id: Option<String>,
    /// The body reduced to safe HTML.
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
    MessageView {
        id: s(&m["id"]).unwrap_or_default(),
        created_at: s(&m["createdDateTime"]),
        kind: s(&m["messageType"]).unwrap_or_else(|| "message".into()),
        from_name: s(&m["from"]["user"]["displayName"]),
        from_user_id: s(&m["from"]["user"]["id"]),
        html: chat_html::sanitize(
            m["body"]["content"].as_str().unwrap_or_default(),
            m["body"]["contentType"].as_str().unwrap_or("text"),
        ),
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
