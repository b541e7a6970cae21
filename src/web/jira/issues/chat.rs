//! `GET /jira/{public_id}/issues/{issue id}/chats/{link id}` — where the chat's remote link in the
//! Jira issue leads: the chat's messages, newest first with an *Older* link (an opaque cursor),
//! bodies sanitised as the API serves them, "(edited)" and "(deleted)" as Graph says; read with
//! the viewer's own Microsoft token when they are the creator or a member, else (a shared chat)
//! with the creator's, each such read audited. Members with a working Microsoft link reply here
//! (`POST …/reply`); the creator also shares, makes private and unlinks (`share`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use uuid::Uuid;

use super::list::{ChatRow, IssueHead};
use super::{
    Link, PRIVATE, SanitizedHtml, SeenIssue, Stop, finish, issue_url, problem, relay_problem,
    see_issue,
};
use crate::db::models::issue_chat::{IssueChat, SharedAccess};
use crate::error::PageError;
use crate::services::chat_access::{self, Standing, Viewer};
use crate::services::chat_relay::{self, Message, RelayError};
use crate::services::issue_chats;
use crate::state::AppState;
use crate::web::admin::{Layout, html, see_other};
use crate::web::jira::layout;
use crate::web::jira::session::JiraUser;
use crate::web::session::{CsrfForm, CsrfToken};

/// Messages per page.
const PAGE_SIZE: u32 = 20;
/// Longest reply, in characters (as `/api/v1` takes it).
const MAX_REPLY_CHARS: usize = 4000;

/// A linked chat the viewer reached through an issue Jira shows them.
pub(super) struct Reached {
    pub issue: SeenIssue,
    pub link: IssueChat,
    pub access: Option<SharedAccess>,
    pub standing: Standing,
}

/// The issue (asked of Jira as the user), the link below it and the viewer's standing; a link
/// that is not this issue's answers 404, a private chat of others 403 ([`PRIVATE`]).
pub(super) async fn reach(
    state: &AppState,
    user: &JiraUser,
    csrf: &CsrfToken,
    (issue, link): (&str, &str),
    redirect: bool,
) -> Result<Reached, Stop> {
    // a key URL redirects to the id URL with the link as parsed, never as sent (a junk link
    // then goes to the issue's page)
    let rest = Uuid::parse_str(link)
        .map(|u| format!("/chats/{u}"))
        .unwrap_or_default();
    let seen = see_issue(state, user, csrf, issue, &rest, redirect).await?;
    let unknown = || {
        problem(
            layout(user, csrf),
            StatusCode::NOT_FOUND,
            "No such chat",
            "No Teams chat with this link is linked to this issue (it may have been unlinked).",
            Some(Link::new(
                issue_url(&user.0.instance.public_id, seen.id, ""),
                "The issue's chats",
            )),
        )
    };
    let id = Uuid::parse_str(link).map_err(|_| unknown())?;
    let viewer = Viewer::of_session(&user.0);
    let (chat, access) = chat_access::find_by_link(state, &viewer, seen.id, id)
        .await?
        .ok_or_else(unknown)?;
    let standing = chat_access::standing(state, &viewer, &chat, &access, true).await?;
    if !standing.may_read() {
        return Err(problem(
            layout(user, csrf),
            StatusCode::FORBIDDEN,
            "Private chat",
            PRIVATE,
            Some(Link::new(
                issue_url(&user.0.instance.public_id, seen.id, ""),
                "The issue's chats",
            )),
        ));
    }
    Ok(Reached {
        issue: seen,
        link: chat,
        access,
        standing,
    })
}

/// A message as the chat page shows it.
struct MessageRow {
    from: String,
    when: String,
    html: SanitizedHtml,
    edited: bool,
    deleted: bool,
    system: bool,
}

impl MessageRow {
    fn of(m: Message) -> MessageRow {
        let when = m
            .created_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        MessageRow {
            from: m.from_name.unwrap_or_else(|| match m.from_kind {
                Some("application") => "An app".to_owned(),
                Some(_) => "Someone".to_owned(),
                None => String::new(),
            }),
            when,
            system: m.kind == "systemEventMessage",
            edited: m.edited,
            deleted: m.deleted,
            html: SanitizedHtml::from_sanitiser(m.html),
        }
    }
}

#[derive(Template)]
#[template(path = "jira/chat.html")]
struct ChatPage {
    layout: Layout,
    issue: IssueHead,
    chat: ChatRow,
    /// Why no messages are shown, and what to do.
    problem: Option<String>,
    problem_link: Option<Link>,
    messages: Vec<MessageRow>,
    older: Option<String>,
    /// On an older page: back to the newest.
    newest: Option<String>,
    /// Read with the creator's account on the viewer's behalf.
    on_behalf: bool,
    can_reply: bool,
    creator: bool,
}

/// `?before=` of an older page.
#[derive(Debug, Deserialize)]
pub(super) struct ChatQuery {
    before: Option<String>,
}

/// `GET /jira/{public_id}/issues/{issue}/chats/{link}`.
pub(super) async fn chat_page(
    state: web::Data<AppState>,
    user: JiraUser,
    csrf: CsrfToken,
    path: web::Path<(String, String, String)>,
    q: web::Query<ChatQuery>,
) -> Result<HttpResponse, PageError> {
    let (_, issue, link) = path.into_inner();
    finish(render(&state, &user, &csrf, (&issue, &link), q.into_inner()).await)
}

async fn render(
    state: &AppState,
    user: &JiraUser,
    csrf: &CsrfToken,
    path: (&str, &str),
    q: ChatQuery,
) -> Result<HttpResponse, Stop> {
    let r = reach(state, user, csrf, path, true).await?;
    let pid = user.0.instance.public_id.clone();
    let people = chat_access::people(
        state,
        r.link.jira_instance_id,
        std::slice::from_ref(&r.link),
    )
    .await?;
    let row = ChatRow::of(&pid, &r.link, &r.access, &people);
    let newest_url = row.url.clone();
    let bad_cursor = || {
        problem(
            layout(user, csrf),
            StatusCode::BAD_REQUEST,
            "Bad page link",
            "This page link is not one the appliance made. Start from the newest messages.",
            Some(Link::new(newest_url.clone(), "Newest messages")),
        )
    };
    let cursor = match q.before.as_deref() {
        None => None,
        Some(c) => Some(
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(bad_cursor)?,
        ),
    };
    let mut page = ChatPage {
        layout: layout(user, csrf),
        issue: IssueHead::of(user, &r.issue),
        problem: None,
        problem_link: None,
        messages: Vec::new(),
        older: None,
        newest: q.before.is_some().then(|| row.url.clone()),
        on_behalf: false,
        can_reply: false,
        creator: r.standing.creator,
        chat: row,
    };
    let mut status = StatusCode::OK;
    let mut retry_after = None;
    if r.link.chat_gone {
        // Teams said so before: no need to ask again
        status = StatusCode::NOT_FOUND;
        page.problem = Some("This chat was deleted in Teams.".to_owned());
    } else {
        let viewer = Viewer::of_session(&user.0);
        match chat_relay::read_messages(
            state,
            &viewer,
            &r.link,
            r.standing,
            PAGE_SIZE,
            cursor.as_deref(),
        )
        .await
        {
            Ok(read) => {
                page.on_behalf = read.on_behalf;
                page.can_reply = r.standing.member && !read.on_behalf;
                page.older = read
                    .next_link
                    .map(|l| format!("{}?before={}", page.chat.url, URL_SAFE_NO_PAD.encode(l)));
                page.messages = read.messages.into_iter().map(MessageRow::of).collect();
            }
            Err(RelayError::Other(e)) if e.code() == "invalid_cursor" => {
                return Err(bad_cursor());
            }
            Err(e) => {
                if matches!(e, RelayError::ChatGone) {
                    issue_chats::mark_chat_gone(state, &r.link).await?;
                    page.chat.gone = true;
                }
                if let RelayError::Throttled { retry_after_secs } = e {
                    retry_after = Some(retry_after_secs);
                }
                let (s, text, link) = relay_problem(e, &pid)?;
                status = s;
                page.problem = Some(text);
                page.problem_link = link;
            }
        }
    }
    let mut res = html(page.render(), status)?;
    if let Some(secs) = retry_after
        && let Ok(v) = actix_web::http::header::HeaderValue::from_str(&secs.to_string())
    {
        res.headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, v);
    }
    Ok(res)
}

/// A reply as the form sends it.
#[derive(Debug, Deserialize)]
pub(super) struct ReplyForm {
    text: String,
}

/// `POST /jira/{public_id}/issues/{issue}/chats/{link}/reply`: posts as the viewer, then shows
/// the chat again.
pub(super) async fn reply(
    state: web::Data<AppState>,
    user: JiraUser,
    csrf: CsrfToken,
    path: web::Path<(String, String, String)>,
    form: CsrfForm<ReplyForm>,
) -> Result<HttpResponse, PageError> {
    let (_, issue, link) = path.into_inner();
    finish(post_reply(&state, &user, &csrf, (&issue, &link), &form.0.text).await)
}

async fn post_reply(
    state: &AppState,
    user: &JiraUser,
    csrf: &CsrfToken,
    path: (&str, &str),
    text: &str,
) -> Result<HttpResponse, Stop> {
    let r = reach(state, user, csrf, path, false).await?;
    let pid = user.0.instance.public_id.clone();
    let back = issue_url(&pid, r.issue.id, &format!("/chats/{}", r.link.id));
    if !r.standing.member {
        return Err(problem(
            layout(user, csrf),
            StatusCode::FORBIDDEN,
            "Members only",
            "Only the chat's members can reply here. You can read it because its creator shared it.",
            Some(Link::new(back, "Back to the chat")),
        ));
    }
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_REPLY_CHARS {
        return Err(problem(
            layout(user, csrf),
            StatusCode::BAD_REQUEST,
            "Reply not sent",
            "A reply is 1 to 4000 characters.",
            Some(Link::new(back, "Back to the chat")),
        ));
    }
    let viewer = Viewer::of_session(&user.0);
    match chat_relay::post_reply(state, &viewer, &r.link.chat_id, text).await {
        Ok(_) => Ok(see_other(&back)),
        Err(e) => {
            if matches!(e, RelayError::ChatGone) {
                issue_chats::mark_chat_gone(state, &r.link).await?;
            }
            let (status, message, link) = relay_problem(e, &pid)?;
            Err(problem(
                layout(user, csrf),
                status,
                "Reply not sent",
                &message,
                link.or(Some(Link::new(back, "Back to the chat"))),
            ))
        }
    }
}

/// `GET` of a chat's form actions (a form posted after the session lapsed comes back here from
/// the sign-in): to the chat's page.
pub(super) async fn back_to_chat(path: web::Path<(String, String, String)>) -> HttpResponse {
    let (pid, issue, link) = path.into_inner();
    let enc = crate::domain::qsh::percent_encode;
    let (pid, issue, link) = (enc(&pid), enc(&issue), enc(&link));
    see_other(&format!("/jira/{pid}/issues/{issue}/chats/{link}"))
}
