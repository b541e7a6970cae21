//! Pages for Jira users, with nothing installed in Jira (`shared/design/JIRA-SURFACE.md`): the
//! session of a user signed in with Jira (`session`), their account page (`me`) and the issue's
//! Teams chats (`issues`). Every URL carries the instance's public ID; every change is a POST
//! with the CSRF token and Origin check ([`crate::web::session::CsrfForm`]).

mod issues;
mod me;
pub mod session;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::PageError;
use crate::web::admin::{JiraNav, Layout};
use crate::web::session::{CsrfToken, EmptyForm};
use session::JiraUser;

/// Routes of the pages for Jira users.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/jira/{public_id}/signout", web::post().to(sign_out));
    me::routes(cfg);
    issues::routes(cfg);
}

/// The layout of a page for a signed-in Jira user.
pub fn layout(user: &JiraUser, csrf: &CsrfToken) -> Layout {
    let mut l = Layout::anonymous(csrf);
    l.jira = Some(JiraNav {
        public_id: user.0.instance.public_id.clone(),
        user_name: user.0.user_name.clone(),
    });
    l
}

/// `POST /jira/{public_id}/signout`: ends this browser's session of the instance (when it still
/// has one: signing out after it expired just clears the cookie) and removes the cookie.
/// Sessions of other instances in this browser stay.
async fn sign_out(
    state: web::Data<crate::state::AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    _form: EmptyForm,
    csrf: CsrfToken,
) -> Result<HttpResponse, PageError> {
    let instance = session::path_instance(&state, &path).await?;
    if let Some(token) = session::cookie_token(&req, &state, &instance.public_id) {
        crate::services::jira_session::end_by_token(&state, instance.id, &token)
            .await
            .map_err(PageError)?;
    }
    let mut res = crate::web::admin::html(
        askama::Template::render(&SignedOut {
            layout: Layout::anonymous(&csrf),
            public_id: instance.public_id.clone(),
        }),
        StatusCode::OK,
    )?;
    let _ = res.add_removal_cookie(&session::removal_cookie(&state, &instance.public_id));
    Ok(res)
}

#[derive(askama::Template)]
#[template(path = "jira/signed_out.html")]
struct SignedOut {
    layout: Layout,
    public_id: String,
}
