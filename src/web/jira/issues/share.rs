//! The creator's changes to a linked chat, as forms on its page: `POST …/chats/{link}/share`
//! (`to=shared` or `to=private`) and `POST …/chats/{link}/unlink`, through the one write path
//! (`services::issue_chats`), which rewrites or deletes the chat's remote link in the Jira issue.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::chat::reach;
use super::{Link, Stop, finish, issue_url, problem};
use crate::error::PageError;
use crate::services::issue_chats;
use crate::state::AppState;
use crate::web::admin::see_other;
use crate::web::jira::layout;
use crate::web::jira::session::JiraUser;
use crate::web::session::{CsrfForm, CsrfToken, EmptyForm};

/// What the share form asks for.
#[derive(Debug, Deserialize)]
pub(super) struct ShareForm {
    to: String,
}

/// `POST /jira/{public_id}/issues/{issue}/chats/{link}/share`.
pub(super) async fn share(
    state: web::Data<AppState>,
    user: JiraUser,
    csrf: CsrfToken,
    path: web::Path<(String, String, String)>,
    form: CsrfForm<ShareForm>,
) -> Result<HttpResponse, PageError> {
    let (_, issue, link) = path.into_inner();
    finish(change(&state, &user, &csrf, (&issue, &link), Some(&form.0.to)).await)
}

/// `POST /jira/{public_id}/issues/{issue}/chats/{link}/unlink`.
pub(super) async fn unlink(
    state: web::Data<AppState>,
    user: JiraUser,
    csrf: CsrfToken,
    path: web::Path<(String, String, String)>,
    _form: EmptyForm,
) -> Result<HttpResponse, PageError> {
    let (_, issue, link) = path.into_inner();
    finish(change(&state, &user, &csrf, (&issue, &link), None).await)
}

/// Shares (`Some("shared")`), makes private (`Some("private")`) or unlinks (`None`).
async fn change(
    state: &AppState,
    user: &JiraUser,
    csrf: &CsrfToken,
    path: (&str, &str),
    share_to: Option<&str>,
) -> Result<HttpResponse, Stop> {
    let r = reach(state, user, csrf, path, false).await?;
    let pid = user.0.instance.public_id.clone();
    let chat_url = issue_url(&pid, r.issue.id, &format!("/chats/{}", r.link.id));
    if !r.standing.creator {
        return Err(problem(
            layout(user, csrf),
            StatusCode::FORBIDDEN,
            "Creator only",
            "Only the chat's creator can share it, make it private or unlink it.",
            Some(Link::new(chat_url, "Back to the chat")),
        ));
    }
    let actor = user.0.actor();
    match share_to {
        Some(to) => {
            let shared = match to {
                "shared" => true,
                "private" => false,
                _ => {
                    return Err(problem(
                        layout(user, csrf),
                        StatusCode::BAD_REQUEST,
                        "Nothing changed",
                        "The form asked for neither shared nor private.",
                        Some(Link::new(chat_url, "Back to the chat")),
                    ));
                }
            };
            match issue_chats::set_sharing(state, &actor, &r.link, shared, &user.0.user_key).await {
                Ok(_) => Ok(see_other(&chat_url)),
                Err(e) if e.code() == "chat_attached" => Err(problem(
                    layout(user, csrf),
                    StatusCode::CONFLICT,
                    "Not shared",
                    "This chat was attached from Teams: its history belongs to its members, so it stays private to them.",
                    Some(Link::new(chat_url, "Back to the chat")),
                )),
                Err(e) => Err(e.into()),
            }
        }
        None => {
            issue_chats::unlink(state, &actor, &r.link, &pid, &user.0.user_key).await?;
            Ok(see_other(&issue_url(&pid, r.issue.id, "")))
        }
    }
}
