//! `/jira/{public_id}/me`: the signed-in user's account page. Who they are in Jira (asked of
//! Jira with their own token, so the page also proves the sign-in still works), and their link to
//! Microsoft: linked (to whom, since when), needing a new Microsoft sign-in (and why), or not
//! linked; with *Link Microsoft account* (the existing account-linking flow, started here) and
//! *Unlink* (what `DELETE /api/v1/me` does).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::layout;
use super::session::{JiraUser, failure_page};
use crate::error::{AppError, PageError};
use crate::services::{account_link, jira_session};
use crate::state::AppState;
use crate::web::admin::{Layout, html, see_other};
use crate::web::session::{CsrfToken, EmptyForm};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/jira/{public_id}/me", web::get().to(me_page))
        .route(
            "/jira/{public_id}/me/link-microsoft",
            web::post().to(link_microsoft),
        )
        .route("/jira/{public_id}/me/unlink", web::post().to(unlink));
}

/// The link to Microsoft as the page shows it.
enum MicrosoftLink {
    Linked { name: String, since: String },
    NeedsSignIn { name: String, detail: String },
    NotLinked,
}

#[derive(Template)]
#[template(path = "jira/me.html")]
struct MePage {
    layout: Layout,
    public_id: String,
    user_name: String,
    user_key: String,
    jira_url: String,
    /// Why Jira could not confirm the sign-in just now (the page still shows what it knows).
    jira_warning: Option<String>,
    microsoft: MicrosoftLink,
}

#[derive(Deserialize)]
struct MeQuery {
    notice: Option<String>,
}

/// Fixed notices after an action (`?notice=`): unknown values show nothing, so no text from the
/// URL reaches the page.
fn notice_text(key: Option<&str>) -> Option<&'static str> {
    match key? {
        "unlinked" => Some(
            "Your Microsoft account is unlinked. The appliance erased the Microsoft and Jira tokens it kept for you.",
        ),
        "not_linked" => Some("There was no Microsoft account to unlink."),
        _ => None,
    }
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `GET /jira/{public_id}/me`.
async fn me_page(
    state: web::Data<AppState>,
    user: JiraUser,
    csrf: CsrfToken,
    q: web::Query<MeQuery>,
) -> Result<HttpResponse, PageError> {
    let here = format!("/jira/{}/me", user.0.instance.public_id);
    let (user_name, jira_warning) = match jira_session::myself(&state, &user.0).await {
        Ok(me) if !me.display_name.is_empty() => (me.display_name, None),
        Ok(_) => (user.0.user_name.clone(), None),
        Err(AppError::Client {
            code: "jira_unavailable" | "jira_oauth_not_configured",
            message,
            ..
        }) => (user.0.user_name.clone(), Some(message)),
        Err(e) => return failure_page(&state, &csrf, &user, &here, e),
    };
    let mapping = account_link::find(&state, user.0.instance.id, &user.0.user_key)
        .await
        .map_err(PageError)?;
    let microsoft = match mapping {
        None => MicrosoftLink::NotLinked,
        Some(m) if m.status == "linked" => MicrosoftLink::Linked {
            name: m.ms_user_name.unwrap_or_else(|| m.ms_user_id.to_string()),
            since: ts(m.created_at),
        },
        Some(m) => MicrosoftLink::NeedsSignIn {
            name: m.ms_user_name.unwrap_or_else(|| m.ms_user_id.to_string()),
            detail: m
                .status_detail
                .unwrap_or_else(|| "Microsoft no longer accepts the appliance's sign-in.".into()),
        },
    };
    let mut l = layout(&user, &csrf);
    l.notice = notice_text(q.notice.as_deref());
    let p = MePage {
        layout: l,
        public_id: user.0.instance.public_id.clone(),
        user_name,
        user_key: user.0.user_key.clone(),
        jira_url: user.0.instance.base_url.clone(),
        jira_warning,
        microsoft,
    };
    let mut res = html(p.render(), StatusCode::OK)?;
    // the page names the user: never from a shared cache
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

/// `POST /jira/{public_id}/me/link-microsoft`: starts account linking for this Jira user and
/// sends the browser to Microsoft.
async fn link_microsoft(
    state: web::Data<AppState>,
    user: JiraUser,
    _form: EmptyForm,
    csrf: CsrfToken,
) -> Result<HttpResponse, PageError> {
    crate::web::auth::jira_session::link_microsoft(
        &state,
        &csrf,
        user.0.instance.id,
        &user.0.user_key,
    )
    .await
}

/// `POST /jira/{public_id}/me/unlink`: unlinks this Jira user from Microsoft, exactly as
/// `DELETE /api/v1/me` does, and comes back to the account page with a notice.
async fn unlink(
    state: web::Data<AppState>,
    user: JiraUser,
    _form: EmptyForm,
) -> Result<HttpResponse, PageError> {
    let u = &user.0;
    let removed = account_link::unlink(&state, u.instance.id, &u.instance.public_id, &u.user_key)
        .await
        .map_err(PageError)?;
    let notice = if removed { "unlinked" } else { "not_linked" };
    Ok(see_other(&format!(
        "/jira/{}/me?notice={notice}",
        u.instance.public_id
    )))
}
