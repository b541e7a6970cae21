//! `web::tab`: pages shown inside Microsoft Teams as static tabs (iframes): the JSM portal tab
//! (`/teams/portal/{portal_app_id}`). Only these pages may be framed, and only by the Teams and
//! Microsoft 365 hosts (see `web::middleware::portal_framing`).

pub mod portal;
pub mod portal_app;
pub mod portal_session;

use actix_web::web;

/// Routes of the Teams tab pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/portal.js", web::get().to(portal::static_js))
        .route("/teams/portal/{id}", web::get().to(portal::portal_page))
        .route(
            "/teams/portal/{id}/session",
            web::post().to(portal_session::session_submit),
        )
        .route(
            "/teams/portal/{id}/requests",
            web::post().to(portal::request_submit),
        );
}
