//! `/auth/*`: linking a Jira user to a Microsoft user in the browser.
//!
//! `GET /api/v1/me` hands the Jira app a signed, ten-minute, single-use link for the calling
//! Jira user. Opening it binds the sign-in to this browser (a cookie) and starts the Microsoft
//! leg (authorization code + PKCE S256, `state` and `nonce`); the callback validates the ID
//! token and keeps the tokens encrypted in the flow. The Jira leg (OAuth 2.0 + PKCE) follows, and
//! `GET /rest/api/2/myself` must name the Jira user the link was made for: a forwarded link
//! cannot tie someone else's account. Only then are the link and both users' tokens stored, in
//! one transaction.
//!
//! By flow: `from_jira` starts a link made by the Jira app, `from_teams` one asked for in Teams;
//! `microsoft_leg` and `jira_leg` are the two sign-ins both go through (their callbacks), and
//! `flow` holds what they share (the result page, the browser cookie, taking a flow by `state`).

mod flow;
mod from_jira;
pub mod from_teams;
mod jira_leg;
pub mod jira_session;
pub mod link;
mod microsoft_leg;
mod start_microsoft;

use actix_web::web;

pub use flow::CallbackQuery;
pub use from_jira::{StartQuery, start};
pub use jira_leg::jira_callback;
pub(crate) use jira_leg::store_link;
pub use microsoft_leg::microsoft_callback;

/// Routes of the sign-in flow.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/start", web::get().to(start))
        .route("/auth/teams/start", web::get().to(from_teams::start))
        .route(
            "/auth/microsoft/callback",
            web::get().to(microsoft_callback),
        )
        .route("/auth/jira/callback", web::get().to(jira_callback))
        .route("/auth/jira/signin", web::get().to(jira_session::signin))
        .route(
            "/static/teams-signin.js",
            web::get().to(from_teams::static_js),
        );
}
