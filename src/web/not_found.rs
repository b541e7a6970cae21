//! What an address nobody serves answers. A browser gets a page in the layout with a way back
//! (the Jira user's account page under `/jira/<public id>/`, the dashboard elsewhere); programs
//! — `/api/`, `/webhooks/`, `/bot/` and any client that does not ask for HTML — get the same
//! problem+json 404 as every other API error.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::domain::PublicId;
use crate::error::AppError;
use crate::web::admin::Layout;

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    layout: Layout,
    back_href: String,
    back_text: &'static str,
}

/// Whether the request is a browser's page load rather than a program's call.
fn wants_page(req: &HttpRequest) -> bool {
    let path = req.path();
    let program = ["/api/", "/webhooks/", "/bot/"]
        .iter()
        .any(|p| path.starts_with(p) || path == p.trim_end_matches('/'));
    let html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    !program && html
}

/// Where the page's way back leads: a Jira user's pages stay among the Jira user's pages.
fn way_back(path: &str) -> (String, &'static str) {
    let instance = path
        .strip_prefix("/jira/")
        .and_then(|rest| rest.split('/').next())
        .and_then(PublicId::parse);
    match instance {
        Some(pid) => (
            format!("/jira/{}/me", pid.as_str()),
            "Back to your account page",
        ),
        None => ("/admin".into(), "Back to the dashboard"),
    }
}

/// The default service of the internal listener.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    if !wants_page(&req) {
        return AppError::not_found("This page").error_response();
    }
    let (back_href, back_text) = way_back(req.path());
    let page = NotFoundPage {
        layout: Layout {
            csrf: String::new(),
            admin: None,
            jira: None,
            notice: None,
            version: env!("CARGO_PKG_VERSION"),
        },
        back_href,
        back_text,
    };
    match page.render() {
        Ok(html) => HttpResponse::NotFound()
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => AppError::internal(e).error_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jira_users_page_leads_back_to_their_account_page() {
        assert_eq!(way_back("/jira/tHXLY2/nope").0, "/jira/tHXLY2/me");
        assert_eq!(way_back("/jira/<script>/x").0, "/admin");
        assert_eq!(way_back("/nowhere").0, "/admin");
    }
}
