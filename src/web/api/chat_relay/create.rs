//! `POST /api/v1/issues/{issueId}/chats/create`: a Teams group chat for an issue, created as the
//! caller with the issue's key and summary as its topic, the Teams app added, and linked.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{bad, caller_mapping};
use crate::domain::jira_user_key;
use crate::error::{AppError, ProblemDoc};
use crate::services::chat_create::{self, NewChat};
use crate::services::chat_relay::RelayError;
use crate::services::{connections, tokens};
use crate::state::AppState;
use crate::web::api::issue_chats::{ChatView, issue_id, view, viewer};
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

/// `POST /api/v1/issues/{issueId}/chats/create`.
#[utoipa::path(post, path = "/api/v1/issues/{issue_id}/chats/create", tag = "chat relay", params(("issue_id" = String, Path, description = "Jira's numeric issue id, e.g. 10045", example = "10045", pattern = r"^[1-9][0-9]{0,17}$")), request_body = CreateChat, responses((status = 201, description = "Group chat created in Teams and linked to the issue; the caller is its creator and an owner", body = CreatedChat), (status = 400, description = "invalid_issue_id, invalid_member, too_many_members, graph_bad_request or invalid_json", body = ProblemDoc, content_type = "application/problem+json"), (status = 401, description = "Refused by JWT authentication", body = ProblemDoc, content_type = "application/problem+json"), (status = 403, description = "not_linked or graph_forbidden", body = ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "issue_not_visible", body = ProblemDoc, content_type = "application/problem+json"), (status = 409, description = "needs_sign_in", body = ProblemDoc, content_type = "application/problem+json"), (status = 422, description = "member_not_linked or member_unknown", body = ProblemDoc, content_type = "application/problem+json"), (status = 502, description = "graph_unavailable, jira_unavailable, microsoft_configuration", body = ProblemDoc, content_type = "application/problem+json"), (status = 503, description = "microsoft_not_configured, jira_oauth_not_configured, graph_throttled", body = ProblemDoc, content_type = "application/problem+json")), security(("jiraJwt" = [])))]
pub async fn create_issue_chat(
    state: web::Data<AppState>,
    caller: JiraCaller,
    path: web::Path<String>,
    body: web::Json<CreateChat>,
) -> Result<HttpResponse, AppError> {
    let issue = issue_id(&path)?;
    if body.members.is_empty() || body.members.len() > chat_create::MAX_MEMBERS {
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
            (None, Some(u)) if chat_create::valid_upn(u) => upns.push(u.clone()),
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
        .ok_or(RelayError::NotLinked)?;
    let who = caller.actor();
    let instance = connections::instance(&state, caller.instance_id).await?;

    // the issue as the caller sees it in Jira: its key and summary make the topic
    let (jira_token, jira) =
        tokens::jira_token(&state, &instance, &me, &who, "read the issue as the user").await?;
    let found = match jira.issue(&jira_token, &issue.to_string()).await {
        Ok(f) => f,
        Err(e) if e.needs_sign_in() => {
            // the grant was revoked: the link lapsed (the user is told once)
            crate::services::link_lapse::jira_refused(&state, &me).await;
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

    let created = chat_create::create_chat(
        &state,
        &viewer(&caller),
        &me,
        NewChat {
            issue_id: issue,
            issue_key: found.key,
            summary: found.fields.summary,
            jira_users,
            upns,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(CreatedChat {
        chat: view(&created.link, &None),
        topic: created.topic,
        web_url: created.web_url,
        bot_installed: created.bot_installed,
    }))
}
