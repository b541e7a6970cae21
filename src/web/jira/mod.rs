//! Pages for Jira users, with nothing installed in Jira (`shared/design/JIRA-SURFACE.md`): the
//! session of a user signed in with Jira (`session`), their account page (`me`) and the issue's
//! Teams chats (`issues`). Every URL carries the instance's public ID; every change is a POST
//! with the CSRF token and Origin check ([`crate::web::session::CsrfForm`]).

mod issues;
mod me;
pub mod session;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

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

/// `POST /jira/{public_id}/signout`: ends the session here and in this browser.
async fn sign_out(
    state: web::Data<crate::state::AppState>,
    user: JiraUser,
    _form: EmptyForm,
    csrf: CsrfToken,
) -> Result<HttpResponse, PageError> {
    crate::services::jira_session::end(&state, user.0.session_id)
        .await
        .map_err(PageError)?;
    let mut res = crate::web::admin::html(
        askama::Template::render(&SignedOut {
            layout: Layout::anonymous(&csrf),
        }),
        StatusCode::OK,
    )?;
    let _ = res.add_removal_cookie(&session::removal_cookie(&state, &user.0.instance.public_id));
    Ok(res)
}

#[derive(askama::Template)]
#[template(path = "jira/signed_out.html")]
struct SignedOut {
    layout: Layout,
}
