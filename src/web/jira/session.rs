//! The Jira user's session on the appliance's pages: one cookie per instance
//! (`jtb_jira_<public id>`, `__Host-` under TLS), `SameSite=Lax` because the user arrives through
//! a cross-site link from the Jira issue (Strict would drop it), HttpOnly, its token hashed in
//! `jira_user_session`. [`JiraUser`] extracts the signed-in user of the instance named by the
//! path's `{public_id}`; without a live session a page sends the browser to sign in with Jira
//! and back.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};

use crate::crypto::random;
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::jira_user_session::JiraUserSession;
use crate::domain::PublicId;
use crate::error::{AppError, PageError};
use crate::services::jira_session::SessionUser;
use crate::state::AppState;

/// The session cookie's name for an instance (`__Host-` when cookies are `Secure`, so a sibling
/// host cannot set it).
pub fn cookie_name(secure: bool, public_id: &str) -> String {
    if secure {
        format!("__Host-jtb_jira_{public_id}")
    } else {
        format!("jtb_jira_{public_id}")
    }
}

/// The cookie that carries a new session's token.
pub fn session_cookie(
    state: &AppState,
    public_id: &str,
    token: String,
    max_age: CookieDuration,
) -> Cookie<'static> {
    Cookie::build(cookie_name(state.secure_cookies, public_id), token)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .finish()
}

/// The cookie that removes the session from the browser.
pub fn removal_cookie(state: &AppState, public_id: &str) -> Cookie<'static> {
    let mut c = session_cookie(state, public_id, String::new(), CookieDuration::ZERO);
    c.make_removal();
    c
}

/// Ends every Jira user session this browser carries and removes their cookies. Called when an
/// admin signs in or out: the admin forms read service desks as the browser's Jira user, and
/// the next admin at a shared browser must not inherit the previous one's Jira sign-in.
pub async fn end_all_of_browser(
    state: &AppState,
    req: &HttpRequest,
    res: &mut HttpResponse,
) -> Result<(), AppError> {
    let found: Vec<(String, String)> = match req.cookies() {
        Ok(cookies) => cookies
            .iter()
            .filter_map(|c| {
                let pid = c
                    .name()
                    .strip_prefix("__Host-jtb_jira_")
                    .or_else(|| c.name().strip_prefix("jtb_jira_"))?;
                Some((pid.to_owned(), c.value().to_owned()))
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    for (pid, token) in found {
        let Some(public_id) = PublicId::parse(&pid) else {
            continue;
        };
        let p = public_id.as_str().to_owned();
        let instance = db::run(&state.pool, move |conn| {
            Ok(JiraInstance::find_by_public_id(conn, &p)?)
        })
        .await?;
        if let Some(i) = instance {
            crate::services::jira_session::end_by_token(state, i.id, &token).await?;
        }
        res.add_cookie(&removal_cookie(state, public_id.as_str()))
            .map_err(AppError::internal)?;
    }
    Ok(())
}

/// The sign-in URL that returns to `next` (a path under `/jira/`).
pub fn sign_in_url(public_id: &str, next: &str) -> String {
    let q = serde_urlencoded::to_string([("i", public_id), ("next", next)]).unwrap_or_default();
    format!("/auth/jira/signin?{q}")
}

/// The page a form posted to `action` is on: a chat's page for its actions
/// (`…/chats/{link}/reply|share|unlink`), the start page for starting a chat (it answers GET
/// too); `None` for the rest (the account page's forms), which return to the account page.
fn form_page(action: &str) -> Option<String> {
    let path = action.split('?').next().unwrap_or(action);
    if path.ends_with("/start") && path.contains("/issues/") {
        return Some(path.to_owned());
    }
    let (page, last) = path.rsplit_once('/')?;
    (page.contains("/chats/") && matches!(last, "reply" | "share" | "unlink"))
        .then(|| page.to_owned())
}

/// The signed-in Jira user of the path's instance.
#[derive(Debug, Clone)]
pub struct JiraUser(pub SessionUser);

/// Why a page for Jira users was not served.
#[derive(Debug, thiserror::Error)]
pub enum JiraUserRejection {
    /// No live session: sign in with Jira and come back to this URL.
    #[error("sign-in required")]
    SignIn(String),
    #[error(transparent)]
    Page(#[from] PageError),
}

impl ResponseError for JiraUserRejection {
    fn status_code(&self) -> StatusCode {
        match self {
            JiraUserRejection::SignIn(_) => StatusCode::SEE_OTHER,
            JiraUserRejection::Page(p) => p.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            JiraUserRejection::SignIn(to) => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to.as_str()))
                .finish(),
            JiraUserRejection::Page(p) => p.error_response(),
        }
    }
}

/// The instance a page's `{public_id}` names: unknown → 404, disabled → 403, both as pages that
/// say so.
pub async fn path_instance(state: &AppState, raw: &str) -> Result<JiraInstance, PageError> {
    let unknown = || {
        PageError(AppError::client(
            StatusCode::NOT_FOUND,
            "instance_unknown",
            "This appliance has no Jira instance with this ID. Open the link from your Jira issue again, or ask your administrator which address to use.",
        ))
    };
    let id = PublicId::parse(raw).ok_or_else(unknown)?;
    let found = db::run(&state.pool, move |conn| {
        Ok(JiraInstance::find_by_public_id(conn, id.as_str())?)
    })
    .await?
    .ok_or_else(unknown)?;
    if !found.enabled {
        return Err(PageError(AppError::client(
            StatusCode::FORBIDDEN,
            "instance_disabled",
            "This Jira instance is disabled in the appliance, so its pages are not available. Ask your administrator.",
        )));
    }
    Ok(found)
}

impl FromRequest for JiraUser {
    type Error = JiraUserRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let public_id = req.match_info().get("public_id").map(str::to_owned);
        let is_get = req.method() == actix_web::http::Method::GET;
        let here = match req.uri().path_and_query() {
            Some(pq) => pq.as_str().to_owned(),
            None => req.path().to_owned(),
        };
        let cookies: Vec<(String, String)> = req
            .cookies()
            .map(|all| {
                all.iter()
                    .map(|c| (c.name().to_owned(), c.value().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Box::pin(async move {
            let (Some(state), Some(public_id)) = (state, public_id) else {
                return Err(PageError(AppError::internal(anyhow::anyhow!(
                    "JiraUser used outside /jira/{{public_id}}"
                )))
                .into());
            };
            let instance = path_instance(&state, &public_id).await?;
            let name = cookie_name(state.secure_cookies, &instance.public_id);
            let token = cookies
                .into_iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v)
                .filter(|v| !v.is_empty() && v.len() <= 128);
            // a GET comes back to where it was; a form post to the page its form is on (its
            // own URL answers only POST)
            let back = if here.starts_with(&format!("/jira/{}/", instance.public_id)) {
                if is_get { Some(here) } else { form_page(&here) }
            } else {
                None
            }
            .unwrap_or_else(|| format!("/jira/{}/me", instance.public_id));
            let Some(token) = token else {
                return Err(JiraUserRejection::SignIn(sign_in_url(
                    &instance.public_id,
                    &back,
                )));
            };
            let hash = random::token_hash(&token);
            let idle = chrono::Duration::minutes(state.settings.jira.user_session_idle_mins);
            let id = instance.id;
            let session = db::run(&state.pool, move |conn| {
                Ok(JiraUserSession::find_live(conn, id, &hash, idle)?)
            })
            .await
            .map_err(|e| JiraUserRejection::Page(e.into()))?;
            match session {
                Some(s) => Ok(JiraUser(SessionUser {
                    session_id: s.id,
                    instance,
                    user_key: s.jira_user_key,
                    user_name: s.jira_user_name,
                })),
                None => Err(JiraUserRejection::SignIn(sign_in_url(
                    &instance.public_id,
                    &back,
                ))),
            }
        })
    }
}

/// The session token the browser sent for an instance (its cookie), if any.
pub fn cookie_token(req: &HttpRequest, state: &AppState, public_id: &str) -> Option<String> {
    req.cookie(&cookie_name(state.secure_cookies, public_id))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

#[derive(askama::Template)]
#[template(path = "jira/session_ended.html")]
struct SessionEnded {
    layout: crate::web::admin::Layout,
    sign_in: String,
}

/// The page when Jira no longer accepts a session's token (consent revoked in Jira, renewal
/// refused): the session is already gone; the page says so, removes the browser's cookie and
/// offers to sign in again and come back to `back` (a path of this instance under `/jira/`).
pub fn ended_page(
    state: &AppState,
    csrf: &crate::web::session::CsrfToken,
    public_id: &str,
    back: &str,
) -> Result<HttpResponse, PageError> {
    // the sign-in checks `next` again (`auth::jira_session::safe_next`)
    let back = if back.starts_with(&format!("/jira/{public_id}/")) {
        back.to_owned()
    } else {
        format!("/jira/{public_id}/me")
    };
    let page = SessionEnded {
        layout: crate::web::admin::Layout::anonymous(csrf),
        sign_in: sign_in_url(public_id, &back),
    };
    let mut res =
        crate::web::admin::html(askama::Template::render(&page), StatusCode::UNAUTHORIZED)?;
    let _ = res.add_removal_cookie(&removal_cookie(state, public_id));
    Ok(res)
}

/// A failed call made for a signed-in user as a page: an ended session
/// ([`crate::services::jira_session::session_ended`]) becomes [`ended_page`], anything else
/// the usual error page.
pub fn failure_page(
    state: &AppState,
    csrf: &crate::web::session::CsrfToken,
    user: &JiraUser,
    back: &str,
    e: AppError,
) -> Result<HttpResponse, PageError> {
    match e {
        AppError::Client {
            code: "jira_session_ended",
            ..
        } => ended_page(state, csrf, &user.0.instance.public_id, back),
        e => Err(PageError(e)),
    }
}
