//! What both legs of a sign-in share: the result page, the cookie that binds a sign-in to one
//! browser, and taking the flow a provider's answer (`state`) belongs to.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::crypto::random;
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::sign_in_flow::{FLOW_TTL_MINS, SignInFlow};
use crate::error::PageError;
use crate::state::AppState;
use crate::web::admin::{Layout, html};
use crate::web::session::CsrfToken;

#[derive(Template)]
#[template(path = "auth/result.html")]
struct ResultPage {
    layout: Layout,
    title: &'static str,
    ok: bool,
    message: String,
    details: Vec<String>,
}

pub(super) fn page(
    csrf: &CsrfToken,
    status: StatusCode,
    title: &'static str,
    message: impl Into<String>,
    details: Vec<String>,
) -> Result<HttpResponse, PageError> {
    let p = ResultPage {
        layout: Layout::anonymous(csrf),
        title,
        ok: status.is_success(),
        message: message.into(),
        details,
    };
    html(p.render(), status)
}

pub(super) fn failed(
    csrf: &CsrfToken,
    status: StatusCode,
    message: impl Into<String>,
) -> Result<HttpResponse, PageError> {
    page(csrf, status, "Sign-in did not complete", message, vec![])
}

pub(super) fn cookie_name(state: &AppState) -> &'static str {
    if state.secure_cookies {
        "__Host-jtb_signin"
    } else {
        "jtb_signin"
    }
}

/// The cookie that binds a starting sign-in to this browser. Lax: the browser must send it on
/// the top-level redirect back from Microsoft and Jira.
pub(super) fn browser_cookie(state: &AppState, browser: String) -> Cookie<'static> {
    Cookie::build(cookie_name(state), browser)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::minutes(FLOW_TTL_MINS))
        .finish()
}

pub(super) fn browser_matches(req: &HttpRequest, state: &AppState, flow: &SignInFlow) -> bool {
    req.cookie(cookie_name(state)).is_some_and(|c| {
        random::constant_time_eq(&random::token_hash(c.value()), &flow.browser_hash)
    })
}

pub(super) fn sign_in_actor() -> Actor {
    Actor::System("account linking".into())
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    pub(super) code: Option<String>,
    pub(super) state: Option<String>,
    pub(super) error: Option<String>,
}

/// Only a provider's error code (letters and `_`) is shown; descriptions are not echoed.
fn provider_error(e: &str) -> String {
    e.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

pub(super) async fn take_flow(
    state: &AppState,
    req: &HttpRequest,
    q: &CallbackQuery,
    stage: &'static str,
) -> Result<Result<SignInFlow, (StatusCode, String)>, PageError> {
    let Some(s) = q.state.as_deref() else {
        return Ok(Err((
            StatusCode::BAD_REQUEST,
            "The answer carries no state. Start again from Jira.".into(),
        )));
    };
    let hash = random::token_hash(s);
    let flow = db::run(&state.pool, move |conn| {
        Ok(SignInFlow::take(conn, &hash, stage)?)
    })
    .await?;
    let Some(flow) = flow else {
        return Ok(Err((
            StatusCode::BAD_REQUEST,
            "This sign-in answer is unknown, expired or was already used. Start again from Jira."
                .into(),
        )));
    };
    if !browser_matches(req, state, &flow) {
        tracing::warn!(flow.id = %flow.id, "sign-in answer arrived in another browser; flow stopped");
        return Ok(Err((StatusCode::FORBIDDEN, "This sign-in was started in another browser. Open the link from Jira in the browser you sign in with.".into())));
    }
    if let Some(e) = q.error.as_deref() {
        if e == "access_denied" && return_path(state, &flow).await?.is_some() {
            return Ok(Err((
                StatusCode::FORBIDDEN,
                "You did not allow the appliance to use your Jira account, so you are not signed in. The appliance needs it to ask Jira, as you, which issues you may see. Open the link from your Jira issue again and choose Allow.".into(),
            )));
        }
        return Ok(Err((
            StatusCode::BAD_REQUEST,
            format!(
                "The sign-in was refused or cancelled ({}).",
                provider_error(e)
            ),
        )));
    }
    if q.code.as_deref().is_none_or(str::is_empty) {
        return Ok(Err((
            StatusCode::BAD_REQUEST,
            "The answer carries no authorization code.".into(),
        )));
    }
    Ok(Ok(flow))
}

/// Where a sign-in to the Jira user pages returns to (`None`: the flow links accounts).
pub(super) async fn return_path(
    state: &AppState,
    flow: &SignInFlow,
) -> Result<Option<String>, PageError> {
    let id = flow.id;
    Ok(db::run(&state.pool, move |conn| {
        Ok(SignInFlow::return_path(conn, id)?)
    })
    .await?)
}
