//! `/jira/{public_id}/me`: who the signed-in user is in Jira, and their Microsoft link.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::layout;
use super::session::JiraUser;
use crate::error::PageError;
use crate::web::admin::{Layout, html};
use crate::web::session::CsrfToken;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/jira/{public_id}/me", web::get().to(me_page));
}

#[derive(Template)]
#[template(path = "jira/me.html")]
struct MePage {
    layout: Layout,
    user_name: String,
    user_key: String,
    jira_url: String,
}

/// `GET /jira/{public_id}/me`.
async fn me_page(user: JiraUser, csrf: CsrfToken) -> Result<HttpResponse, PageError> {
    let p = MePage {
        layout: layout(&user, &csrf),
        user_name: user.0.user_name.clone(),
        user_key: user.0.user_key.clone(),
        jira_url: user.0.instance.base_url.clone(),
    };
    html(p.render(), StatusCode::OK)
}
