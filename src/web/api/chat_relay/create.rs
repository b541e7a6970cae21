//! `POST /api/v1/issues/{issueId}/chats/create`: a Teams group chat for an issue, created as the
//! caller with the issue's key and summary as its topic, the Teams app added, and linked.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{actor, bad, caller_mapping, graph_error, not_linked};
use crate::clients::graph::{GraphError, Member};
use crate::db;
use crate::db::models::user_mapping::UserMapping;
use crate::domain::jira_user_key;
use crate::error::{AppError, ProblemDoc};
use crate::services::issue_chats::{self, ChatToLink};
use crate::services::{connections, tokens};
use crate::state::AppState;
use crate::web::api::issue_chats::{ChatView, issue_id, view};
use crate::web::api::jira_caller::JiraCaller;

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
        pattern = r#"^[^@\s\x00-\x1f\x7f-\x9f'"()<>,;/\\]+@[^\s\x00-\x1f\x7f-\x9f'"()<>,;/\\]*\.[^\s\x00-\x1f\x7f-\x9f'"()<>,;/\\]*$"#
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

/// What `NewMember.upn` documents (`maxLength` counts characters; the pattern's `\s` is
/// JavaScript's, which is Rust's white space without U+0085, a control anyway, plus U+FEFF).
fn valid_upn(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.chars().count() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || c == '\u{feff}' || "'\"()<>,;/\\".contains(c)
        })
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
    let link = issue_chats::link(
        &state,
        &who,
        ChatToLink {
            instance: caller.instance_id,
            issue_id: issue,
            chat_id: chat_id.as_str().to_owned(),
            created_by: caller.user_key.clone(),
            topic: Some(topic.clone()),
            web_url: chat.web_url.clone(),
            members: member_ids,
        },
    )
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
