//! The issue pages for Jira users (`/jira/<public id>/issues/…`): their URLs, a world with a chat
//! on ABC-1, reading and posting to them as a signed-in browser, and the rows a test checks
//! behind them (the link, its outbox rows, the audit of shared reads).

use diesel::prelude::*;
use jira_teams_bridge::db::schema::{issue_chat, outbox, secret_access_audit};
use uuid::Uuid;

use super::app::location;
use super::jira_user::{csrf_of, post_form};
use super::world::{ISSUE, World, create_chat_with_bob, linked_world};

/// `/jira/<public id>/issues/<issue>` (an id or a key).
pub fn issue_path(w: &World, issue: impl std::fmt::Display) -> String {
    format!("/jira/{}/issues/{issue}", w.jira_app.public_id)
}

/// The page of a linked chat of ABC-1: where its remote link in Jira points.
pub fn chat_path(w: &World, link: Uuid) -> String {
    format!("{}/chats/{link}", issue_path(w, ISSUE))
}

/// The link id of a chat linked to ABC-1.
pub fn link_id(w: &World, chat: &str) -> Uuid {
    issue_chat::table
        .filter(issue_chat::chat_id.eq(chat))
        .select(issue_chat::id)
        .first(&mut w.conn())
        .unwrap()
}

/// ABC-1 with Alice and Bob linked to Microsoft, and the chat Alice started with Bob through the
/// API: (world, Teams chat id, link id).
pub async fn chat_world() -> (World, String, Uuid) {
    let w = linked_world().await;
    let chat = create_chat_with_bob(&w).await;
    let link = link_id(&w, &chat);
    (w, chat, link)
}

/// What a page answered, without following redirects: status, body, `Location` if any.
pub struct Seen {
    pub status: u16,
    pub html: String,
    pub location: Option<String>,
}

async fn seen(res: reqwest::Response) -> Seen {
    let status = res.status().as_u16();
    let location = res.status().is_redirection().then(|| location(&res));
    Seen {
        status,
        html: res.text().await.unwrap(),
        location,
    }
}

/// GETs a page as the browser.
pub async fn get(w: &World, b: &reqwest::Client, path: &str) -> Seen {
    seen(b.get(w.app.url(path)).send().await.unwrap()).await
}

/// POSTs a form from one of the browser's pages, with its CSRF token.
pub async fn post(w: &World, b: &reqwest::Client, path: &str, fields: &[(&str, &str)]) -> Seen {
    let me = format!("/jira/{}/me", w.jira_app.public_id);
    let csrf = csrf_of(w, b, &me).await;
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    seen(post_form(w, b, path, &all).await).await
}

/// The outbox rows of one kind: (dedupe key, payload).
pub fn outbox_rows(w: &World, kind: &str) -> Vec<(Option<String>, serde_json::Value)> {
    outbox::table
        .filter(outbox::kind.eq(kind))
        .order(outbox::id.asc())
        .select((outbox::dedupe_key, outbox::payload))
        .load(&mut w.conn())
        .unwrap()
}

/// Audit rows of secret reads whose purpose starts with `prefix`.
pub fn audited_reads(w: &World, prefix: &str) -> i64 {
    secret_access_audit::table
        .filter(secret_access_audit::purpose.like(format!("{prefix}%")))
        .count()
        .get_result(&mut w.conn())
        .unwrap()
}

/// Graph requests logged since the log had `since` entries: "METHOD path?query".
pub fn graph_requests_since(w: &World, since: usize) -> Vec<String> {
    w.graph.requests.lock().unwrap()[since..]
        .iter()
        .map(|(_, m, p)| format!("{m} {p}"))
        .collect()
}

/// The `href` of the page's `rel="next"` link (*More chats*, *Older*), unescaped; `None` when
/// there is none.
pub fn next_link(html: &str) -> Option<String> {
    let end = html.find("\" rel=\"next\"")?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(html[start..end].replace("&amp;", "&"))
}
