//! `/jira/{public_id}/issues/{issue}` and below: an issue's Teams chats for a signed-in Jira
//! user (JIRA-SURFACE.md "The issue page"). Every page first asks Jira, as the user, whether they
//! may see the issue; a refusal shows "not available to you" and nothing of its chats. URLs carry
//! Jira's issue id (a key, or a moved issue's old key, redirects to the id URL); the remote link
//! in the Jira issue points at `…/issues/{issue id}/chats/{link id}`.
//!
//! `list` is the issue page, `chat` a chat's messages and the reply form, `start` starting a
//! chat, `share` sharing, making private and unlinking. This module holds what they share:
//! asking Jira for the issue, the pages that say why something is not shown, and the marker type
//! for sanitised message HTML.

mod chat;
mod list;
mod share;
mod start;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::layout;
use super::session::{JiraUser, removal_cookie, sign_in_url};
use crate::clients::jira::{IssueLookup, JiraError};
use crate::db;
use crate::db::models::issue_chat::IssueChat;
use crate::error::{AppError, PageError};
use crate::services::chat_relay::RelayError;
use crate::services::jira_session;
use crate::state::AppState;
use crate::web::admin::{Layout, html, see_other};
use crate::web::session::CsrfToken;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    let issue = "/jira/{public_id}/issues/{issue}";
    cfg.route(issue, web::get().to(list::issue_page))
        .route(&format!("{issue}/start"), web::get().to(start::start_page))
        .route(&format!("{issue}/start"), web::post().to(start::start_chat))
        .route(
            &format!("{issue}/chats/{{link}}"),
            web::get().to(chat::chat_page),
        )
        .route(
            &format!("{issue}/chats/{{link}}/reply"),
            web::post().to(chat::reply),
        )
        .route(
            &format!("{issue}/chats/{{link}}/share"),
            web::post().to(share::share),
        )
        .route(
            &format!("{issue}/chats/{{link}}/unlink"),
            web::post().to(share::unlink),
        );
    // a form posted after the session lapsed comes back here from the sign-in: to its page
    for action in ["reply", "share", "unlink"] {
        cfg.route(
            &format!("{issue}/chats/{{link}}/{action}"),
            web::get().to(chat::back_to_chat),
        );
    }
}

/// Most characters of a Jira issue key the pages accept.
const MAX_KEY_LEN: usize = 255;

/// An issue as the URL names it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IssueRef {
    Id(i64),
    Key(String),
}

/// Jira's numeric id, or a key such as `ABC-123` (any case: Jira retries keys upper-cased).
fn issue_ref(raw: &str) -> Option<IssueRef> {
    if raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw.parse::<i64>().ok().filter(|n| *n > 0).map(IssueRef::Id);
    }
    let (project, number) = raw.rsplit_once('-')?;
    let project_ok = project
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && project
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    let number_ok = !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && !number.starts_with('0');
    (project_ok && number_ok && raw.len() <= MAX_KEY_LEN)
        .then(|| IssueRef::Key(raw.to_ascii_uppercase()))
}

/// The issue as Jira showed it to the user.
#[derive(Debug, Clone)]
pub(super) struct SeenIssue {
    pub id: i64,
    pub key: String,
    pub summary: String,
    pub status: Option<String>,
}

/// A link on a page: where to, and its words.
pub(super) struct Link {
    pub href: String,
    pub text: String,
}

impl Link {
    pub(super) fn new(href: impl Into<String>, text: impl Into<String>) -> Link {
        Link {
            href: href.into(),
            text: text.into(),
        }
    }
}

#[derive(Template)]
#[template(path = "jira/issue_problem.html")]
struct ProblemPage<'a> {
    layout: Layout,
    title: &'a str,
    message: &'a str,
    link: Option<Link>,
}

/// What a handler answers instead of its page: a page saying why (or a redirect), or an error.
pub(super) enum Stop {
    Page(HttpResponse),
    Error(PageError),
}

impl From<PageError> for Stop {
    fn from(e: PageError) -> Self {
        Stop::Error(e)
    }
}

impl From<AppError> for Stop {
    fn from(e: AppError) -> Self {
        Stop::Error(PageError(e))
    }
}

impl From<db::DbError> for Stop {
    fn from(e: db::DbError) -> Self {
        Stop::Error(e.into())
    }
}

/// The handler's answer, whichever way it ended.
pub(super) fn finish(r: Result<HttpResponse, Stop>) -> Result<HttpResponse, PageError> {
    match r {
        Ok(res) | Err(Stop::Page(res)) => Ok(res),
        Err(Stop::Error(e)) => Err(e),
    }
}

/// A page that says why something is not shown, and what to do.
pub(super) fn problem(
    layout: Layout,
    status: StatusCode,
    title: &str,
    message: &str,
    link: Option<Link>,
) -> Stop {
    let page = ProblemPage {
        layout,
        title,
        message,
        link,
    };
    match html(page.render(), status) {
        Ok(res) => Stop::Page(res),
        Err(e) => Stop::Error(e),
    }
}

/// What the user sees when Jira does not let them see the issue (or it does not exist): the
/// same words either way, and nothing of its chats.
pub(super) fn not_available(user: &JiraUser, csrf: &CsrfToken) -> Stop {
    problem(
        layout(user, csrf),
        StatusCode::NOT_FOUND,
        "Not available",
        "This issue is not available to you: Jira does not show it to you, or it does not exist.",
        Some(Link::new(
            user.0.instance.base_url.clone(),
            "Open Jira".to_owned(),
        )),
    )
}

/// Jira refused the session's token (consent revoked, sign-in expired): the session ends here
/// and the page offers to sign in again and come back to `back`.
pub(super) async fn session_ended(
    state: &AppState,
    user: &JiraUser,
    csrf: &CsrfToken,
    back: &str,
) -> Stop {
    if let Err(e) = jira_session::end(state, user.0.session_id).await {
        return e.into();
    }
    let pid = &user.0.instance.public_id;
    match problem(
        Layout::anonymous(csrf),
        StatusCode::UNAUTHORIZED,
        "Sign in again",
        "Jira no longer accepts your sign-in (it may have been revoked in Jira), so you were signed out here. Sign in again to continue.",
        Some(Link::new(sign_in_url(pid, back), "Sign in with Jira again")),
    ) {
        Stop::Page(mut res) => {
            let _ = res.add_removal_cookie(&removal_cookie(state, pid));
            Stop::Page(res)
        }
        e => e,
    }
}

/// The id URL of an issue's page, or of what lies below it (`rest`: `""`, `/chats/<id>`, …).
pub(super) fn issue_url(public_id: &str, issue: i64, rest: &str) -> String {
    format!("/jira/{public_id}/issues/{issue}{rest}")
}

/// Asks Jira, as the session user, for the issue the URL names. A key redirects a GET to the
/// id URL of the same page (`rest` below the issue) when `redirect` is set.
pub(super) async fn see_issue(
    state: &AppState,
    user: &JiraUser,
    csrf: &CsrfToken,
    raw: &str,
    rest: &str,
    redirect: bool,
) -> Result<SeenIssue, Stop> {
    let pid = user.0.instance.public_id.clone();
    let Some(wanted) = issue_ref(raw) else {
        return Err(not_available(user, csrf));
    };
    let back = format!("/jira/{pid}/issues/{raw}{rest}");
    let (token, client) =
        match jira_session::jira_token(state, &user.0, "read the issue as the user").await {
            Ok(t) => t,
            Err(e) if e.code() == "jira_session_ended" => {
                return Err(session_ended(state, user, csrf, &back).await);
            }
            Err(e) => return Err(e.into()),
        };
    let asked = match &wanted {
        IssueRef::Id(id) => id.to_string(),
        IssueRef::Key(k) => k.clone(),
    };
    let found = match client.issue_lookup(&token, &asked).await {
        Ok(IssueLookup::Visible(f)) => f,
        Ok(IssueLookup::Hidden) => return Err(not_available(user, csrf)),
        Ok(IssueLookup::Missing) => {
            if let IssueRef::Id(id) = wanted {
                let instance = user.0.instance.id;
                let deleted = db::run(&state.pool, move |conn| {
                    Ok(IssueChat::issue_was_deleted(conn, instance, id)?)
                })
                .await?;
                if deleted {
                    return Err(problem(
                        layout(user, csrf),
                        StatusCode::GONE,
                        "Issue deleted",
                        "This issue was deleted in Jira. Its Teams chats still exist in Teams; the appliance keeps their links for export.",
                        None,
                    ));
                }
            }
            return Err(not_available(user, csrf));
        }
        Err(JiraError::Unauthorized) => return Err(session_ended(state, user, csrf, &back).await),
        Err(JiraError::Status(429)) => {
            return Err(problem(
                layout(user, csrf),
                StatusCode::SERVICE_UNAVAILABLE,
                "Jira is busy",
                "Jira is limiting requests right now. Try again in a minute.",
                None,
            ));
        }
        Err(e) => {
            return Err(problem(
                layout(user, csrf),
                StatusCode::BAD_GATEWAY,
                "Jira did not answer",
                &format!("Jira could not be asked about this issue: {e}. Try again shortly."),
                None,
            ));
        }
    };
    let Ok(id) = found.id.parse::<i64>() else {
        return Err(Stop::Error(PageError(AppError::internal(anyhow::anyhow!(
            "Jira gave an issue id that is not a number"
        )))));
    };
    if matches!(wanted, IssueRef::Key(_)) && redirect {
        return Err(Stop::Page(see_other(&issue_url(&pid, id, rest))));
    }
    Ok(SeenIssue {
        id,
        key: found.key,
        summary: found.fields.summary,
        status: found
            .fields
            .status
            .map(|s| s.name)
            .filter(|s| !s.is_empty()),
    })
}

/// The words a chat page shows for a relay failure, with its status and what to do next; an
/// unexpected failure stays an error.
pub(super) fn relay_problem(
    e: RelayError,
    public_id: &str,
) -> Result<(StatusCode, String, Option<Link>), PageError> {
    let me = || Some(Link::new(format!("/jira/{public_id}/me"), "Your account"));
    Ok(match e {
        RelayError::NotVisible => (StatusCode::FORBIDDEN, PRIVATE.to_owned(), None),
        RelayError::MemberNotLinked | RelayError::NotLinked => (
            StatusCode::FORBIDDEN,
            "Link your Microsoft account on your account page first; the appliance reads and writes Teams chats as you.".to_owned(),
            me(),
        ),
        RelayError::NeedsSignIn(_) => (
            StatusCode::CONFLICT,
            "Your Microsoft sign-in has lapsed: sign in to Microsoft again on your account page.".to_owned(),
            me(),
        ),
        RelayError::CreatorSignInLapsed => (
            StatusCode::CONFLICT,
            "The creator must sign in to Microsoft again before others can read this chat here.".to_owned(),
            None,
        ),
        RelayError::Throttled { retry_after_secs } => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Teams is busy, try again in {retry_after_secs} s."),
            None,
        ),
        RelayError::GraphForbidden => (
            StatusCode::FORBIDDEN,
            "Teams refused: the account reading this chat is no longer a member of it (someone left the chat). A member can add them back in Teams.".to_owned(),
            None,
        ),
        RelayError::ChatGone => (
            StatusCode::NOT_FOUND,
            "This chat was deleted in Teams.".to_owned(),
            None,
        ),
        RelayError::MembersNotLinked(keys) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "These Jira users have not linked a Microsoft account: {}. Add them by their Microsoft sign-in name instead.",
                keys.join(", ")
            ),
            None,
        ),
        RelayError::MemberUnknown => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Microsoft does not know one of the members; check the sign-in names.".to_owned(),
            None,
        ),
        RelayError::Other(AppError::Client {
            status, message, ..
        }) => (status, message, None),
        RelayError::Other(e) => return Err(PageError(e)),
    })
}

/// What a viewer who may not read a private chat is told (not a Teams error).
pub(super) const PRIVATE: &str =
    "This chat is private — ask the creator to share it with everyone who can see the issue.";

/// HTML the chat sanitiser made (`services::chat_relay::message`, through `domain::chat_html`):
/// nothing else constructs one, so templates print it as it is without `|safe` on user data.
pub(super) struct SanitizedHtml(String);

impl SanitizedHtml {
    /// Wraps the sanitiser's output.
    pub(super) fn from_sanitiser(html: String) -> SanitizedHtml {
        SanitizedHtml(html)
    }
}

impl std::fmt::Display for SanitizedHtml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for SanitizedHtml {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_keys_are_told_apart_and_anything_else_is_refused() {
        assert_eq!(issue_ref("10045"), Some(IssueRef::Id(10045)));
        assert_eq!(issue_ref("abc-1"), Some(IssueRef::Key("ABC-1".into())));
        assert_eq!(issue_ref("AB_2-17"), Some(IssueRef::Key("AB_2-17".into())));
        for bad in [
            "0",
            "",
            "-1",
            "ABC-",
            "ABC-01",
            "1ABC-2",
            "ABC-1/x",
            "A B-1",
            "99999999999999999999",
        ] {
            assert_eq!(issue_ref(bad), None, "{bad}");
        }
    }
}
