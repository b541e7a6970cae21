//! `GET /jira/{public_id}/issues/{issue}`: the issue as Jira shows it to the user and the Teams
//! chats linked to it that they may see (creator, known member, or shared), a page at a time
//! (keyset: `?after=` is an opaque cursor), each with its topic, creator, members as far as they
//! are known, sharing, *Open in Teams* and what Jira did with its remote link when it refused.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Link, SeenIssue, Stop, finish, issue_url, problem, see_issue};
use crate::db::models::issue_chat::{IssueChat, SharedAccess};
use crate::error::PageError;
use crate::services::chat_access::{self, Viewer};
use crate::state::AppState;
use crate::web::admin::{Layout, html};
use crate::web::jira::layout;
use crate::web::jira::session::JiraUser;
use crate::web::session::CsrfToken;

/// Chats per page.
const PAGE_SIZE: i64 = 20;

/// The issue at the top of its pages.
pub(super) struct IssueHead {
    pub key: String,
    pub summary: String,
    pub status: Option<String>,
    /// The issue page (id URL).
    pub url: String,
    /// The issue in Jira.
    pub jira_url: String,
}

impl IssueHead {
    pub(super) fn of(user: &JiraUser, seen: &SeenIssue) -> IssueHead {
        let i = &user.0.instance;
        IssueHead {
            key: seen.key.clone(),
            summary: seen.summary.clone(),
            status: seen.status.clone(),
            url: issue_url(&i.public_id, seen.id, ""),
            jira_url: format!("{}/browse/{}", i.base_url.trim_end_matches('/'), seen.key),
        }
    }
}

/// A linked chat as pages show it.
pub(super) struct ChatRow {
    pub url: String,
    /// The Teams topic, else the chat id.
    pub topic: String,
    pub creator: String,
    pub created: String,
    pub members: usize,
    /// Names of the members the appliance knows by name, comma-separated.
    pub member_names: String,
    pub shared: bool,
    /// *Open in Teams* (Graph's `webUrl`).
    pub web_url: Option<String>,
    /// Jira refused to show the chat in the issue, in Jira's words.
    pub refused: Option<String>,
    /// Teams says the chat was deleted.
    pub gone: bool,
    /// Attached from Teams: it cannot be shared.
    pub attached: bool,
}

impl ChatRow {
    pub(super) fn of(
        public_id: &str,
        chat: &IssueChat,
        access: &Option<SharedAccess>,
        people: &chat_access::People,
    ) -> ChatRow {
        let (members, names) = people.members_of(chat.id);
        ChatRow {
            url: issue_url(public_id, chat.issue_id, &format!("/chats/{}", chat.id)),
            topic: chat
                .topic
                .clone()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| chat.chat_id.clone()),
            creator: people.creator_name(&chat.created_by),
            created: chat.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            members,
            member_names: names.join(", "),
            shared: chat_access::is_shared(access),
            // Graph's own https link, never another scheme whatever a row holds
            web_url: chat.web_url.clone().filter(|u| u.starts_with("https://")),
            refused: (chat.remote_link_state == "refused").then(|| {
                chat.remote_link_detail
                    .clone()
                    .unwrap_or_else(|| "no reason given".to_owned())
            }),
            gone: chat.chat_gone,
            attached: chat.attached,
        }
    }
}

#[derive(Template)]
#[template(path = "jira/issue.html")]
struct IssuePage {
    layout: Layout,
    issue: IssueHead,
    chats: Vec<ChatRow>,
    /// The next page of chats.
    more: Option<String>,
    /// Paged past the first page: a link back to it.
    paged: bool,
    /// *Start a chat*, or where to link Microsoft first.
    start: Link,
}

/// `?after=` of the next page.
#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    after: Option<String>,
}

/// `GET /jira/{public_id}/issues/{issue}`.
pub(super) async fn issue_page(
    state: web::Data<AppState>,
    user: JiraUser,
    csrf: CsrfToken,
    path: web::Path<(String, String)>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    finish(render(&state, &user, &csrf, &path.1, q.into_inner()).await)
}

async fn render(
    state: &AppState,
    user: &JiraUser,
    csrf: &CsrfToken,
    raw: &str,
    q: ListQuery,
) -> Result<HttpResponse, Stop> {
    let seen = see_issue(state, user, csrf, raw, "", true).await?;
    let pid = user.0.instance.public_id.clone();
    let after = match q.after.as_deref() {
        None => None,
        Some(c) => Some(chat_access::decode_cursor(c).ok_or_else(|| {
            problem(
                layout(user, csrf),
                StatusCode::BAD_REQUEST,
                "Bad page link",
                "This page link is not one the appliance made. Start from the issue's first page.",
                Some(Link::new(issue_url(&pid, seen.id, ""), "First page")),
            )
        })?),
    };
    let viewer = Viewer::of_session(&user.0);
    let (rows, next) = chat_access::list_visible(state, &viewer, seen.id, after, PAGE_SIZE).await?;
    let links: Vec<IssueChat> = rows.iter().map(|(c, _)| c.clone()).collect();
    let people = chat_access::people(state, viewer.instance_id, &links).await?;
    let chats = rows
        .iter()
        .map(|(c, a)| ChatRow::of(&pid, c, a, &people))
        .collect();
    let microsoft_linked = chat_access::mapping(state, viewer.instance_id, &viewer.user_key)
        .await?
        .is_some_and(|m| m.status == "linked");
    let start = if microsoft_linked {
        Link::new(issue_url(&pid, seen.id, "/start"), "Start a Teams chat")
    } else {
        Link::new(
            format!("/jira/{pid}/me"),
            "Link your Microsoft account to start a Teams chat",
        )
    };
    let issue = IssueHead::of(user, &seen);
    let more = next.map(|c| format!("{}?after={}", issue.url, chat_access::encode_cursor(&c)));
    let page = IssuePage {
        layout: layout(user, csrf),
        issue,
        chats,
        more,
        paged: q.after.is_some(),
        start,
    };
    Ok(html(page.render(), StatusCode::OK)?)
}
