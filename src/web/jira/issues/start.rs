//! `GET|POST /jira/{public_id}/issues/{issue}/start`: starting a Teams group chat for an issue,
//! as `POST /api/v1/issues/{id}/chats/create` does it (`services::chat_create`). Members are
//! picked from the users Jira says may browse the issue (asked as the user, `?q=` searching by
//! name), each marked linked or not linked to Microsoft, or typed as Microsoft sign-in names one
//! a line; when Jira does not let the user see who may browse the issue, only the typed names
//! remain. Needs the user's own working Microsoft link (else a pointer to their account page).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::list::IssueHead;
use super::{Link, Stop, finish, issue_url, problem, relay_problem, see_issue, session_ended};
use crate::clients::jira::{JiraCallError, JiraError};
use crate::db;
use crate::db::models::user_mapping::UserMapping;
use crate::domain::jira_user_key;
use crate::error::PageError;
use crate::services::chat_access::{self, Viewer};
use crate::services::chat_create::{self, MAX_MEMBERS, NewChat};
use crate::services::jira_session;
use crate::state::AppState;
use crate::web::admin::{Layout, html, see_other};
use crate::web::jira::layout;
use crate::web::jira::session::JiraUser;
use crate::web::session::{CsrfForm, CsrfToken};

/// Users the picker shows at most (Jira's `maxResults`).
const PICKER_SIZE: u32 = 20;
/// Longest search text.
const MAX_QUERY_CHARS: usize = 100;

/// Someone Jira says may browse the issue.
struct Candidate {
    key: String,
    name: String,
    login: String,
    /// Has a working Microsoft link (so can be added by their Jira account).
    linked: bool,
}

#[derive(Template)]
#[template(path = "jira/start.html")]
struct StartPage {
    layout: Layout,
    issue: IssueHead,
    /// The user's own Microsoft link works (else the form is not offered).
    linked: bool,
    account_url: String,
    action: String,
    q: String,
    /// `None` when Jira does not let the user see who may browse the issue.
    picker: Option<Vec<Candidate>>,
    picker_note: Option<String>,
    topic: String,
}

/// `?q=` of the picker.
#[derive(Debug, Deserialize)]
pub(super) struct StartQuery {
    q: Option<String>,
}

/// `GET /jira/{public_id}/issues/{issue}/start`.
pub(super) async fn start_page(
    state: web::Data<AppState>,
    user: JiraUser,
    csrf: CsrfToken,
    path: web::Path<(String, String)>,
    q: web::Query<StartQuery>,
) -> Result<HttpResponse, PageError> {
    finish(render(&state, &user, &csrf, &path.1, q.into_inner()).await)
}

async fn own_link(state: &AppState, user: &JiraUser) -> Result<Option<UserMapping>, Stop> {
    Ok(
        chat_access::mapping(state, user.0.instance.id, &user.0.user_key)
            .await?
            .filter(|m| m.status == "linked"),
    )
}

async fn render(
    state: &AppState,
    user: &JiraUser,
    csrf: &CsrfToken,
    raw: &str,
    q: StartQuery,
) -> Result<HttpResponse, Stop> {
    let seen = see_issue(state, user, csrf, raw, "/start", true).await?;
    let pid = user.0.instance.public_id.clone();
    let query: String =
        q.q.unwrap_or_default()
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_QUERY_CHARS)
            .collect();
    let linked = own_link(state, user).await?.is_some();
    let mut page = StartPage {
        layout: layout(user, csrf),
        issue: IssueHead::of(user, &seen),
        linked,
        account_url: format!("/jira/{pid}/me"),
        action: issue_url(&pid, seen.id, "/start"),
        q: query.clone(),
        picker: None,
        picker_note: None,
        topic: chat_create::topic(&seen.key, &seen.summary),
    };
    if linked {
        let back = issue_url(&pid, seen.id, "/start");
        let (token, client) =
            match jira_session::jira_token(state, &user.0, "find who may see the issue").await {
                Ok(t) => t,
                Err(e) if e.code() == "jira_session_ended" => {
                    return Err(session_ended(state, user, csrf, &back).await);
                }
                Err(e) => return Err(e.into()),
            };
        match client
            .users_who_can_browse(&token, &seen.key, &query, PICKER_SIZE)
            .await
        {
            Ok(users) => {
                let keys: Vec<String> = users.iter().map(|u| u.key.clone()).collect();
                let instance = user.0.instance.id;
                let links = db::run(&state.pool, move |conn| {
                    Ok(UserMapping::by_jira_users(conn, instance, &keys)?)
                })
                .await?;
                page.picker = Some(
                    users
                        .into_iter()
                        .filter(|u| u.key != user.0.user_key)
                        .map(|u| Candidate {
                            linked: links
                                .iter()
                                .any(|m| m.jira_user_key == u.key && m.status == "linked"),
                            name: if u.display_name.is_empty() {
                                u.name.clone()
                            } else {
                                u.display_name
                            },
                            login: u.name,
                            key: u.key,
                        })
                        .collect(),
                );
            }
            Err(JiraCallError::Refused(why)) => {
                page.picker_note = Some(format!(
                    "Jira does not let you see who may browse this issue ({why}), so add members by their Microsoft sign-in name."
                ));
            }
            Err(JiraCallError::Other(JiraError::Unauthorized)) => {
                return Err(session_ended(state, user, csrf, &back).await);
            }
            Err(JiraCallError::Other(e)) => {
                page.picker_note = Some(format!(
                    "Jira could not say who may browse this issue ({e}); add members by their Microsoft sign-in name, or try again."
                ));
            }
        }
    }
    Ok(html(page.render(), StatusCode::OK)?)
}

/// `POST /jira/{public_id}/issues/{issue}/start`: `member` (repeated: Jira user keys) and
/// `upns` (one a line); creates the chat and shows it.
pub(super) async fn start_chat(
    state: web::Data<AppState>,
    user: JiraUser,
    csrf: CsrfToken,
    path: web::Path<(String, String)>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    finish(create(&state, &user, &csrf, &path.1, form.0).await)
}

/// The members a start form names, or what is wrong with it.
fn members_of(form: &[(String, String)]) -> Result<(Vec<String>, Vec<String>), String> {
    let mut keys: Vec<String> = Vec::new();
    let mut upns: Vec<String> = Vec::new();
    for (name, value) in form {
        match name.as_str() {
            "member" => {
                if !jira_user_key::is_valid(value) {
                    return Err("The form named a Jira user that cannot exist.".to_owned());
                }
                if !keys.contains(value) {
                    keys.push(value.clone());
                }
            }
            "upns" => {
                for line in value.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    if !chat_create::valid_upn(line) {
                        return Err(format!(
                            "\"{}\" is not a Microsoft sign-in name (name@example.com).",
                            line.chars().take(80).collect::<String>()
                        ));
                    }
                    if !upns.iter().any(|u| u.eq_ignore_ascii_case(line)) {
                        upns.push(line.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    let n = keys.len() + upns.len();
    if n == 0 || n > MAX_MEMBERS {
        return Err(format!(
            "Pick or type 1 to {MAX_MEMBERS} colleagues besides you (this form had {n})."
        ));
    }
    Ok((keys, upns))
}

async fn create(
    state: &AppState,
    user: &JiraUser,
    csrf: &CsrfToken,
    raw: &str,
    form: Vec<(String, String)>,
) -> Result<HttpResponse, Stop> {
    let seen = see_issue(state, user, csrf, raw, "/start", false).await?;
    let pid = user.0.instance.public_id.clone();
    let form_url = issue_url(&pid, seen.id, "/start");
    let back = || Some(Link::new(form_url.clone(), "Back to the form"));
    let Some(me) = own_link(state, user).await? else {
        return Err(problem(
            layout(user, csrf),
            StatusCode::FORBIDDEN,
            "Link Microsoft first",
            "Link your Microsoft account on your account page first: the chat is created in Teams as you.",
            Some(Link::new(format!("/jira/{pid}/me"), "Your account")),
        ));
    };
    let (jira_users, upns) = members_of(&form).map_err(|why| {
        problem(
            layout(user, csrf),
            StatusCode::BAD_REQUEST,
            "Chat not started",
            &why,
            back(),
        )
    })?;
    let viewer = Viewer::of_session(&user.0);
    let new = NewChat {
        issue_id: seen.id,
        issue_key: seen.key.clone(),
        summary: seen.summary.clone(),
        jira_users,
        upns,
    };
    match chat_create::create_chat(state, &viewer, &me, new).await {
        Ok(created) => Ok(see_other(&issue_url(
            &pid,
            seen.id,
            &format!("/chats/{}", created.link.id),
        ))),
        Err(e) => {
            let (status, message, link) = relay_problem(e, &pid)?;
            Err(problem(
                layout(user, csrf),
                status,
                "Chat not started",
                &message,
                link.or_else(back),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn picked_users_and_typed_names_are_read_once_each_and_limits_are_kept() {
        let (keys, upns) = members_of(&form(&[
            ("csrf", "x"),
            ("member", "JIRAUSER1"),
            ("member", "JIRAUSER1"),
            (
                "upns",
                " carol@example.com \r\n\nCAROL@example.com\ndan@example.com",
            ),
        ]))
        .unwrap();
        assert_eq!(keys, ["JIRAUSER1"]);
        assert_eq!(upns, ["carol@example.com", "dan@example.com"]);
        assert!(members_of(&form(&[("csrf", "x")])).is_err(), "nobody");
        assert!(members_of(&form(&[("upns", "not a name")])).is_err());
        assert!(members_of(&form(&[("member", "\u{7}")])).is_err());
        let many: Vec<String> = (0..20).map(|i| format!("u{i}@example.com")).collect();
        assert!(members_of(&form(&[("upns", &many.join("\n"))])).is_err());
        assert!(members_of(&form(&[("upns", &many[..19].join("\n"))])).is_ok());
    }
}
